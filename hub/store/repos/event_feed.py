"""The events an integration may read (``GET /api/v1/integration/events``): what happened
to conversations, messages, customers, their contracts, tiers, identities and consent,
in the order they were recorded. Audit reads, sign-ins, settings and tokens are not in
it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import events
from hub.store.times import utc

e = events.c
# an event is read once it is this old: a transaction that recorded it has committed by
# then, so a cursor never passes an event that is still to appear
SETTLE = timedelta(seconds=10)
ADDRESSED = "automation.webhook"  # an automation's call of one webhook (hub/automation/act.py)
FEED = (
    "conversation.",
    "message.",
    "customer.",
    "contract.",
    "tier.",
    "identity.",
    "consent.",
    "sla.",
    "health.",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEvent:
    id: int
    at: datetime
    action: str
    actor: str
    subject_type: str
    subject_id: str
    customer_id: str | None
    data: Any


async def after(
    conn: AsyncConnection,
    after_id: int,
    until: datetime,
    limit: int,
    prefixes: Sequence[str] = FEED,
    actions: Sequence[str] | None = None,
    addressed_to: str | None = None,
) -> list[FeedEvent]:
    """Up to ``limit`` events after the id ``after_id``, recorded before ``until``, whose
    action starts with one of ``prefixes`` (each one of FEED) or, when ``actions`` are
    given (even none), is one of them; and, for a webhook (``addressed_to``: its id), the calls
    automations addressed to it (``automation.webhook``); oldest first."""
    chosen: sa.ColumnElement[bool]
    if actions is not None:
        chosen = e.action.in_([x for x in actions if x.startswith(FEED)])
    else:
        wanted = [p for p in prefixes if p in FEED] or list(FEED)
        chosen = sa.or_(*(e.action.startswith(p, autoescape=True) for p in wanted))
    if addressed_to is not None:
        chosen = sa.or_(chosen, sa.and_(e.action == ADDRESSED, e.data["webhook"].as_string() == addressed_to))
    rows = await conn.execute(
        sa.select(events).where(e.id > after_id, e.at < until, chosen).order_by(e.id).limit(limit)
    )
    return [feed_event(r) for r in rows]


def feed_event(r: Any) -> FeedEvent:
    """An ``events`` row as a record."""
    return FeedEvent(
        id=int(r.id),
        at=utc(r.at),
        action=r.action,
        actor=r.actor,
        subject_type=r.subject_type,
        subject_id=r.subject_id,
        customer_id=r.customer_id,
        data=r.data if isinstance(r.data, dict) else {},
    )
