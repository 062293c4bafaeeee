"""The audit and event log: who did or read what, when and why.

Reads of customer data are written as ``audit.*`` actions; changes use their own names
(``customer.merged``, ``tier.pinned`` ...). Both land in the ``events`` table; the
timeline shows changes and leaves reads out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import events
from hub.store.times import iso

READ_PREFIX = "audit."


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    customer_id: str | None,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    result = await conn.execute(
        sa.insert(events)
        .values(
            at=at or datetime.now(UTC),
            actor=actor,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            customer_id=customer_id,
            reason=reason,
            data=data or {},
        )
        .returning(events.c.id)
    )
    return int(result.scalar_one())


async def record_many(conn: AsyncConnection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Many events at once (each: actor, action, subject_type, subject_id, customer_id,
    data, at; reason optional), in the caller's transaction."""
    if entries:
        await conn.execute(sa.insert(events), [{"reason": None, **entry} for entry in entries])


async def query(
    conn: AsyncConnection,
    *,
    customer_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    stmt = sa.select(events).order_by(events.c.at.desc(), events.c.id.desc()).limit(limit)
    if customer_id:
        stmt = stmt.where(events.c.customer_id == customer_id)
    if actor:
        stmt = stmt.where(events.c.actor == actor)
    if action:
        stmt = stmt.where(
            events.c.action.startswith(action.rstrip("*"))
            if action.endswith("*")
            else events.c.action == action
        )
    if since:
        stmt = stmt.where(events.c.at >= since)
    if until:
        stmt = stmt.where(events.c.at < until)
    rows = (await conn.execute(stmt)).all()
    return [
        {
            "id": r.id,
            "at": iso(r.at),
            "actor": r.actor,
            "action": r.action,
            "subject_type": r.subject_type,
            "subject_id": r.subject_id,
            "customer_id": r.customer_id,
            "reason": r.reason,
            "data": r.data,
        }
        for r in rows
    ]
