"""The router's reads and writes (``hub/dispatch``): the rows its view is built from, the
conditional updates that apply its decisions, and the SLA scans.

Each write runs inside the caller's transaction, after the caller's ``fence()``; rows are
locked in one order (``lock_conversations``), the order ingest locks them in too.

Records carry the columns as stored, unchecked: JSON columns (skills, capacity,
``route``, attributes) may hold anything a hand-made fix or an old version left there,
and the router reads them in a guarded place (``hub/dispatch/bad_rows.py``), so that one
bad row is skipped rather than stopping routing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.bulk import any_of, is_pg
from hub.store.tables import agents, call_holds, conversations, customers, events, messages

c = conversations.c
OPEN = ConversationStatus.OPEN
CHUNK = 5000  # ids per statement where a list can be long (a rebuild)


@dataclass(frozen=True, slots=True)
class RoutingAgent:
    """What routing reads of an agent record."""

    id: str
    active: bool
    presence: Any
    languages: Any
    departments: Any
    tags: Any
    teams: Any
    capacity: Any
    idle_since: datetime | None


_AGENT_COLUMNS = (
    agents.c.id,
    agents.c.active,
    agents.c.presence,
    agents.c.languages,
    agents.c.departments,
    agents.c.tags,
    agents.c.teams,
    agents.c.capacity,
    agents.c.idle_since,
)


@dataclass(frozen=True, slots=True)
class RoutingConversation:
    """A conversation and its customer, as the router reads them (one join)."""

    id: str
    customer_id: str
    channel: str
    status: str
    needs_routing: bool
    opened_at: datetime
    last_message_at: datetime
    queue: str | None
    offered_to: str | None
    offer_expires_at: datetime | None
    assignee_id: str | None
    route: Any
    first_response_due: datetime | None
    first_response_at: datetime | None
    next_response_due: datetime | None
    priority: int | None
    tier: str
    key_account: bool
    key_account_manager_id: str | None
    organisation: str | None
    customer_language: str | None
    attributes: Any


# in the order of RoutingConversation's fields
_CONVERSATION_COLUMNS = (
    c.id,
    c.customer_id,
    c.channel,
    c.status,
    c.needs_routing,
    c.opened_at,
    c.last_message_at,
    c.queue,
    c.offered_to,
    c.offer_expires_at,
    c.assignee_id,
    c.route,
    c.first_response_due,
    c.first_response_at,
    c.next_response_due,
    c.priority,
    customers.c.tier,
    customers.c.key_account,
    customers.c.key_account_manager_id,
    customers.c.organisation,
    customers.c.language.label("customer_language"),
    customers.c.attributes,
)


@dataclass(frozen=True, slots=True)
class FirstMessage:
    """What the rules read of a conversation's first inbound message."""

    subject: str | None
    text: str | None  # the start only (``text_chars``)
    recipient: str | None
    meta: Any


@dataclass(frozen=True, slots=True)
class LiveCall:
    call_id: str
    agent_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class SlaHit:
    """A conversation whose due time of this ``kind`` passed (a breach) or comes close."""

    kind: str
    conversation_id: str
    customer_id: str
    queue: str | None
    assignee_id: str | None
    offered_to: str | None
    due: datetime


# --- reads ------------------------------------------------------------------------
async def active_agents(conn: AsyncConnection) -> list[RoutingAgent]:
    rows = await conn.execute(sa.select(*_AGENT_COLUMNS).where(agents.c.active.is_(True)))
    return [RoutingAgent(*r) for r in rows]


async def agents_by_id(conn: AsyncConnection, ids: Iterable[str]) -> list[RoutingAgent]:
    """These agents, active or not (an inactive one is offline to routing)."""
    rows = await conn.execute(sa.select(*_AGENT_COLUMNS).where(any_of(conn, agents.c.id, sorted(ids))))
    return [RoutingAgent(*r) for r in rows]


def _conversations() -> sa.Select[Any]:
    return sa.select(*_CONVERSATION_COLUMNS).join(customers, customers.c.id == c.customer_id)


async def open_conversations(conn: AsyncConnection) -> list[RoutingConversation]:
    rows = await conn.execute(_conversations().where(c.status == OPEN))
    return [RoutingConversation(*r) for r in rows]


async def conversations_by_id(conn: AsyncConnection, ids: Iterable[str]) -> list[RoutingConversation]:
    rows = await conn.execute(_conversations().where(any_of(conn, c.id, sorted(ids))))
    return [RoutingConversation(*r) for r in rows]


async def marked_for_routing(conn: AsyncConnection) -> set[str]:
    """The ids of the conversations whose change the router has not taken in yet."""
    return set(await conn.scalars(sa.select(c.id).where(c.needs_routing.is_(True))))


async def live_calls(
    conn: AsyncConnection, now: datetime, agent_ids: Iterable[str] | None = None
) -> list[LiveCall]:
    """Calls put through to an agent (to these agents, or to anyone) and not over by ``now``."""
    query = sa.select(call_holds.c.call_id, call_holds.c.agent_id, call_holds.c.channel).where(
        call_holds.c.expires_at > now
    )
    if agent_ids is not None:
        query = query.where(any_of(conn, call_holds.c.agent_id, sorted(agent_ids)))
    return [LiveCall(*r) for r in await conn.execute(query)]


async def agent_loads(conn: AsyncConnection, now: datetime) -> dict[str, dict[str, int]]:
    """Per agent and channel: open conversations offered or assigned to them, and their
    live calls."""
    held = sa.func.coalesce(c.assignee_id, c.offered_to)
    load: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        sa.select(held.label("agent_id"), c.channel, sa.func.count().label("n"))
        .where(c.status == OPEN, held.is_not(None))
        .group_by(held, c.channel)
    )
    for r in rows:
        load.setdefault(r.agent_id, {})[r.channel] = r.n
    h = call_holds.c
    calls = await conn.execute(
        sa.select(h.agent_id, h.channel, sa.func.count().label("n"))
        .where(h.expires_at > now)
        .group_by(h.agent_id, h.channel)
    )
    for r in calls:
        per_agent = load.setdefault(r.agent_id, {})
        per_agent[r.channel] = per_agent.get(r.channel, 0) + r.n
    return load


async def first_inbound_messages(
    conn: AsyncConnection, conv_ids: Sequence[str], text_chars: int
) -> dict[str, FirstMessage]:
    """The first inbound message of each conversation, its text cut to ``text_chars``."""
    m = messages.c
    first: dict[str, FirstMessage] = {}
    for start in range(0, len(conv_ids), CHUNK):
        rows = await conn.execute(
            sa.select(
                m.conversation_id, m.subject, sa.func.substr(m.text, 1, text_chars), m.recipient, m.meta
            )
            .where(any_of(conn, m.conversation_id, conv_ids[start : start + CHUNK]), m.direction == "in")
            .order_by(m.received_at.desc())
        )
        first.update({r[0]: FirstMessage(*r[1:]) for r in rows})  # the oldest is written last
    return first


async def last_agents(conn: AsyncConnection, customer_ids: Iterable[str]) -> dict[str, str]:
    """The agent each customer's conversation was last assigned to."""
    ids = sorted(customer_ids)
    last: dict[str, str] = {}
    for start in range(0, len(ids), CHUNK):
        rows = await conn.execute(
            sa.select(c.customer_id, c.assignee_id)
            .where(any_of(conn, c.customer_id, ids[start : start + CHUNK]), c.assignee_id.is_not(None))
            .order_by(c.assigned_at)
        )
        last.update({r.customer_id: r.assignee_id for r in rows})
    return last


async def route_of(conn: AsyncConnection, conv_id: str) -> dict[str, Any]:
    route = await conn.scalar(sa.select(c.route).where(c.id == conv_id))
    return dict(route or {})


async def customer_of(conn: AsyncConnection, conv_id: str) -> str | None:
    return await conn.scalar(sa.select(c.customer_id).where(c.id == conv_id))


# --- writes -----------------------------------------------------------------------
async def lock_conversations(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """Lock these conversation rows in id order before changing any (PostgreSQL; SQLite has
    one writer). Ingest updates the conversations of a batch in id order too, and two
    transactions that take their row locks in one order cannot deadlock. ``NO KEY UPDATE``
    does not wait for the key-share locks that inserting a message takes on its row."""
    if ids and is_pg(conn):
        await conn.execute(
            sa.select(c.id)
            .where(any_of(conn, c.id, sorted(set(ids))))
            .order_by(c.id.collate("C"))  # byte order: Python's sorted() of ids
            .with_for_update(key_share=True)
        )


async def update_conversations(conn: AsyncConnection, updates: Sequence[dict[str, Any]]) -> None:
    """Update conversations by id (each dict: ``id`` and the columns to set), one
    executemany per set of changed columns."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in updates:
        shapes.setdefault(tuple(sorted(update)), []).append({f"v_{k}": v for k, v in update.items()})
    for columns, rows in shapes.items():
        values = {k: sa.bindparam(f"v_{k}", type_=c[k].type) for k in columns if k != "id"}
        stmt = sa.update(conversations).where(c.id == sa.bindparam("v_id")).values(values)
        await conn.execute(stmt, rows)


async def take_if_waiting(conn: AsyncConnection, conv_id: str, values: dict[str, Any]) -> str | None:
    """Set ``values`` (an offer or an assignment) if the conversation is still open and
    neither offered nor assigned; its customer's id, or None if it was not."""
    result = await conn.execute(
        sa.update(conversations)
        .where(
            c.id == conv_id,
            c.status == OPEN,
            c.assignee_id.is_(None),
            c.offered_to.is_(None),
        )
        .values(**values)
        .returning(c.customer_id)
    )
    customer_id: str | None = result.scalar_one_or_none()
    return customer_id


async def placements(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Where these conversations stand now (in the caller's transaction): status, queue,
    assignee, offer and route."""
    rows = await conn.execute(
        sa.select(c.id, c.status, c.queue, c.assignee_id, c.offered_to, c.route).where(
            any_of(conn, c.id, sorted(set(ids)))
        )
    )
    return {
        r.id: {
            "status": r.status,
            "queue": r.queue,
            "assignee_id": r.assignee_id,
            "offered_to": r.offered_to,
            "route": r.route,
        }
        for r in rows
    }


async def set_route(conn: AsyncConnection, conv_id: str, route: dict[str, Any]) -> None:
    await conn.execute(sa.update(conversations).where(c.id == conv_id).values(route=route))


async def withdraw_offer(conn: AsyncConnection, conv_id: str, agent_id: str, route: dict[str, Any]) -> bool:
    """The offer to ``agent_id`` ends (the conversation waits again, with ``route``);
    False if it was accepted or closed meanwhile."""
    result = await conn.execute(
        sa.update(conversations)
        .where(c.id == conv_id, c.offered_to == agent_id, c.assignee_id.is_(None))
        .values(offered_to=None, offer_expires_at=None, route=route)
    )
    return bool(result.rowcount == 1)


async def count_missed_offer(conn: AsyncConnection, agent_id: str) -> int | None:
    """One more offer in a row the agent let lapse; how many now."""
    missed: int | None = await conn.scalar(
        sa.update(agents)
        .where(agents.c.id == agent_id)
        .values(missed_offers=agents.c.missed_offers + 1)
        .returning(agents.c.missed_offers)
    )
    return missed


async def set_away(conn: AsyncConnection, agent_id: str) -> None:
    await conn.execute(
        sa.update(agents).where(agents.c.id == agent_id).values(presence="away", missed_offers=0)
    )


async def add_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Events in one statement; every row has the same keys."""
    if rows:
        await conn.execute(sa.insert(events), list(rows))


def _due_times() -> tuple[tuple[str, Any, Any], ...]:
    """Each SLA due time: its kind, its column, and what says it is still open."""
    return (
        ("first_response", c.first_response_due, c.first_response_at.is_(None)),
        ("next_response", c.next_response_due, sa.true()),
    )


def _locked(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The ids of the conversations matching ``where``, locked in id order; rows another
    transaction holds are left for the next pass (they are found again in seconds)."""
    return (
        sa.select(c.id)
        .where(*where)
        .order_by(c.id)  # any one order among the router's own transactions
        .with_for_update(key_share=True, skip_locked=True)
        .scalar_subquery()
    )


_HIT_COLUMNS = (c.id, c.customer_id, c.queue, c.assignee_id, c.offered_to)


async def mark_breaches(conn: AsyncConnection, now: datetime) -> list[SlaHit]:
    """Open conversations whose due time passed before ``now`` without a response: marked
    breached (once: a breached conversation is not found again)."""
    hits: list[SlaHit] = []
    for kind, due, done in _due_times():
        rows = await conn.execute(
            sa.update(conversations)
            .where(c.id.in_(_locked(c.status == OPEN, c.breached.is_(None), due < now, done)))
            .values(breached=kind, breached_at=now)
            .returning(*_HIT_COLUMNS, due)
        )
        hits += [SlaHit(kind, *r) for r in rows]
    return hits


async def mark_warnings(conn: AsyncConnection, now: datetime, soon: datetime) -> list[SlaHit]:
    """Open conversations whose due time falls between ``now`` and ``soon``, not warned of
    for that due time yet: marked warned (a new due time is found again)."""
    hits: list[SlaHit] = []
    for kind, due, done in _due_times():
        not_warned = sa.or_(c.sla_warned_due.is_(None), c.sla_warned_due != due)
        rows = await conn.execute(
            sa.update(conversations)
            .where(
                c.id.in_(
                    _locked(
                        c.status == OPEN,
                        c.breached.is_(None),
                        due >= now,
                        due < soon,
                        done,
                        not_warned,
                    )
                )
            )
            .values(sla_warned_due=due)
            .returning(*_HIT_COLUMNS, due)
        )
        hits += [SlaHit(kind, *r) for r in rows]
    return hits
