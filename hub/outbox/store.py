"""The outbox in the store: enqueue a reply with its message, claim due rows, record results.

A claim marks rows ``sending`` until a deadline; a process that dies mid-send leaves
them to be claimed again after it (at-least-once, as providers allow). Rows are claimed
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several hub processes share the work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import outbox

CLAIM_FOR = timedelta(seconds=60)
# What a provider's report means for the reply as a whole.
FINAL = ("delivered", "undelivered", "failed")
o = outbox.c


def backoff(attempt: int) -> timedelta:
    """Wait before the next try: 2, 4, 8 … seconds, at most five minutes."""
    return timedelta(seconds=min(2**attempt, 300))


def row(
    *,
    reply_id: str,
    conversation_id: str,
    customer_id: str,
    channel: str,
    sender: str | None,
    recipient: str,
    text: str,
    now: datetime,
    details: Mapping[str, Any] | None = None,
    sent_as: str | None = None,
) -> dict[str, Any]:
    """An outbox row for a reply, due now; ``sent_as``: the provider id of a reply the
    channel delivered in the same transaction (it is then sent, after one attempt)."""
    return {
        "id": reply_id,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "channel": channel,
        "sender": sender,
        "recipient": recipient,
        "text": text,
        "status": "queued" if sent_as is None else "sent",
        "attempts": 0 if sent_as is None else 1,
        "next_attempt_at": now,
        "provider_ids": [] if sent_as is None else [sent_as],
        "details": dict(details or {}),
        "created_at": now,
        "updated_at": now,
    }


async def enqueue(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Outbox rows (``row``), in the caller's transaction."""
    await conn.execute(sa.insert(outbox), list(rows))


async def claim(conn: AsyncConnection, now: datetime, limit: int) -> list[Any]:
    due = sa.or_(
        sa.and_(o.status == "queued", o.next_attempt_at <= now),
        sa.and_(o.status == "sending", o.claimed_until < now),
    )
    ids = (
        sa.select(o.id).where(due).order_by(o.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
    )
    result = await conn.execute(
        sa.update(outbox)
        .where(o.id.in_(ids.scalar_subquery()))
        .values(status="sending", claimed_until=now + CLAIM_FOR, attempts=o.attempts + 1, updated_at=now)
        .returning(*outbox.c)
    )
    return sorted(result.all(), key=lambda r: r.next_attempt_at)


async def release(conn: AsyncConnection, item_id: str, now: datetime) -> None:
    """Hand a claimed row back untried (the store failed before the provider was called):
    due again at once, and the claim's attempt not counted."""
    await conn.execute(
        sa.update(outbox)
        .where(o.id == item_id, o.status == "sending")
        .values(status="queued", attempts=o.attempts - 1, claimed_until=None, next_attempt_at=now)
        .values(updated_at=now)
    )


def sent_parts(details: Mapping[str, Any] | None) -> dict[int, str]:
    """The parts of a reply in parts that an attempt got accepted: part number -> provider id."""
    return {int(k): str(v) for k, v in ((details or {}).get("sent_parts") or {}).items()}


async def record_part(
    conn: AsyncConnection, item_id: str, index: int, provider_id: str, now: datetime
) -> None:
    """One part of a reply in parts was accepted; a retry will not send it again."""
    row = (await conn.execute(sa.select(o.details).where(o.id == item_id).with_for_update())).one_or_none()
    if row is None:
        return
    details = dict(row.details or {})
    details["sent_parts"] = {**(details.get("sent_parts") or {}), str(index): provider_id}
    await conn.execute(sa.update(outbox).where(o.id == item_id).values(details=details, updated_at=now))


async def mark_sent(
    conn: AsyncConnection,
    item_id: str,
    provider_ids: Sequence[str],
    details: Mapping[str, Any],
    now: datetime,
) -> None:
    """Every part is accepted. Reports that came in for parts while the rest were still
    being sent count now (a reply whose parts all arrived is delivered at once), with the
    error code a failure report brought (a fast gateway may report before we record)."""
    row = (
        await conn.execute(
            sa.select(o.details, o.error_code).where(o.id == item_id, o.status == "sending").with_for_update()
        )
    ).one_or_none()
    if row is None:
        return
    merged = {**(row.details or {}), **details}
    status = _overall(dict(merged.get("parts") or {}), provider_ids, "sent")
    await conn.execute(
        sa.update(outbox)
        .where(o.id == item_id, o.status == "sending")
        .values(
            status=status,
            provider_ids=list(provider_ids),
            details=merged,
            claimed_until=None,
            error=None,
            error_code=row.error_code if status in ("failed", "undelivered") else None,
            updated_at=now,
        )
    )


def _overall(parts: Mapping[str, str], provider_ids: Sequence[str], fallback: str) -> str:
    """A reply's status from its parts' reports: failed or undelivered if any part is,
    delivered when every part is, else sent."""
    known = [parts.get(p, "sent") for p in provider_ids] or [fallback]
    lost: str | None = next((s for s in ("failed", "undelivered") if s in known), None)
    if lost is not None:
        return lost
    return "delivered" if all(s == "delivered" for s in known) else "sent"


async def mark_failed(
    conn: AsyncConnection,
    item_id: str,
    error: str,
    code: str | None,
    retry_at: datetime | None,
    now: datetime,
) -> str:
    """Back to ``queued`` for ``retry_at``, or ``failed`` for good; returns the status."""
    status = "queued" if retry_at is not None else "failed"
    await conn.execute(
        sa.update(outbox)
        .where(o.id == item_id)
        .values(
            status=status,
            error=error[:1000],
            error_code=code,
            next_attempt_at=retry_at or now,
            claimed_until=None,
            updated_at=now,
        )
    )
    return status


async def record_report(
    conn: AsyncConnection, item_id: str, provider_id: str, status: str, code: str | None, now: datetime
) -> tuple[str, str] | None:
    """A provider's delivery report for one part; the reply's status follows its parts:
    failed or undelivered if any part is, delivered when every part is, else sent.
    Returns (conversation id, the reply's status), or None for an unknown reply."""
    row = (await conn.execute(sa.select(outbox).where(o.id == item_id).with_for_update())).one_or_none()
    if row is None:
        return None
    parts = dict((row.details or {}).get("parts", {}))
    parts[provider_id] = status
    if row.status in ("queued", "sending"):
        # a part of a reply whose other parts are still to go: noted, counted once all are sent
        overall = row.status
    else:
        overall = _overall(parts, row.provider_ids, status)
    if row.status in FINAL and overall == "sent":
        overall = row.status  # a late "sent" does not undo "delivered"
    await conn.execute(
        sa.update(outbox)
        .where(o.id == item_id)
        .values(
            status=overall,
            details={**(row.details or {}), "parts": parts},
            error_code=code or row.error_code,
            updated_at=now,
        )
    )
    return row.conversation_id, overall
