"""Router fail-over with two real hub processes on Redis + PostgreSQL, and the fence.

The active router is killed with SIGKILL mid-burst; the standby takes the lease and
goes on. Every conversation is assigned exactly once, within capacity.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from hub.auth.sessions import hash_password
from hub.dispatch.lease import LeaseLost, RedisLease, StoreLease, fence
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import agents, conversations, events
from hub.tokens import TokenService
from tests.conftest import drop_backend, make_settings, require_services
from tests.hubproc import HubProcess
from tests.routing.test_router_e2e import replay_peaks
from tests.waits import eventually

pytestmark = pytest.mark.slow
RULES = """
queues:
  service: {auto_accept: true}
rules:
  - name: everyone
    targets: [{queue: service}]
"""
CAPACITY = 20
TOTAL = 120


@pytest.fixture
async def scaleout(tmp_path: Path) -> AsyncIterator[Settings]:
    require_services()
    (tmp_path / "routing.yaml").write_text(RULES)
    s = make_settings(tmp_path, "scaleout", **{"routing.lease_seconds": 2, "log.level": "WARNING"})
    yield s
    await drop_backend(s)


async def _prepare(settings: Settings) -> tuple[str, str]:
    """Schema, an API token, two agents and a supervisor (who closes conversations)."""
    store = Store(settings.database)
    await store.migrate()
    _, token = await TokenService(store).create("failover")
    async with store.write() as conn:
        for name, role in (("a1", "agent"), ("a2", "agent"), ("sup", "supervisor")):
            await conn.execute(
                sa.insert(agents).values(
                    id=str(uuid.uuid4()),
                    email=f"{name}@failover.example",
                    name=name,
                    role=role,
                    password_hash=hash_password("pw-failover-1"),
                    presence="available" if role == "agent" else "offline",
                    languages=["de"],
                    departments=["service"],
                    capacity={"api": CAPACITY},
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
    await store.close()
    return token, "sup@failover.example"


async def _active(session: aiohttp.ClientSession, hub: HubProcess) -> bool:
    try:
        async with session.get(hub.url + "/metrics") as resp:
            return "contacthub_router_active 1.0" in await resp.text()
    except aiohttp.ClientError:
        return False


async def _either_active(session: aiohttp.ClientSession, *hubs: HubProcess) -> bool:
    return any([await _active(session, hub) for hub in hubs])


async def _send(session: aiohttp.ClientSession, url: str, token: str, ids: range) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    for i in ids:
        body = {
            "external_id": f"fo-{i}",
            "from": {"kind": "email", "value": f"c{i}@example.com"},
            "text": "hi",
        }
        async with session.post(url + "/api/v1/messages", json=body, headers=headers) as resp:
            assert resp.status == 202, await resp.text()


async def _close_assigned(session: aiohttp.ClientSession, url: str, cookie: dict[str, str]) -> int:
    async with session.get(url + "/api/v1/conversations?status=open&limit=500", headers=cookie) as resp:
        items = (await resp.json())["items"]
    closed = 0
    for conv in items:
        if conv["state"] == "assigned":
            async with session.post(url + f"/api/v1/conversations/{conv['id']}/close", headers=cookie) as r:
                closed += r.status == 200
    return closed


async def test_the_standby_takes_over_and_nothing_is_lost_or_assigned_twice(
    scaleout: Settings, tmp_path: Path
) -> None:
    token, sup_email = await _prepare(scaleout)
    config = tmp_path / "contacthub.toml"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = HubProcess(config, tmp_path / "a"), HubProcess(config, tmp_path / "b")
    async with aiohttp.ClientSession() as session:
        try:
            await first.start()
            await second.start()
            await eventually(
                lambda: _either_active(session, first, second),
                timeout=20,
                interval=0.2,
                what="a router to become active",
            )
            leader, standby = (first, second) if await _active(session, first) else (second, first)
            assert not await _active(session, standby), "exactly one router is active"

            async with session.post(
                standby.url + "/api/v1/auth/login", json={"email": sup_email, "password": "pw-failover-1"}
            ) as resp:
                assert resp.status == 200
                cookie = {
                    "Cookie": f"contacthub_session={resp.cookies['contacthub_session'].value}",
                    "X-CSRF-Token": (await resp.json())["csrf_token"],
                }
            session.cookie_jar.clear()

            # the first half arrives, the leader assigns up to capacity, then it dies
            await _send(session, leader.url, token, range(TOTAL // 2))
            store = Store(scaleout.database)
            try:
                await eventually(
                    lambda: _assigned_at_least(store, 2 * CAPACITY),
                    timeout=30,
                    interval=0.1,
                    what="the leader to assign up to capacity",
                )
                leader.signal(signal.SIGKILL)
                await leader.wait_exit()
                killed = time.monotonic()
                await eventually(
                    lambda: _active(session, standby),
                    timeout=20,
                    interval=0.1,
                    what="the standby to take over",
                )
                takeover = time.monotonic() - killed
                await _send(session, standby.url, token, range(TOTAL // 2, TOTAL))

                convs: list[Any] = []

                async def all_closed() -> bool:
                    """Agents close what they were given; the router gives them the rest."""
                    nonlocal convs
                    await _close_assigned(session, standby.url, cookie)
                    async with store.read() as conn:
                        convs = list((await conn.execute(sa.select(conversations))).all())
                    return len(convs) == TOTAL and all(c.status == "closed" for c in convs)

                await eventually(
                    all_closed,
                    timeout=90,
                    interval=0.2,
                    what=lambda: f"all closed; {sum(c.status == 'open' for c in convs)} still open",
                )
                async with store.read() as conn:
                    log = (
                        await conn.execute(
                            sa.select(events)
                            .where(events.c.subject_type == "conversation")
                            .order_by(events.c.id)
                        )
                    ).all()
            finally:
                await store.close()
        finally:
            first.stop()
            second.stop()
    print(f"\nstandby took over {takeover:.1f}s after the kill (lease 2s)")
    assigned = [r.subject_id for r in log if r.action == "conversation.assigned"]
    assert len(assigned) == len(set(assigned)) == TOTAL, "every conversation assigned, none twice"
    peaks = replay_peaks(log, {c.id: c.channel for c in convs})
    assert max(peaks.values()) == CAPACITY, "capacity was used and never exceeded"
    tokens = {r.data["router_token"] for r in log if r.action == "conversation.assigned"}
    assert len(tokens) == 2, "both the first leader and its successor assigned"


async def _assigned_at_least(store: Store, count: int) -> bool:
    return await _count_assigned(store) >= count


async def _count_assigned(store: Store) -> int:
    async with store.read() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(conversations)
                .where(conversations.c.assignee_id.is_not(None))
            )
            or 0
        )


@pytest.mark.parametrize("kind", ["store", "redis"])
async def test_a_router_behind_a_newer_token_cannot_write(scaleout: Settings, kind: str) -> None:
    store = Store(scaleout.database)
    await store.migrate()
    redis = aioredis.Redis.from_url(scaleout.queue.url)
    try:

        def lease(holder: str) -> StoreLease | RedisLease:
            if kind == "store":
                return StoreLease(store, holder, ttl_s=1)
            return RedisLease(redis, store, scaleout.queue.key_prefix, holder, ttl_s=1)

        old, new = lease("old"), lease("new")
        t1 = await old.acquire()
        assert t1 is not None and await new.acquire() is None, "the lease is held"
        assert await old.acquire() == t1 and await old.renew(t1)
        async with store.write() as conn:
            await fence(conn, t1)
        # old stops renewing: once its lease expires, new gets it
        t2 = await eventually(new.acquire, timeout=10, interval=0.1, what="the old lease to expire")
        assert t2 > t1
        assert not await old.renew(t1)
        async with store.write() as conn:
            await fence(conn, t2)
        with pytest.raises(LeaseLost):
            async with store.write() as conn:
                await fence(conn, t1)
        await new.release(t2)
        t3 = await old.acquire()
        assert t3 is not None and t3 > t2
    finally:
        await redis.aclose()
        await store.close()
