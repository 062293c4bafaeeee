"""Consent that messages change, applied by the ingest worker in the transaction that
stores them.

- SMS and WhatsApp keywords: STOP withdraws the channel's consent (service and
  marketing: nothing more is sent to the number there) and START gives it back, each with
  an event on the timeline. HELP is answered at the edge (``connectors.sms_twilio``); any
  other text goes to an agent.
- WhatsApp's opt-in: a customer who writes to us on WhatsApp has opted in to service
  messages there, recorded as consent the first time (a withdrawal stays until START).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit
from hub.model import Channel, InboundMessage, message_id
from hub.store.consents import customers_with_consent, replace_consent
from hub.store.ingest_batch import StoredMessage
from hub.text.keywords import keyword_of

PURPOSES = ("service", "marketing")
KEYWORD_CHANNELS = (Channel.SMS, Channel.WHATSAPP)
OPT_IN = "whatsapp:first message"


async def apply_consent_keywords(
    conn: AsyncConnection, batch: Sequence[InboundMessage], stored: Sequence[StoredMessage], now: datetime
) -> None:
    """For the messages of ``batch`` that were stored now (not the duplicates: what a
    keyword changed, it changed when its message was stored)."""
    texting = {message_id(m.channel, m.external_id): m for m in batch if m.channel in KEYWORD_CHANNELS}
    opted_in: list[StoredMessage] = []
    for s in stored:
        msg = texting.get(s.id)
        if msg is None:
            continue
        keyword = keyword_of(msg.text)
        if keyword not in ("stop", "start"):
            if msg.channel is Channel.WHATSAPP:
                opted_in.append(s)
            continue
        source = f"{msg.channel.value}:{msg.text.strip().upper()}"
        for purpose in PURPOSES:
            await _change(conn, s, msg.channel.value, purpose, keyword == "start", source, now)
    on_record = await customers_with_consent(
        conn, sorted({s.customer_id for s in opted_in}), Channel.WHATSAPP.value, "service"
    )
    for s in opted_in:
        if s.customer_id not in on_record:
            on_record.add(s.customer_id)
            await _change(conn, s, Channel.WHATSAPP.value, "service", True, OPT_IN, now)


async def _change(
    conn: AsyncConnection,
    stored: StoredMessage,
    channel: str,
    purpose: str,
    granted: bool,
    source: str,
    now: datetime,
) -> None:
    await replace_consent(
        conn,
        customer_id=stored.customer_id,
        channel=channel,
        purpose=purpose,
        granted=granted,
        source=source,
        now=now,
    )
    await audit.record(
        conn,
        actor="system:ingest",
        action="consent.changed",
        subject_type="customer",
        subject_id=stored.customer_id,
        customer_id=stored.customer_id,
        data={
            "channel": channel,
            "purpose": purpose,
            "granted": granted,
            "source": source,
            "message_id": stored.id,
        },
        at=now,
    )
