"""Redis dies and comes back (with AOF on, as production runs it): the edge answers 503
while it is down, the worker waits instead of dead-lettering, and nothing is lost; the
bus tells every process to make good the live events it lost."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from hub.app import create_app
from hub.keys import QUEUE, TOKENS
from hub.realtime.bus import RESYNC, Event, Subscription
from hub.realtime.redis_bus import RedisBus
from tests.conftest import HubClient, drop_backend, make_settings, require_services
from tests.hubproc import free_port
from tests.waits import eventually

pytestmark = pytest.mark.slow


class PrivateRedis:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True
                ).stdout.strip()
                == b"PONG"
            ):
                return
            import time

            time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    require_services()
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    if redis.proc and redis.proc.poll() is None:
        redis.kill()


def body(ext: str) -> dict[str, object]:
    return {"external_id": ext, "from": {"kind": "email", "value": "r@example.com"}, "text": "t"}


async def test_redis_restart_loses_nothing(private_redis: PrivateRedis, tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "scaleout", **{"queue.url": f"redis://127.0.0.1:{private_redis.port}/0"}
    )
    try:
        app = create_app(settings, migrate=True)
        async with TestClient(TestServer(app)) as client:
            _, token = await app[TOKENS].create("t")
            hub = HubClient(client, token)
            for i in range(100):
                assert (await hub.post_message(body(f"before-{i}"))).status == 202
            assert await hub.wait_stored(100) == 100

            private_redis.kill()
            resp = await hub.post_message(body("while-down"))
            assert resp.status == 503
            assert resp.headers["Retry-After"]
            assert "unreachable" in (await resp.json())["detail"]
            await asyncio.sleep(1.0)  # the worker meets the outage, and must not give up

            private_redis.start()
            accepted = 0
            for i in range(100):
                resp = await hub.post_message(body(f"after-{i}"))
                accepted += resp.status == 202
            assert accepted == 100
            assert await hub.wait_stored(200) == 200
            assert await app[QUEUE].dead_count() == 0
    finally:
        await drop_backend(settings)


async def test_the_bus_resyncs_every_process_after_redis_was_away(private_redis: PrivateRedis) -> None:
    """Two processes' buses on one Redis. While Redis is away an event is lost; once it is
    back, each process's subscribers are told to resync (their listener subscribed again),
    and the process whose publish failed publishes a resync to every process before its
    next event."""
    url = f"redis://127.0.0.1:{private_redis.port}/0"
    clients = [aioredis.from_url(url) for _ in range(2)]
    buses = [RedisBus(client, "t:") for client in clients]
    for bus in buses:
        await bus.start()
    subs = [bus.subscribe("*") for bus in buses]
    try:
        buses[0].publish("before", {})
        assert [(await _next(sub)).topic for sub in subs] == ["before", "before"]

        private_redis.kill()
        buses[0].publish("lost", {})  # Redis is away: dropped
        await eventually(lambda: buses[0]._outgoing.empty(), what="the lost event taken")
        private_redis.start()
        for sub in subs:  # listeners subscribed again; then the sender's resync comes first
            assert (await _next(sub)).topic == RESYNC
        await eventually(lambda: _listening(clients[1]), what="both listeners back")
        buses[0].publish("after", {})
        for sub in subs:
            topics = [(await _next(sub)).topic]
            while topics[-1] != "after":
                topics.append((await _next(sub)).topic)
            assert set(topics) == {RESYNC, "after"}, topics
    finally:
        for bus in buses:
            await bus.close()
        for client in clients:
            await client.aclose()


async def _next(sub: Subscription) -> Event:
    return await asyncio.wait_for(sub.queue.get(), 20)


async def _listening(client: aioredis.Redis) -> bool:
    return bool((await client.pubsub_numsub("t:bus"))[0][1] == 2)
