"""SMS webhook benchmark: signed Twilio SMS webhooks accepted per second.

For each backend it runs the hub as its own process with the Twilio connector and sends
N webhooks from M concurrent clients, each signed as Twilio signs them (the signatures
are made before the clock starts). It prints the accepted rate and the rate of a bare
aiohttp handler that parses the same form, measured in the same run just before each
hub figure (the machine is shared: a bare rate taken minutes earlier says little). Goal:
at least half the bare rate. Each figure also gives the server's CPU time per accepted
webhook (Linux), which a busy machine disturbs less than a rate, and how long a webhook
waited for its answer (median and 99th percentile).

    .venv/bin/python bench/sms.py [-n 10000] [-c 64] [--rounds 3] [--backend embedded|scaleout|both]

Each backend is measured twice. "one process" is the hub as ``contacthub serve`` runs it by
default: the process that accepts also stores and routes every message (ingest workers
and the router), so it is bound by that work. "accept only" is the web process of a
split deployment (``ingest.workers = 0``, no router; storing happens in ``contacthub
worker`` processes), bound by the webhook's own work: form, signature, parse, durable
append. On the embedded backend that split is a measurement only (README: the embedded
backend is for one process); the messages it accepts stay in the queue.

Each pairing (bare, then hub) runs ``--rounds`` times; the last line of each figure is the
median ratio, the figure to quote on a shared machine.
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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.store.engine import Store  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402
from tests.hubproc import HubProcess, free_port  # noqa: E402

ACCOUNT = "AC" + "5" * 32
TOKEN = "bench-auth-token"
NUMBER = "+493012345678"
PUBLIC = "https://hub.example.com"
PATH = "/webhooks/twilio/sms"


def signed_bodies(n: int, tag: str) -> list[tuple[bytes, str]]:
    validator = RequestValidator(TOKEN)
    bodies = []
    for i in range(n):
        params = {
            "MessageSid": f"SM{tag}{i:026d}",
            "AccountSid": ACCOUNT,
            "From": f"+4917{i % 5000:07d}",
            "To": NUMBER,
            "Body": "Guten Tag, meine Bestellung ist nicht angekommen.",
            "NumMedia": "0",
            "FromCity": "BERLIN",
            "FromCountry": "DE",
        }
        bodies.append((urlencode(params).encode(), validator.compute_signature(PUBLIC + PATH, params)))
    return bodies


@dataclass(frozen=True)
class Figure:
    rate: float  # accepted webhooks per second
    cpu_ms: float | None  # the server's CPU time per accepted webhook
    p50_ms: float  # how long the provider waited for the answer
    p99_ms: float

    def __str__(self) -> str:
        cpu = f", {self.cpu_ms:.2f} ms CPU each" if self.cpu_ms is not None else ""
        waited = f"answered in p50 {self.p50_ms:.0f} / p99 {self.p99_ms:.0f} ms"
        return f"{self.rate:8.0f} accepted/s{cpu}, {waited}"


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fire(url: str, bodies: list[tuple[bytes, str]], concurrency: int, pid: int) -> Figure:
    """Accepted webhooks per second, and the server's CPU time per accepted webhook."""
    work = iter(bodies)
    accepted = 0
    waits: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def client() -> None:
            nonlocal accepted
            for body, signature in work:
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                }
                sent = time.perf_counter()
                async with session.post(url + PATH, data=body, headers=headers) as resp:
                    await resp.read()
                    accepted += resp.status == 200
                waits.append(time.perf_counter() - sent)

        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        rate = accepted / (time.perf_counter() - started)
        cpu_after = cpu_seconds(pid)
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None and accepted:
        cpu_ms = (cpu_after - cpu_before) * 1000 / accepted
    cuts = statistics.quantiles(waits, n=100)
    return Figure(rate, cpu_ms, cuts[49] * 1000, cuts[98] * 1000)


async def bare_rate(bodies: list[tuple[bytes, str]], concurrency: int) -> Figure:
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
        return await fire(url, bodies, concurrency, proc.pid)
    finally:
        proc.terminate()
        proc.wait()


async def hub_rate(
    backend: str, bodies: list[tuple[bytes, str]], concurrency: int, accept_only: bool = False
) -> Figure:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = make_settings(
            tmp,
            backend,
            **{
                "log.level": "WARNING",
                "connectors.twilio.enabled": True,
                "connectors.twilio.public_url": PUBLIC,
                "connectors.twilio.accounts": [
                    {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
                ],
                # accept only: the web process of a split deployment (workers and router elsewhere)
                **({"ingest.workers": 0, "routing.router": False} if accept_only else {}),
            },
        )
        store = Store(settings.database)
        await store.migrate()
        await store.close()
        hub = HubProcess(tmp / "contacthub.toml", tmp)
        try:
            await hub.start()
            assert hub.proc is not None
            return await fire(hub.url, bodies, concurrency, hub.proc.pid)
        finally:
            hub.stop()
            await drop_backend(settings)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("-c", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="pairings per figure; the median is printed")
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    args = parser.parse_args()
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    if "scaleout" in backends and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
        print("PostgreSQL or Redis not reachable: scaleout skipped")
        backends.remove("scaleout")
    for backend in backends:
        for label, tag, accept_only in (
            ("one process:        ", backend[:4], False),
            ("accept only (split):", backend[:3] + "x", True),
        ):
            ratios, cpu_ratios = [], []
            for r in range(args.rounds):
                bare = await bare_rate(signed_bodies(args.n, f"bare{tag}{r}"), args.c)
                print(f"bare aiohttp form handler:     {bare}")
                hub = await hub_rate(backend, signed_bodies(args.n, f"{tag}{r}"), args.c, accept_only)
                ratios.append(hub.rate / bare.rate)
                cpu = ""
                if hub.cpu_ms and bare.cpu_ms:
                    cpu_ratios.append(hub.cpu_ms / bare.cpu_ms)
                    cpu = f", {cpu_ratios[-1]:.1f}x bare CPU"
                print(f"{backend:<9} {label} {hub}  (ratio {ratios[-1]:.2f} of bare{cpu})")
            cpu = f", {statistics.median(cpu_ratios):.1f}x bare CPU" if cpu_ratios else ""
            print(
                f"{backend:<9} {label} median ratio {statistics.median(ratios):.2f} of bare"
                f" over {args.rounds} rounds{cpu}\n"
            )


if __name__ == "__main__":
    asyncio.run(main())
