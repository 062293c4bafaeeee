"""Campaign benchmark: recipients checked (consent, address, the contact policy) and queued
(a conversation, the message, the outbox row, the contact, the event) per second by the
campaign runner, at N recipients, on each backend; against the bare cost of writing one
outbox row per recipient in the same chunks, in the same run.

PostgreSQL plans by its statistics; on a server with autovacuum off (as on the test
machines) they would describe the empty tables the run started with, and every lookup by
customer would scan the whole table. So the bench ANALYZEs the tables the runner reads
every few seconds, as autovacuum would (``--no-analyze``: not).

    .venv/bin/python bench/campaign.py [-n 100000] [--backend embedded|scaleout|both] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.customers.records import CustomerRecords  # noqa: E402
from hub.customers.tiers import TierRules  # noqa: E402
from hub.outbox import store as outbox_store  # noqa: E402
from hub.outreach.campaigns import CHUNK, Campaigns  # noqa: E402
from hub.outreach.config import ContactPolicyConfig  # noqa: E402
from hub.store.engine import Store  # noqa: E402
from hub.store.tables import campaign_recipients, conversations  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402
from tests.outreach.bulk import Population, running_campaign  # noqa: E402


async def bare(store: Store, n: int) -> float:
    """Seconds to write n outbox rows, CHUNK to a transaction (of a conversation the run made)."""
    now = datetime.now(UTC)
    async with store.read() as conn:
        conv = (await conn.execute(sa.select(conversations.c.id, conversations.c.customer_id).limit(1))).one()
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        rows = [
            outbox_store.row(
                reply_id=str(uuid.uuid4()),
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                channel="api",
                sender=None,
                recipient="crm-bare",
                text="Unser Winterangebot.",
                now=now,
            )
            for _ in range(min(CHUNK, n - start))
        ]
        async with store.write() as conn:
            await outbox_store.enqueue(conn, rows)
    return time.perf_counter() - started


ANALYZED = (
    "conversations",
    "outbound_contacts",
    "campaign_recipients",
    "search_docs",
    "consents",
    "identities",
)


async def analyze_every(store: Store, seconds: float) -> None:
    """What autovacuum does on a server that has it on: fresh statistics as tables grow."""
    while True:
        await asyncio.sleep(seconds)
        async with store.write() as conn:
            for table in ANALYZED:
                await conn.execute(sa.text(f"ANALYZE {table}"))


async def one_round(backend: str, n: int, analyze: bool) -> tuple[float, float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), backend)
        people = Population(total=n, consenting_tenths=8, withdrawn_tenths=1)
        try:
            await running_campaign(settings, people)
            store = Store(settings.database)
            policy = ContactPolicyConfig(store)
            campaigns = Campaigns(
                store=store,
                records=CustomerRecords(TierRules([]), "DE"),  # the runner reads no tiers
                policy=policy,
                clock=lambda: datetime.now(UTC),
                zone=ZoneInfo("Europe/Berlin"),
                senders=lambda: {"api"},
                public_url=None,
            )
            analyzer = (
                asyncio.create_task(analyze_every(store, 5.0)) if analyze and backend == "scaleout" else None
            )
            started = time.perf_counter()
            while await campaigns.step(60):
                pass
            took = time.perf_counter() - started
            if analyzer is not None:
                analyzer.cancel()
            bare_took = await bare(store, people.consenting)
            async with store.read() as conn:
                counts = {
                    f"{r.status} {r.reason or ''}".strip(): r.n
                    for r in await conn.execute(
                        sa.select(
                            campaign_recipients.c.status,
                            campaign_recipients.c.reason,
                            sa.func.count().label("n"),
                        ).group_by(campaign_recipients.c.status, campaign_recipients.c.reason)
                    )
                }
            await store.close()
            assert counts.get("sent") == people.consenting, counts
            return n / took, people.consenting / bare_took, counts
        finally:
            await drop_backend(settings)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="recipients, a multiple of ten")
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false", help="leave PostgreSQL's statistics be"
    )
    args = parser.parse_args()
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "scaleout" and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
            print("scaleout: PostgreSQL or Redis not reachable; skipped")
            continue
        rates, bares = [], []
        for _ in range(args.rounds):
            rate, bare_rate, counts = await one_round(backend, args.n, args.analyze)
            rates.append(rate)
            bares.append(bare_rate)
        rate, bare_rate = statistics.median(rates), statistics.median(bares)
        print(
            f"{backend}: {args.n} recipients: {rate:,.0f} checked and queued/s (median of {args.rounds});"
            f" bare outbox rows {bare_rate:,.0f}/s; ratio {rate / bare_rate:.2f}; {counts}"
        )


if __name__ == "__main__":
    asyncio.run(main())
