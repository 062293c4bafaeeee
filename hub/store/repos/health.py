"""Customer health in the store: the signals of many customers at once (a chunk of
customers per query, each signal one query), each customer's last health, the
early-warning list, and how far the health step has got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ConversationStatus
from hub.store.bulk import any_of, holds_any, is_pg
from hub.store.repos import progress
from hub.store.tables import (
    agents,
    contracts,
    conversations,
    customer_health,
    customers,
    events,
    messages,
)
from hub.store.times import utc, utc_or_none

c = conversations.c
h = customer_health.c
k = contracts.c
e = events.c
CHUNK = 1000
_LOCK_KEY = 0x6865616C7468  # "health"
# the events after which a customer's health is computed again (its signals changed)
SIGNAL_ACTIONS = (
    "conversation.opened",
    "conversation.tagged",
    "conversation.reopened",
    "conversation.closed",
    "sla.breached",
    "contract.added",
    "contract.changed",
    "contract.removed",
    "customer.updated",
    "customer.merged",
    "customer.unmerged",
    "csat.received",
)


class Weight(Protocol):
    """What the signal queries read of a signal's weight (hub/customers/health.py)."""

    @property
    def window_days(self) -> float | None: ...
    @property
    def after_days(self) -> float | None: ...
    @property
    def within_days(self) -> float | None: ...
    @property
    def below(self) -> float | None: ...
    @property
    def at_most(self) -> float | None: ...
    @property
    def tags(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Signal:
    """Something that happened to a customer that bears on its health."""

    kind: str
    at: datetime
    link: Mapping[str, str] = field(default_factory=dict)  # {"conversation_id": …} or {"contract_id": …}
    detail: Mapping[str, Any] = field(default_factory=dict)  # what its line says (a name, a share)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    customer_id: str
    score: int
    level: str
    lines: list[dict[str, Any]]
    computed_at: datetime
    base_score: int
    base_at: datetime


async def signals_of(
    conn: AsyncConnection, customer_ids: Sequence[str], now: datetime, weights: Mapping[str, Weight]
) -> dict[str, list[Signal]]:
    """Every signal of these customers of the kinds ``weights`` has, at ``now``."""
    found: dict[str, list[Signal]] = {cid: [] for cid in customer_ids}
    for start in range(0, len(customer_ids), CHUNK):
        ids = list(customer_ids[start : start + CHUNK])
        for customer_id, signal in await _signals(conn, ids, now, weights):
            found[customer_id].append(signal)
    return found


async def _signals(
    conn: AsyncConnection, ids: list[str], now: datetime, w: Mapping[str, Weight]
) -> list[tuple[str, Signal]]:
    found: list[tuple[str, Signal]] = []

    def since(kind: str) -> datetime:
        window = w[kind].window_days
        return now - timedelta(days=window) if window is not None else datetime.min.replace(tzinfo=now.tzinfo)

    if "complaint" in w and w["complaint"].tags:
        m = messages.c
        first = (  # the customer's message that opened it: what the line links to
            sa.select(m.id)
            .where(m.conversation_id == c.id, m.direction == "in")
            .order_by(m.received_at, m.id)
            .limit(1)
            .scalar_subquery()
        )
        rows = await conn.execute(
            sa.select(c.id, c.customer_id, c.opened_at, first.label("message_id")).where(
                any_of(conn, c.customer_id, ids),
                c.opened_at >= since("complaint"),
                holds_any(conn, c.route, "tags", list(w["complaint"].tags)),
            )
        )
        for r in rows:
            link = {"conversation_id": r.id} | ({"message_id": r.message_id} if r.message_id else {})
            found.append((r.customer_id, Signal("complaint", utc(r.opened_at), link)))
    for kind, action, actor in (
        ("sla_breach", "sla.breached", None),
        ("reopened", "conversation.reopened", "system:ingest"),
    ):
        if kind in w:
            query = sa.select(e.customer_id, e.subject_id, e.at).where(
                any_of(conn, e.customer_id, ids), e.action == action, e.at >= since(kind)
            )
            if actor is not None:
                query = query.where(e.actor == actor)
            found += [
                (r.customer_id, Signal(kind, utc(r.at), {"conversation_id": r.subject_id}))
                for r in await conn.execute(query)
            ]
    if "low_csat" in w and w["low_csat"].at_most is not None:
        rows = await conn.execute(
            sa.select(e.customer_id, e.subject_id, e.at, e.data).where(
                any_of(conn, e.customer_id, ids), e.action == "csat.received", e.at >= since("low_csat")
            )
        )
        for r in rows:
            rated = (r.data or {}).get("score")
            if isinstance(rated, int) and rated <= w["low_csat"].at_most:
                link = {"conversation_id": r.subject_id}
                found.append((r.customer_id, Signal("low_csat", utc(r.at), link, {"score": rated})))
    if "waiting" in w and w["waiting"].after_days is not None:
        rows = await conn.execute(
            sa.select(c.id, c.customer_id, c.opened_at).where(
                any_of(conn, c.customer_id, ids),
                c.status == ConversationStatus.OPEN.value,
                c.opened_at < now - timedelta(days=w["waiting"].after_days),
            )
        )
        found += [
            (r.customer_id, Signal("waiting", utc(r.opened_at), {"conversation_id": r.id})) for r in rows
        ]
    if "revenue_decline" in w and w["revenue_decline"].below is not None:
        found += await _revenue_decline(conn, ids, w["revenue_decline"].below)
    if "contract_cancelled" in w:
        rows = await conn.execute(
            sa.select(k.id, k.customer_id, k.name, k.updated_at).where(
                any_of(conn, k.customer_id, ids),
                k.status == "cancelled",
                k.updated_at >= since("contract_cancelled"),
            )
        )
        found += [
            (
                r.customer_id,
                Signal("contract_cancelled", utc(r.updated_at), {"contract_id": r.id}, {"name": r.name}),
            )
            for r in rows
        ]
    if "notice_due" in w and w["notice_due"].within_days is not None:
        found += await _notice_due(conn, ids, now, w["notice_due"].within_days)
    if "silence" in w and w["silence"].after_days is not None:
        found += await _silence(conn, ids, now - timedelta(days=w["silence"].after_days))
    return found


async def _revenue_decline(conn: AsyncConnection, ids: list[str], below: float) -> list[tuple[str, Signal]]:
    trend = customers.c.attributes["revenue_trend"].as_float()
    rows = await conn.execute(
        sa.select(customers.c.id, trend.label("trend"), customers.c.updated_at).where(
            any_of(conn, customers.c.id, ids), trend < below
        )
    )
    return [
        (r.id, Signal("revenue_decline", utc(r.updated_at), {}, {"trend": round(float(r.trend), 4)}))
        for r in rows
    ]


async def _notice_due(
    conn: AsyncConnection, ids: list[str], now: datetime, within_days: float
) -> list[tuple[str, Signal]]:
    today = now.date()
    rows = await conn.execute(
        sa.select(k.id, k.customer_id, k.name, k.ends_on, k.notice_days).where(
            any_of(conn, k.customer_id, ids),
            k.status == "active",
            k.ends_on.is_not(None),
            k.notice_days.is_not(None),
            k.ends_on >= today,
        )
    )
    found = []
    for r in rows:
        deadline: date = r.ends_on - timedelta(days=r.notice_days)
        if today <= deadline <= today + timedelta(days=within_days):
            at = datetime.combine(deadline, datetime.min.time(), now.tzinfo)
            found.append(
                (
                    r.customer_id,
                    Signal(
                        "notice_due",
                        at,
                        {"contract_id": r.id},
                        {"name": r.name, "notice_by": deadline.isoformat()},
                    ),
                )
            )
    return found


async def _silence(conn: AsyncConnection, ids: list[str], before: datetime) -> list[tuple[str, Signal]]:
    last = sa.func.max(c.last_message_at).label("last")
    rows = await conn.execute(
        sa.select(c.customer_id, last)
        .where(any_of(conn, c.customer_id, ids))
        .group_by(c.customer_id)
        .having(last < before)
    )
    found = []
    for r in rows:
        at = utc(datetime.fromisoformat(r.last) if isinstance(r.last, str) else r.last)
        found.append((r.customer_id, Signal("silence", at, {}, {"last_contact": at.isoformat()})))
    return found


async def stored(conn: AsyncConnection, customer_ids: Sequence[str]) -> dict[str, Stored]:
    found: dict[str, Stored] = {}
    for start in range(0, len(customer_ids), CHUNK):
        rows = await conn.execute(
            sa.select(customer_health).where(
                any_of(conn, h.customer_id, list(customer_ids[start : start + CHUNK]))
            )
        )
        for r in rows:
            found[r.customer_id] = Stored(
                customer_id=r.customer_id,
                score=r.score,
                level=r.level,
                lines=list(r.lines or []),
                computed_at=utc(r.computed_at),
                base_score=r.base_score,
                base_at=utc(r.base_at),
            )
    return found


async def write(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each customer's health as computed now (customer_id, score, level, lines,
    computed_at, base_score, base_at)."""
    if not rows:
        return
    insert = (postgresql.insert if is_pg(conn) else sqlite.insert)(customer_health)
    stmt = insert.on_conflict_do_update(
        index_elements=[h.customer_id],
        set_={
            name: insert.excluded[name]
            for name in ("score", "level", "lines", "computed_at", "base_score", "base_at")
        },
    )
    await conn.execute(stmt, list(rows))


async def only_live(conn: AsyncConnection, customer_ids: Sequence[str]) -> list[str]:
    """Those of these customers that exist and were not erased, in id order."""
    found: list[str] = []
    for start in range(0, len(customer_ids), CHUNK):
        chunk = list(customer_ids[start : start + CHUNK])
        rows = await conn.execute(
            sa.select(customers.c.id).where(
                any_of(conn, customers.c.id, chunk), customers.c.erased_at.is_(None)
            )
        )
        found += [r.id for r in rows]
    return sorted(found)


async def live_customers(conn: AsyncConnection, after: str, limit: int) -> list[str]:
    """Up to ``limit`` customers (not erased) with ids after ``after``, in id order."""
    rows = await conn.execute(
        sa.select(customers.c.id)
        .where(customers.c.id > after, customers.c.erased_at.is_(None))
        .order_by(customers.c.id)
        .limit(limit)
    )
    return [r.id for r in rows]


async def touched_since(
    conn: AsyncConnection, after_id: int, until: datetime, limit: int
) -> tuple[list[str], int]:
    """The customers of signal-bearing events after the id ``after_id`` recorded before
    ``until`` (up to ``limit`` events), and the last event id read."""
    rows = (
        await conn.execute(
            sa.select(e.id, e.customer_id)
            .where(e.id > after_id, e.at < until, e.action.in_(SIGNAL_ACTIONS))
            .order_by(e.id)
            .limit(limit)
        )
    ).all()
    last = rows[-1].id if rows else after_id
    return sorted({r.customer_id for r in rows if r.customer_id}), last


async def state(conn: AsyncConnection, name: str) -> tuple[int, datetime] | None:
    return await progress.get(conn, f"health.{name}")


async def set_state(conn: AsyncConnection, name: str, event_id: int, at: datetime) -> None:
    await progress.put(conn, f"health.{name}", event_id, at)


async def clear_state(conn: AsyncConnection, name: str) -> None:
    await progress.clear(conn, f"health.{name}")


async def lock(conn: AsyncConnection) -> None:
    """Take the health step's turn for this transaction (PostgreSQL; SQLite has one writer)."""
    if is_pg(conn):
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


async def last_event_id(conn: AsyncConnection) -> int:
    return int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(e.id), 0))) or 0)


async def managers_of(
    conn: AsyncConnection, customer_ids: Sequence[str]
) -> dict[str, tuple[str | None, str | None, bool]]:
    """Each customer's name, key account manager, and whether the manager is available
    in the console now."""
    cu, ag = customers.c, agents.c
    rows = await conn.execute(
        sa.select(cu.id, cu.name, cu.key_account_manager_id, ag.presence)
        .select_from(customers.outerjoin(agents, ag.id == cu.key_account_manager_id))
        .where(any_of(conn, cu.id, list(customer_ids)))
    )
    return {r.id: (r.name, r.key_account_manager_id, r.presence == "available") for r in rows}


@dataclass(frozen=True, slots=True, kw_only=True)
class WentAtRisk:
    """An account that went at risk while its manager was away: a line of their digest."""

    manager_id: str
    manager_email: str
    manager_name: str
    manager_languages: list[str]
    customer_id: str
    customer_name: str | None
    at: datetime
    score: int
    reasons: list[dict[str, Any]]


async def went_at_risk(conn: AsyncConnection, since: datetime, until: datetime) -> list[WentAtRisk]:
    """The accounts that went at risk from ``since`` up to ``until`` while their key
    account manager was away, oldest first."""
    cu, ag = customers.c, agents.c
    rows = await conn.execute(
        sa.select(
            e.at, e.customer_id, e.data, cu.name, ag.id, ag.email, ag.name.label("agent_name"), ag.languages
        )
        .select_from(
            events.join(customers, cu.id == e.customer_id).join(agents, ag.id == cu.key_account_manager_id)
        )
        .where(
            e.action == "health.changed",
            e.at >= since,
            e.at < until,
            e.data["to"].as_string() == "at_risk",
            e.data["manager_away"].as_boolean().is_(True),
            ag.active.is_(True),
        )
        .order_by(e.at, e.id)
    )
    return [
        WentAtRisk(
            manager_id=r.id,
            manager_email=r.email,
            manager_name=r.agent_name,
            manager_languages=list(r.languages or []),
            customer_id=r.customer_id,
            customer_name=r.name,
            at=utc(r.at),
            score=int((r.data or {}).get("score", 0)),
            reasons=list((r.data or {}).get("reasons") or []),
        )
        for r in rows
    ]


async def forget_customer(conn: AsyncConnection, customer_id: str) -> None:
    await conn.execute(sa.delete(customer_health).where(h.customer_id == customer_id))


@dataclass(frozen=True, slots=True, kw_only=True)
class Watched:
    customer_id: str
    name: str | None
    organisation: str | None
    tier: str
    key_account_manager_id: str | None
    score: int
    level: str
    fall: int  # points lost since the base score
    lines: list[dict[str, Any]]
    revenue: Mapping[str, Any] | None
    last_contact_at: datetime | None


async def watchlist(
    conn: AsyncConnection,
    levels: Sequence[str],
    *,
    customer_ids: Sequence[str] | None = None,
    tiers: Sequence[str] = (),
    limit: int = 200,
) -> list[Watched]:
    """The customers at these levels (of ``customer_ids`` only, when given), the
    lowest score first; the caller sorts by revenue at stake."""
    cu = customers.c
    last = sa.select(sa.func.max(c.last_message_at)).where(c.customer_id == cu.id).scalar_subquery()
    query = (
        sa.select(
            cu.id,
            cu.name,
            cu.organisation,
            cu.tier,
            cu.key_account_manager_id,
            cu.attributes,
            h.score,
            h.level,
            h.lines,
            h.base_score,
            last.label("last_contact"),
        )
        .select_from(customer_health.join(customers, cu.id == h.customer_id))
        .where(h.level.in_(list(levels)), cu.erased_at.is_(None))
        .order_by(h.score, cu.id)
        .limit(limit)
    )
    if customer_ids is not None:
        query = query.where(any_of(conn, cu.id, list(customer_ids)))
    if tiers:
        query = query.where(cu.tier.in_(list(tiers)))
    found = []
    for r in await conn.execute(query):
        attributes = r.attributes if isinstance(r.attributes, dict) else {}
        last_contact = r.last_contact
        found.append(
            Watched(
                customer_id=r.id,
                name=r.name,
                organisation=r.organisation,
                tier=r.tier,
                key_account_manager_id=r.key_account_manager_id,
                score=r.score,
                level=r.level,
                fall=max(r.base_score - r.score, 0),
                lines=list(r.lines or []),
                revenue=attributes.get("revenue"),
                last_contact_at=utc_or_none(
                    datetime.fromisoformat(last_contact) if isinstance(last_contact, str) else last_contact
                ),
            )
        )
    return found
