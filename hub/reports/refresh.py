"""Keeping the rollups current: a step, every few seconds, that adds what was recorded
since its last run to the rollups, and the rebuild that adds everything again from
nothing (``contacthub reports rebuild``).

Why a step and not the ingest and routing transactions: the ingest transaction does no
extra work at all (the only cost is one index on ``messages.stored_at``), and no hot
counter row serialises the ingest workers' commits. Why adding and not recomputing: a
run reads each event and message once, so keeping the rollups costs a small share of
what storing them did, at any rate; recomputing the current hour on every run read the
hour's activity again every 20 s (bench/reports.py).

A run counts what was recorded from ``done_until`` up to ``now - settle``, a day at a
time, each day in one transaction that also moves ``done_until`` (so a span is added
exactly once, and hub processes take turns by a lock). The settle margin is for a
transaction that recorded an event at ``at`` and committed later: the rollups lag
``settle + refresh_seconds`` behind (under a minute by default). What is recorded with
an older time (a history imported with its original times, or a commit later than the
margin) is only counted by the rebuild.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.reports.measures import is_later_response, needs_history, rollup_rows
from hub.store.engine import Store
from hub.store.repos import reports as repo

log = logging.getLogger("contacthub.reports")
HOUR = timedelta(hours=1)
CHUNK = timedelta(days=1)


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


async def rows_of(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
) -> list[repo.RollupRow]:
    """The rollup rows of what the events and messages recorded from ``start`` up to
    ``end`` count (of ``customer_ids`` only, and of conversations tagged
    with one of ``tags``, when given), read with what the measures need to know of the
    conversations' earlier steps."""
    events = await repo.events_between(conn, start, end, customer_ids, tags)
    later = [e for e in events if needs_history(e)]
    # a conversation's steps come after its opening: the customers' older events are not read
    opened = [e.opened_at for e in later if e.opened_at is not None]
    since = min(opened) if opened and len(opened) == len(later) else None
    steps = await repo.milestones(
        conn, {e.conversation_id for e in later}, {e.customer_id for e in later if e.customer_id}, end, since
    )
    history: dict[str, list[repo.Milestone]] = {}
    for step in steps:
        history.setdefault(step.conversation_id, []).append(step)
    wrote = await repo.customer_messages(
        conn, {e.conversation_id for e in events if is_later_response(e)}, end
    )
    volume = await repo.message_volume(conn, start, end, customer_ids, tags)
    return rollup_rows(events, history, volume, wrote)


async def refresh(store: Store, now: datetime, settle: timedelta) -> int:
    """One run of the step: counts what was recorded from where the last run stopped (the
    first run ever, or after ``clear``: from the oldest stored event) up to ``now -
    settle``; how many hours it touched."""
    until = now - settle
    hours = 0
    while True:
        async with store.write() as conn:
            await repo.lock(conn)  # then read where the last run stopped: no span is added twice
            done = await repo.done_until(conn)
            start = done if done is not None else await repo.earliest_source(conn)
            if start is None or start >= until:
                if done is None:
                    await repo.set_done_until(conn, until)
                return hours
            end = min(start + CHUNK, until)
            await repo.add_rows(conn, await rows_of(conn, start, end))
            await repo.set_done_until(conn, end)
        hours += math.ceil((end - hour_floor(start)) / HOUR)


async def rebuild(store: Store, now: datetime, settle: timedelta = timedelta(0)) -> int:
    """The rollups added again from nothing, from every stored event and message recorded
    before ``now - settle`` (after an import of history, or a change of what the measures
    count; the hub's own refresh then goes on from there); how many hours."""
    async with store.write() as conn:
        await repo.lock(conn)
        await repo.clear(conn)
    return await refresh(store, now, settle)
