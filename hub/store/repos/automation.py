"""Automations: the repository. The events they follow, their runs (one per automation,
chain and subject), what their conditions read, the conversations their timers look at,
and the few changes to a conversation no agent action makes (priority, department,
assignment to a named agent)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.bulk import is_pg
from hub.store.repos.event_feed import FeedEvent, feed_event
from hub.store.tables import (
    PRIORITIES,
    PRIORITY_NAMES,
    agents,
    attachments,
    automation_runs,
    canned_responses,
    consents,
    conversations,
    customer_health,
    customers,
    events,
    messages,
)
from hub.store.times import utc_or_none

c = conversations.c
m = messages.c
r = automation_runs.c


async def events_after(conn: AsyncConnection, after_id: int, limit: int) -> list[FeedEvent]:
    """Every event after ``after_id`` (all of them: the reader watches for gaps), oldest first."""
    rows = await conn.execute(
        sa.select(events).where(events.c.id > after_id).order_by(events.c.id).limit(limit)
    )
    return [feed_event(e) for e in rows]


async def events_between(
    conn: AsyncConnection, actions: Sequence[str], since: datetime, until: datetime, after_id: int, limit: int
) -> list[FeedEvent]:
    """The events of ``actions`` recorded in [since, until) after the id ``after_id``, in
    id order (the dry run)."""
    rows = await conn.execute(
        sa.select(events)
        .where(
            events.c.action.in_(list(actions)),
            events.c.at >= since,
            events.c.at < until,
            events.c.id > after_id,
        )
        .order_by(events.c.id)
        .limit(limit)
    )
    return [feed_event(e) for e in rows]


async def last_event_id(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.max(events.c.id))) or 0)


# --- runs -----------------------------------------------------------------------------


async def claim_run(conn: AsyncConnection, run: Mapping[str, Any]) -> int | None:
    """The run's id, or None if this automation ran on this chain and subject already."""
    insert = (postgresql.insert if is_pg(conn) else sqlite.insert)(automation_runs)
    found = await conn.scalar(
        insert.values(**run)
        .on_conflict_do_nothing(index_elements=["automation", "chain", "subject_id"])
        .returning(r.id)
    )
    return int(found) if found is not None else None


async def finish_run(conn: AsyncConnection, run_id: int, status: str, results: list[dict[str, Any]]) -> None:
    await conn.execute(
        sa.update(automation_runs).where(r.id == run_id).values(status=status, results=results)
    )


async def actions_since(conn: AsyncConnection, conversation_id: str, since: datetime) -> int:
    """How many actions automations took on the conversation since ``since``."""
    found = await conn.scalar(
        sa.select(sa.func.sum(r.actions)).where(r.conversation_id == conversation_id, r.at >= since)
    )
    return int(found or 0)


async def limited_since(conn: AsyncConnection, conversation_id: str, since: datetime) -> bool:
    """Whether the hourly limit stopped an automation on the conversation since ``since``
    (its timeline says so once an hour, not at every event)."""
    found = await conn.scalar(
        sa.select(r.id)
        .where(r.conversation_id == conversation_id, r.at >= since, r.status == "limited")
        .limit(1)
    )
    return found is not None


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    """Erasure: the runs name the customer's conversations and what was said to them."""
    await conn.execute(sa.delete(automation_runs).where(r.customer_id == customer_id))


# --- what conditions read ---------------------------------------------------------------


async def conversation(conn: AsyncConnection, conv_id: str) -> Any:
    """The conversation with what conditions and actions read of its customer."""
    return (
        await conn.execute(
            sa.select(
                c.id,
                c.customer_id,
                c.channel,
                c.status,
                c.queue,
                c.route,
                c.priority,
                c.assignee_id,
                c.offered_to,
                c.opened_at,
                c.last_message_at,
                agents.c.email.label("assignee_email"),
                agents.c.name.label("assignee_name"),
            )
            .outerjoin(agents, agents.c.id == c.assignee_id)
            .where(c.id == conv_id)
        )
    ).one_or_none()


def conversation_fields(row: Any, waiting_hours: float) -> dict[str, Any]:
    route = row.route if isinstance(row.route, dict) else {}
    tags = route.get("tags")
    return {
        "id": row.id,
        "channel": row.channel,
        "queue": row.queue or "",
        "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
        "status": row.status,
        "priority": PRIORITY_NAMES.get(row.priority or PRIORITIES["normal"], "normal"),
        "department": str(route.get("department") or ""),
        "assignee": row.assignee_email or "",
        "waiting_hours": waiting_hours,
    }


async def customer(conn: AsyncConnection, customer_id: str) -> Any:
    return (
        await conn.execute(
            sa.select(
                customers,
                customer_health.c.level.label("health_level"),
                customer_health.c.score.label("health_score"),
            )
            .outerjoin(customer_health, customer_health.c.customer_id == customers.c.id)
            .where(customers.c.id == customer_id)
        )
    ).one_or_none()


async def consent_of(conn: AsyncConnection, customer_id: str) -> list[str]:
    """``channel:purpose`` for every consent the customer gave and has not withdrawn."""
    rows = await conn.execute(
        sa.select(consents.c.channel, consents.c.purpose).where(
            consents.c.customer_id == customer_id, consents.c.granted.is_(True)
        )
    )
    return sorted(f"{row.channel}:{row.purpose}" for row in rows)


def customer_fields(row: Any, consent: list[str], segments: list[str]) -> dict[str, Any]:
    attributes = row.attributes if isinstance(row.attributes, dict) else {}
    revenue = ((attributes.get("revenue") or {}).get("revenue_12m")) or {}
    trend = attributes.get("revenue_trend")
    return {
        "id": row.id,
        "name": row.name or "",
        "organisation": row.organisation or "",
        "tier": row.tier,
        "key_account": bool(row.key_account),
        "language": row.language or "",
        "revenue": float(revenue.get("amount", 0) or 0) if isinstance(revenue, dict) else 0.0,
        "revenue_trend": float(trend) if isinstance(trend, int | float) else 0.0,
        "health": row.health_level or "",
        "health_score": float(row.health_score) if row.health_score is not None else 100.0,
        "consent": consent,
        "segments": segments,
    }


async def message(conn: AsyncConnection, message_id: str) -> Any:
    return (await conn.execute(sa.select(messages).where(m.id == message_id))).one_or_none()


async def attachment_names(conn: AsyncConnection, message_id: str) -> list[str]:
    return list(
        await conn.scalars(
            sa.select(attachments.c.filename)
            .where(attachments.c.message_id == message_id)
            .order_by(attachments.c.id)
        )
    )


async def first_inbound_meta(conn: AsyncConnection, conv_id: str) -> Mapping[str, Any]:
    meta = await conn.scalar(
        sa.select(m.meta)
        .where(m.conversation_id == conv_id, m.direction == "in")
        .order_by(m.received_at, m.id)
        .limit(1)
    )
    return meta if isinstance(meta, dict) else {}


# --- timers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    conversation_id: str
    customer_id: str
    on_us_since: datetime | None  # the customer's oldest message we have not answered
    on_customer_since: datetime | None  # our last reply, when the customer has not written since


# what counts as "we answered": a person's reply (an automatic one does not)
_PEOPLE = ("agent",)


async def waiting(conn: AsyncConnection, limit: int = 20_000) -> list[Waiting]:
    """Every open conversation, with whom it waits on and since when."""
    last_out = (
        sa.select(m.conversation_id, sa.func.max(m.received_at).label("at"))
        .join(conversations, c.id == m.conversation_id)
        .where(c.status == ConversationStatus.OPEN, m.direction == "out", m.sender_kind.in_(_PEOPLE))
        .group_by(m.conversation_id)
        .subquery()
    )
    unanswered = (
        sa.select(m.conversation_id, sa.func.min(m.received_at).label("at"))
        .join(conversations, c.id == m.conversation_id)
        .outerjoin(last_out, last_out.c.conversation_id == m.conversation_id)
        .where(
            c.status == ConversationStatus.OPEN,
            m.direction == "in",
            sa.or_(last_out.c.at.is_(None), m.received_at > last_out.c.at),
        )
        .group_by(m.conversation_id)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(c.id, c.customer_id, unanswered.c.at.label("on_us"), last_out.c.at.label("replied"))
        .outerjoin(unanswered, unanswered.c.conversation_id == c.id)
        .outerjoin(last_out, last_out.c.conversation_id == c.id)
        .where(c.status == ConversationStatus.OPEN)
        .order_by(c.id)
        .limit(limit)
    )
    found = []
    for row in rows:
        on_us = utc_or_none(row.on_us)
        replied = utc_or_none(row.replied)
        found.append(Waiting(row.id, row.customer_id, on_us, replied if on_us is None else None))
    return found


async def open_conversations(conn: AsyncConnection, limit: int = 20_000) -> list[tuple[str, str]]:
    rows = await conn.execute(
        sa.select(c.id, c.customer_id).where(c.status == ConversationStatus.OPEN).order_by(c.id).limit(limit)
    )
    return [(row.id, row.customer_id) for row in rows]


async def open_of_customer(conn: AsyncConnection, customer_id: str) -> list[str]:
    return list(
        await conn.scalars(
            sa.select(c.id)
            .where(c.customer_id == customer_id, c.status == ConversationStatus.OPEN)
            .order_by(c.id)
        )
    )


# --- what actions name -------------------------------------------------------------------


async def canned_body(conn: AsyncConnection, shortcut: str) -> str | None:
    """A shared canned response's body, by its shortcut."""
    body = await conn.scalar(
        sa.select(canned_responses.c.body).where(
            canned_responses.c.shortcut == shortcut, canned_responses.c.team.is_(None)
        )
    )
    return str(body) if body is not None else None


async def shared_shortcuts(conn: AsyncConnection) -> set[str]:
    return set(
        await conn.scalars(sa.select(canned_responses.c.shortcut).where(canned_responses.c.team.is_(None)))
    )


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    email: str
    name: str
    presence: str


async def agents_by_email(conn: AsyncConnection, emails: Iterable[str]) -> dict[str, Recipient]:
    wanted = sorted({e.lower() for e in emails})
    if not wanted:
        return {}
    rows = await conn.execute(
        sa.select(agents.c.id, agents.c.email, agents.c.name, agents.c.presence).where(
            sa.func.lower(agents.c.email).in_(wanted), agents.c.active.is_(True)
        )
    )
    return {row.email.lower(): Recipient(row.id, row.email, row.name, row.presence) for row in rows}


async def recipients(
    conn: AsyncConnection, *, ids: Iterable[str] = (), team: str | None = None, supervisors: bool = False
) -> list[Recipient]:
    """Active agents: by id, the members of ``team``, or every supervisor and admin."""
    query = sa.select(agents.c.id, agents.c.email, agents.c.name, agents.c.presence, agents.c.teams).where(
        agents.c.active.is_(True)
    )
    wanted = sorted(set(ids))
    if wanted:
        query = query.where(agents.c.id.in_(wanted))
    elif supervisors:
        query = query.where(agents.c.role.in_(("supervisor", "admin")))
    elif team is None:
        return []
    rows = [
        row
        for row in await conn.execute(query.order_by(agents.c.email))
        if team is None or team in (row.teams if isinstance(row.teams, list) else [])
    ]
    return [Recipient(row.id, row.email, row.name, row.presence) for row in rows]


# --- changes no agent action makes -------------------------------------------------------


async def set_priority(conn: AsyncConnection, conv_id: str, priority: str) -> bool:
    result = await conn.execute(
        sa.update(conversations)
        .where(c.id == conv_id, c.status == ConversationStatus.OPEN)
        .values(priority=PRIORITIES[priority])
    )
    return bool(result.rowcount)


async def set_department(conn: AsyncConnection, conv_id: str, department: str) -> str | None:
    """The department before, or None if the conversation is not open."""
    row = (
        await conn.execute(
            sa.select(c.route)
            .where(c.id == conv_id, c.status == ConversationStatus.OPEN)
            .with_for_update(key_share=True)
        )
    ).one_or_none()
    if row is None:
        return None
    route = dict(row.route or {})
    before = str(route.get("department") or "")
    route["department"] = department
    await conn.execute(sa.update(conversations).where(c.id == conv_id).values(route=route))
    return before


async def assign(conn: AsyncConnection, conv_id: str, agent_id: str, now: datetime) -> bool:
    """Assigned to the agent straight away (as a reopen does): off the queue and its offers."""
    result = await conn.execute(
        sa.update(conversations)
        .where(c.id == conv_id, c.status == ConversationStatus.OPEN)
        .values(
            assignee_id=agent_id,
            assigned_at=now,
            offered_to=None,
            offer_expires_at=None,
            needs_routing=False,
            snoozed_until=None,
            snoozed_at=None,
        )
    )
    return bool(result.rowcount)
