"""Product feedback (hub/outreach/feedback.py): the repository."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import conversations, customers, feedback, messages
from hub.store.times import utc

f = feedback.c
m = messages.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Marked:
    message_id: str
    conversation_id: str
    customer_id: str
    customer_name: str | None
    channel: str
    product: str
    theme: str
    text: str
    message_at: datetime
    marked_by: str


@dataclass(frozen=True, slots=True)
class Filters:
    since: datetime
    until: datetime
    product: str | None = None
    theme: str | None = None
    channel: str | None = None

    def clause(self) -> sa.ColumnElement[bool]:
        parts = [f.message_at >= self.since, f.message_at < self.until]
        parts += [
            col == value
            for col, value in ((f.product, self.product), (f.theme, self.theme), (f.channel, self.channel))
            if value
        ]
        return sa.and_(*parts)


async def message(conn: AsyncConnection, message_id: str) -> Any:
    """The message a mark is about, with what the visibility rule reads of its
    conversation (assignee, offer, queue); None if there is none."""
    c = conversations.c
    return (
        await conn.execute(
            sa.select(
                m.id,
                m.conversation_id,
                m.customer_id,
                m.direction,
                m.channel,
                m.received_at,
                c.assignee_id,
                c.offered_to,
                c.queue,
            )
            .join(conversations, c.id == m.conversation_id)
            .where(m.id == message_id)
        )
    ).one_or_none()


async def mark(
    conn: AsyncConnection, message: Any, product: str, theme: str, actor: str, now: datetime
) -> bool:
    """Mark the message (or change its mark); True if it was marked before."""
    before = await conn.scalar(sa.select(f.message_id).where(f.message_id == message.id))
    values = {"product": product, "theme": theme, "marked_by": actor, "marked_at": now}
    if before is None:
        await conn.execute(
            sa.insert(feedback).values(
                message_id=message.id, channel=message.channel, message_at=message.received_at, **values
            )
        )
    else:
        await conn.execute(sa.update(feedback).where(f.message_id == message.id).values(**values))
    return before is not None


async def unmark(conn: AsyncConnection, message_id: str) -> bool:
    return bool((await conn.execute(sa.delete(feedback).where(f.message_id == message_id))).rowcount)


async def page(
    conn: AsyncConnection, filters: Filters, limit: int, before: tuple[datetime, str] | None
) -> list[Marked]:
    """The newest marked messages first; ``before``: the (time, id) a page ended at."""
    query = (
        sa.select(
            f.message_id,
            f.channel,
            f.product,
            f.theme,
            f.message_at,
            f.marked_by,
            m.conversation_id,
            m.customer_id,
            m.text,
            customers.c.name,
        )
        .join(messages, m.id == f.message_id)
        .join(customers, customers.c.id == m.customer_id)
        .where(filters.clause())
        .order_by(f.message_at.desc(), f.message_id.desc())
        .limit(limit)
    )
    if before is not None:
        at, message_id = before
        query = query.where(sa.or_(f.message_at < at, sa.and_(f.message_at == at, f.message_id < message_id)))
    return [
        Marked(
            message_id=r.message_id,
            conversation_id=r.conversation_id,
            customer_id=r.customer_id,
            customer_name=r.name,
            channel=r.channel,
            product=r.product,
            theme=r.theme,
            text=r.text or "",
            message_at=utc(r.message_at),
            marked_by=r.marked_by,
        )
        for r in await conn.execute(query)
    ]


async def counts(conn: AsyncConnection, filters: Filters, by: str) -> list[tuple[str, int]]:
    """How many marks per product, theme or channel, most first."""
    column = {"product": f.product, "theme": f.theme, "channel": f.channel}[by]
    n = sa.func.count().label("n")
    rows = await conn.execute(
        sa.select(column, n).where(filters.clause()).group_by(column).order_by(sa.desc(n), column)
    )
    return [(r[0], r.n) for r in rows]


async def times(conn: AsyncConnection, filters: Filters) -> Sequence[datetime]:
    """When each marked message was written (for the counts over time, bucketed by the caller)."""
    return [utc(t) for t in await conn.scalars(sa.select(f.message_at).where(filters.clause()))]
