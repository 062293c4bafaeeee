"""SMS keywords that change consent, applied by the ingest worker in the transaction that
stores the messages: STOP withdraws SMS consent (service and marketing: nothing more is
sent to the number) and START gives it back, each with an event on the timeline. HELP is
answered at the edge (``connectors.sms_twilio``); any other text goes to an agent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit
from hub.model import Channel, InboundMessage, message_id
from hub.store.consents import replace_consent
from hub.store.ingest_batch import StoredMessage
from hub.text.keywords import keyword_of

PURPOSES = ("service", "marketing")


async def apply_sms_keywords(
    conn: AsyncConnection, batch: Sequence[InboundMessage], stored: Sequence[StoredMessage], now: datetime
) -> None:
    """For the messages of ``batch`` that were stored now (not the duplicates: what a
    keyword changed, it changed when its message was stored)."""
    sms = {message_id(m.channel, m.external_id): m for m in batch if m.channel is Channel.SMS}
    for s in stored:
        msg = sms.get(s.id)
        if msg is None:
            continue
        keyword = keyword_of(msg.text)
        if keyword not in ("stop", "start"):
            continue
        granted = keyword == "start"
        source = f"sms:{msg.text.strip().upper()}"
        for purpose in PURPOSES:
            await replace_consent(
                conn,
                customer_id=s.customer_id,
                channel="sms",
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
                subject_id=s.customer_id,
                customer_id=s.customer_id,
                data={
                    "channel": "sms",
                    "purpose": purpose,
                    "granted": granted,
                    "source": source,
                    "message_id": s.id,
                },
                at=now,
            )
