"""Email replies through a real SMTP peer (aiosmtpd), with the threading headers, and the
customer's answer finding its way back, on both backends: an Outlook "AW:" with a
changed subject joins by its headers, the same subject without them does not, a
stranger quoting the tag does not, and a reply sent while the peer is down arrives once
after it is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.email.inbound import to_inbound
from connectors.email.settings import MailboxSettings
from hub.keys import BLOBS, QUEUE, STORE
from hub.settings import Settings
from hub.store.tables import conversations, events, messages, outbox
from tests.conftest import HubClient, drop_backend, make_settings, running_hub, sign_in_all
from tests.connectors.email.smtp_peer import Peer, body_text
from tests.waits import eventually

DOMAIN = "hub.nordlicht.example"
MAILBOX = MailboxSettings(host="127.0.0.1", user="service@nordlicht.example", password="x")


@pytest.fixture
async def mail_hub(backend: str, tmp_path: Path, peer: Peer) -> Any:
    settings: Settings = make_settings(
        tmp_path,
        backend,
        **{
            "connectors.email.enabled": True,
            "connectors.email.domain": DOMAIN,
            "connectors.email.from_address": "service@nordlicht.example",
            "connectors.email.smtp": {
                "host": "127.0.0.1",
                "port": peer.port,
                "security": "none",
                "timeout": 5.0,
            },
        },
    )
    async with running_hub(settings) as hub:
        yield hub
    await drop_backend(settings)


def mail(message_id: str, subject: str, sender: str = "kunde@firma.example", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Karla Kunde <{sender}>"
    msg["To"] = "service@nordlicht.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Guten Tag,\nmein Zählerstand ist 4711.\n\nViele Grüße\nKarla")
    return msg.as_bytes()


async def arrive(hub: HubClient, raw: bytes) -> Any:
    """Put a mail on the ingest queue as the mailbox watcher does; return its stored row."""
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


async def received(peer: Peer, count: int, timeout: float = 20) -> list[EmailMessage]:
    async with asyncio.timeout(timeout):
        while True:
            if len(peer.received) >= count:
                return peer.received
            await asyncio.sleep(0.05)


async def test_a_reply_is_threaded_and_the_answer_comes_back(mail_hub: HubClient, peer: Peer) -> None:
    roles = await sign_in_all(mail_hub)
    first = await arrive(mail_hub, mail("m1@firma.example", "Zählerstand Januar"))
    resp = await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Danke, wir haben den Stand übernommen."},
        headers=roles["admin"],
    )
    assert resp.status == 202, await resp.text()
    reply_id = (await resp.json())["id"]
    [sent] = await received(peer, 1)
    ref = first.conversation_id[:8]
    assert sent["Message-ID"] == f"<{reply_id}@{DOMAIN}>"
    assert sent["In-Reply-To"] == "<m1@firma.example>"
    assert sent["References"] == "<m1@firma.example>"
    assert sent["Subject"] == f"Re: Zählerstand Januar [#{ref}]"
    assert sent["To"] == "kunde@firma.example" and "service@nordlicht.example" in sent["From"]
    assert peer.envelopes == ["service@nordlicht.example"], "an agent's reply has a bounce address"
    assert sent["Auto-Submitted"] is None
    assert body_text(sent, "plain").strip() == "Danke, wir haben den Stand übernommen."
    assert "<p>Danke" in body_text(sent, "html")

    # Outlook: a changed subject, only In-Reply-To: joins the conversation
    answer = await arrive(
        mail_hub, mail("m2@firma.example", "AW: Zählerstand Februar", In_Reply_To=sent["Message-ID"])
    )
    assert answer.conversation_id == first.conversation_id
    # the same subject without any headers: a new conversation
    fresh = await arrive(mail_hub, mail("m3@firma.example", "Zählerstand Januar"))
    assert fresh.conversation_id != first.conversation_id
    # the tag alone (headers lost) brings it back, for the same customer only
    tagged = await arrive(mail_hub, mail("m4@firma.example", f"Noch eine Frage [#{ref}]"))
    assert tagged.conversation_id == first.conversation_id
    stranger = await arrive(
        mail_hub,
        mail(
            "m5@evil.example", f"Re: [#{ref}]", sender="mallory@evil.example", References=sent["Message-ID"]
        ),
    )
    assert stranger.conversation_id != first.conversation_id, "a stranger cannot write into it"
    async with mail_hub.app[STORE].read() as conn:
        owner = await conn.scalar(
            sa.select(conversations.c.customer_id).where(conversations.c.id == stranger.conversation_id)
        )
    assert owner != first.customer_id


async def test_a_reply_sent_while_the_peer_is_down_arrives_once_after(
    mail_hub: HubClient, peer: Peer
) -> None:
    roles = await sign_in_all(mail_hub)
    first = await arrive(mail_hub, mail("down-1@firma.example", "Rückruf"))
    peer.stop()
    resp = await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Wir rufen an."},
        headers=roles["admin"],
    )
    assert resp.status == 202
    reply_id = (await resp.json())["id"]
    async with asyncio.timeout(10):  # the first try fails and is scheduled again
        while True:
            async with mail_hub.app[STORE].read() as conn:
                row = (await conn.execute(sa.select(outbox).where(outbox.c.id == reply_id))).one()
            if row.attempts >= 1 and row.status == "queued":
                break
            await asyncio.sleep(0.05)
    assert "not reachable" in (row.error or "")
    peer.start()
    [sent] = await received(peer, 1, timeout=30)
    assert sent["Message-ID"] == f"<{reply_id}@{DOMAIN}>"
    await asyncio.sleep(2.5)  # no second copy
    assert len(peer.received) == 1
    async with mail_hub.app[STORE].read() as conn:
        assert (await conn.scalar(sa.select(outbox.c.status).where(outbox.c.id == reply_id))) == "sent"


async def test_channels_report_the_smtp_peer(mail_hub: HubClient, peer: Peer) -> None:
    roles = await sign_in_all(mail_hub)
    first = await arrive(mail_hub, mail("state-1@firma.example", "Status"))
    peer.stop()
    await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Hallo"},
        headers=roles["admin"],
    )

    async def smtp_state() -> dict[str, Any]:
        resp = await mail_hub.client.get("/api/v1/channels", headers=roles["admin"])
        assert resp.status == 200
        items = {c["name"]: c for c in (await resp.json())["items"]}
        assert items["email"]["enabled"] and items["email"]["sends"] and not items["cti"]["enabled"]
        return dict(items["email"]["parts"].get("smtp") or {})

    async def in_state(state: str) -> dict[str, Any] | None:
        found = await smtp_state()
        return found if found.get("state") == state else None

    assert "127.0.0.1" in (await eventually(lambda: in_state("transient_failure"), 10))["detail"]
    peer.start()
    await received(peer, 1, timeout=30)
    # the peer has the mail a moment before the sender's session ends and says so
    await eventually(lambda: in_state("connected"), 10, "the channel reported connected again")
    assert (await mail_hub.client.get("/api/v1/channels", headers=roles["supervisor"])).status == 403


CLOSED_RULES = """
queues:
  service:
    hours: {timezone: Europe/Berlin, open: {}}
    out_of_hours_reply: Wir sind ab Montag 8 Uhr wieder für Sie da.
rules:
  - name: everyone
    targets: [{queue: service}]
"""


async def test_the_out_of_hours_reply_goes_once_on_the_channel_and_shows_on_the_timeline(
    mail_hub: HubClient, peer: Peer
) -> None:
    """The rules' out-of-hours reply is sent through the outbox on the conversation's own
    channel, once per conversation, never to automatic mail, and the customer's timeline
    says so."""
    roles = await sign_in_all(mail_hub)
    yaml = {**roles["admin"], "Content-Type": "application/yaml"}
    resp = await mail_hub.client.put("/api/v1/routing/rules", data=CLOSED_RULES, headers=yaml)
    assert resp.status == 200, await resp.text()
    first = await arrive(mail_hub, mail("ooh1@firma.example", "Zählerstand"))
    [sent] = await received(peer, 1)
    assert sent["To"] == "kunde@firma.example"
    assert sent["Auto-Submitted"] == "auto-replied" and peer.envelopes == ["<>"]
    assert "ab Montag 8 Uhr" in body_text(sent, "plain")

    # the customer writes again in the same conversation, and a shop's robot writes
    again = await arrive(
        mail_hub, mail("ooh2@firma.example", "Re: Zählerstand", In_Reply_To="<ooh1@firma.example>")
    )
    assert again.conversation_id == first.conversation_id
    robot = await arrive(
        mail_hub,
        mail(
            "ooh3@firma.example",
            "Versandbestätigung",
            sender="shop@firma.example",
            Auto_Submitted="auto-generated",
        ),
    )

    async def both_told() -> list[Any] | None:  # the router has decided on both conversations
        async with mail_hub.app[STORE].read() as conn:
            rows = (
                await conn.execute(
                    sa.select(events.c.customer_id, events.c.data).where(
                        events.c.action == "routing.out_of_hours"
                    )
                )
            ).all()
        return rows if len(rows) == 2 else None

    told = await eventually(both_told, what="both conversations out of hours")
    skipped = [r.data for r in told if r.data.get("reply_skipped")]
    assert [s["reply_skipped"] for s in skipped] == ["the sender is automatic"]
    assert {r.customer_id for r in told} == {first.customer_id, robot.customer_id}
    async with mail_hub.app[STORE].read() as conn:
        queued = (await conn.execute(sa.select(outbox.c.conversation_id, outbox.c.details))).all()
    assert [(q.conversation_id, q.details.get("out_of_hours")) for q in queued] == [
        (first.conversation_id, True)
    ]
    assert len(peer.received) == 1, "once per conversation, never to automatic mail"

    timeline = await mail_hub.client.get(
        f"/api/v1/customers/{first.customer_id}/timeline", headers=roles["supervisor"]
    )
    actions = [item.get("action") for item in (await timeline.json())["items"]]
    assert "routing.out_of_hours" in actions


async def test_an_answer_to_a_recently_closed_conversation_reopens_it(
    mail_hub: HubClient, peer: Peer
) -> None:
    """Within ingest.reopen_days (7) of its close, the customer's answer reopens the
    conversation (routed afresh, on the timeline); after that it opens a new one."""
    roles = await sign_in_all(mail_hub)
    first = await arrive(mail_hub, mail("r1@firma.example", "Zählerstand"))
    resp = await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/messages",
        json={"text": "Danke, erledigt."},
        headers=roles["admin"],
    )
    assert resp.status == 202, await resp.text()
    [sent] = await received(peer, 1)
    close = await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/close", headers=roles["admin"]
    )
    assert close.status == 200, await close.text()

    answer = await arrive(
        mail_hub, mail("r2@firma.example", "Re: Zählerstand", In_Reply_To=sent["Message-ID"])
    )
    assert answer.conversation_id == first.conversation_id
    async with mail_hub.app[STORE].read() as conn:
        conv = (
            await conn.execute(sa.select(conversations).where(conversations.c.id == first.conversation_id))
        ).one()
        told = (
            await conn.scalars(
                sa.select(events.c.action).where(
                    events.c.subject_id == first.conversation_id, events.c.action == "conversation.reopened"
                )
            )
        ).all()
    assert (conv.status, conv.closed_at, conv.assignee_id) == ("open", None, None)
    assert told == ["conversation.reopened"]

    # closed eight days ago: the answer opens a new conversation, the old one stays closed
    close = await mail_hub.client.post(
        f"/api/v1/conversations/{first.conversation_id}/close", headers=roles["admin"]
    )
    assert close.status == 200, await close.text()
    async with mail_hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == first.conversation_id)
            .values(closed_at=datetime.now(UTC) - timedelta(days=8))
        )
    late = await arrive(mail_hub, mail("r3@firma.example", "Re: Zählerstand", In_Reply_To=sent["Message-ID"]))
    assert late.conversation_id != first.conversation_id
