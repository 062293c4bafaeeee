"""Search benchmark: generated German and English messages over many customers, stored
through the ingest transaction (hub/store/ingest_batch.py) on each backend.

Prints, per backend:
- ingest rate with indexing on and off, in the same run (batches alternate, so both see
  the same machine), as messages/s (median of batches) and the cost of indexing as a
  share of the ingest time;
- index build rate: every stored message indexed afresh (documents/s);
- query latency p50/p95/p99 (ms) for single words (common, rare), phrases, prefixes and
  filtered queries, as a supervisor (everything) and as an agent (the visibility rule),
  one page of 20 hits, and the same with facets;
- index size (SQLite: the FTS5 table and search_docs pages; PostgreSQL: the table with
  its indexes and TOAST).

    .venv/bin/python bench/search.py [-n 1000000] [--customers 100000] [--backend embedded|scaleout|both]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.auth.visibility import Scope, everything  # noqa: E402
from hub.model import Address, AddressKind, Channel, InboundMessage, MessageKind, ThreadHint  # noqa: E402
from hub.store import ingest_batch, search_index  # noqa: E402
from hub.store.engine import Store  # noqa: E402
from hub.store.search_index import Filters  # noqa: E402
from hub.store.tables import conversations, messages, search_docs  # noqa: E402
from hub.text.search_query import parse  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402

BATCH = 500
T0 = datetime(2026, 1, 1, tzinfo=UTC)

DE = {
    "open": ["Sehr geehrte Damen und Herren,", "Hallo,", "Guten Tag,", "Liebes Support-Team,"],
    "subject": ["Rechnung", "Lieferung", "Bestellung", "Kündigung", "Reklamation", "Vertrag", "Rücksendung"],
    "body": [
        "die Rechnung {n} ist noch offen, bitte prüfen Sie die Zahlung.",
        "meine Bestellung {n} wurde noch nicht geliefert, der Lieferschein fehlt.",
        "ich möchte meinen Vertrag zum Monatsende kündigen.",
        "die Ware kam beschädigt an, ich bitte um Ersatz oder Gutschrift.",
        "können Sie mir die Rechnungen der letzten drei Monate schicken?",
        "Herr Müller aus der Buchhaltung ruft Sie morgen zurück.",
        "die Lieferung nach Straße {n} in Köln ist verspätet.",
        "bitte ändern Sie meine Adresse und die Bankverbindung.",
        "der Drucker zeigt Fehler {n} und druckt keine Etiketten mehr.",
        "wir benötigen ein Angebot über zwanzig Kartons Papier.",
    ],
    "close": ["Mit freundlichen Grüßen", "Viele Grüße", "Danke und beste Grüße"],
}
EN = {
    "open": ["Dear team,", "Hello,", "Hi there,", "Good morning,"],
    "subject": ["Invoice", "Delivery", "Order", "Cancellation", "Complaint", "Contract", "Return"],
    "body": [
        "invoice {n} is still unpaid according to your reminder, please check the payment.",
        "my order {n} has not been delivered yet and the tracking shows no update.",
        "I would like to cancel my subscription at the end of the month.",
        "the goods arrived damaged, please send a replacement or a refund.",
        "could you send me the invoices for the last three months?",
        "Mr Mueller from accounting will call you back tomorrow.",
        "the delivery to {n} Baker Street is delayed again.",
        "please update my address and my bank details.",
        "the printer shows error {n} and no longer prints labels.",
        "we need a quote for twenty boxes of paper.",
    ],
    "close": ["Kind regards", "Best wishes", "Thanks and regards"],
}
CHANNELS = [
    (Channel.EMAIL, AddressKind.EMAIL, MessageKind.MESSAGE),
    (Channel.EMAIL, AddressKind.EMAIL, MessageKind.MESSAGE),
    (Channel.SMS, AddressKind.PHONE, MessageKind.MESSAGE),
    (Channel.CHAT, AddressKind.CHAT_VISITOR, MessageKind.MESSAGE),
    (Channel.API, AddressKind.EMAIL, MessageKind.MESSAGE),
    (Channel.FAX, AddressKind.FAX, MessageKind.FAX),
    (Channel.VOICE, AddressKind.PHONE, MessageKind.VOICEMAIL),
]
QUERIES = {
    "word (common)": ("Rechnung", Filters()),
    "word (rare)": ("Etiketten", Filters()),
    "word form (en)": ("delivered", Filters()),
    "transliteration": ("Mueller", Filters()),
    "phrase": ('"Lieferschein fehlt"', Filters()),
    "prefix": ("Kündig*", Filters()),
    "exclusion": ("invoice -reminder", Filters()),
    "filtered": (
        "Vertrag",
        Filters(channel=("sms",), since=T0 + timedelta(days=1), until=T0 + timedelta(days=4)),
    ),
}


def messages_for(n: int, customers: int, seed: int = 11) -> Iterator[InboundMessage]:
    rnd = random.Random(seed)
    for i in range(n):
        c = rnd.randrange(customers)
        lang = DE if c % 3 else EN  # two in three customers write German
        channel, address, kind = CHANNELS[c % len(CHANNELS)]
        value = {
            AddressKind.EMAIL: f"kunde{c}@example.com",
            AddressKind.PHONE: f"+4915{c:09d}",
            AddressKind.FAX: f"+4930{c:09d}",
            AddressKind.CHAT_VISITOR: f"visitor-{c}",
        }[address]
        body = " ".join(
            rnd.choice(lang["body"]).format(n=rnd.randrange(10_000)) for _ in range(rnd.randint(1, 3))
        )
        text = f"{rnd.choice(lang['open'])}\n\n{body}\n\n{rnd.choice(lang['close'])}"
        yield InboundMessage(
            channel=channel,
            external_id=f"bench-{i}",
            sender=Address(address, value),
            sender_name=f"Kunde {c}",
            thread_hint=ThreadHint(key=f"t{rnd.randrange(3)}"),
            subject=f"{rnd.choice(lang['subject'])} {rnd.randrange(100_000)}"
            if channel is Channel.EMAIL
            else None,
            text=text,
            kind=kind,
            received_at=T0 + timedelta(seconds=i * 30),
        )


async def _no_index(*_: Any, **__: Any) -> None:
    return None


async def ingest(store: Store, n: int, customers: int) -> dict[str, float]:
    """Store everything; batches alternate between indexing on and off, timed apart."""
    on_index, on_customers = search_index.index_messages, search_index.index_new_customers
    rates: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    batch: list[InboundMessage] = []
    count = 0

    async def flush(indexing: bool) -> None:
        search_index.index_messages = on_index if indexing else _no_index  # type: ignore[assignment]
        search_index.index_new_customers = on_customers if indexing else _no_index  # type: ignore[assignment]
        started, used = time.perf_counter(), time.process_time()
        async with store.write() as conn:
            await ingest_batch.store_batch(conn, batch, datetime.now(UTC))
        rates[indexing].append(len(batch) / (time.perf_counter() - started))
        cpu[indexing].append(len(batch) / max(time.process_time() - used, 1e-6))

    try:
        for msg in messages_for(n, customers):
            batch.append(msg)
            if len(batch) == BATCH:
                await flush(count % 2 == 0)
                count += 1
                batch = []
        if batch:
            await flush(True)
    finally:
        search_index.index_messages, search_index.index_new_customers = on_index, on_customers
    on, off = statistics.median(rates[True]), statistics.median(rates[False])
    cpu_on, cpu_off = statistics.median(cpu[True]), statistics.median(cpu[False])
    return {
        "on": on,
        "off": off,
        "cost": 1 - on / off,
        "cpu_on": cpu_on,
        "cpu_off": cpu_off,
        "cpu_cost": 1 - cpu_on / cpu_off,
    }


async def rebuild(store: Store) -> None:
    """Index every stored message afresh; documents per second."""
    m = messages.c
    async with store.write() as conn:
        await conn.execute(sa.delete(search_docs).where(search_docs.c.kind == "message"))
    done, after, started, used = 0, None, time.perf_counter(), time.process_time()
    while True:
        async with store.write() as conn:
            rows = (
                await conn.execute(
                    sa.select(m.id, m.conversation_id, m.customer_id, m.channel, m.received_at)
                    .add_columns(m.subject, m.text, m.meta, m.stored_at)
                    .where(*search_index.stored_after(after))
                    .order_by(m.stored_at, m.id)
                    .limit(2000)
                )
            ).all()
            if not rows:
                break
            await search_index.put(conn, [search_index.message_doc(r) for r in rows])
        done += len(rows)
        after = (rows[-1].stored_at, rows[-1].id)
    wall, cpu = time.perf_counter() - started, time.process_time() - used
    print(f"  index build: {done / wall:,.0f} documents/s ({done / cpu:,.0f} per CPU second of this process)")
    if store.dialect == "postgresql":  # what autovacuum does after a million deletes
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM search_docs")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def queries(store: Store, rounds: int) -> None:
    async with store.write() as conn:  # half the conversations wait on the agent's queue
        await conn.execute(
            sa.update(conversations).values(
                queue=sa.case((sa.func.substr(conversations.c.id, 1, 1) < "8", "service"), else_="sales")
            )
        )
    await store.analyze("search_docs", "conversations", "customers")
    agent = Scope("bench-agent", frozenset({"service"}), frozenset())
    print(f"  {'query':<18} {'who':<10} {'p50':>7} {'p95':>7} {'p99':>7}  {'+facets p95':>11}  hits")
    for name, (q, filters) in QUERIES.items():
        for who, scope in (("supervisor", everything("bench")), ("agent", agent)):
            page: list[float] = []
            faceted: list[float] = []
            hits = 0
            for _ in range(rounds):
                async with store.read() as conn:
                    visible = search_index.visibility(
                        scope.clause(conversations), scope.customer_clause(search_docs.c.customer_id)
                    )
                    started = time.perf_counter()
                    found, _more, _ = await search_index.search(
                        conn, parse(q), filters, visible, offset=0, limit=20
                    )
                    page.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    await search_index.search(
                        conn, parse(q), filters, visible, offset=0, limit=20, with_facets=True
                    )
                    faceted.append((time.perf_counter() - started) * 1000)
                    hits = len(found)
            print(
                f"  {name:<18} {who:<10} {pct(page, 50):7.1f} {pct(page, 95):7.1f} {pct(page, 99):7.1f}"
                f"  {pct(faceted, 95):11.1f}  {hits}"
            )


async def size(store: Store) -> float:
    async with store.read() as conn:
        if store.dialect == "postgresql":
            return float(await conn.scalar(sa.text("SELECT pg_total_relation_size('search_docs')")) or 0)
        page = int(await conn.scalar(sa.text("PRAGMA page_size")) or 4096)
        try:
            pages = await conn.scalar(
                sa.text(
                    "SELECT COUNT(*) FROM dbstat WHERE name LIKE 'search_%' OR name LIKE 'ix_search_docs%'"
                )
            )
            return float(pages or 0) * page
        except sa.exc.OperationalError:  # no dbstat in this SQLite: the whole file
            return float(await asyncio.to_thread(lambda: Path(store.sqlite_file or "").stat().st_size))


async def run(backend: str, n: int, customers: int, rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    settings = make_settings(tmp, backend, **{"log.level": "WARNING", "ingest.workers": 0})
    store = Store(settings.database)
    try:
        await store.migrate()
        started = time.perf_counter()
        rates = await ingest(store, n, customers)
        took = time.perf_counter() - started
        print(f"{backend}: {n:,} messages over {customers:,} customers stored in {took:.0f} s")
        print(
            f"  ingest (batches of {BATCH}, median): indexing on {rates['on']:,.0f} msg/s,"
            f" off {rates['off']:,.0f} msg/s: indexing costs {rates['cost']:.1%} of ingest throughput"
        )
        print(
            f"  per CPU second of this process (PostgreSQL's own work is not in it):"
            f" on {rates['cpu_on']:,.0f}, off {rates['cpu_off']:,.0f} msg/s: {rates['cpu_cost']:.1%}"
        )
        await rebuild(store)
        print(f"  index size: {await size(store) / 1e6:,.1f} MB")
        await queries(store, rounds)
    finally:
        await store.close()
        await drop_backend(settings)
        shutil.rmtree(tmp, ignore_errors=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="messages")
    parser.add_argument("--customers", type=int, default=None, help="customers (default n/10)")
    parser.add_argument("--rounds", type=int, default=50, help="runs of each query")
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    customers = args.customers or max(1, args.n // 10)
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "scaleout" and not _reachable("127.0.0.1", 5432):
            print("scaleout: PostgreSQL not reachable, skipped")
            continue
        await run(backend, args.n, customers, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
