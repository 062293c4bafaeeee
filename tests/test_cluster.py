"""Three `contacthub serve` processes behind nginx (the deployment kit's site), on
PostgreSQL and Redis of their own, under a steady load sent through nginx (API messages,
signed Twilio SMS webhooks, and website visitors chatting on widget sockets with an
agent who takes their chats and answers each message, tests/cluster_chat.py), while faults
happen: the router's leader is SIGKILLed (nginx routes around it, the lease moves, the
process comes back), Redis restarts (AOF on), PostgreSQL goes away and comes back; each
process's /readyz says 503 while Redis or PostgreSQL is away and 200 once it is back. A
client retries what was not accepted, as providers do. Afterwards every accepted message
is stored exactly once, every reply is stored once and shown to its visitor exactly
once, and no socket showed an event twice. Prints the figures."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from hub.settings import Settings
from tests import cluster_chat
from tests.conftest import drop_backend, make_settings, require_services
from tests.connectors.conftest import ACCOUNT, NUMBER, TOKEN, sms_params
from tests.hubproc import HubProcess
from tests.nginx import Nginx
from tests.pgproxy import PgProxy
from tests.test_crash import _token, _wait_stored
from tests.test_redis_restart import PrivateRedis
from tests.waits import eventually

pytestmark = pytest.mark.slow
STEP = 150  # messages accepted between one fault and the next
LEASE = 2.0
SMS_LANES = 12  # lanes from this one on send SMS
SMS_PATH = "/webhooks/twilio/sms"


class Load:
    """Through nginx, 16 at a time, each retried until accepted: API messages on 12 lanes,
    signed Twilio SMS webhooks on 4."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.accepted: list[str] = []
        self.sent = 0
        self.refused = 0
        self.longest_gap = 0.0
        self._last = time.monotonic()
        self._stop = asyncio.Event()

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        connector = aiohttp.TCPConnector(ssl=False, limit=16)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=20)
        ) as session:
            await asyncio.gather(*(self._sender(session, headers, n) for n in range(16)))

    async def _sender(self, session: aiohttp.ClientSession, headers: dict[str, str], lane: int) -> None:
        n = 0
        sms = lane >= SMS_LANES
        while not self._stop.is_set():
            ext = f"SMcluster{lane}x{n}" if sms else f"cluster-{lane}-{n}"
            n += 1
            while True:  # the same message until it is accepted, as a provider retries
                self.sent += 1
                try:
                    async with self._post(session, headers, ext, lane, sms) as resp:
                        if resp.status in (200, 202):
                            now = time.monotonic()
                            self.longest_gap = max(self.longest_gap, now - self._last)
                            self._last = now
                            self.accepted.append(ext)
                            break
                except (TimeoutError, aiohttp.ClientError):
                    pass
                self.refused += 1
                await asyncio.sleep(0.05)  # a provider's pause before it tries again

    def _post(
        self, session: aiohttp.ClientSession, headers: dict[str, str], ext: str, lane: int, sms: bool
    ) -> Any:
        if not sms:
            body = {
                "external_id": ext,
                "from": {"kind": "email", "value": f"c{lane}@example.com"},
                "text": ext,
            }
            return session.post(self.url + "/api/v1/messages", json=body, headers=headers)
        form = sms_params(ext, f"SMS {ext}", sender=f"+49176123400{lane:02d}")
        signature = RequestValidator(TOKEN).compute_signature(self.url + SMS_PATH, form)
        return session.post(self.url + SMS_PATH, data=form, headers={"X-Twilio-Signature": signature})

    async def until(self, count: int) -> None:
        await eventually(lambda: len(self.accepted) >= count, timeout=120, what=f"{count} messages accepted")

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Cluster:
    settings: Settings
    hubs: list[HubProcess]
    redis: PrivateRedis
    proxy: PgProxy
    nginx: Nginx


@contextlib.asynccontextmanager
async def running_cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Three hub processes (not started yet), nginx before them, a Redis of their own and a
    PostgreSQL database of their own reached through a proxy; everything removed after."""
    hubs = [HubProcess(tmp_path / "contacthub.toml", tmp_path) for _ in range(3)]
    nginx = Nginx(tmp_path, [hub.port for hub in hubs])  # Twilio signs over its URL
    redis = PrivateRedis(tmp_path)
    redis.start()
    proxy = PgProxy()
    await proxy.start()
    base = make_settings(tmp_path, "scaleout")  # a database of its own (a copy of the template)
    database = base.database.url.rsplit("/", 1)[1]
    settings = make_settings(
        tmp_path,
        "scaleout",
        **{
            "database.url": proxy.url(database),  # through the proxy, which can play a restart
            "database.schema": base.database.schema_,
            "queue.url": f"redis://127.0.0.1:{redis.port}/0",
            "queue.key_prefix": base.queue.key_prefix,
            "queue.stale_after_ms": 1000,
            "routing.lease_seconds": LEASE,
            "log.level": "WARNING",
            "connectors.twilio.enabled": True,
            "connectors.twilio.voice": False,
            "connectors.twilio.public_url": nginx.url,
            "connectors.twilio.accounts": [
                {"account_sid": ACCOUNT, "auth_token": TOKEN, "numbers": [NUMBER]}
            ],
        },
    )
    try:
        yield Cluster(settings, hubs, redis, proxy, nginx)
    finally:
        nginx.stop()
        for hub in hubs:
            if hub.proc is not None and hub.proc.poll() is None:
                hub.proc.kill()
                hub.proc.wait()
        await proxy.close()
        redis.kill()
        await drop_backend(base)


async def _leader(hubs: list[HubProcess]) -> HubProcess | None:
    """The process whose /metrics says it holds the router lease (None: none, or two)."""
    found = []
    async with aiohttp.ClientSession() as session:
        for hub in hubs:
            if hub.proc is None or hub.proc.poll() is not None:
                continue
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(hub.url + "/metrics") as resp:
                    if "contacthub_router_active 1.0" in await resp.text():
                        found.append(hub)
    return found[0] if len(found) == 1 else None


async def _readiness(hubs: list[HubProcess]) -> list[dict[str, Any]]:
    """What each running process's /readyz answers (its body, and the HTTP status as ``http``)."""
    found = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        for hub in hubs:
            if hub.proc is None or hub.proc.poll() is not None:
                continue
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(hub.url + "/readyz") as resp:
                    found.append({**(await resp.json()), "http": resp.status})
    return found


async def _unready(hubs: list[HubProcess], part: str) -> bool:
    """A process says it is not ready because ``part`` (store or queue) is unreachable."""
    return any(
        r["http"] == 503 and r["checks"][part].startswith("unreachable") for r in await _readiness(hubs)
    )


class Ready:
    """Every process says it is ready (what they said last, for the failure's message)."""

    def __init__(self, hubs: list[HubProcess], after: str) -> None:
        self.hubs, self.after = hubs, after
        self.said: list[dict[str, Any]] = []

    async def __call__(self) -> bool:
        self.said = await _readiness(self.hubs)
        return len(self.said) == len(self.hubs) and all(r["http"] == 200 for r in self.said)

    def __str__(self) -> str:
        return f"/readyz 200 everywhere with {self.after} back (last: {self.said})"


async def _outage_seen(hubs: list[HubProcess], part: str, what: str, end: Callable[[], None]) -> float:
    """While ``part`` (store or queue) is away, a process says so on /readyz; then ``end``
    brings ``what`` back, and every process is ready again: the seconds that took."""
    await eventually(partial(_unready, hubs, part), timeout=30, what=f"/readyz 503 without {what}")
    end()
    back = time.monotonic()
    ready = Ready(hubs, what)
    await eventually(ready, timeout=30, what=ready.__str__)
    return time.monotonic() - back


def _refused_since(proxy: PgProxy, before: int) -> bool:
    """The hubs met the outage: a few connections refused since it began."""
    return proxy.refused >= before + 3


@dataclass
class Figures:
    accepted: int
    sms: int
    requests: int
    retried: int
    lost: int
    duplicated: int
    takeovers: list[float]
    longest_gap: float
    seconds: float  # from the first request to the last
    ready_again: list[float]
    chat: ChatFigures

    def __str__(self) -> str:
        takeovers = ", ".join(f"{t:.1f}" for t in self.takeovers)
        ready = ", ".join(f"{t:.1f}" for t in self.ready_again)
        return (
            f"{self.accepted} messages accepted through nginx ({self.sms} of them SMS; {self.requests}"
            f" requests, {self.retried} refused or failed and retried); lost {self.lost}, duplicated"
            f" {self.duplicated}; router lease taken over after {takeovers} s; longest gap between two"
            f" accepted messages {self.longest_gap:.1f} s; {self.accepted / self.seconds:.0f} accepted/s;"
            f" /readyz 503 during each outage, 200 again after {ready} s;"
            f" {self.chat}"
        )


@dataclass
class ChatFigures:
    visitors: int
    said: int  # visitors' messages acknowledged
    offers: int  # conversations offered to the agent
    replies: int  # replies the agent sent (each acknowledged message once)
    stored_twice: int  # replies stored more than once
    unseen: int  # replies a visitor's socket never showed
    shown_twice: int  # replies a visitor's socket showed more than once
    agent_repeats: int  # events the agent's socket showed again (a seq not above the last)
    resyncs: int
    repeats: int  # replies sent again after a lost answer, which the hub answered with the first
    reconnects: list[float]  # seconds from a socket's loss to its resumption, visitors' and agent's
    longest_offer_gap: float  # seconds between two new offers to the agent
    outbox: dict[str, int]  # the replies' states

    def __str__(self) -> str:
        longest = max(self.reconnects, default=0.0)
        return (
            f"chat: {self.visitors} visitors, {self.said} messages acknowledged, {self.offers}"
            f" conversations offered and taken (the longest gap between two offers"
            f" {self.longest_offer_gap:.1f} s), {self.replies} replies; stored twice {self.stored_twice},"
            f" not shown {self.unseen}, shown twice {self.shown_twice}; agent socket repeats"
            f" {self.agent_repeats}, resyncs {self.resyncs}; {self.repeats} replies answered as repeats;"
            f" {len(self.reconnects)} socket reconnects,"
            f" the longest {longest:.1f} s"
        )


async def under_faults(cluster: Cluster, cycles: int, step: int = STEP) -> Figures:
    """Start the cluster, send load through nginx, and run ``cycles`` rounds of faults
    (``step`` messages accepted between two): the router's leader killed and started
    again, Redis restarted, PostgreSQL cut off and back. Then what was stored of it."""
    token = await _token(cluster.settings)
    await cluster_chat.seed(cluster.settings)
    hubs = cluster.hubs
    await asyncio.gather(*(hub.start() for hub in hubs))
    await cluster.nginx.start()
    load = Load(cluster.nginx.url, token)
    started = time.monotonic()
    running = asyncio.create_task(load.run())
    chat = Chat(cluster)
    chatting = asyncio.create_task(chat.run())
    takeovers: list[float] = []
    ready_again: list[float] = []  # seconds from Redis's or PostgreSQL's return to every /readyz 200
    goal = 0
    try:
        for _ in range(cycles):
            goal += step
            await load.until(goal)
            # the router's leader dies; nginx skips it; another takes the lease; it comes back
            leader = await eventually(lambda: _leader(hubs), timeout=30, what="one router leader")
            killed_at = time.monotonic()
            leader.signal(signal.SIGKILL)
            await leader.wait_exit()
            others = [h for h in hubs if h is not leader]
            await eventually(partial(_leader, others), timeout=LEASE * 5, what="the lease taken over")
            takeovers.append(time.monotonic() - killed_at)
            goal += step
            await load.until(goal)
            await leader.start()
            # Redis restarts (its AOF keeps what it acknowledged)
            cluster.redis.kill()
            ready_again.append(await _outage_seen(hubs, "queue", "Redis", cluster.redis.start))
            goal += step
            await load.until(goal)
            # PostgreSQL goes away (connections cut, new ones refused as while it restarts) and returns
            refused = cluster.proxy.refused
            cluster.proxy.refuse()
            await eventually(
                partial(_refused_since, cluster.proxy, refused), timeout=60, what="the outage met"
            )
            ready_again.append(await _outage_seen(hubs, "store", "PostgreSQL", cluster.proxy.pass_through))
            goal += step
            await load.until(goal)
        await load.until(max(goal, 4 * step))  # without faults: as much load as one round
    finally:
        load.stop()
        await running
        chat.talking.clear()
    seconds = time.monotonic() - started
    try:
        chat_figures = await chat.settle()
    finally:
        chatting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chatting
        await chat.agent.close()
    found = await _wait_stored(cluster.settings, load.accepted, timeout=120)
    return Figures(
        accepted=len(load.accepted),
        sms=sum(ext.startswith("SM") for ext in load.accepted),
        requests=load.sent,
        retried=load.refused,
        lost=sum(ext not in found for ext in load.accepted),
        duplicated=sum(n > 1 for n in found.values()),
        takeovers=takeovers,
        longest_gap=load.longest_gap,
        seconds=seconds,
        ready_again=ready_again,
        chat=chat_figures,
    )


class Chat:
    """The visitors and the agent of tests/cluster_chat.py, through nginx: ``VISITORS``
    chatting at once, each replaced by a new one when they leave, while ``talking``."""

    def __init__(self, cluster: Cluster) -> None:
        self.settings = cluster.settings
        self.acked: asyncio.Queue[str] = asyncio.Queue()
        self.url = cluster.nginx.url.replace("https://", "wss://") + f"/ws/widget?site={cluster_chat.SITE}"
        self.visitors: list[cluster_chat.Visitor] = []
        self.agent = cluster_chat.ChatAgent(cluster.nginx.url, cluster.settings, self.acked)
        self.talking = asyncio.Event()
        self.talking.set()

    async def run(self) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # the session cookie of 127.0.0.1
        connector = aiohttp.TCPConnector(ssl=False)
        timeout = aiohttp.ClientTimeout(total=20)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar, timeout=timeout) as session:
            slots = (self._slot(session, n) for n in range(cluster_chat.VISITORS))
            await asyncio.gather(self.agent.run(session), *slots)

    async def _slot(self, session: aiohttp.ClientSession, slot: int) -> None:
        while self.talking.is_set():
            visitor = cluster_chat.Visitor(self.url, f"s{slot}v{len(self.visitors)}", self.acked)
            self.visitors.append(visitor)
            await visitor.run(session)
            self.agent.leave(session, visitor)

    async def settle(self) -> ChatFigures:
        """Once no new visitor comes: every message acknowledged and answered, the answers
        shown and the visitors gone (or the deadline passed); what came of it."""
        with contextlib.suppress(AssertionError):
            await eventually(
                lambda: all(v.done for v in self.visitors), timeout=90, what="every visitor answered"
            )
        texts = list(self.agent.replied.values())
        stored, states = await cluster_chat.replies_stored(self.settings, texts)
        seen: Counter[str] = Counter()
        for visitor in self.visitors:
            seen.update(visitor.replies)
        seqs = self.agent.seqs
        return ChatFigures(
            visitors=len(self.visitors),
            said=sum(len(v.message_ids) for v in self.visitors),
            offers=len(self.agent.offers),
            replies=len(texts),
            stored_twice=sum(n > 1 for n in stored.values()),
            unseen=len(texts) - len(seen),
            shown_twice=sum(n > 1 for n in seen.values()),
            agent_repeats=sum(b <= a for a, b in itertools.pairwise(seqs)),
            resyncs=self.agent.resyncs,
            repeats=self.agent.repeats,
            reconnects=[t for v in self.visitors for t in v.reconnects] + self.agent.reconnects,
            longest_offer_gap=self.agent.longest_offer_gap(),
            outbox=dict(states),
        )


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    require_services()
    async with running_cluster(tmp_path) as made:
        yield made


async def test_faults_lose_nothing_and_double_nothing(cluster: Cluster) -> None:
    figures = await under_faults(cluster, cycles=1)
    print(f"\ncluster: {figures}")
    assert (figures.lost, figures.duplicated) == (0, 0)
    assert figures.accepted >= 4 * STEP and figures.sms > 0
    chat = figures.chat
    assert (chat.stored_twice, chat.unseen, chat.shown_twice, chat.agent_repeats) == (0, 0, 0, 0), chat
    assert chat.said >= cluster_chat.SAYS * cluster_chat.VISITORS and chat.replies == chat.said, chat
    assert chat.offers >= chat.visitors, chat
    assert chat.reconnects, "the sockets met the faults"
