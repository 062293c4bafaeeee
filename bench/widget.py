"""Widget load benchmark: thousands of visitor sockets on one hub process.

The hub runs as its own process (``contacthub serve``); this process is the visitors,
through the ``websockets`` library, and the agent, through the API. It prints:

- the hub's memory per idle widget socket (its RSS before and after N sockets said
  ``hello`` and got their ``welcome``);
- with all N open, ``--chatting`` of them chat at once: each sends a message, then an
  agent replies to every one of them at the same moment, ``--rounds`` times; the
  latency from sending a reply to the visitor's socket receiving it, p50 and p99.

    .venv/bin/python bench/widget.py [-n 5000] [--chatting 500] [--rounds 3] [--spread 0]
        [--backend embedded|scaleout]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import sqlalchemy as sa
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.store.engine import Store  # noqa: E402
from hub.store.tables import agents, messages, widget_sites  # noqa: E402
from tests.conftest import drop_backend, make_settings  # noqa: E402
from tests.helpers import agent_row, widget_site_row  # noqa: E402
from tests.hubproc import HubProcess  # noqa: E402

ORIGIN = "https://shop.example"
ADMIN = ("bench-admin@agent.example", "bench-password")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def seed(store: Store) -> None:
    async with store.write() as conn:
        await conn.execute(sa.insert(widget_sites).values(**widget_site_row("bench", "Bench", ORIGIN)))
        await conn.execute(sa.insert(agents).values(**agent_row(*ADMIN, "Bench Agent", "admin")))


class Visitor:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.waiting: dict[str, asyncio.Future[float]] = {}  # reply text -> receipt time
        self.acks: dict[str, asyncio.Future[str]] = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for raw in self.ws:
            frame = orjson.loads(raw)
            if frame["type"] == "ack" and frame["id"] in self.acks:
                self.acks.pop(frame["id"]).set_result(frame["message_id"])
            elif frame["type"] == "message" and frame["from"] == "agent" and frame["text"] in self.waiting:
                self.waiting.pop(frame["text"]).set_result(time.perf_counter())

    async def say(self, text: str) -> str:
        client_id = uuid.uuid4().hex
        self.acks[client_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(orjson.dumps({"type": "message", "id": client_id, "text": text}).decode())
        return await self.acks[client_id]


async def open_visitor(url: str) -> Visitor:
    ws = await websockets.connect(url, origin=ORIGIN, compression=None, open_timeout=60, max_queue=64)
    await ws.send(orjson.dumps({"type": "hello", "site": "bench", "visitor": None, "last_seq": 0}).decode())
    welcome = orjson.loads(await ws.recv())
    assert welcome["type"] == "welcome", welcome
    return Visitor(ws)


async def open_many(url: str, n: int, at_once: int = 100) -> list[Visitor]:
    gate = asyncio.Semaphore(at_once)

    async def one() -> Visitor:
        async with gate:
            return await open_visitor(url)

    return list(await asyncio.gather(*(one() for _ in range(n))))


async def conversations_of(store: Store, message_ids: list[str], timeout: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        async with store.read() as conn:
            found = dict(
                (
                    await conn.execute(
                        sa.select(messages.c.id, messages.c.conversation_id).where(
                            messages.c.id.in_(message_ids)
                        )
                    )
                ).all()
            )
        if len(found) == len(message_ids):
            return [found[m] for m in message_ids]
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(found)} of {len(message_ids)} messages were stored")
        await asyncio.sleep(0.2)


async def reply(
    http: aiohttp.ClientSession,
    base: str,
    csrf: dict[str, str],
    visitor: Visitor,
    conv: str,
    text: str,
    spread: float,
) -> float:
    """An agent's reply, within ``spread`` seconds; the seconds until the visitor's socket has it."""
    await asyncio.sleep(random.uniform(0, spread))
    text = f"{text} an {conv}"
    visitor.waiting[text] = asyncio.get_running_loop().create_future()
    sent = time.perf_counter()
    async with http.post(
        f"{base}/api/v1/conversations/{conv}/messages", json={"text": text}, headers=csrf
    ) as answer:
        assert answer.status == 202, await answer.text()
    return await asyncio.wait_for(visitor.waiting[text], 60) - sent


async def run(n: int, chatting: int, rounds: int, spread: float, backend: str) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the hub inherits it
    if hard < n + 1000:
        raise SystemExit(f"{n} sockets need {n + 1000} file descriptors; the limit is {hard}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "routing.yaml").write_text(
            "queues: {service: {}}\nrules:\n  - {name: all, targets: [{queue: service}]}\n"
        )
        settings = make_settings(folder, backend, **{"log.level": "WARNING", "routing.reload_seconds": 5.0})
        store = Store(settings.database)
        await store.migrate()
        await seed(store)
        hub = HubProcess(folder / "contacthub.toml", folder)
        await hub.start()
        assert hub.proc is not None
        url = hub.url.replace("http://", "ws://") + "/ws/widget?site=bench"
        try:
            warm = await open_many(url, 50)  # code paths and caches warm, then closed again
            for v in warm:
                await v.ws.close()
            await asyncio.sleep(1.0)
            before = rss_kib(hub.proc.pid)
            started = time.perf_counter()
            visitors = await open_many(url, n)
            opened_s = time.perf_counter() - started
            await asyncio.sleep(2.0)
            after = rss_kib(hub.proc.pid)
            print(f"{backend}: {n} widget sockets opened in {opened_s:.1f} s ({n / opened_s:.0f}/s)")
            print(
                f"  hub RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB: "
                f"{(after - before) / n:.1f} KiB per idle socket"
            )

            talkers = visitors[:chatting]
            ids = await asyncio.gather(*(v.say("Hallo, ich habe eine Frage") for v in talkers))
            convs = await conversations_of(store, list(ids))
            latencies: list[float] = []
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                resp = await http.post(
                    f"{hub.url}/api/v1/auth/login", json={"email": ADMIN[0], "password": ADMIN[1]}
                )
                csrf = {"X-CSRF-Token": (await resp.json())["csrf_token"]}
                for r in range(rounds):
                    replies = (
                        reply(http, hub.url, csrf, v, c, f"Antwort {r}", spread)
                        for v, c in zip(talkers, convs, strict=True)
                    )
                    latencies += await asyncio.gather(*replies)
            ms = sorted(x * 1000 for x in latencies)
            p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
            print(
                f"  {chatting} chatting at once, {rounds} rounds of a reply to each within {spread:g} s: "
                f"reply -> visitor receipt "
                f"p50 {statistics.median(ms):.0f} ms, p99 {p99:.0f} ms, max {ms[-1]:.0f} ms"
            )
            print(f"  hub RSS after the chats: {rss_kib(hub.proc.pid) / 1024:.1f} MiB")
            for v in visitors:
                v.reader.cancel()
                await v.ws.close()
        finally:
            hub.stop()
            await store.close()
            await drop_backend(settings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--chatting", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spread", type=float, default=0.0, help="seconds a round's replies spread over")
    parser.add_argument("--backend", choices=("embedded", "scaleout"), default="embedded")
    args = parser.parse_args()
    asyncio.run(run(args.n, args.chatting, args.rounds, args.spread, args.backend))


if __name__ == "__main__":
    main()
