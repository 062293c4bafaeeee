"""Store rows to routing state, and the ``route`` a conversation carries between decisions.

``route`` (a JSON column) holds what the rules read that is not elsewhere on the row
(``message_facts`` of the first inbound message: language, department, subject, the
start of its text, recipient; and tags from rule actions; the priority is a column of
its own, as later messages raise it), the ring it waits on and since when, who turned it
down, and a transfer. It is written by the router and by agent actions, read on every
rebuild.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.routing.floor import Floor
from hub.routing.types import AgentState, WaitingConversation
from hub.store.tables import PRIORITIES, PRIORITY_NAMES, agents, call_holds, conversations, customers

# The columns a router needs about a conversation and its customer, in one join.
CONVERSATION_COLUMNS = (
    conversations.c.id,
    conversations.c.customer_id,
    conversations.c.channel,
    conversations.c.status,
    conversations.c.needs_routing,
    conversations.c.opened_at,
    conversations.c.last_message_at,
    conversations.c.queue,
    conversations.c.offered_to,
    conversations.c.offer_expires_at,
    conversations.c.assignee_id,
    conversations.c.route,
    conversations.c.first_response_due,
    conversations.c.first_response_at,
    conversations.c.next_response_due,
    conversations.c.priority,
    customers.c.tier,
    customers.c.key_account,
    customers.c.key_account_manager_id,
    customers.c.organisation,
    customers.c.language.label("customer_language"),
    customers.c.attributes,
)


def conversation_query() -> sa.Select[Any]:
    return sa.select(*CONVERSATION_COLUMNS).join(customers, customers.c.id == conversations.c.customer_id)


# How much of the first message's text the rules read (and the router keeps in memory
# for every waiting conversation): keywords stand near the start.
RULE_TEXT_CHARS = 500


class MessageFacts(TypedDict):
    language: str
    department: str
    subject: str
    text: str
    recipient: str


def message_facts(
    *,
    subject: str | None,
    text: str | None,
    recipient: str | None,
    meta: Mapping[str, Any],
    customer_language: str | None,
) -> MessageFacts:
    """What the rules read of a conversation's first inbound message. The router and the
    simulator both build it here, so that a simulation matches what live routing does."""
    return {
        "language": str(meta.get("language") or customer_language or ""),
        "department": str(meta.get("department") or ""),
        "subject": (subject or "")[:200],
        "text": (text or "")[:RULE_TEXT_CHARS],
        "recipient": recipient or "",
    }


def customer_facts(row: Any) -> dict[str, Any]:
    """What a rule's ``customer`` sees (besides the tier)."""
    revenue = ((row.attributes or {}).get("revenue") or {}).get("revenue_12m") or {}
    return {
        "key_account": bool(row.key_account),
        "organisation": row.organisation or "",
        "language": getattr(row, "customer_language", None) or getattr(row, "language", None) or "",
        "revenue_12m": float(revenue.get("amount", 0) or 0),
    }


def agent_state(row: Any) -> AgentState:
    """Presence and skills from the agent record; the router adds the load it counts."""
    return AgentState(
        id=row.id,
        presence=row.presence if row.active else "offline",
        languages=tuple(row.languages),
        departments=tuple(row.departments),
        tags=tuple(row.tags or ()),
        teams=tuple(row.teams or ()),
        capacity=dict(row.capacity),
        idle_since=row.idle_since,
    )


AGENT_QUERY = sa.select(agents)


async def load_floor(conn: AsyncConnection, now: datetime | None = None) -> Floor:
    """Every active agent with the load the store shows: open conversations offered or
    assigned to them, and live calls put through to them, per channel (what the router
    counts, for a simulation and for live calls)."""
    c = conversations.c
    held = sa.func.coalesce(c.assignee_id, c.offered_to)
    load: dict[str, dict[str, int]] = {}
    rows = await conn.execute(
        sa.select(held.label("agent_id"), c.channel, sa.func.count().label("n"))
        .where(c.status == ConversationStatus.OPEN, held.is_not(None))
        .group_by(held, c.channel)
    )
    for r in rows:
        load.setdefault(r.agent_id, {})[r.channel] = r.n
    h = call_holds.c
    calls = await conn.execute(
        sa.select(h.agent_id, h.channel, sa.func.count().label("n"))
        .where(h.expires_at > (now or datetime.now(UTC)))
        .group_by(h.agent_id, h.channel)
    )
    for r in calls:
        per_agent = load.setdefault(r.agent_id, {})
        per_agent[r.channel] = per_agent.get(r.channel, 0) + r.n
    found = await conn.execute(AGENT_QUERY.where(agents.c.active.is_(True)))
    return Floor(replace(agent_state(r), load=load.get(r.id, {})) for r in found)


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def waiting_conversation(row: Any, route: dict[str, Any], last_agent_id: str | None) -> WaitingConversation:
    waiting_since = _ts(route.get("waiting_since")) or row.opened_at
    return WaitingConversation(
        id=row.id,
        channel=row.channel,
        tier=row.tier,
        arrived_at=waiting_since,
        customer=customer_facts(row),
        language=route.get("language", ""),
        department=route.get("department", ""),
        subject=route.get("subject", ""),
        text=route.get("text", ""),
        recipient=route.get("recipient", ""),
        priority=PRIORITY_NAMES.get(getattr(row, "priority", None) or PRIORITIES["normal"], "normal"),
        key_account_manager_id=row.key_account_manager_id,
        last_agent_id=last_agent_id,
        target_index=int(route.get("target_index", 0)),
        target_since=_ts(route.get("target_since")) or waiting_since,
        rejected_by=frozenset(route.get("rejected_by", ())),
        transfer_queue=route.get("transfer_queue"),
        transfer_agent_id=route.get("transfer_agent"),
    )
