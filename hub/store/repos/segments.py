"""Segments: the repository. A segment is a customer filter by name (the customer list's
parameters, ``hub.customers.listing``), its owner's or shared with one team; and the
facts its figures are made of, read for a set of customers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.bulk import any_of
from hub.store.tables import conversations, customers, segments
from hub.store.times import utc

s = segments.c
c = conversations.c
MAX_SEGMENTS = 200  # per agent
CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str
    owner_id: str
    team: str | None
    filters: Mapping[str, str]
    created_at: datetime
    updated_at: datetime


def _record(row: sa.Row[Any]) -> Segment:
    m = row._mapping
    filters = m["filters"] if isinstance(m["filters"], dict) else {}
    return Segment(
        id=str(m["id"]),
        name=str(m["name"]),
        owner_id=str(m["owner_id"]),
        team=m["team"] if isinstance(m["team"], str) else None,
        filters={str(k): str(v) for k, v in filters.items()},
        created_at=utc(m["created_at"]),
        updated_at=utc(m["updated_at"]),
    )


async def visible_to(conn: AsyncConnection, agent_id: str, teams: Iterable[str]) -> list[Segment]:
    """The agent's own segments and those shared with their teams, by name."""
    mine = sorted(set(teams))
    where = s.owner_id == agent_id
    if mine:
        where = sa.or_(where, s.team.in_(mine))
    rows = await conn.execute(sa.select(segments).where(where).order_by(s.name, s.id).limit(MAX_SEGMENTS))
    return [_record(r) for r in rows]


async def every(conn: AsyncConnection) -> list[Segment]:
    """All segments, by name (what an automation's ``customer.segments`` may name)."""
    rows = await conn.execute(sa.select(segments).order_by(s.name, s.id))
    return [_record(r) for r in rows]


async def count_owned(conn: AsyncConnection, agent_id: str) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).where(s.owner_id == agent_id)) or 0)


async def create(
    conn: AsyncConnection,
    *,
    name: str,
    owner_id: str,
    team: str | None,
    filters: Mapping[str, str],
    now: datetime,
) -> Segment:
    segment = Segment(str(uuid.uuid4()), name, owner_id, team, dict(filters), now, now)
    await conn.execute(
        sa.insert(segments).values(
            id=segment.id,
            name=name,
            owner_id=owner_id,
            team=team,
            filters=dict(filters),
            created_at=now,
            updated_at=now,
        )
    )
    return segment


async def get(conn: AsyncConnection, segment_id: str) -> Segment | None:
    row = (await conn.execute(sa.select(segments).where(s.id == segment_id))).one_or_none()
    return _record(row) if row is not None else None


async def update(conn: AsyncConnection, segment_id: str, changes: Mapping[str, Any], now: datetime) -> None:
    """Change ``name``, ``team`` and ``filters`` (those given)."""
    await conn.execute(sa.update(segments).where(s.id == segment_id).values(**changes, updated_at=now))


async def delete(conn: AsyncConnection, segment_id: str) -> None:
    await conn.execute(sa.delete(segments).where(s.id == segment_id))


# --- what the figures are made of -------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class MemberConversation:
    """A conversation of a member: opened in the figures' window, or open now."""

    customer_id: str
    opened_at: datetime
    open: bool
    tags: tuple[str, ...]


async def revenues(conn: AsyncConnection, customer_ids: Sequence[str]) -> list[Mapping[str, Any]]:
    """Each customer's revenue figures (``attributes.revenue``; {} when none)."""
    found: list[Mapping[str, Any]] = []
    for start in range(0, len(customer_ids), CHUNK):
        rows = await conn.execute(
            sa.select(customers.c.attributes).where(
                any_of(conn, customers.c.id, customer_ids[start : start + CHUNK])
            )
        )
        for (attributes,) in rows:
            revenue = attributes.get("revenue") if isinstance(attributes, dict) else None
            found.append(revenue if isinstance(revenue, dict) else {})
    return found


async def member_conversations(
    conn: AsyncConnection, customer_ids: Sequence[str], start: datetime, end: datetime
) -> list[MemberConversation]:
    """The customers' conversations opened from ``start`` up to ``end``, and those open now."""
    found: list[MemberConversation] = []
    is_open = c.status == ConversationStatus.OPEN.value
    for first in range(0, len(customer_ids), CHUNK):
        rows = await conn.execute(
            sa.select(c.customer_id, c.opened_at, c.status, c.route).where(
                any_of(conn, c.customer_id, customer_ids[first : first + CHUNK]),
                sa.or_(sa.and_(c.opened_at >= start, c.opened_at < end), is_open),
            )
        )
        for row in rows:
            tags = (row.route or {}).get("tags") if isinstance(row.route, dict) else None
            found.append(
                MemberConversation(
                    customer_id=row.customer_id,
                    opened_at=utc(row.opened_at),
                    open=row.status == ConversationStatus.OPEN.value,
                    tags=tuple(t for t in tags or () if isinstance(t, str)),
                )
            )
    return found
