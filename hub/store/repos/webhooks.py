"""Outgoing webhooks and their attempts (hub/webhooks): registered, claimed for a
delivery by one hub process at a time, moved on when the receiver took a delivery, put
off when it did not; and the inbound messages a delivery carries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import events, messages, webhook_attempts, webhooks
from hub.store.times import utc, utc_or_none

w = webhooks.c
a = webhook_attempts.c
m = messages.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Webhook:
    id: str
    name: str
    url: str
    events: tuple[str, ...]
    secret: str
    active: bool
    event_cursor: int
    message_cursor: tuple[datetime, str] | None
    failures: int
    next_attempt_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    at: datetime
    items: int
    status: int | None
    error: str | None
    ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """An inbound message as a delivery names it (never its text)."""

    id: str
    stored_at: datetime
    conversation_id: str
    customer_id: str
    channel: str


def _webhook(row: Any) -> Webhook:
    cursor_at = utc_or_none(row.message_cursor_at)
    return Webhook(
        id=row.id,
        name=row.name,
        url=row.url,
        events=tuple(row.events or ()),
        secret=row.secret,
        active=bool(row.active),
        event_cursor=int(row.event_cursor),
        message_cursor=(cursor_at, row.message_cursor_id or "") if cursor_at else None,
        failures=int(row.failures),
        next_attempt_at=utc(row.next_attempt_at),
        created_at=utc(row.created_at),
    )


async def all_webhooks(conn: AsyncConnection) -> list[Webhook]:
    return [_webhook(r) for r in await conn.execute(sa.select(webhooks).order_by(w.created_at, w.id))]


async def get(conn: AsyncConnection, webhook_id: str) -> Webhook | None:
    row = (await conn.execute(sa.select(webhooks).where(w.id == webhook_id))).one_or_none()
    return None if row is None else _webhook(row)


async def create(
    conn: AsyncConnection, *, name: str, url: str, wanted: Sequence[str], secret: str, now: datetime
) -> str:
    """A webhook that delivers what is recorded from now on."""
    webhook_id = str(uuid.uuid4())
    last_event = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(events.c.id), 0)))
    await conn.execute(
        sa.insert(webhooks).values(
            id=webhook_id,
            name=name,
            url=url,
            events=list(wanted),
            secret=secret,
            active=True,
            event_cursor=int(last_event or 0),
            message_cursor_at=now,
            message_cursor_id="",
            failures=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    return webhook_id


async def change(conn: AsyncConnection, webhook_id: str, values: Mapping[str, Any], now: datetime) -> bool:
    result = await conn.execute(
        sa.update(webhooks).where(w.id == webhook_id).values(**values, updated_at=now)
    )
    return bool(result.rowcount)


async def delete(conn: AsyncConnection, webhook_id: str) -> bool:
    result = await conn.execute(sa.delete(webhooks).where(w.id == webhook_id))
    return bool(result.rowcount)


async def due(conn: AsyncConnection, now: datetime) -> list[Webhook]:
    """The active webhooks due at ``now`` (a read: nothing is claimed)."""
    rows = await conn.execute(sa.select(webhooks).where(w.active.is_(True), w.next_attempt_at <= now))
    return [_webhook(r) for r in rows]


async def claim(conn: AsyncConnection, hook: Webhook, now: datetime, hold: timedelta) -> Webhook | None:
    """The webhook as it is now, claimed for ``hold`` (another process passes it by
    meanwhile; should this one die, the claim runs out); None when another process
    claimed it, or changed it, since ``hook`` was read."""
    taken = await conn.execute(
        sa.update(webhooks)
        .where(w.id == hook.id, w.active.is_(True), w.next_attempt_at == hook.next_attempt_at)
        .values(next_attempt_at=now + hold)
    )
    return await get(conn, hook.id) if taken.rowcount else None


async def delivered(
    conn: AsyncConnection,
    webhook_id: str,
    event_cursor: int,
    message_cursor: tuple[datetime, str] | None,
    next_at: datetime,
) -> None:
    """The receiver took everything up to these cursors."""
    values: dict[str, Any] = {"event_cursor": event_cursor, "failures": 0, "next_attempt_at": next_at}
    if message_cursor is not None:
        values |= {"message_cursor_at": message_cursor[0], "message_cursor_id": message_cursor[1]}
    await conn.execute(sa.update(webhooks).where(w.id == webhook_id).values(**values))


async def put_off(conn: AsyncConnection, webhook_id: str, failures: int, next_at: datetime) -> None:
    await conn.execute(
        sa.update(webhooks).where(w.id == webhook_id).values(failures=failures, next_attempt_at=next_at)
    )


async def record_attempt(
    conn: AsyncConnection,
    webhook_id: str,
    at: datetime,
    items: int,
    status: int | None,
    error: str | None,
    ms: int,
) -> None:
    await conn.execute(
        sa.insert(webhook_attempts).values(
            webhook_id=webhook_id, at=at, items=items, status=status, error=error, ms=ms
        )
    )


async def attempts(conn: AsyncConnection, webhook_id: str, limit: int) -> list[Attempt]:
    rows = await conn.execute(
        sa.select(webhook_attempts)
        .where(a.webhook_id == webhook_id)
        .order_by(a.at.desc(), a.id.desc())
        .limit(limit)
    )
    return [Attempt(at=utc(r.at), items=r.items, status=r.status, error=r.error, ms=r.ms) for r in rows]


async def prune_attempts(conn: AsyncConnection, before: datetime) -> None:
    await conn.execute(sa.delete(webhook_attempts).where(a.at < before))


async def inbound_after(
    conn: AsyncConnection, cursor: tuple[datetime, str], until: datetime, limit: int
) -> list[Inbound]:
    """Inbound messages stored after ``cursor`` (stored_at, id) and before ``until``,
    in that order."""
    at, last_id = cursor
    rows = await conn.execute(
        sa.select(m.id, m.stored_at, m.conversation_id, m.customer_id, m.channel)
        .where(
            m.direction == "in",
            m.stored_at < until,
            sa.or_(m.stored_at > at, sa.and_(m.stored_at == at, m.id > last_id)),
        )
        .order_by(m.stored_at, m.id)
        .limit(limit)
    )
    return [
        Inbound(
            id=r.id,
            stored_at=utc(r.stored_at),
            conversation_id=r.conversation_id,
            customer_id=r.customer_id,
            channel=r.channel,
        )
        for r in rows
    ]
