"""What an automation's condition reads: the conversation, the message, the customer and
the time, as the store has them when the event is handled. The live runner and the dry
run build them here, so that a dry run says what a live run does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.visibility import everything
from hub.customers.listing import segment_members
from hub.customers.records import CustomerRecords
from hub.outbox.system_reply import is_automatic
from hub.routing.rules import RuleSet
from hub.store.repos import automation as repo
from hub.store.repos import segments as segments_repo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TEXT_CHARS = 20_000  # what a condition reads of a message's text


@dataclass(frozen=True, slots=True)
class Subject:
    """What an automation acts on: a conversation (and its customer), or a customer alone
    (a change of health with no conversation open)."""

    trigger: str
    customer_id: str | None
    conversation_id: str | None = None
    message_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)  # tag, level, channel, since


async def build(
    conn: AsyncConnection,
    subject: Subject,
    now: datetime,
    *,
    rules: RuleSet,
    zone: ZoneInfo,
    records: CustomerRecords,
    with_segments: bool,
) -> dict[str, Any] | None:
    """The facts, or None if the subject is gone (erased, merged away)."""
    facts: dict[str, Any] = {"event": subject.trigger, "csat": dict(subject.detail.get("csat") or {})}
    conv = None
    customer_id = subject.customer_id
    if subject.conversation_id is not None:
        conv = await repo.conversation(conn, subject.conversation_id)
        if conv is None:
            return None
        customer_id = conv.customer_id
        since = subject.detail.get("since")
        hours = (now - since).total_seconds() / 3600 if isinstance(since, datetime) else 0.0
        facts["conversation"] = repo.conversation_fields(conv, round(hours, 2))
    else:
        facts["conversation"] = {}
    row = await repo.customer(conn, customer_id) if customer_id else None
    if row is None or row.erased_at is not None:
        return None
    segments = await _segments(conn, records, row.id) if with_segments else []
    facts["customer"] = repo.customer_fields(row, await repo.consent_of(conn, row.id), segments)
    facts["message"] = await _message(conn, subject.message_id)
    local = now.astimezone(zone)
    facts["hour"] = float(local.hour)
    facts["weekday"] = WEEKDAYS[local.weekday()]
    queue = rules.queues.get(conv.queue) if conv is not None and conv.queue else None
    facts["business_hours"] = queue.hours.is_open(now) if queue is not None else True
    return facts


async def _message(conn: AsyncConnection, message_id: str | None) -> dict[str, Any]:
    if message_id is None:
        return {}
    msg = await repo.message(conn, message_id)
    if msg is None:
        return {}
    meta = msg.meta if isinstance(msg.meta, dict) else {}
    return {
        "text": (msg.text or "")[:TEXT_CHARS],
        "subject": msg.subject or "",
        "sender": msg.sender_value,
        "attachments": await repo.attachment_names(conn, message_id),
        "language": str(meta.get("language") or ""),
        "channel": msg.channel,
        "automatic": is_automatic(meta),
    }


async def _segments(conn: AsyncConnection, records: CustomerRecords, customer_id: str) -> list[str]:
    names = []
    for segment in await segments_repo.every(conn):
        if await segment_members(conn, records, everything("automation"), segment.filters, (customer_id,)):
            names.append(segment.name)
    return sorted(set(names))
