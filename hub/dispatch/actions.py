"""What agents do to routed conversations: accept, reject, close, transfer, reopen,
snooze, notes.

Each is one conditional update, so it races safely with the router and other agents:
an accept succeeds only while the offer is still this agent's and unexpired; a close
only while the conversation is open. Afterwards the router's inbox is told, from any
process, so freed capacity is used at once.

Each first asks the visibility rule (``hub.auth.visibility``), in the same
transaction: a conversation the agent may not see is NotFound, as for GET. Of one they
may see but do not hold, an agent may add notes, and reopen it if it is closed (it
becomes theirs, audited); accept and reject need the offer, and close, transfer and
snooze need the assignment (or a supervisor).

Each reads the ``clock`` it is handed (the app's one clock) once: the times one action
writes (an assignment and its event, a transfer and its note) are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import hidden, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.errors import Conflict, Forbidden, InputError
from hub.model import ConversationState, ConversationStatus, Role
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.engine import Store
from hub.store.tables import agents, conversations
from hub.store.times import iso, utc_or_none

c = conversations.c


async def _current(conn: AsyncConnection, conv_id: str, who: Principal, rules: RuleSet) -> Any:
    """The conversation, if ``who`` may see it; else NotFound with GET's words. The row
    stays locked to the action's transaction (FOR NO KEY UPDATE on PostgreSQL: messages
    may still be stored on it), so that its read-modify-write of ``route`` loses no tag
    another agent set meanwhile."""
    row = (
        await conn.execute(
            sa.select(
                c.id,
                c.customer_id,
                c.channel,
                c.thread_key,
                c.status,
                c.offered_to,
                c.offer_expires_at,
                c.assignee_id,
                c.queue,
                c.route,
            )
            .where(c.id == conv_id)
            .with_for_update(key_share=True)
        )
    ).one_or_none()
    if row is None or not (await scope_of(conn, who, rules)).allows(row):
        raise hidden(conv_id)
    return row


def _why_not_offered(row: Any, agent_id: str, now: datetime) -> str:
    if row.status != ConversationStatus.OPEN:
        return "the conversation is closed"
    if row.assignee_id is not None:
        return "the conversation is already assigned to another agent"
    if row.offered_to != agent_id:
        return "the conversation is not offered to you (the offer lapsed or went to someone else)"
    expires = utc_or_none(row.offer_expires_at)
    if expires is not None and expires <= now:
        return "the offer has lapsed"
    return "the offer changed meanwhile; try again"


async def _event(conn: AsyncConnection, who: Principal, action: str, row: Any, **data: Any) -> None:
    await audit.record(
        conn,
        actor=who.actor,
        action=action,
        subject_type="conversation",
        subject_id=row.id,
        customer_id=row.customer_id,
        data=data,
    )


async def accept(store: Store, rules: RuleSet, conv_id: str, who: Principal, clock: Clock) -> dict[str, Any]:
    now = clock()
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        if row.assignee_id == who.agent_id and row.status == ConversationStatus.OPEN:
            return {"id": conv_id, "assignee_id": who.agent_id}  # accepted already
        result = await conn.execute(
            sa.update(conversations)
            .where(
                c.id == conv_id,
                c.status == ConversationStatus.OPEN,
                c.assignee_id.is_(None),
                c.offered_to == who.agent_id,
                c.offer_expires_at > now,
            )
            .values(assignee_id=who.agent_id, assigned_at=now, offered_to=None, offer_expires_at=None)
        )
        if result.rowcount != 1:
            raise Conflict(_why_not_offered(row, who.agent_id, now))
        await conn.execute(sa.update(agents).where(agents.c.id == who.agent_id).values(missed_offers=0))
        await _event(
            conn, who, "conversation.assigned", row, agent_id=who.agent_id, queue=row.queue, via="accept"
        )
    return {"id": conv_id, "assignee_id": who.agent_id, "assigned_at": iso(now)}


async def reject(
    store: Store, rules: RuleSet, conv_id: str, who: Principal, clock: Clock, reason: str | None
) -> dict[str, Any]:
    now = clock()
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        route = dict(row.route or {})
        route["rejected_by"] = sorted({*route.get("rejected_by", ()), who.agent_id})
        result = await conn.execute(
            sa.update(conversations)
            .where(
                c.id == conv_id,
                c.status == ConversationStatus.OPEN,
                c.assignee_id.is_(None),
                c.offered_to == who.agent_id,
            )
            .values(offered_to=None, offer_expires_at=None, route=route, needs_routing=True)
        )
        if result.rowcount != 1:
            raise Conflict(_why_not_offered(row, who.agent_id, now))
        await _event(conn, who, "conversation.rejected", row, agent_id=who.agent_id, reason=reason)
    return {"id": conv_id, "status": ConversationState.WAITING}


def _may_handle(row: Any, who: Principal) -> None:
    if row.status != ConversationStatus.OPEN:
        raise Conflict("the conversation is closed already")
    if who.role == Role.AGENT and row.assignee_id != who.agent_id:
        raise Forbidden("only the assigned agent or a supervisor may do this")


async def close(store: Store, rules: RuleSet, conv_id: str, who: Principal, clock: Clock) -> dict[str, Any]:
    now = clock()
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        _may_handle(row, who)
        result = await conn.execute(
            sa.update(conversations)
            .where(c.id == conv_id, c.status == ConversationStatus.OPEN)
            .values(
                status=ConversationStatus.CLOSED,
                closed_at=now,
                open_key=None,
                offered_to=None,
                offer_expires_at=None,
            )
        )
        if result.rowcount != 1:
            raise Conflict("the conversation is closed already")
        await _event(conn, who, "conversation.closed", row, agent_id=row.assignee_id)
    return {"id": conv_id, "status": ConversationStatus.CLOSED, "closed_at": iso(now)}


async def add_note(
    store: Store,
    rules: RuleSet,
    conv_id: str,
    who: Principal,
    clock: Clock,
    text: str,
    callback: bool,
    mentions: Sequence[str] = (),
) -> dict[str, Any]:
    """An internal note (the customer never sees it), on the customer's timeline. A
    ``callback`` note says the agent called the customer back; it counts as the
    first response. ``mentions`` are agent ids (@mentions); unknown ones raise
    InputError. Any agent who may see the conversation may note on it."""
    now = clock()
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        note_id = await _note(conn, who, row, text, callback, mentions, now)
    return {"id": note_id, "conversation_id": conv_id, "callback": callback, "at": iso(now)}


async def _note(
    conn: AsyncConnection,
    who: Principal,
    row: Any,
    text: str,
    callback: bool,
    mentions: Sequence[str],
    now: datetime,
) -> int:
    if mentions:
        known = set(await conn.scalars(sa.select(agents.c.id).where(agents.c.id.in_(sorted(set(mentions))))))
        if unknown := sorted(set(mentions) - known):
            raise InputError(f"mentions: no agent with id {unknown[0]}", field="mentions")
    note_id = await audit.record(
        conn,
        actor=who.actor,
        action="conversation.called_back" if callback else "conversation.note",
        subject_type="conversation",
        subject_id=row.id,
        customer_id=row.customer_id,
        data={"text": text, "by": who.name, "mentions": list(dict.fromkeys(mentions))},
        at=now,
    )
    await search_index.put(conn, [search_index.note_doc(note_id, row.id, row.customer_id, text, now)])
    if callback:
        await conn.execute(
            sa.update(conversations)
            .where(c.id == row.id)
            .values(first_response_at=sa.func.coalesce(c.first_response_at, now), next_response_due=None)
        )
    return note_id


async def transfer(
    store: Store,
    rules: RuleSet,
    conv_id: str,
    who: Principal,
    clock: Clock,
    queue: str | None,
    agent_id: str | None,
    note: str | None = None,
) -> dict[str, Any]:
    """Back to waiting, on ``queue`` (default: its current one), for ``agent_id`` first,
    with an internal ``note`` for whoever takes it (in the same transaction: the agent
    who hands it on may not see it afterwards)."""
    if queue is not None and queue not in rules.queues:
        raise InputError(f"no queue named {queue!r}; queues are {', '.join(rules.queues)}", field="queue")
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        _may_handle(row, who)
        if agent_id is not None:
            active = await conn.scalar(sa.select(agents.c.active).where(agents.c.id == agent_id))
            if not active:
                raise InputError(f"no active agent with id {agent_id}", field="agent_id")
        target_queue = queue or row.queue or next(iter(rules.queues))
        now = clock()
        route = dict(row.route or {})
        route |= {
            "transfer_queue": target_queue,
            "transfer_agent": agent_id,
            "target_index": 0,
            "target_since": iso(now),
            # the transferring agent does not get it straight back, unless named
            "rejected_by": []
            if agent_id == row.assignee_id or row.assignee_id is None
            else [row.assignee_id],
        }
        result = await conn.execute(
            sa.update(conversations)
            .where(c.id == conv_id, c.status == ConversationStatus.OPEN)
            .values(
                assignee_id=None,
                assigned_at=None,
                offered_to=None,
                offer_expires_at=None,
                queue=target_queue,
                route=route,
                needs_routing=True,
            )
        )
        if result.rowcount != 1:
            raise Conflict("the conversation is closed already")
        await _event(
            conn,
            who,
            "conversation.transferred",
            row,
            from_agent=row.assignee_id,
            queue=target_queue,
            to_agent=agent_id,
        )
        if note and note.strip():
            await _note(conn, who, row, note, False, (), now)
    return {"id": conv_id, "status": ConversationState.WAITING, "queue": target_queue, "agent_id": agent_id}


async def reopen(store: Store, rules: RuleSet, conv_id: str, who: Principal, clock: Clock) -> dict[str, Any]:
    """A closed conversation open again, assigned to the agent who reopened it. An agent
    may reopen what they may see (theirs, their teammates', or one that was waiting on a
    queue they serve when it closed); the takeover is audited.

    Raises Conflict if it is open, or if the customer has written on the same thread
    since and a newer conversation is open there (the agent continues in that one)."""
    now = clock()
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        if row.status == ConversationStatus.OPEN:
            raise Conflict("the conversation is open already")
        open_key = f"{row.customer_id}|{row.channel}|{row.thread_key}"
        newer = await conn.scalar(sa.select(c.id).where(c.open_key == open_key))
        if newer is not None:
            raise Conflict(f"a newer conversation on this thread is open ({newer}); continue there")
        result = await conn.execute(
            sa.update(conversations)
            .where(c.id == conv_id, c.status == ConversationStatus.CLOSED)
            .values(
                status=ConversationStatus.OPEN,
                open_key=open_key,
                closed_at=None,
                assignee_id=who.agent_id,
                assigned_at=now,
                needs_routing=False,
                snoozed_until=None,
                snoozed_at=None,
            )
        )
        if result.rowcount != 1:
            raise Conflict("the conversation is open already")
        await _event(
            conn, who, "conversation.reopened", row, agent_id=who.agent_id, from_agent=row.assignee_id
        )
        await _event(conn, who, "conversation.assigned", row, agent_id=who.agent_id, via="reopen")
    return {"id": conv_id, "status": ConversationStatus.OPEN, "assignee_id": who.agent_id}


async def snooze(
    store: Store, rules: RuleSet, conv_id: str, who: Principal, clock: Clock, until: datetime | None
) -> dict[str, Any]:
    """Hide an assigned conversation from the inbox until ``until`` (None wakes it now).
    A message from the customer wakes it earlier: the inbox compares it with ``snoozed_at``."""
    now = clock()
    if until is not None and until <= now:
        raise InputError("until: a time in the future", field="until")
    async with store.write() as conn:
        row = await _current(conn, conv_id, who, rules)
        _may_handle(row, who)
        await conn.execute(
            sa.update(conversations)
            .where(c.id == conv_id)
            .values(snoozed_until=until, snoozed_at=now if until else None)
        )
        await _event(conn, who, "conversation.snoozed", row, until=iso(until))
    return {"id": conv_id, "snoozed_until": iso(until)}
