"""Keeping customer health current: a step, every ``STEP_SECONDS``, that recomputes the
customers whose signals changed (their events since its last look, once they are
``SETTLE`` old), so a score is never more than a minute behind; a full run once a day
(the signals fade with time); and ``contacthub health recompute``.

A change of level is an event, ``health.changed``, on the customer's timeline (and so in
the integration's feed and the webhooks), with the score before and after and the
heaviest reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.customers import audit
from hub.customers.health import HealthRules, Line, score
from hub.store.engine import Store
from hub.store.repos import event_feed
from hub.store.repos import health as repo

ACTOR = "system:health"
SETTLE = event_feed.SETTLE
BASE_AGE = timedelta(days=7)  # the score "falling" is measured against
FULL_EVERY = timedelta(days=1)
CHUNK = 500
EVENTS_PER_STEP = 5000


def line_json(line: Line) -> dict[str, Any]:
    return {
        "signal": line.kind,
        "points": line.points,
        "at": line.at.isoformat(),
        "link": dict(line.link),
        "detail": dict(line.detail),
    }


@dataclass(frozen=True, slots=True)
class Changed:
    """A customer whose level changed: for the live notice to its key account manager."""

    customer_id: str
    name: str | None
    key_account_manager_id: str | None
    before: str
    after: str
    score_before: int
    score: int
    reasons: list[dict[str, Any]]


Announce = Callable[[Changed], None]


async def recompute(
    conn: AsyncConnection, rules: HealthRules, customer_ids: Sequence[str], now: datetime
) -> list[Changed]:
    """These customers' health at ``now``, stored; a level that changed is an event (and
    is returned, to announce once the transaction is committed)."""
    await repo.lock(conn)  # hub processes in turn: a change of level is said once
    ids = await repo.only_live(conn, sorted(set(customer_ids)))  # erased or merged away: none
    if not ids:
        return []
    signals = await repo.signals_of(conn, ids, now, rules.weights)
    before = await repo.stored(conn, ids)
    rows: list[dict[str, Any]] = []
    changed: list[Changed] = []
    for customer_id in ids:
        health = score(signals[customer_id], now, rules)
        old = before.get(customer_id)
        if old is None:
            base_score, base_at = health.score, now
        elif now - old.base_at >= BASE_AGE:  # a new base: the score as it was until now
            base_score, base_at = old.score, now
        else:
            base_score, base_at = old.base_score, old.base_at
        rows.append(
            {
                "customer_id": customer_id,
                "score": health.score,
                "level": health.level,
                "lines": [line_json(line) for line in health.lines],
                "computed_at": now,
                "base_score": base_score,
                "base_at": base_at,
            }
        )
        if old is not None and old.level != health.level:
            reasons = [line_json(line) for line in health.lines[:3]]
            changed.append(
                Changed(customer_id, None, None, old.level, health.level, old.score, health.score, reasons)
            )
    await repo.write(conn, rows)
    if not changed:
        return []
    who = await repo.managers_of(conn, [c.customer_id for c in changed])
    said = []
    for change in changed:
        name, manager, present = who[change.customer_id]
        change = replace(change, name=name, key_account_manager_id=manager)
        await audit.record(
            conn,
            actor=ACTOR,
            action="health.changed",
            subject_type="customer",
            subject_id=change.customer_id,
            customer_id=change.customer_id,
            data={
                "from": change.before,
                "to": change.after,
                "score_before": change.score_before,
                "score": change.score,
                "reasons": change.reasons,
                # the manager was not in the console to see the live notice: the digest says it
                "manager_away": manager is not None and not present,
            },
            at=now,
        )
        said.append(change)
    return said


async def step(store: Store, rules: HealthRules, now: datetime, announce: Announce = lambda _: None) -> int:
    """Recompute the customers whose signal-bearing events were recorded since the last
    step; how many customers. Each change of level is announced after the commit."""
    async with store.write() as conn:
        last = await repo.state(conn, "events")
        if last is None:  # the first step: from now on (the full run covers the past)
            await repo.set_state(conn, "events", await repo.last_event_id(conn), now)
            return 0
        customers, read = await repo.touched_since(conn, last[0], now - SETTLE, EVENTS_PER_STEP)
        changed = await recompute(conn, rules, customers, now)
        await repo.set_state(conn, "events", read, now)
    for change in changed:
        announce(change)
    return len(customers)


async def recompute_all(
    store: Store,
    rules: HealthRules,
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
    announce: Announce = lambda _: None,
) -> int:
    """Every customer's health, CHUNK customers per transaction; how many."""
    done, after = 0, ""
    while True:
        async with store.write() as conn:
            ids = await repo.live_customers(conn, after, CHUNK)
            if not ids:
                last = await repo.state(conn, "events")
                await repo.set_state(conn, "full", last[0] if last else 0, now)
                return done
            changed = await recompute(conn, rules, ids, now)
        for change in changed:
            announce(change)
        done += len(ids)
        after = ids[-1]
        progress(done)


async def full_run_due(store: Store, now: datetime) -> bool:
    async with store.read() as conn:
        last = await repo.state(conn, "full")
    return last is None or now - last[1] >= FULL_EVERY
