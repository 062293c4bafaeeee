"""The reports' reads and writes (``hub/reports``): the stored events and messages of a
span of hours with the dimensions of their conversation and customer, the rollup rows
added to the stored ones, what a report reads back, and how far the rollups are done.

Nothing here decides what an event counts as; ``hub.reports.measures`` does, from these
records. Dimensions are read as they are now (the customer's tier, the conversation's
queue and department) unless the event itself names them (an offer's queue and agent).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import any_of, holds_any, insert_rows, is_pg, json_items
from hub.store.tables import conversations, customers, events, messages, report_rollups, report_state
from hub.store.times import utc, utc_or_none

c = conversations.c
r = report_rollups.c
CHUNK = 5000
STATE = "rollups"
_KEY = [column.name for column in report_rollups.primary_key.columns]
# one advisory lock key for the refresh (PostgreSQL): hub processes recompute in turn
_LOCK_KEY = 0x7265706F7274  # "report"

# what the measures count (hub/reports/measures.py reads each)
COUNTED_ACTIONS = (
    "conversation.opened",
    "conversation.offered",
    "conversation.assigned",
    "conversation.rejected",
    "conversation.offer_lapsed",
    "conversation.transferred",
    "conversation.reopened",
    "conversation.closed",
    "message.replied",
    "conversation.called_back",
    "sla.breached",
)
# what the durations are measured from (a conversation's steps before an event)
MILESTONE_ACTIONS = (
    "conversation.assigned",
    "conversation.transferred",
    "conversation.reopened",
    "conversation.closed",
    "message.replied",
    "conversation.called_back",
)
DIMENSIONS = ("channel", "tier", "queue", "department", "agent_id", "key_account")
# what ``rollups`` sums over: an hour, a local day, week or month, or the whole range
SPANS = ("hour", "day", "week", "month", "whole")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportEvent:
    """A stored event about a conversation, with that conversation's and customer's
    dimensions and times ('' and None where the conversation is gone)."""

    id: int
    at: datetime
    action: str
    actor: str
    data: Mapping[str, Any]
    conversation_id: str
    customer_id: str | None
    channel: str
    tier: str
    key_account: bool
    queue: str
    department: str
    opened_at: datetime | None
    first_response_at: datetime | None
    first_response_due: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Milestone:
    """An earlier step of a conversation: assigned, transferred, reopened, closed, or
    answered (a reply, a call-back)."""

    conversation_id: str
    at: datetime
    action: str
    actor: str
    via: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageVolume:
    """How many messages of one direction and combination of dimensions were stored in
    one hour."""

    hour: datetime
    direction: str
    channel: str
    tier: str
    key_account: bool
    queue: str
    department: str
    agent_id: str
    n: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RollupRow:
    """One stored rollup row, or one read back summed over the dimensions not asked for
    (those are then '')."""

    hour: datetime
    measure: str
    channel: str = ""
    tier: str = ""
    queue: str = ""
    department: str = ""
    agent_id: str = ""
    key_account: bool = False
    bin: int = 0
    n: int = 0
    total: float = 0.0
    peak: float = 0.0


def _department() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(c.route["department"].as_string(), "")


def _hour_of(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC hour a time falls in (PostgreSQL: a timestamp; SQLite: its text)."""
    if is_pg(conn):
        return sa.func.date_trunc("hour", sa.func.timezone("UTC", column))
    return sa.func.strftime("%Y-%m-%d %H:00:00", column)


def _as_time(value: Any) -> datetime:
    return utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _chunks(customer_ids: Sequence[str] | None) -> list[Sequence[str] | None]:
    """All customers (None), or the given ones a chunk at a time."""
    if customer_ids is None:
        return [None]
    return [customer_ids[i : i + CHUNK] for i in range(0, len(customer_ids), CHUNK)]


async def events_between(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
) -> list[ReportEvent]:
    """The counted events recorded from ``start`` up to ``end``, oldest first; of the
    conversations of ``customer_ids`` only, when given (a segment's, a KAM's accounts),
    and of those tagged with one of ``tags``, when given."""
    found: list[ReportEvent] = []
    for chunk in _chunks(customer_ids):
        found += await _events_between(conn, start, end, chunk, tags)
    if customer_ids is not None and len(customer_ids) > CHUNK:
        found.sort(key=lambda ev: (ev.at, ev.id))
    return found


def _of(conn: AsyncConnection, customer: Any, customer_ids: Sequence[str] | None, tags: Sequence[str]) -> Any:
    """The conversations of ``customer_ids`` (all when None), tagged with one of ``tags``
    (any when none)."""
    of_customers = sa.true() if customer_ids is None else any_of(conn, customer, customer_ids)
    return sa.and_(of_customers, holds_any(conn, c.route, "tags", tags)) if tags else of_customers


async def _events_between(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None,
    tags: Sequence[str],
) -> list[ReportEvent]:
    e = events.c
    of_customers = _of(conn, c.customer_id, customer_ids, tags)
    rows = await conn.execute(
        sa.select(
            e.id,
            e.at,
            e.action,
            e.actor,
            e.data,
            e.subject_id,
            c.customer_id,
            sa.func.coalesce(c.channel, ""),
            sa.func.coalesce(customers.c.tier, ""),
            sa.func.coalesce(customers.c.key_account, sa.false()),
            sa.func.coalesce(c.queue, ""),
            _department(),
            c.opened_at,
            c.first_response_at,
            c.first_response_due,
        )
        .select_from(events)
        .outerjoin(conversations, c.id == e.subject_id)
        .outerjoin(customers, customers.c.id == c.customer_id)
        .where(
            e.action.in_(COUNTED_ACTIONS),
            e.subject_type == "conversation",
            e.at >= start,
            e.at < end,
            of_customers,
        )
        .order_by(e.at, e.id)
    )
    return [
        ReportEvent(
            id=row[0],
            at=utc(row[1]),
            action=row[2],
            actor=row[3],
            data=row[4] or {},
            conversation_id=row[5],
            customer_id=row[6],
            channel=row[7],
            tier=row[8],
            key_account=bool(row[9]),
            queue=row[10],
            department=row[11],
            opened_at=utc_or_none(row[12]),
            first_response_at=utc_or_none(row[13]),
            first_response_due=utc_or_none(row[14]),
        )
        for row in rows
    ]


async def milestones(
    conn: AsyncConnection,
    conversation_ids: Iterable[str],
    customer_ids: Iterable[str],
    until: datetime,
    since: datetime | None = None,
) -> list[Milestone]:
    """The assignments, transfers, reopenings, closings and answers of these conversations
    from ``since`` (when none was opened earlier) up to ``until``, oldest first. Found
    through their customers (events are indexed by customer and time); the lapsed offers
    that carry no customer are not among them."""
    wanted = set(conversation_ids)
    ids = sorted(set(customer_ids))
    found: list[Milestone] = []
    e = events.c
    for start in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            sa.select(e.subject_id, e.at, e.action, e.actor, e.data).where(
                any_of(conn, e.customer_id, ids[start : start + CHUNK]),
                e.action.in_(MILESTONE_ACTIONS),
                e.at < until,
                e.at >= since if since is not None else sa.true(),
            )
        )
        found += [
            Milestone(
                conversation_id=row.subject_id,
                at=utc(row.at),
                action=row.action,
                actor=row.actor,
                via=(row.data or {}).get("via"),
            )
            for row in rows
            if row.subject_id in wanted
        ]
    found.sort(key=lambda m: m.at)
    return found


async def customer_messages(
    conn: AsyncConnection, conversation_ids: Iterable[str], until: datetime
) -> dict[str, list[datetime]]:
    """When the customer wrote in each of these conversations before ``until`` (their
    inbound messages' times, oldest first): what a next response answers."""
    ids = sorted(set(conversation_ids))
    found: dict[str, list[datetime]] = {}
    m = messages.c
    for start in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            sa.select(m.conversation_id, m.received_at)
            .where(
                any_of(conn, m.conversation_id, ids[start : start + CHUNK]),
                m.direction == "in",
                m.received_at < until,
            )
            .order_by(m.conversation_id, m.received_at)
        )
        for row in rows:
            found.setdefault(row.conversation_id, []).append(utc(row.received_at))
    return found


async def message_volume(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
) -> list[MessageVolume]:
    """Messages stored from ``start`` up to ``end``, counted per hour, direction and
    dimensions (the agent of an agent's reply; '' for the rest); of ``customer_ids``
    only, when given, and of conversations tagged with one of ``tags``, when given."""
    found: list[MessageVolume] = []
    for chunk in _chunks(customer_ids):
        found += await _message_volume(conn, start, end, chunk, tags)
    return found


async def _message_volume(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None,
    tags: Sequence[str],
) -> list[MessageVolume]:
    m = messages.c
    of_customers = _of(conn, m.customer_id, customer_ids, tags)
    hour = _hour_of(conn, m.stored_at).label("hour")
    agent = sa.case((m.sender_kind == "agent", m.sender_value), else_="").label("agent_id")
    columns = (
        hour,
        m.direction,
        m.channel,
        sa.func.coalesce(customers.c.tier, "").label("tier"),
        sa.func.coalesce(customers.c.key_account, sa.false()).label("key_account"),
        sa.func.coalesce(c.queue, "").label("queue"),
        _department().label("department"),
        agent,
    )
    rows = await conn.execute(
        sa.select(*columns, sa.func.count().label("n"))
        .select_from(messages)
        .outerjoin(conversations, c.id == m.conversation_id)
        .outerjoin(customers, customers.c.id == m.customer_id)
        .where(m.stored_at >= start, m.stored_at < end, of_customers)
        .group_by(*columns)
    )
    return [
        MessageVolume(
            hour=_as_time(row.hour),
            direction=row.direction,
            channel=row.channel,
            tier=row.tier,
            key_account=bool(row.key_account),
            queue=row.queue,
            department=row.department,
            agent_id=row.agent_id,
            n=row.n,
        )
        for row in rows
    ]


async def tags_in_use(conn: AsyncConnection, limit: int) -> list[str]:
    """The ``limit`` tags most conversations carry, most used first."""
    items = json_items(conn, c.route, "tags")
    rows = await conn.execute(
        sa.select(items.c.value, sa.func.count().label("n"))
        .select_from(conversations)
        .join(items, sa.true())
        .group_by(items.c.value)
        .order_by(sa.desc("n"), items.c.value)
        .limit(limit)
    )
    return [str(row.value) for row in rows]


async def earliest_source(conn: AsyncConnection) -> datetime | None:
    """The time of the oldest counted event or stored message, if any."""
    first_event = await conn.scalar(
        sa.select(sa.func.min(events.c.at)).where(events.c.action.in_(COUNTED_ACTIONS))
    )
    first_message = await conn.scalar(sa.select(sa.func.min(messages.c.stored_at)))
    times = [utc(t) for t in (first_event, first_message) if t is not None]
    return min(times) if times else None


async def lock(conn: AsyncConnection) -> None:
    """Take the refresh's turn for this transaction (PostgreSQL; SQLite has one writer),
    so two hub processes never replace the same hour at once."""
    if is_pg(conn):
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


async def add_rows(conn: AsyncConnection, rows: Sequence[RollupRow]) -> None:
    """Add ``rows`` to the stored rollups: counts and sums add up, the peak is the larger
    of the two."""
    larger = sa.func.greatest if is_pg(conn) else sa.func.max

    def adding(stmt: Any) -> Any:
        new = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=_KEY,
            set_={"n": r.n + new.n, "total": r.total + new.total, "peak": larger(r.peak, new.peak)},
        )

    await insert_rows(
        conn,
        report_rollups,
        [
            {
                "hour": row.hour,
                "measure": row.measure,
                "channel": row.channel,
                "tier": row.tier,
                "queue": row.queue,
                "department": row.department,
                "agent_id": row.agent_id,
                "key_account": row.key_account,
                "bin": row.bin,
                "n": row.n,
                "total": row.total,
                "peak": row.peak,
            }
            for row in rows
        ],
        on_conflict=adding,
    )


async def clear(conn: AsyncConnection) -> None:
    await conn.execute(sa.delete(report_rollups))
    await conn.execute(sa.delete(report_state).where(report_state.c.name == STATE))


async def done_until(conn: AsyncConnection) -> datetime | None:
    value = await conn.scalar(sa.select(report_state.c.done_until).where(report_state.c.name == STATE))
    return utc_or_none(value)


async def set_done_until(conn: AsyncConnection, at: datetime) -> None:
    updated = await conn.execute(
        sa.update(report_state).where(report_state.c.name == STATE).values(done_until=at)
    )
    if updated.rowcount == 0:
        await conn.execute(sa.insert(report_state).values(name=STATE, done_until=at))


async def rollups(
    conn: AsyncConnection,
    measures: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    by: Sequence[str] = (),
    filters: Mapping[str, Sequence[str | bool]] | None = None,
    per: str = "hour",
    offsets: Sequence[tuple[datetime, int]] = (),
) -> list[RollupRow]:
    """The rollup rows of ``measures`` in the hours from ``start`` up to ``end`` whose
    dimensions match ``filters`` (dimension to allowed values), summed per hour,
    measure, bin and the dimensions ``by``.

    Coarser, so that a year is not read back hour by hour: ``per`` a local ``day``,
    ``week`` (from Monday) or ``month`` of the zone whose UTC offsets in seconds are
    ``offsets`` (each from its time on, oldest first), or over the ``whole`` range. A
    row's ``hour`` is then the earliest hour it sums, which lies in its day, week or month."""
    for name in (*by, *(filters or {})):
        if name not in DIMENSIONS:
            raise ValueError(f"not a rollup dimension: {name}")
    if per not in SPANS:
        raise ValueError(f"not a span of rollups: {per}")
    dims = [r[name] for name in by]
    if per == "whole":
        span: sa.ColumnElement[Any] = sa.literal("")
    elif per == "hour" or not offsets:
        span = r.hour
    else:
        span = _local_start(conn, per, offsets)
    inner = sa.select(r.hour, span.label("span"), r.measure, r.bin, *dims, r.n, r.total, r.peak).where(
        r.measure.in_(list(measures)), r.hour >= start, r.hour < end
    )
    for name, values in (filters or {}).items():
        inner = inner.where(r[name].in_(list(values)))
    rows = inner.subquery()
    keys = [rows.c.span, rows.c.measure, rows.c.bin, *(rows.c[name] for name in by)]
    query = sa.select(
        sa.func.min(rows.c.hour).label("hour"),
        *keys,
        sa.func.sum(rows.c.n).label("n"),
        sa.func.sum(rows.c.total).label("total"),
        sa.func.max(rows.c.peak).label("peak"),
    ).group_by(*keys)
    found = []
    for row in await conn.execute(query):
        dimensions = {name: row._mapping[name] for name in by}
        if "key_account" in dimensions:
            dimensions["key_account"] = bool(dimensions["key_account"])
        found.append(
            RollupRow(
                hour=_as_time(row.hour),
                measure=row.measure,
                bin=row.bin,
                n=int(row.n),
                total=float(row.total),
                peak=float(row.peak),
                **dimensions,
            )
        )
    return found


def _local_start(
    conn: AsyncConnection, per: str, offsets: Sequence[tuple[datetime, int]]
) -> sa.ColumnElement[Any]:
    """The local start of the day, week or month of a rollup hour, under the zone's
    offset at that hour (PostgreSQL: a timestamp; SQLite: its date as text)."""

    def start(offset: int) -> sa.ColumnElement[Any]:
        if is_pg(conn):
            shift = sa.literal(timedelta(seconds=offset), sa.Interval())
            return sa.func.date_trunc(per, sa.func.timezone("UTC", r.hour) + shift)
        modifier = f"{offset:+d} seconds"
        if per == "week":  # back to the Monday on or before
            return sa.func.date(r.hour, modifier, "-6 days", "weekday 1")
        return sa.func.strftime("%Y-%m-01" if per == "month" else "%Y-%m-%d", r.hour, modifier)

    later = [(r.hour < until, start(offset)) for (_, offset), (until, _) in pairwise(offsets)]
    last = start(offsets[-1][1])
    return sa.case(*later, else_=last) if later else last
