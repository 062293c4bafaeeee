"""The report rollups on both backends: every measure of a small fixed history against
figures worked out by hand (tests/reports/history.py), and rollups kept by the refresh
step while the history was recorded (with a late commit) equal to a rebuild from the
stored events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from hub.reports.buckets import Bucket
from hub.reports.refresh import rebuild, refresh
from hub.reports.service import ReportQuery, report, tier_fairness
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import events, report_rollups
from tests.reports.history import (
    History,
    X,
    Y,
    at,
    conversation,
    customer,
    event,
    message,
    small_history,
    write_agents,
    write_all,
    write_recorded,
    write_records,
)

BERLIN = ZoneInfo("Europe/Berlin")
SETTLE = timedelta(minutes=10)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    store = Store(settings.database)
    await store.migrate()
    yield store
    await store.close()


async def figures(
    store: Store, measure: str, group_by: str | None = None, **filters: tuple[str, ...]
) -> dict[str, dict]:
    """The totals per group over the whole history day (Berlin)."""
    q = ReportQuery(
        measure=measure,
        start=at(23, 0, day=1),
        end=at(23, 0),
        bucket=Bucket.DAY,
        zone=BERLIN,
        group_by=group_by,
        filters=filters,
    )
    found = await report(store, q)
    return dict(found.series.totals)


async def test_every_measure_of_a_fixed_history(store: Store) -> None:
    async with store.write() as conn:
        await write_all(conn, small_history())
    assert await rebuild(store, at(12, 0)) > 0

    async def total(measure: str) -> dict:
        return (await figures(store, measure))[""]

    assert await total("conversations_opened") == {"count": 3}
    assert await total("messages_in") == {"count": 5}
    assert await total("messages_out") == {"count": 1}
    assert await total("conversations_closed") == {"count": 3}
    assert await total("reopens") == {"count": 1}
    assert await total("transfers") == {"count": 1}
    assert await total("offers") == {"count": 3}
    assert await total("offers_rejected") == {"count": 1}
    assert await total("offers_missed") == {"count": 1}
    assert await total("sla_breaches") == {"count": 1}
    assert await total("sla_met") == {"count": 1}
    assert await total("sla_missed") == {"count": 2}  # B answered late, C closed unanswered
    # 300 and 1800 s: the median is the lower of the two (nearest rank)
    assert await total("first_response_time") == {
        "count": 2,
        "mean": 1050.0,
        "median": 300,
        "p90": 1800,
        "max": 1800.0,
    }
    assert await total("resolution_time") == {
        "count": 3,
        "mean": 3400.0,
        "median": 3600,
        "p90": 4200,
        "max": 4200.0,
    }
    # 1680 and 3540 s read as their bins' lower edges (two significant digits)
    assert await total("handling_time") == {
        "count": 2,
        "mean": 2610.0,
        "median": 1600,
        "p90": 3500,
        "max": 3540.0,
    }
    assert await total("wait_before_accept") == {
        "count": 3,
        "mean": 160.0,
        "median": 120,
        "p90": 300,
        "max": 300.0,
    }
    assert await total("sla_attainment") == {"numerator": 1, "denominator": 3, "value": 0.3333}
    assert await total("reopen_rate") == {"numerator": 1, "denominator": 3, "value": 0.3333}
    assert await total("transfers_per_conversation") == {"numerator": 1, "denominator": 3, "value": 0.3333}


async def test_next_response_time_counts_from_when_the_customer_wrote_again(store: Store) -> None:
    """D: X answers at 09:10 (the first response), again at 09:20 (the customer had not
    written: no next response); the customer writes at 09:30 and 09:35, Y answers at
    09:50 (1200 s from 09:30); Y calls back at 10:00 unasked (nothing); the customer
    writes at 10:05, X answers at 10:06 (60 s)."""
    d, cid = "conv-d", "c4"
    h = History(
        customers=[customer(cid, "standard")],
        conversations=[
            conversation(d, cid, "email", at(9, 0), first_response_at=at(9, 10), first_response_due=at(9, 30))
        ],
    )
    h.events = [
        event(at(9, 0), "conversation.opened", d, cid, "system:ingest"),
        event(at(9, 10), "message.replied", d, cid, f"agent:{X}", channel="email"),
        event(at(9, 20), "message.replied", d, cid, f"agent:{X}", channel="email"),
        event(at(9, 50), "message.replied", d, cid, f"agent:{Y}", channel="email"),
        event(at(10, 0), "conversation.called_back", d, cid, f"agent:{Y}", text="called"),
        event(at(10, 6), "message.replied", d, cid, f"agent:{X}", channel="email"),
    ]
    h.messages = [
        message(f"m-d{n}", d, cid, "email", when)
        for n, when in enumerate([at(9, 0), at(9, 30), at(9, 35), at(10, 5)])
    ]
    async with store.write() as conn:
        await write_all(conn, h)
    await rebuild(store, at(12, 0))
    assert (await figures(store, "next_response_time"))[""] == {
        "count": 2,
        "mean": 630.0,
        "median": 60,
        "p90": 1200,
        "max": 1200.0,
    }
    by_agent = await figures(store, "next_response_time", "agent")
    assert {k: v["max"] for k, v in by_agent.items()} == {X: 60.0, Y: 1200.0}
    assert (await figures(store, "first_response_time"))[""]["count"] == 1


async def test_dimensions_and_filters(store: Store) -> None:
    async with store.write() as conn:
        await write_all(conn, small_history())
    await rebuild(store, at(12, 0))
    by_channel = await figures(store, "messages_in", "channel")
    assert {k: v["count"] for k, v in by_channel.items()} == {"chat": 2, "email": 1, "sms": 2}
    by_tier = await figures(store, "first_response_time", "tier")
    assert by_tier["gold"]["median"] == 300 and by_tier["standard"]["median"] == 1800
    # B's queue is sales now; an offer keeps the queue it was made on
    assert {k: v["count"] for k, v in (await figures(store, "conversations_opened", "queue")).items()} == {
        "sales": 1,
        "service": 2,
    }
    assert {k: v["count"] for k, v in (await figures(store, "offers", "queue")).items()} == {"service": 3}
    assert {
        k: v["count"] for k, v in (await figures(store, "conversations_opened", "department")).items()
    } == {
        "": 2,
        "billing": 1,
    }
    handling = await figures(store, "handling_time", "agent")
    assert set(handling) == {X} and handling[X]["count"] == 2
    waits = await figures(store, "wait_before_accept", "team")
    assert waits["north"]["count"] == 2 and waits["south"] == {
        "count": 1,
        "mean": 300.0,
        "median": 300,
        "p90": 300,
        "max": 300.0,
    }
    assert {
        k: v["count"] for k, v in (await figures(store, "conversations_opened", "key_account")).items()
    } == {
        "false": 2,
        "true": 1,
    }
    # Berlin hours: opened 10:10, 10:20 and 11:05
    assert {
        k: v["count"] for k, v in (await figures(store, "conversations_opened", "hour_of_day")).items()
    } == {
        "10": 2,
        "11": 1,
    }
    assert (await figures(store, "conversations_opened", "weekday"))["1"]["count"] == 3  # a Monday
    assert (await figures(store, "offers", agent=(Y,)))[""]["count"] == 1
    assert (await figures(store, "offers", team=("north",)))[""]["count"] == 2
    assert (await figures(store, "messages_in", channel=("sms", "chat"), tier=("standard",)))[""][
        "count"
    ] == 4
    assert (await figures(store, "conversations_opened", key_account=("true",)))[""]["count"] == 1


async def test_hour_buckets_in_the_hubs_zone(store: Store) -> None:
    async with store.write() as conn:
        await write_all(conn, small_history())
    await rebuild(store, at(12, 0))
    q = ReportQuery(
        measure="conversations_closed", start=at(9, 0), end=at(12, 0), bucket=Bucket.HOUR, zone=BERLIN
    )
    rows = (await report(store, q)).series.rows
    assert [(start, values["count"]) for start, _, values in rows] == [
        ("2026-03-02T10:00:00+01:00", 0),
        ("2026-03-02T11:00:00+01:00", 3),
        ("2026-03-02T12:00:00+01:00", 0),
    ]


async def test_tier_fairness(store: Store) -> None:
    async with store.write() as conn:
        await write_all(conn, small_history())
    await rebuild(store, at(12, 0))
    promises = {"platinum": {"default": 900}, "gold": {"default": 1800}, "standard": {"default": 600}}
    found = await tier_fairness(
        store, at(0, 0), at(23, 0), ["platinum", "gold", "standard"], promises, {"gold": 0.95}, 0.9
    )
    by_tier = {t.tier: t for t in found}
    assert [t.tier for t in found] == ["platinum", "gold", "standard"]
    assert by_tier["platinum"].attainment is None and not by_tier["platinum"].below_floor
    gold, standard = by_tier["gold"], by_tier["standard"]
    assert (gold.sla_met, gold.sla_missed, gold.attainment, gold.floor, gold.below_floor) == (
        1,
        0,
        1.0,
        0.95,
        False,
    )
    assert gold.first_response["median"] == 300 and gold.longest_wait_before_accept_s == 60.0
    assert (standard.sla_met, standard.sla_missed, standard.attainment, standard.below_floor) == (
        0,
        2,
        0.0,
        True,
    )
    assert standard.first_response["p90"] == 1800 and standard.longest_wait_before_accept_s == 300.0
    assert standard.breaches == 1 and standard.promise_s == {"default": 600}


async def _rollup_rows(store: Store) -> list[tuple]:
    async with store.read() as conn:
        rows = (await conn.execute(sa.select(report_rollups))).all()
    return sorted(tuple(r) for r in rows)


async def test_refreshed_rollups_equal_a_rebuild(store: Store) -> None:
    """The history is recorded as it happened, the step running every 20 minutes; one
    event commits 4 minutes after its time, when a run has already passed it."""
    h = small_history()
    late = next(e for e in h.events if e["action"] == "conversation.transferred")  # at 10:00
    recorded = [r for r in h.recorded() if r[2] is not late]
    async with store.write() as conn:
        await write_agents(conn)
        await write_records(conn, h)
    now = at(9, 0)
    while now <= at(12, 0):
        async with store.write() as conn:
            await write_recorded(conn, [r for r in recorded if now - timedelta(minutes=20) <= r[0] < now])
            if now == at(10, 20):  # the run at 10:00 did not see it
                await write_recorded(conn, [(late["at"], "events", late)])
        await refresh(store, now, SETTLE)
        now += timedelta(minutes=20)
    refreshed = await _rollup_rows(store)
    assert any(r[1] == "transfers" for r in refreshed)
    await rebuild(store, at(12, 0))
    assert await _rollup_rows(store) == refreshed
    async with store.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(events)) == len(h.events)


async def test_runs_at_once_count_each_event_once(store: Store) -> None:
    """Hub processes run the step at the same time (on PostgreSQL each on its own
    connection): the spans they add do not overlap, whatever the order they run in."""
    async with store.write() as conn:
        await write_all(conn, small_history())
    await asyncio.gather(*(refresh(store, at(12, 0) - timedelta(minutes=m), SETTLE) for m in (0, 70, 0, 140)))
    refreshed = await _rollup_rows(store)
    await rebuild(store, at(12, 0) - SETTLE)
    assert await _rollup_rows(store) == refreshed
    assert (await figures(store, "conversations_opened"))[""]["count"] == 3


async def test_an_event_recorded_with_an_old_time_waits_for_the_rebuild(store: Store) -> None:
    """What is recorded with a time before the settle margin (an imported history) is not
    in the rollups until ``contacthub reports rebuild``."""
    h = small_history()
    async with store.write() as conn:
        await write_all(conn, h)
    await refresh(store, at(12, 0), SETTLE)
    assert (await figures(store, "conversations_opened"))[""]["count"] == 3
    async with store.write() as conn:
        await write_recorded(
            conn,
            [(at(9, 0), "events", {**h.events[0], "at": at(9, 0), "subject_id": "conv-c"})],
        )
    await refresh(store, at(13, 0), SETTLE)
    assert (await figures(store, "conversations_opened"))[""]["count"] == 3
    await rebuild(store, at(13, 0))
    assert (await figures(store, "conversations_opened"))[""]["count"] == 4
