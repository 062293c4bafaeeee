"""Customer benchmark: import 100,000 rows, then search them through the HTTP API.

For each backend it prints the import time and rows/s (new rows, then the same rows
again as updates), the search latency (p50/p99) per kind of query, and the customer
list's (filters, sorts, the next page) and a segment's count (median and max of 20).

    .venv/bin/python bench/customers.py [-n 100000] [--backend embedded|scaleout|both]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.app import create_app  # noqa: E402
from hub.customers.importer import CustomerImporter  # noqa: E402
from hub.keys import RECORDS, STORE  # noqa: E402
from tests.conftest import HubClient, _reachable, drop_backend, make_settings, sign_in_all  # noqa: E402

FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hans", "Ida", "Jonas", "Karla", "Lukas"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"]
ORGS = ["Bäckerei", "Logistik", "Maschinenbau", "Praxis", "Kanzlei", "Handel", "Druckerei", "Spedition"]


def email_of(i: int) -> str:
    return f"{FIRST[i % len(FIRST)].lower()}.{i}@Example.com"


def csv_rows(n: int) -> str:
    rnd = random.Random(7)
    lines = ["name,organisation,email,phone,external_id,revenue_12m,currency"]
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], rnd.choice(LAST)
        org = f"{rnd.choice(ORGS)} {last} {i % 997}" if i % 3 == 0 else ""
        lines.append(
            f"{first} {last}{i},{org},{email_of(i)},+4915{i:09d},"
            f"ERP-{i:07d},{rnd.choice([0, 500, 12000, 150000])},EUR"
        )
    return "\n".join(lines) + "\n"


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


async def run(backend: str, n: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-customers-"))
    settings = make_settings(tmp, backend, **{"log.level": "WARNING", "ingest.workers": 0})
    try:
        app = create_app(settings, migrate=True)
        async with TestClient(TestServer(app)) as client:
            text = csv_rows(n)
            importer = CustomerImporter(app[STORE], app[RECORDS])
            started = time.perf_counter()
            report = await importer.run(text, "csv", "bench")
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = await importer.run(text, "csv", "bench")
            second = time.perf_counter() - started
            print(f"\n== {backend}: {n} customers")
            print(f"import (new)      {first:6.1f} s  {n / first:8.0f} rows/s  created {report.created}")
            print(f"import (updates)  {second:6.1f} s  {n / second:8.0f} rows/s  updated {again.updated}")

            hub = HubClient(client, "")
            roles = await sign_in_all(hub)
            rnd = random.Random(3)
            queries = {
                "phone, other format": lambda: f"0 15 {rnd.randrange(n):09d}",
                "email": lambda: email_of(rnd.randrange(n)),
                "external id": lambda: f"ERP-{rnd.randrange(n):07d}",
                "name prefix": lambda: f"{rnd.choice(FIRST)} {rnd.choice(LAST)[:4]}",
                "organisation word": lambda: rnd.choice(ORGS)[:5],
            }
            for label, make in queries.items():
                times = []
                hits = 0
                for _ in range(200):
                    t0 = time.perf_counter()
                    resp = await client.get("/api/v1/customers", params={"q": make()}, headers=roles["agent"])
                    hits += bool((await resp.json())["items"])
                    times.append((time.perf_counter() - t0) * 1000)
                print(
                    f"search {label:<20} p50 {pct(times, 50):5.1f} ms  p99 {pct(times, 99):5.1f} ms  "
                    f"({hits}/200 found)"
                )
            await bench_list(client, roles["supervisor"])
    finally:
        await drop_backend(settings)


async def timed(
    client: TestClient, url: str, headers: dict[str, str], params: dict[str, str], runs: int
) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = await client.get(url, params=params, headers=headers)
        assert resp.status == 200, await resp.text()
        await resp.read()
        times.append((time.perf_counter() - t0) * 1000)
    return times


async def bench_list(client: TestClient, headers: dict[str, str], runs: int = 20) -> None:
    """The customer list without a search word (a supervisor: every customer), and a
    segment's live count."""
    first = await (await client.get("/api/v1/customers", params={"limit": "50"}, headers=headers)).json()
    lists = {
        "by name, first page": {"limit": "50"},
        "by name, next page": {"limit": "50", "cursor": first["next_cursor"]},
        "revenue >= 100k EUR, by revenue": {"currency": "EUR", "revenue_min": "100000", "sort": "-revenue"},
        "by last contact": {"sort": "-last_contact"},
        "tier standard, created": {"tier": "standard", "sort": "-created"},
    }
    for label, params in lists.items():
        times = await timed(client, "/api/v1/customers", headers, params, runs)
        print(f"list {label:<32} p50 {statistics.median(times):6.1f} ms  max {max(times):6.1f} ms")
    body = {"name": "big", "filters": {"currency": "EUR", "revenue_min": "100000"}}
    segment = await (await client.post("/api/v1/segments", json=body, headers=headers)).json()
    times = await timed(client, f"/api/v1/segments/{segment['id']}", headers, {}, runs)
    print(
        f"segment count ({segment['count']} of them){'':<8} "
        f"p50 {statistics.median(times):6.1f} ms  max {max(times):6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    for backend in ["embedded", "scaleout"] if args.backend == "both" else [args.backend]:
        if backend == "scaleout" and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
            print("\n== scaleout: skipped, PostgreSQL or Redis not reachable")
            continue
        await run(backend, args.n)


if __name__ == "__main__":
    asyncio.run(main())
