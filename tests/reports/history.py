"""A small fixed history for the report tests, written straight into the tables the
reports read (as ingest, routing, agents' actions and the SLA scan leave them), with
hand-picked times. Monday 2 March 2026, UTC (Berlin is UTC+1 that day).

- A: gold key account, email, queue service, department billing. Opened 09:10, offered
  to X 09:10:30, accepted 09:11 (waited 60 s), X replied 09:15 (first response 300 s,
  due 09:40: met), closed by X 10:10 (resolution 3600 s, handling 3540 s).
- B: standard, SMS, queue service then sales. Opened 09:20, offered to Y, lapsed, offered
  to X, rejected, assigned to Y 09:25 (waited 300 s), breached 09:30:05 (due 09:30), Y
  called back 09:50 (first response 1800 s: missed), Y transferred it to sales 10:00,
  assigned to X 10:02 (waited 120 s since the transfer), closed by X 10:30 (resolution
  4200 s, handling 1680 s), reopened by the customer's message 11:00.
- C: standard, chat, queue service. Opened 10:05, due 10:15, never answered, closed by
  a supervisor 10:45 while waiting (resolution 2400 s; SLA missed at the close).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import agents, conversations, customers, events, messages

X, Y = "agent-x", "agent-y"
A, B, C = "conv-a", "conv-b", "conv-c"


def at(hh: int, mm: int, ss: int = 0, day: int = 2, month: int = 3) -> datetime:
    return datetime(2026, month, day, hh, mm, ss, tzinfo=UTC)


@dataclass
class History:
    """Rows to write; ``events`` and ``messages`` as (recorded at, row)."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def recorded(self) -> list[tuple[datetime, str, dict[str, Any]]]:
        """Events and messages in the order they were recorded."""
        rows = [(e["at"], "events", e) for e in self.events]
        rows += [(m["stored_at"], "messages", m) for m in self.messages]
        return sorted(rows, key=lambda r: r[0])


def customer(cid: str, tier: str, key_account: bool = False) -> dict[str, Any]:
    return {
        "id": cid,
        "name": cid,
        "tier": tier,
        "attributes": {},
        "created_at": at(8, 0),
        "updated_at": at(8, 0),
        "key_account": key_account,
    }


def conversation(conv: str, cid: str, channel: str, opened: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "id": conv,
        "customer_id": cid,
        "channel": channel,
        "thread_key": conv,
        "status": "closed",
        "open_key": None,
        "needs_routing": False,
        "message_count": 1,
        "opened_at": opened,
        "last_message_at": opened,
        "queue": "service",
        "route": {},
        **extra,
    }


def event(
    when: datetime, action: str, conv: str, cid: str | None, actor: str = "system:router", **data: Any
) -> dict[str, Any]:
    return {
        "at": when,
        "actor": actor,
        "action": action,
        "subject_type": "conversation",
        "subject_id": conv,
        "customer_id": cid,
        "reason": None,
        "data": data,
    }


def message(
    mid: str,
    conv: str,
    cid: str,
    channel: str,
    when: datetime,
    direction: str = "in",
    agent: str | None = None,
) -> dict[str, Any]:
    return {
        "id": mid,
        "conversation_id": conv,
        "customer_id": cid,
        "channel": channel,
        "external_id": mid,
        "direction": direction,
        "kind": "message",
        "sender_kind": "agent" if agent else "email",
        "sender_value": agent or "someone",
        "text": "…",
        "meta": {},
        "received_at": when,
        "stored_at": when,
    }


def small_history() -> History:
    h = History()
    h.customers = [
        customer("c1", "gold", key_account=True),
        customer("c2", "standard"),
        customer("c3", "standard"),
    ]
    h.conversations = [
        conversation(
            A,
            "c1",
            "email",
            at(9, 10),
            closed_at=at(10, 10),
            assignee_id=X,
            assigned_at=at(9, 11),
            first_response_at=at(9, 15),
            first_response_due=at(9, 40),
            route={"department": "billing"},
        ),
        conversation(
            B,
            "c2",
            "sms",
            at(9, 20),
            status="open",
            open_key="c2|sms|conv-b",
            queue="sales",
            first_response_at=at(9, 50),
            first_response_due=at(9, 30),
        ),
        conversation(C, "c3", "chat", at(10, 5), closed_at=at(10, 45), first_response_due=at(10, 15)),
    ]
    ingest = "system:ingest"
    h.events = [
        event(at(9, 10), "conversation.opened", A, "c1", ingest),
        event(at(9, 10, 30), "conversation.offered", A, "c1", agent_id=X, queue="service"),
        event(
            at(9, 11),
            "conversation.assigned",
            A,
            "c1",
            f"agent:{X}",
            agent_id=X,
            queue="service",
            via="accept",
        ),
        event(at(9, 15), "message.replied", A, "c1", f"agent:{X}", message_id="m-a2", channel="email"),
        event(at(10, 10), "conversation.closed", A, "c1", f"agent:{X}", agent_id=X),
        event(at(9, 20), "conversation.opened", B, "c2", ingest),
        event(at(9, 20, 10), "conversation.offered", B, "c2", agent_id=Y, queue="service"),
        event(at(9, 20, 40), "conversation.offer_lapsed", B, None, agent_id=Y, missed_in_a_row=1),
        event(at(9, 20, 45), "conversation.offered", B, "c2", agent_id=X, queue="service"),
        event(at(9, 21), "conversation.rejected", B, "c2", f"agent:{X}", agent_id=X, reason=None),
        event(at(9, 25), "conversation.assigned", B, "c2", agent_id=Y, queue="service"),
        event(at(9, 30, 5), "sla.breached", B, "c2", kind="first_response", queue="service", agent_id=Y),
        event(
            at(9, 50), "conversation.called_back", B, "c2", f"agent:{Y}", text="called", by="Y", mentions=[]
        ),
        event(
            at(10, 0),
            "conversation.transferred",
            B,
            "c2",
            f"agent:{Y}",
            from_agent=Y,
            queue="sales",
            to_agent=None,
        ),
        event(at(10, 2), "conversation.assigned", B, "c2", agent_id=X, queue="sales"),
        event(at(10, 30), "conversation.closed", B, "c2", f"agent:{X}", agent_id=X),
        event(at(11, 0), "conversation.reopened", B, "c2", ingest, closed_at=at(10, 30).isoformat()),
        event(at(10, 5), "conversation.opened", C, "c3", ingest),
        event(at(10, 45), "conversation.closed", C, "c3", "agent:supervisor", agent_id=None),
    ]
    h.messages = [
        message("m-a1", A, "c1", "email", at(9, 10)),
        message("m-a2", A, "c1", "email", at(9, 15), "out", agent=X),
        message("m-b1", B, "c2", "sms", at(9, 20)),
        message("m-b2", B, "c2", "sms", at(11, 0)),
        message("m-c1", C, "c3", "chat", at(10, 5)),
        message("m-c2", C, "c3", "chat", at(10, 6)),
    ]
    return h


async def write_agents(conn: AsyncConnection) -> None:
    for agent_id, team in ((X, "north"), (Y, "south")):
        await conn.execute(
            sa.insert(agents).values(
                id=agent_id,
                email=f"{agent_id}@test.example",
                name=agent_id,
                role="agent",
                presence="offline",
                languages=["de"],
                departments=["service"],
                capacity={},
                active=True,
                created_at=at(8, 0),
                teams=[team],
            )
        )


async def write_records(conn: AsyncConnection, h: History) -> None:
    """The customers and conversations (as they are at the end)."""
    await conn.execute(sa.insert(customers), h.customers)
    for row in h.conversations:  # one at a time: their columns differ
        await conn.execute(sa.insert(conversations).values(**row))


async def write_recorded(conn: AsyncConnection, rows: Sequence[tuple[datetime, str, dict[str, Any]]]) -> None:
    for _, table, row in rows:
        await conn.execute(sa.insert(events if table == "events" else messages).values(**row))


async def write_all(conn: AsyncConnection, h: History) -> None:
    await write_agents(conn)
    await write_records(conn, h)
    await write_recorded(conn, h.recorded())
