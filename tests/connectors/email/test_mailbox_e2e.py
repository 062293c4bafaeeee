"""The email channel end to end, with a real Dovecot and a real SMTP peer, on both
backends: mail APPENDed to the mailbox reaches the agents' socket within seconds, an
agent's reply leaves by SMTP with its threading headers, and the customer's Outlook-style
answer to it joins the same conversation."""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from hub.keys import STORE
from hub.model import Channel, message_id
from hub.settings import Settings
from hub.store.tables import messages, outbox
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all
from tests.connectors.email.attachment_mix import attachment_mix
from tests.connectors.email.dovecot import Dovecot
from tests.connectors.email.smtp_peer import Peer, body_text
from tests.connectors.email.test_smtp_threading import DOMAIN, mail, received


def mailbox_settings(tmp_path: Path, backend: str, dovecot: Dovecot, peer: Peer, **mailbox: Any) -> Settings:
    return make_settings(
        tmp_path,
        backend,
        **{
            "connectors.email.enabled": True,
            "connectors.email.domain": DOMAIN,
            "connectors.email.smtp": {
                "host": "127.0.0.1",
                "port": peer.port,
                "security": "none",
                "timeout": 5.0,
            },
            "connectors.email.mailboxes": {
                "service": {
                    "host": "127.0.0.1",
                    "port": dovecot.port,
                    "security": "none",
                    "user": dovecot.user,
                    "password": dovecot.password,
                    "address": "service@nordlicht.example",
                    "department": "service",
                    **mailbox,
                }
            },
            "routing.lease_seconds": 1.0,
        },
    )


@pytest.fixture
async def mailbox_hub(backend: str, tmp_path: Path, dovecot: Dovecot, peer: Peer) -> AsyncIterator[HubClient]:
    settings = mailbox_settings(tmp_path, backend, dovecot, peer)
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


async def stored(hub: HubClient, external_id: str, timeout: float = 20) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            async with hub.app[STORE].read() as conn:
                row = (
                    await conn.execute(sa.select(messages).where(messages.c.external_id == external_id))
                ).one_or_none()
            if row is not None:
                return row
            await asyncio.sleep(0.05)


async def test_mail_reaches_the_agents_socket_within_seconds(
    mailbox_hub: HubClient, dovecot: Dovecot
) -> None:
    roles = await sign_in_all(mailbox_hub)
    ws = await mailbox_hub.client.ws_connect("/ws/agent", headers=roles["supervisor"])
    await stored(mailbox_hub, (await _first(mailbox_hub, dovecot)))  # the watcher is up and idling
    latencies = []
    for n in range(20):
        wanted = message_id(Channel.EMAIL, f"lat-{n}@firma.example")
        sent = time.monotonic()
        await dovecot.append(mail(f"lat-{n}@firma.example", f"Frage {n}"))
        async with asyncio.timeout(15):
            while True:
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT
                event = msg.json()
                if event["topic"] == "message.stored" and event["data"]["message_id"] == wanted:
                    break
        latencies.append(time.monotonic() - sent)
        row = await stored(mailbox_hub, f"lat-{n}@firma.example")
        detail = await mailbox_hub.client.get(
            f"/api/v1/conversations/{row.conversation_id}", headers=roles["admin"]
        )
        assert f"Frage {n}" in (await detail.text())
    p50 = statistics.median(latencies)
    print(
        f"APPEND -> agent socket: p50 {p50 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms over 20 mails"
    )
    assert p50 < 3.0
    await ws.close()
    assert await dovecot.count_seen() == 21, "every mail is marked seen once it is queued"
    channels = await (await mailbox_hub.client.get("/api/v1/channels", headers=roles["admin"])).json()
    email = next(c for c in channels["items"] if c["name"] == "email")
    assert email["parts"]["service"]["state"] == "connected"


async def _first(hub: HubClient, dovecot: Dovecot) -> str:
    await dovecot.append(mail("warm-up@firma.example", "Hallo"))
    return "warm-up@firma.example"


async def test_reply_and_the_outlook_answer_thread_through_real_servers(
    mailbox_hub: HubClient, dovecot: Dovecot, peer: Peer
) -> None:
    roles = await sign_in_all(mailbox_hub)
    await dovecot.append(mail("order-1@firma.example", "Bestellung 4711"))
    first = await stored(mailbox_hub, "order-1@firma.example")
    resp = await mailbox_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Ihre Bestellung ist unterwegs."},
        headers=roles["admin"],
    )
    assert resp.status == 202
    [sent] = await received(peer, 1)
    assert sent["In-Reply-To"] == "<order-1@firma.example>"
    assert sent["From"].addresses[0].addr_spec == "service@nordlicht.example", "from the address written to"
    await dovecot.append(
        mail(
            "order-2@firma.example",
            "AW: Lieferung morgen?",
            In_Reply_To=sent["Message-ID"],
            References=sent["Message-ID"],
        )
    )
    answer = await stored(mailbox_hub, "order-2@firma.example")
    assert answer.conversation_id == first.conversation_id


def bounce_of(message_id: str, status: str = "5.1.1") -> bytes:
    """A delivery status notification (RFC 3464) about ``message_id``."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.firma.example>\r\n"
        "To: service@nordlicht.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@mx.firma.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.firma.example\r\n\r\n"
        "Final-Recipient: rfc822; kunde@firma.example\r\nAction: failed\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nSubject: Re: Bestellung\r\n"
        "--B--\r\n"
    ).encode()


async def test_a_bounce_marks_the_reply_undelivered_and_an_absence_note_is_no_answer(
    mailbox_hub: HubClient, dovecot: Dovecot, peer: Peer
) -> None:
    roles = await sign_in_all(mailbox_hub)
    await dovecot.append(mail("ask-1@firma.example", "Rechnung"))
    first = await stored(mailbox_hub, "ask-1@firma.example")
    resp = await mailbox_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Anbei."},
        headers=roles["admin"],
    )
    reply_id = (await resp.json())["id"]
    [sent] = await received(peer, 1)
    await dovecot.append(bounce_of(sent["Message-ID"]))
    async with asyncio.timeout(15):
        while True:
            async with mailbox_hub.app[STORE].read() as conn:
                row = (await conn.execute(sa.select(outbox).where(outbox.c.id == reply_id))).one()
            if row.status == "undelivered":
                break
            await asyncio.sleep(0.05)
    assert row.error_code == "5.1.1"
    record = await (
        await mailbox_hub.client.get(f"/api/v1/customers/{first.customer_id}", headers=roles["admin"])
    ).json()
    [address] = [i for i in record["identities"] if i["kind"] == "email"]
    assert (address["undeliverable"] or "").startswith("5.1.1 since "), "the address bounced for good"
    away = mail(
        "away-1@firma.example",
        "Abwesenheitsnotiz: Re: Rechnung",
        In_Reply_To=sent["Message-ID"],
        Auto_Submitted="auto-replied",
    )
    await dovecot.append(away)
    note = await stored(mailbox_hub, "away-1@firma.example")
    assert (note.conversation_id, note.kind) == (first.conversation_id, "status"), (
        "on the record, not an answer"
    )
    async with mailbox_hub.app[STORE].read() as conn:
        senders = set((await conn.execute(sa.select(messages.c.sender_value))).scalars())
    assert "mailer-daemon@mx.firma.example" not in senders, "the bounce opened no conversation"


async def test_an_auto_reply_goes_once_and_never_to_automatic_mail(
    backend: str, tmp_path: Path, dovecot: Dovecot, peer: Peer
) -> None:
    thanks = "Danke, wir haben Ihre Nachricht erhalten und melden uns."
    settings = mailbox_settings(tmp_path, backend, dovecot, peer, auto_reply=thanks)
    async with running_hub(settings) as hub:
        await dovecot.append(mail("new-1@firma.example", "Frage zum Tarif"))
        [sent] = await received(peer, 1)
        assert body_text(sent, "plain").strip() == thanks
        assert sent["Auto-Submitted"] == "auto-replied" and sent["In-Reply-To"] == "<new-1@firma.example>"
        assert peer.envelopes[-1] == "<>", "the null reverse-path: nothing answers it"
        first = await stored(hub, "new-1@firma.example")
        # an answer in the same conversation, a list mail, our own address, an absence note:
        # none gets one
        await dovecot.append(mail("new-2@firma.example", "Re: Frage", In_Reply_To=sent["Message-ID"]))
        await dovecot.append(mail("list-1@firma.example", "Newsletter", Precedence="bulk"))
        await dovecot.append(mail("self-1@x.example", "Weiterleitung", sender="service@nordlicht.example"))
        await dovecot.append(mail("away-2@firma.example", "Abwesend", Auto_Submitted="auto-replied"))
        for ext in (
            "new-2@firma.example",
            "list-1@firma.example",
            "self-1@x.example",
            "away-2@firma.example",
        ):
            await stored(hub, ext)
        await asyncio.sleep(2.0)  # the outbox would have sent by now
        assert len(peer.received) == 1
        assert (await stored(hub, "new-2@firma.example")).conversation_id == first.conversation_id
    await drop_backend(settings)


@pytest.mark.long
async def test_a_mailbox_of_ten_thousand_is_drained_completely(
    backend: str, tmp_path: Path, dovecot: Dovecot, peer: Peer
) -> None:
    """An existing support inbox connected for the first time: every mail stored once.
    (aioimaplib recursed once per line of the former open-ended listing and never got
    past about 2,000 mails.) The watcher's memory is measured in test_imap.py."""
    size = 10_000
    dovecot.deliver_files(
        mail(f"backlog-{n}@firma.example", f"Anfrage {n}", sender=f"kunde{n % 500}@firma.example")
        for n in range(size)
    )
    settings = mailbox_settings(tmp_path, backend, dovecot, peer, after="leave")
    try:
        async with running_hub(settings) as hub:
            async with asyncio.timeout(600):
                while True:
                    count = await _stored_mails(hub)
                    if count >= size:
                        break
                    await asyncio.sleep(0.5)
            async with hub.app[STORE].read() as conn:
                distinct = await conn.scalar(sa.select(sa.func.count(sa.distinct(messages.c.external_id))))
            assert (count, distinct) == (size, size)
    finally:
        await drop_backend(settings)


async def _stored_mails(hub: HubClient) -> int:
    async with hub.app[STORE].read() as conn:
        query = sa.select(sa.func.count()).select_from(messages).where(messages.c.channel == "email")
        return int(await conn.scalar(query) or 0)


async def test_attachments_are_stored_byte_exact(mailbox_hub: HubClient, dovecot: Dovecot) -> None:
    """Through IMAP, the parser and the blob store: every file with the checksum of the
    bytes the sender attached (text files with CRLF were stored with LF)."""
    roles = await sign_in_all(mailbox_hub)
    raw, sums = attachment_mix("mix-e2e@firma.example")
    await dovecot.append(raw)
    row = await stored(mailbox_hub, "mix-e2e@firma.example")
    detail = await mailbox_hub.client.get(
        f"/api/v1/conversations/{row.conversation_id}", headers=roles["admin"]
    )
    [message] = (await detail.json())["messages"]
    got = {}
    for file in message["attachments"]:
        resp = await mailbox_hub.client.get(f"/api/v1/attachments/{file['id']}", headers=roles["admin"])
        assert resp.status == 200
        got[file["filename"]] = hashlib.sha256(await resp.read()).hexdigest()
    assert got == sums
