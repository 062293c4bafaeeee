"""What the parser keeps beyond the visible text reaches the agent: the full text with
the quoted history, and inline images by their Content-ID, shown from the hub's own
attachment URL. Retention blanks the full text with the body; export includes it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from connectors.email.inbound import inbound_message, to_inbound
from connectors.email.payloads import parse_mail
from connectors.email.settings import MailboxSettings
from hub.customers.privacy import apply_retention
from hub.keys import BLOBS, QUEUE, STORE
from hub.store.tables import messages
from tests.conftest import HubClient, sign_in_all

MAILBOX = MailboxSettings(host="127.0.0.1", user="service@nordlicht.example", password="x")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
REPLY = "Hier das Foto vom Zähler.\n\nAm 2. Mai schrieb Service:\n> Bitte schicken Sie ein Foto.\n"


def reply_with_photo() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Karla Kunde <kunde@firma.example>"
    msg["To"] = "service@nordlicht.example"
    msg["Subject"] = "AW: Zählerstand"
    msg["Message-ID"] = "<foto-1@firma.example>"
    msg.set_content(REPLY)
    msg.add_alternative(
        '<p>Hier das Foto vom Zähler.</p><p><img src="cid:zaehler.png@firma.example" alt="Zähler"></p>'
        "<blockquote>Bitte schicken Sie ein Foto.</blockquote>",
        subtype="html",
    )
    html = msg.get_body(("html",))  # the alternative just added
    assert html is not None
    html.add_related(PNG, "image", "png", cid="<zaehler.png@firma.example>", filename="zaehler.png")
    msg.add_attachment(b"%PDF-1.4", "application", "pdf", filename="vertrag.pdf")
    return msg.as_bytes()


def test_meta_keeps_the_full_text_and_the_content_ids() -> None:
    parsed = parse_mail(reply_with_photo())
    msg = inbound_message(parsed, b"", "service", MAILBOX, (), datetime.now(UTC))
    assert "Bitte schicken" not in msg.text
    assert "> Bitte schicken Sie ein Foto." in msg.meta["full_text"]
    assert json.loads(msg.meta["content_ids"]) == {"zaehler.png": "zaehler.png@firma.example"}
    assert parsed.html is not None and 'src="cid:zaehler.png@firma.example"' in parsed.html


def test_meta_stays_small_without_quotes_or_content_ids() -> None:
    raw = b"From: a@x.example\nSubject: hi\nMessage-ID: <a@x>\n\nJust this.\n"
    msg = inbound_message(parse_mail(raw), raw, "service", MAILBOX, (), datetime.now(UTC))
    assert "full_text" not in msg.meta and "content_ids" not in msg.meta


async def arrive(hub: HubClient, raw: bytes) -> Any:
    msg = await to_inbound(raw, "service", MAILBOX, hub.app[BLOBS], datetime.now(UTC))
    await hub.app[QUEUE].append(msg)
    async with asyncio.timeout(20):
        while True:
            async with hub.app[STORE].read() as conn:
                row = (
                    await conn.execute(sa.select(messages).where(messages.c.external_id == msg.external_id))
                ).one_or_none()
            if row is not None:
                return row
            await asyncio.sleep(0.05)


async def test_the_console_api_shows_full_text_and_inline_images(hub: HubClient) -> None:
    roles = await sign_in_all(hub)
    row = await arrive(hub, reply_with_photo())
    resp = await hub.client.get(f"/api/v1/conversations/{row.conversation_id}", headers=roles["admin"])
    assert resp.status == 200, await resp.text()
    [m] = (await resp.json())["messages"]
    assert "Bitte schicken" not in m["text"]
    assert "> Bitte schicken Sie ein Foto." in m["full_text"]
    files = {f["filename"]: f for f in m["attachments"]}
    assert files["zaehler.png"]["content_id"] == "zaehler.png@firma.example"
    assert files["vertrag.pdf"]["content_id"] is None
    url = f"/api/v1/attachments/{files['zaehler.png']['id']}"
    assert f'<img src="{url}" alt="Zähler">' in m["html"] and "cid:" not in m["html"]
    image = await hub.client.get(url, headers=roles["admin"])
    assert image.status == 200 and await image.read() == PNG

    export = await hub.client.get(f"/api/v1/customers/{row.customer_id}/export", headers=roles["supervisor"])
    assert "> Bitte schicken" in (await export.json())["messages"][0]["full_text"]

    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(messages)
            .where(messages.c.id == row.id)
            .values(received_at=datetime.now(UTC) - timedelta(days=40))
        )
        assert (await apply_retention(conn, datetime.now(UTC), days=30))[0] == 1
    async with hub.app[STORE].read() as conn:
        meta = (await conn.execute(sa.select(messages.c.meta).where(messages.c.id == row.id))).scalar_one()
    assert "full_text" not in meta and meta["mailbox"] == "service"
