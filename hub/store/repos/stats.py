"""What the supervisor's live picture counts: waiting work per queue and tier, what each
agent holds, recorded SLA breaches, and the last hours' inbound messages and first
responses. Read-only; the arithmetic (buckets, medians) is the caller's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Channel, ConversationStatus, Direction
from hub.store.tables import conversations, customers, events, messages
from hub.store.times import utc

c = conversations.c


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiting:
    """Open, unassigned conversations of one queue (None: not routed yet) and tier."""

    queue: str | None
    tier: str
    waiting: int
    offered: int
    breached: int
    oldest: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    conversation_id: str
    customer_id: str | None
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    channel: Channel
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class FirstResponse:
    tier: str
    opened_at: datetime
    first_response_at: datetime


async def waiting(conn: AsyncConnection) -> list[Waiting]:
    rows = await conn.execute(
        sa.select(
            c.queue,
            customers.c.tier,
            sa.func.count().label("waiting"),
            sa.func.count(c.offered_to).label("offered"),
            sa.func.min(c.opened_at).label("oldest"),
            sa.func.count(c.breached).label("breached"),
        )
        .join(customers, customers.c.id == c.customer_id)
        .where(c.status == ConversationStatus.OPEN, c.assignee_id.is_(None))
        .group_by(c.queue, customers.c.tier)
    )
    return [
        Waiting(
            queue=r.queue,
            tier=r.tier,
            waiting=r.waiting,
            offered=r.offered,
            breached=r.breached,
            oldest=utc(r.oldest),
        )
        for r in rows
    ]


async def held(conn: AsyncConnection) -> dict[str, dict[str, int]]:
    """Per agent, the open conversations offered or assigned to them, per channel."""
    holder = sa.func.coalesce(c.assignee_id, c.offered_to)
    rows = await conn.execute(
        sa.select(holder.label("agent_id"), c.channel, sa.func.count().label("n"))
        .where(
            c.status == ConversationStatus.OPEN,
            sa.or_(c.assignee_id.is_not(None), c.offered_to.is_not(None)),
        )
        .group_by(holder, c.channel)
    )
    load: dict[str, dict[str, int]] = {}
    for r in rows:
        load.setdefault(r.agent_id, {})[r.channel] = r.n
    return load


async def breaches(conn: AsyncConnection, since: datetime | None, limit: int) -> list[Breach]:
    """Recorded SLA breaches, newest first."""
    query = (
        sa.select(events)
        .where(events.c.action == "sla.breached")
        .order_by(events.c.at.desc(), events.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(events.c.at >= since)
    return [
        Breach(conversation_id=r.subject_id, customer_id=r.customer_id, at=utc(r.at), data=r.data or {})
        for r in await conn.execute(query)
    ]


async def inbound_since(conn: AsyncConnection, start: datetime) -> list[Inbound]:
    rows = await conn.execute(
        sa.select(messages.c.channel, messages.c.received_at).where(
            messages.c.direction == Direction.INBOUND, messages.c.received_at >= start
        )
    )
    return [Inbound(channel=Channel(r.channel), received_at=utc(r.received_at)) for r in rows]


async def first_responses_since(conn: AsyncConnection, start: datetime) -> list[FirstResponse]:
    """Of the conversations opened since ``start``, those answered."""
    rows = await conn.execute(
        sa.select(c.opened_at, c.first_response_at, customers.c.tier)
        .join(customers, customers.c.id == c.customer_id)
        .where(c.opened_at >= start, c.first_response_at.is_not(None))
    )
    return [
        FirstResponse(tier=r.tier, opened_at=utc(r.opened_at), first_response_at=utc(r.first_response_at))
        for r in rows
    ]
