"""Keeping the rollups current: a step, every few seconds, that recomputes the hours
touched since its last run from the stored events and messages, and the rebuild that
recomputes every hour (``contacthub reports rebuild``).

Why a step and not the ingest and routing transactions: an hour's rows are a pure
function of what is stored, so recomputing an hour is idempotent and the rollups can
never drift from the events (no counter to double or miss when a transaction retries
or a commit lands out of order); the ingest transaction does no extra work at all (the
only cost is one index on ``messages.stored_at``); and no hot counter row serialises
the ingest workers' commits. The price is a short delay (``reports.refresh_seconds``)
and a little reading per run, proportional to the last hours' activity.

A run recomputes from ``done_until - settle`` (rounded down to the hour) to now, each
day of it in its own transaction, then moves ``done_until`` to the run's start. The
settle margin covers a transaction that recorded an event at ``at`` but committed
later. Only what is recorded with an older time is missed (a history imported with its
original times): that is what the rebuild is for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.reports.measures import is_later_response, needs_history, rollup_rows
from hub.store.engine import Store
from hub.store.repos import reports as repo
from hub.transient import OutageNotice

log = logging.getLogger("contacthub.reports")
HOUR = timedelta(hours=1)
CHUNK = timedelta(days=1)


def hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


async def recompute(store: Store, start: datetime, end: datetime) -> None:
    """Replace the rollup rows of the hours from ``start`` up to ``end`` (whole hours)."""
    async with store.write() as conn:
        await repo.lock(conn)
        await repo.replace_hours(conn, start, end, await rows_of(conn, start, end))


async def rows_of(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    customer_ids: Sequence[str] | None = None,
    tags: Sequence[str] = (),
) -> list[repo.RollupRow]:
    """The rollup rows of the hours from ``start`` up to ``end``: what the events and
    messages recorded then count (of ``customer_ids`` only, and of conversations tagged
    with one of ``tags``, when given), read with what the measures need to know of the
    conversations' earlier steps."""
    events = await repo.events_between(conn, start, end, customer_ids, tags)
    later = [e for e in events if needs_history(e)]
    steps = await repo.milestones(
        conn, {e.conversation_id for e in later}, {e.customer_id for e in later if e.customer_id}, end
    )
    history: dict[str, list[repo.Milestone]] = {}
    for step in steps:
        history.setdefault(step.conversation_id, []).append(step)
    wrote = await repo.customer_messages(
        conn, {e.conversation_id for e in events if is_later_response(e)}, end
    )
    volume = await repo.message_volume(conn, start, end, customer_ids, tags)
    return rollup_rows(events, history, volume, wrote)


async def _recompute_span(store: Store, start: datetime, end: datetime) -> int:
    hours = 0
    cursor = hour_floor(start)
    while cursor < end:
        stop = min(cursor + CHUNK, hour_floor(end) + HOUR)
        await recompute(store, cursor, stop)
        hours += int((stop - cursor) / HOUR)
        cursor = stop
    return hours


async def refresh(store: Store, now: datetime, settle: timedelta) -> int:
    """One run of the step; how many hours it recomputed. The first run ever (or after
    ``clear``) recomputes from the oldest stored event."""
    async with store.read() as conn:
        done = await repo.done_until(conn)
        start = done - settle if done is not None else await repo.earliest_source(conn)
    hours = 0 if start is None else await _recompute_span(store, start, now)
    async with store.write() as conn:
        await repo.lock(conn)
        await repo.set_done_until(conn, now)
    return hours


async def rebuild(store: Store, now: datetime) -> int:
    """Every hour recomputed from the stored events (after an import of history, or a
    change of what the measures count); how many hours."""
    async with store.write() as conn:
        await repo.lock(conn)
        await repo.clear(conn)
    return await refresh(store, now, timedelta(0))


async def run_refresh(store: Store, clock: Clock, every_seconds: float, settle: timedelta) -> None:
    """The step, until cancelled. A failed run is tried again next time: an outage of the
    store is one warning when it starts and one line when it ends, anything else an error."""
    outage = OutageNotice(log, "report rollups: refresh")
    while True:
        try:
            await refresh(store, clock(), settle)
        except Exception as exc:
            if not outage.failed(exc):
                log.exception("report rollups: refresh failed; trying again in %.0fs", every_seconds)
        else:
            outage.succeeded()
        await asyncio.sleep(every_seconds)
