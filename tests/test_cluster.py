"""Three `contacthub serve` processes behind nginx (the deployment kit's site), on
PostgreSQL and Redis of their own, under a steady load sent through nginx (API messages,
and signed Twilio SMS webhooks), while faults happen: the router's leader is SIGKILLed
(nginx routes around it, the lease moves, the process comes back), Redis restarts (AOF
on), PostgreSQL goes away and comes back. A client retries what was not accepted, as
providers do. Afterwards every accepted message is stored exactly once. Prints the figures."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from hub.settings import Settings
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


@pytest.fixture
async def cluster(
    tmp_path: Path,
) -> AsyncIterator[tuple[Settings, list[HubProcess], PrivateRedis, PgProxy, Nginx]]:
    require_services()
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
        yield settings, hubs, redis, proxy, nginx
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


async def test_faults_lose_nothing_and_double_nothing(
    cluster: tuple[Settings, list[HubProcess], PrivateRedis, PgProxy, Nginx],
) -> None:
    settings, hubs, redis, proxy, nginx = cluster
    token = await _token(settings)
    await asyncio.gather(*(hub.start() for hub in hubs))
    await nginx.start()
    load = Load(nginx.url, token)
    running = asyncio.create_task(load.run())
    try:
        await load.until(STEP)
        # the router's leader dies; nginx skips it; another takes the lease; it comes back
        leader = await eventually(lambda: _leader(hubs), timeout=30, what="one router leader")
        killed_at = time.monotonic()
        leader.signal(signal.SIGKILL)
        await leader.wait_exit()
        others = [h for h in hubs if h is not leader]
        await eventually(lambda: _leader(others), timeout=LEASE * 5, what="the lease taken over")
        takeover = time.monotonic() - killed_at
        await load.until(2 * STEP)
        await leader.start()

        # Redis restarts (its AOF keeps what it acknowledged)
        redis.kill()
        redis.start()
        await load.until(3 * STEP)

        # PostgreSQL goes away (connections cut, new ones refused as while it restarts) and returns
        proxy.refuse()
        await eventually(lambda: proxy.refused >= 3, timeout=60, what="the hubs meeting the outage")
        proxy.pass_through()
        await load.until(4 * STEP)
    finally:
        load.stop()
        await running
    found = await _wait_stored(settings, load.accepted, timeout=120)
    lost = [ext for ext in load.accepted if ext not in found]
    doubled = {ext: n for ext, n in found.items() if n > 1}
    sms = sum(ext.startswith("SM") for ext in load.accepted)
    print(
        f"\ncluster: {len(load.accepted)} messages accepted through nginx ({sms} of them SMS;"
        f" {load.sent} requests,"
        f" {load.refused} refused or failed and retried); lost {len(lost)}, duplicated {len(doubled)};"
        f" router lease taken over {takeover:.1f} s after the leader was killed; longest gap between"
        f" two accepted messages {load.longest_gap:.1f} s"
    )
    assert lost == [] and doubled == {}
