"""Customer health benchmark: what computing every customer's health costs, and what
keeping it current costs the ingest.

For each backend:
1. writes ``--customers`` customers (a tenth key accounts) with 24 months of revenue
   bookings each (their derived ``revenue_trend``), a year of conversations (about 3 per
   customer: some open for days, a tenth tagged as complaints, 5 % breached, 5 %
   reopened), and contracts for a third of them (some cancelled, some near their notice
   deadline), straight into the tables;
2. times the full recompute (``contacthub health recompute``), median of ``--rounds``;
   the goal is <= 60 s for 100,000 customers;
3. stores ``--ingest`` messages through the ingest transaction (``store_batch``), half of
   them from existing customers, times it, then times the health step that follows them
   (the customers with new events recomputed): the cost per ingested message, against the
   goal of <= 1 ms, and as a share of the ingest time.

    .venv/bin/python bench/health.py [--customers 100000] [--rounds 3] [--ingest 5000]
        [--backend embedded|scaleout|both]
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

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.customers import health_run  # noqa: E402
from hub.customers.health import DEFAULT_RULES  # noqa: E402
from hub.customers.revenue import add_months, month_of  # noqa: E402
from hub.model import Address, AddressKind, Channel, InboundMessage, ThreadHint  # noqa: E402
from hub.store import ingest_batch  # noqa: E402
from hub.store.bulk import insert_rows  # noqa: E402
from hub.store.engine import Store  # noqa: E402
from hub.store.tables import (  # noqa: E402
    contracts,
    conversations,
    customers,
    events,
    identities,
    revenue_periods,
)
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402

CHUNK = 5000
NOW = datetime.now(UTC)
YEAR = timedelta(days=365)


def population(n: int, seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    """Every row of the history, by table."""
    rnd = random.Random(seed)
    this = month_of(NOW.date())
    rows: dict[str, list[dict[str, Any]]] = {
        "customers": [],
        "identities": [],
        "revenue_periods": [],
        "conversations": [],
        "events": [],
        "contracts": [],
    }
    for k in range(n):
        cid = f"cust-{k:07d}"
        base = rnd.choice((2000, 8000, 20000, 60000, 150000))
        months = [base * rnd.uniform(0.6, 1.4) / 12 * (1 - 0.3 * (k % 7 == 0) * (m < 12)) for m in range(24)]
        last, before = sum(months[:12]), sum(months[12:])
        rows["customers"].append(
            {
                "id": cid,
                "name": f"Kunde {k}",
                "tier": "gold" if base >= 20000 else "standard",
                "attributes": {
                    "revenue": {
                        "revenue_12m": {"amount": round(last, 2), "currency": "EUR", "source": "periods"}
                    },
                    "revenue_trend": round((last - before) / before, 4),
                    "revenue_as_of": this.strftime("%Y-%m"),
                },
                "created_at": NOW - 2 * YEAR,
                "updated_at": NOW - timedelta(days=rnd.randrange(30)),
                "key_account": k % 10 == 0,
            }
        )
        rows["identities"].append(
            {
                "customer_id": cid,
                "kind": "email",
                "value": f"kunde{k}@bench.example",
                "created_at": NOW - 2 * YEAR,
            }
        )
        for m, amount in enumerate(months):
            rows["revenue_periods"].append(
                {
                    "id": f"rev-{k}-{m}",
                    "customer_id": cid,
                    "month": add_months(this, -(m + 1)),
                    "currency": "EUR",
                    "amount": round(amount, 2),
                    "external_ref": f"FI-{k}-{m}",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        for j in range(rnd.choice((1, 2, 3, 3, 4, 5))):
            conv = f"conv-{k}-{j}"
            opened = NOW - timedelta(seconds=rnd.randrange(int(YEAR.total_seconds())))
            still_open = rnd.random() < 0.04
            rows["conversations"].append(
                {
                    "id": conv,
                    "customer_id": cid,
                    "channel": "email",
                    "thread_key": conv,
                    "status": "open" if still_open else "closed",
                    "open_key": f"{cid}|email|{conv}" if still_open else None,
                    "needs_routing": False,
                    "message_count": 2,
                    "opened_at": opened,
                    "last_message_at": opened + timedelta(hours=2),
                    "route": {"tags": ["complaint"] if rnd.random() < 0.1 else []},
                }
            )
            rows["events"].append(_event(opened, "conversation.opened", conv, cid, "system:ingest"))
            if rnd.random() < 0.05:
                rows["events"].append(
                    _event(opened + timedelta(minutes=31), "sla.breached", conv, cid, "system:router")
                )
            if rnd.random() < 0.05:
                rows["events"].append(
                    _event(opened + timedelta(days=2), "conversation.reopened", conv, cid, "system:ingest")
                )
        if k % 3 == 0:
            ends = NOW.date() + timedelta(days=rnd.randrange(-30, 700))
            rows["contracts"].append(
                {
                    "id": f"con-{k}",
                    "customer_id": cid,
                    "name": rnd.choice(("Strom", "Gas", "Wartung")),
                    "starts_on": ends - timedelta(days=730),
                    "ends_on": ends,
                    "notice_days": rnd.choice((30, 60, 90)),
                    "status": "cancelled" if rnd.random() < 0.05 else "active",
                    "created_at": NOW - YEAR,
                    "updated_at": NOW - timedelta(days=rnd.randrange(365)),
                }
            )
    return rows


def _event(at: datetime, action: str, conv: str, customer: str, actor: str) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "subject_type": "conversation",
        "subject_id": conv,
        "customer_id": customer,
        "reason": None,
        "data": {},
    }


async def write(store: Store, rows: dict[str, list[dict[str, Any]]]) -> float:
    started = time.perf_counter()
    tables = {
        "customers": customers,
        "identities": identities,
        "revenue_periods": revenue_periods,
        "conversations": conversations,
        "events": events,
        "contracts": contracts,
    }
    for name, table in tables.items():
        found = rows[name]
        for k in range(0, len(found), CHUNK):
            async with store.write() as conn:
                await insert_rows(conn, table, found[k : k + CHUNK])
    await store.analyze(*tables)
    return time.perf_counter() - started


def arriving(n: int, customers_n: int, seed: int = 3) -> list[InboundMessage]:
    """Half from existing customers (their email), half from new ones."""
    rnd = random.Random(seed)
    found = []
    for i in range(n):
        known = rnd.random() < 0.5
        sender = f"kunde{rnd.randrange(customers_n)}@bench.example" if known else f"neu{i}@bench.example"
        found.append(
            InboundMessage(
                channel=Channel.EMAIL,
                external_id=f"health-bench-{i}",
                sender=Address(AddressKind.EMAIL, sender),
                sender_name="Kunde",
                thread_hint=ThreadHint(key=f"h{i % 3}"),
                subject="Reklamation" if rnd.random() < 0.1 else "Frage",
                text="Guten Tag, ich habe eine Frage zu meiner Rechnung.",
                received_at=datetime.now(UTC),
            )
        )
    return found


async def step_cost(store: Store, n: int, customers_n: int) -> dict[str, float]:
    await health_run.step(store, DEFAULT_RULES, datetime.now(UTC))  # where the step starts
    batch = arriving(n, customers_n)
    started = time.perf_counter()
    for k in range(0, n, 200):
        async with store.write() as conn:
            await ingest_batch.store_batch(conn, batch[k : k + 200], datetime.now(UTC))
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    touched = await health_run.step(
        store, DEFAULT_RULES, datetime.now(UTC) + health_run.SETTLE + timedelta(seconds=1)
    )
    step_s = time.perf_counter() - started
    return {"ingest_s": ingest_s, "step_s": step_s, "touched": touched}


async def run(backend: str, n: int, rounds: int, ingest: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-health-"))
    settings = make_settings(tmp, backend, **{"log.level": "WARNING"})
    store = Store(settings.database)
    try:
        await store.migrate()
        rows = population(n)
        wrote = await write(store, rows)
        print(
            f"{backend}: wrote {n:,} customers, {len(rows['revenue_periods']):,} revenue bookings,"
            f" {len(rows['conversations']):,} conversations, {len(rows['events']):,} events,"
            f" {len(rows['contracts']):,} contracts in {wrote:.0f} s",
            flush=True,
        )
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            done = await health_run.recompute_all(store, DEFAULT_RULES, datetime.now(UTC))
            times.append(time.perf_counter() - started)
        async with store.read() as conn:
            levels = dict(
                (
                    await conn.execute(sa.text("SELECT level, count(*) FROM customer_health GROUP BY level"))
                ).all()
            )
        print(
            f"{backend}: full recompute of {done:,} customers: median {statistics.median(times):.1f} s"
            f" (rounds: {', '.join(f'{t:.1f}' for t in times)}; goal <= 60 s at 100,000); levels {levels}",
            flush=True,
        )
        cost = await step_cost(store, ingest, n)
        per_message_ms = cost["step_s"] / ingest * 1000
        print(
            f"{backend}: ingest of {ingest:,} messages {cost['ingest_s']:.1f} s; the health step after them"
            f" ({cost['touched']:,} customers) {cost['step_s'] * 1000:.0f} ms ="
            f" {per_message_ms:.3f} ms per message (goal <= 1 ms),"
            f" {cost['step_s'] / cost['ingest_s']:.1%} of the ingest time",
            flush=True,
        )
    finally:
        await store.close()
        await drop_backend(settings)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ingest", type=int, default=5000)
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "scaleout" and not _reachable("127.0.0.1", 5432):
            print("scaleout: PostgreSQL not reachable, skipped")
            continue
        await run(backend, args.customers, args.rounds, args.ingest)


if __name__ == "__main__":
    asyncio.run(main())
