"""Reports benchmark: a year of history, then every report's latency, and what keeping the
rollups costs the ingest.

For each backend:
1. writes 12 months of history straight into the tables (as ingest, routing and the
   agents leave it): ``-n`` conversations of ``--customers`` customers, each opened,
   offered, assigned, answered and closed, some transferred, rejected, breached or
   answered again after the customer wrote again; about 5 events and 2.6 messages each;
2. rebuilds the rollups (``contacthub reports rebuild``) and times it;
3. asks each measure over the 12 months, by month and by day, ungrouped and grouped by
   each dimension, ``--rounds`` times, through ``hub.reports.service.report`` (the HTTP
   handler adds parsing and JSON only), and prints the p95 per measure and grouping and
   the worst; the goal is p95 <= 300 ms;
4. stores ``--ingest`` messages through the ingest transaction (``store_batch``), times
   it, then times the refresh step's run that counts them (the step's runs every
   ``reports.refresh_seconds`` add up to that one run: each event and message is read
   once); the goal is that run's time <= 10 % of the ingest's. The rebuild's time per
   conversation (step 2: the same code, over every kind of event) is printed beside it.

    .venv/bin/python bench/reports.py [-n 1000000] [--customers 100000] [--rounds 20]
        [--ingest 20000] [--backend embedded|scaleout|both]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import messages_for  # noqa: E402
from hub.reports.buckets import Bucket  # noqa: E402
from hub.reports.refresh import rebuild, refresh  # noqa: E402
from hub.reports.service import ReportQuery, report  # noqa: E402
from hub.store import ingest_batch  # noqa: E402
from hub.store.engine import Store  # noqa: E402
from hub.store.tables import agents, conversations, customers, events, messages  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402
from tests.reports.history import conversation, customer, event, message  # noqa: E402

START = datetime(2025, 12, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
ZONE = ZoneInfo("Europe/Berlin")
AGENTS = [f"agent-{k:02d}" for k in range(20)]
CHANNELS = ["email", "sms", "chat", "api"]
QUEUES = ["service", "sales", "vip"]
TIERS = ["platinum", "gold", "standard", "standard", "standard"]
MEASURES = [
    "conversations_opened",
    "messages_in",
    "first_response_time",
    "next_response_time",
    "resolution_time",
    "handling_time",
    "wait_before_accept",
    "sla_attainment",
    "reopen_rate",
]
GROUPS = [None, "channel", "tier", "queue", "agent", "team", "key_account", "weekday", "business_hours"]
CHUNK = 5000


def history(n: int, n_customers: int, seed: int = 5) -> tuple[list[dict[str, Any]], Any]:
    """The customers, and a generator of (conversation, events, messages) per conversation."""
    rnd = random.Random(seed)
    people = [
        customer(f"cust-{k}", rnd.choice(TIERS), key_account=rnd.random() < 0.02) for k in range(n_customers)
    ]

    def conversations_of() -> Any:
        step = YEAR / n
        for i in range(n):
            who = people[rnd.randrange(n_customers)]
            cid, conv = who["id"], f"conv-{i}"
            channel, queue, agent = rnd.choice(CHANNELS), rnd.choice(QUEUES), rnd.choice(AGENTS)
            opened = START + step * i + timedelta(seconds=rnd.randrange(60))
            wait = timedelta(seconds=rnd.randrange(5, 900))
            first = wait + timedelta(seconds=rnd.randrange(30, 3600))
            closed = first + timedelta(seconds=rnd.randrange(60, 20000))
            agent_actor = f"agent:{agent}"
            evs = [
                event(opened, "conversation.opened", conv, cid, "system:ingest"),
                event(
                    opened + timedelta(seconds=3),
                    "conversation.offered",
                    conv,
                    cid,
                    agent_id=agent,
                    queue=queue,
                ),
            ]
            if rnd.random() < 0.05:
                evs.append(
                    event(
                        opened + timedelta(seconds=4),
                        "conversation.rejected",
                        conv,
                        cid,
                        agent_actor,
                        agent_id=agent,
                    )
                )
            evs.append(
                event(
                    opened + wait,
                    "conversation.assigned",
                    conv,
                    cid,
                    agent_actor,
                    agent_id=agent,
                    queue=queue,
                )
            )
            if rnd.random() < 0.05:
                evs.append(
                    event(
                        opened + timedelta(seconds=1801),
                        "sla.breached",
                        conv,
                        cid,
                        kind="first_response",
                        queue=queue,
                        agent_id=agent,
                    )
                )
            evs.append(event(opened + first, "message.replied", conv, cid, agent_actor, channel=channel))
            msgs = [
                message(f"m-{i}-1", conv, cid, channel, opened),
                message(f"m-{i}-2", conv, cid, channel, opened + first, "out", agent=agent),
            ]
            if rnd.random() < 0.3:  # the customer writes again and is answered again
                again = first + timedelta(seconds=rnd.randrange(60, 3000))
                answer = again + timedelta(seconds=rnd.randrange(30, 3000))
                closed = max(closed, answer + timedelta(seconds=60))
                msgs.append(message(f"m-{i}-3", conv, cid, channel, opened + again))
                evs.append(event(opened + answer, "message.replied", conv, cid, agent_actor, channel=channel))
            if rnd.random() < 0.1:
                evs.append(
                    event(
                        opened + first + timedelta(seconds=5),
                        "conversation.transferred",
                        conv,
                        cid,
                        agent_actor,
                        from_agent=agent,
                        queue="sales",
                        to_agent=None,
                    )
                )
            evs.append(event(opened + closed, "conversation.closed", conv, cid, agent_actor, agent_id=agent))
            row = conversation(
                conv,
                cid,
                channel,
                opened,
                queue=queue,
                closed_at=opened + closed,
                assignee_id=agent,
                assigned_at=opened + wait,
                first_response_at=opened + first,
                first_response_due=opened + timedelta(seconds=1800),
                last_message_at=msgs[-1]["received_at"],
                message_count=len(msgs),
            )
            yield row, evs, msgs

    return people, conversations_of()


async def write_history(store: Store, n: int, n_customers: int) -> float:
    started = time.perf_counter()
    people, rows = history(n, n_customers)
    async with store.write() as conn:
        await conn.execute(
            sa.insert(agents),
            [
                {
                    "id": a,
                    "email": f"{a}@bench.example",
                    "name": a,
                    "role": "agent",
                    "presence": "offline",
                    "languages": ["de"],
                    "departments": ["service"],
                    "capacity": {},
                    "active": True,
                    "created_at": START,
                    "teams": [f"team-{k % 4}"],
                }
                for k, a in enumerate(AGENTS)
            ],
        )
        for k in range(0, len(people), CHUNK):
            await conn.execute(sa.insert(customers), people[k : k + CHUNK])
    convs: list[dict[str, Any]] = []
    evs: list[dict[str, Any]] = []
    msgs: list[dict[str, Any]] = []

    async def flush() -> None:
        async with store.write() as conn:
            await conn.execute(sa.insert(conversations), convs)
            await conn.execute(sa.insert(events), evs)
            await conn.execute(sa.insert(messages), msgs)
        convs.clear()
        evs.clear()
        msgs.clear()

    for row, row_events, row_messages in rows:
        convs.append(row)
        evs.extend(row_events)
        msgs.extend(row_messages)
        if len(convs) >= CHUNK:
            await flush()
    if convs:
        await flush()
    await store.analyze("customers", "conversations", "events", "messages")
    return time.perf_counter() - started


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


async def latencies(store: Store, rounds: int) -> list[tuple[str, str, str, float]]:
    """(measure, bucket, grouping, p95 ms) of every report over the 12 months."""
    found = []
    for measure in MEASURES:
        for bucket in (Bucket.MONTH, Bucket.DAY):
            for group in GROUPS:
                q = ReportQuery(
                    measure=measure,
                    start=START,
                    end=START + YEAR,
                    bucket=bucket,
                    zone=ZONE,
                    group_by=group,
                    filters={},
                )
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    await report(store, q)
                    times.append((time.perf_counter() - started) * 1000)
                found.append((measure, bucket.value, group or "-", p95(times)))
    return found


async def rollup_cost(store: Store, n: int) -> dict[str, float]:
    """Ingest ``n`` messages, then the refresh step's run that counts them (the runs of
    the step add up to one run over the same span: each event and message is read once)."""
    await refresh(store, datetime.now(UTC), timedelta(0))  # the step is up to date
    batch: list[Any] = []
    started = time.perf_counter()
    for msg in messages_for(n, max(n // 20, 1), seed=23):
        batch.append(msg)
        if len(batch) == 200:
            async with store.write() as conn:
                await ingest_batch.store_batch(conn, batch, datetime.now(UTC))
            batch = []
    if batch:
        async with store.write() as conn:
            await ingest_batch.store_batch(conn, batch, datetime.now(UTC))
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    await refresh(store, datetime.now(UTC), timedelta(0))
    run_s = time.perf_counter() - started
    return {"rate": n / ingest_s, "run_s": run_s, "share": run_s / ingest_s}


async def run(backend: str, n: int, n_customers: int, rounds: int, ingest: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    settings = make_settings(tmp, backend, **{"log.level": "WARNING"})
    store = Store(settings.database)
    try:
        await store.migrate()
        wrote = await write_history(store, n, n_customers)
        print(
            f"{backend}: wrote {n:,} conversations of {n_customers:,} customers in {wrote:.0f} s", flush=True
        )
        started = time.perf_counter()
        hours = await rebuild(store, START + YEAR)
        rebuild_s = time.perf_counter() - started
        print(f"{backend}: rebuilt {hours:,} hours of rollups in {rebuild_s:.0f} s", flush=True)
        async with store.read() as conn:
            rows = await conn.scalar(sa.text("SELECT count(*) FROM report_rollups"))
        print(f"{backend}: {rows:,} rollup rows", flush=True)
        found = await latencies(store, rounds)
        for measure, bucket, group, ms in found:
            print(f"{backend}  {measure:22} {bucket:5} {group:11} p95 {ms:7.1f} ms")
        worst = max(found, key=lambda f: f[3])
        within = sum(1 for f in found if f[3] <= 300)
        print(
            f"{backend}: {within} of {len(found)} reports with p95 <= 300 ms; worst {worst[3]:.0f} ms"
            f" ({worst[0]}, {worst[1]}, {worst[2]}); median of the p95s"
            f" {statistics.median(f[3] for f in found):.0f} ms",
            flush=True,
        )
        cost = await rollup_cost(store, ingest)
        print(
            f"{backend}: ingest {cost['rate']:,.0f} msg/s; the refresh that counts those {ingest:,} messages"
            f" {cost['run_s'] * 1000:.0f} ms = {cost['share']:.1%} of their ingest time (goal: <= 10 %);"
            f" the rebuild counted a conversation of the history (its messages and events) in"
            f" {rebuild_s / n * 1e6:.0f} µs",
            flush=True,
        )
    finally:
        await store.close()
        await drop_backend(settings)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=1_000_000, help="conversations over the 12 months")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="runs of each report; the p95 is printed")
    parser.add_argument("--ingest", type=int, default=20_000, help="messages stored for the rollup cost")
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "scaleout" and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
            print("scaleout: PostgreSQL or Redis not reachable; skipped")
            continue
        await run(backend, args.n, args.customers, args.rounds, args.ingest)


if __name__ == "__main__":
    asyncio.run(main())
