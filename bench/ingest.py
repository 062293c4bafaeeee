"""Ingest benchmark: N messages through POST /api/v1/messages with M concurrent clients.

For each backend (embedded SQLite, and PostgreSQL + Redis when reachable) it runs the hub
as its own process and prints:
- accepted msgs/s (202s per second), and the bare aiohttp handler's rate in the same run;
- stored msgs/s end to end (first accept to last commit) with the worker in the process;
- drain msgs/s: the same N stored from a full queue, the worker alone;
- p50/p99 accepted -> stored.

    .venv/bin/python bench/ingest.py [-n 20000] [-c 64] [--backend embedded|scaleout|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.settings import load_settings  # noqa: E402
from hub.store.engine import Store  # noqa: E402
from hub.store.tables import messages  # noqa: E402
from hub.tokens import TokenService  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402
from tests.hubproc import HubProcess, free_port  # noqa: E402


async def fire(url: str, token: str, n: int, concurrency: int, tag: str) -> tuple[float, int]:
    """Send n messages with `concurrency` workers; return (seconds, accepted)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    counter = iter(range(n))
    accepted = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal accepted
            for i in counter:
                body = (
                    b'{"external_id":"%s-%d","from":{"kind":"phone","value":"+4917%07d","name":"Bench"},'
                    b'"text":"Guten Tag, meine Bestellung ist nicht angekommen.","subject":"Bestellung"}'
                    % (tag.encode(), i, i % 5000)
                )
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    accepted += resp.status == 202

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - started, accepted


async def bare_rate(n: int, concurrency: int) -> float:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "_bare.py"), str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                async with aiohttp.ClientSession() as s, s.get(url + "/healthz"):
                    break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        seconds, accepted = await fire(url + "/api/v1/messages", "x", n, concurrency, "bare")
        return accepted / seconds
    finally:
        proc.terminate()
        proc.wait()


async def stored_stats(settings, tag: str) -> tuple[int, float, list[float]]:  # type: ignore[no-untyped-def]
    store = Store(settings.database)
    try:
        async with store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(messages.c.received_at, messages.c.stored_at).where(
                        messages.c.external_id.like(f"{tag}-%")
                    )
                )
            ).all()
    finally:
        await store.close()
    if not rows:
        return 0, 0.0, []
    lat = [(s - r).total_seconds() for r, s in rows]
    span = (max(s for _, s in rows) - min(r for r, _ in rows)).total_seconds()
    return len(rows), span, lat


async def wait_count(settings, tag: str, n: int, timeout: float = 600) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count, _, _ = await stored_stats(settings, tag)
        if count >= n:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"only {count} of {n} stored after {timeout}s")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def run_backend(backend: str, n: int, concurrency: int, bare: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    settings = make_settings(tmp, backend)  # default INFO logging: one line per request and message
    store = Store(settings.database)
    await store.migrate()
    _, token = await TokenService(store).create("bench")
    await store.close()
    config = tmp / "contacthub.toml"
    try:
        hub = HubProcess(config, tmp)
        await hub.start()
        tag = "e2e-" + uuid.uuid4().hex[:6]
        seconds, accepted = await fire(hub.url + "/api/v1/messages", token, n, concurrency, tag)
        await wait_count(settings, tag, accepted)
        count, span, lat = await stored_stats(settings, tag)
        hub.stop()

        # Drain: accept with no worker running, then time a worker alone on the backlog.
        no_worker = load_settings(config, environ={"CONTACTHUB_INGEST__WORKERS": "0"})
        assert no_worker.ingest.workers == 0
        os.environ["CONTACTHUB_INGEST__WORKERS"] = "0"
        hub2 = HubProcess(config, tmp)
        await hub2.start()
        del os.environ["CONTACTHUB_INGEST__WORKERS"]
        tag2 = "drain-" + uuid.uuid4().hex[:6]
        seconds2, accepted2 = await fire(hub2.url + "/api/v1/messages", token, n, concurrency, tag2)
        hub2.stop()
        hub3 = HubProcess(config, tmp)
        started = time.perf_counter()
        await hub3.start()
        await wait_count(settings, tag2, accepted2)
        drain = time.perf_counter() - started
        hub3.stop()

        split = (
            await split_run(settings, config, tmp, token, n, concurrency) if backend == "scaleout" else None
        )

        rate = accepted / seconds
        print(f"\n== {backend}: {n} messages, {concurrency} concurrent clients")
        rate2 = accepted2 / seconds2
        print(f"accepted            {rate:8.0f} msg/s   (bare {bare:.0f} msg/s, ratio {rate / bare:.2f})")
        print(f"accepted, no worker {rate2:8.0f} msg/s   (ratio {rate2 / bare:.2f})")
        print(f"stored end to end   {count / span:8.0f} msg/s   ({count} stored in {span:.1f}s)")
        print(
            f"drain, worker alone {accepted2 / drain:8.0f} msg/s   ({accepted2} in {drain:.1f}s incl. start)"
        )
        print(f"accepted->stored    p50 {pct(lat, 50) * 1000:.0f} ms   p99 {pct(lat, 99) * 1000:.0f} ms")
        if split:
            rate3, stored3, lat3 = split
            print("split: serve (no workers) + `contacthub worker` process")
            print(f"  accepted          {rate3:8.0f} msg/s   (ratio {rate3 / bare:.2f})")
            print(f"  stored end to end {stored3:8.0f} msg/s")
            print(
                f"  accepted->stored  p50 {pct(lat3, 50) * 1000:.0f} ms   p99 {pct(lat3, 99) * 1000:.0f} ms"
            )
    finally:
        await drop_backend(settings)


async def split_run(settings, config: Path, tmp: Path, token: str, n: int, concurrency: int):  # type: ignore[no-untyped-def]
    """Accepting and storing in separate processes (the scale-out layout on one machine)."""
    os.environ["CONTACTHUB_INGEST__WORKERS"] = "0"
    hub = HubProcess(config, tmp)
    await hub.start()
    del os.environ["CONTACTHUB_INGEST__WORKERS"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "--config", str(config), "worker"],
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "worker.log").open("wb"),
    )
    try:
        tag = "split-" + uuid.uuid4().hex[:6]
        seconds, accepted = await fire(hub.url + "/api/v1/messages", token, n, concurrency, tag)
        await wait_count(settings, tag, accepted)
        count, span, lat = await stored_stats(settings, tag)
        return accepted / seconds, count / span, lat
    finally:
        hub.stop()
        worker.terminate()
        worker.wait()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("-c", type=int, default=64)
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    bare = await bare_rate(args.n, args.c)
    print(f"bare aiohttp handler: {bare:.0f} msg/s")
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if backend == "scaleout" and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
            print("\n== scaleout: skipped, PostgreSQL or Redis not reachable")
            continue
        await run_backend(backend, args.n, args.c, bare)


if __name__ == "__main__":
    asyncio.run(main())
