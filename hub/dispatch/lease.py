"""Exactly one holder of a named lease (the router; each mailbox watcher), with a fencing token.

- ``RedisLease`` (scale-out): a key set with ``NX PX``; its value names the holder and
  the token, which comes from a counter that only grows. A standby polls, and takes the
  key once the holder stops renewing it.
- ``StoreLease`` (embedded): a ``router_fence`` row (one per lease name) holds the holder
  and expiry.

Either way the token guards the writes: ``fence()`` raises it in the ``router_fence`` row
inside every router transaction and fails if a newer router has written, so a router
that lost its lease (a long pause, a partition) cannot write after its successor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.bulk import insert_rows
from hub.store.engine import Store
from hub.store.tables import router_fence
from hub.tasks import raise_if_cancelled, stop

NAME = "router"
log = logging.getLogger("contacthub.lease")


class LeaseLost(Exception):
    """Another router holds the lease, or has written with a newer token."""


class Lease(Protocol):
    ttl_s: float

    async def acquire(self) -> int | None: ...
    async def renew(self, token: int) -> bool: ...
    async def release(self, token: int) -> None: ...


async def fence(conn: AsyncConnection, token: int) -> None:
    """Inside a router transaction: fail unless ``token`` is the newest that wrote."""
    result = await conn.execute(
        sa.update(router_fence)
        .where(router_fence.c.name == NAME, router_fence.c.token <= token)
        .values(token=token)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"a newer router than token {token} has written")


async def store_token(store: Store, name: str = NAME) -> int:
    async with store.read() as conn:
        return int(await conn.scalar(sa.select(router_fence.c.token).where(router_fence.c.name == name)) or 0)


_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local holder, token = string.match(current, '^(.*)|(%d+)$')
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(token)
  end
  return 0
end
local token = redis.call('INCR', KEYS[2])
if token <= tonumber(ARGV[3]) then
  token = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], token)
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisLease:
    def __init__(
        self,
        redis: aioredis.Redis,
        store: Store,
        key_prefix: str,
        holder: str,
        ttl_s: float,
        name: str = NAME,
    ) -> None:
        self._redis = redis
        self._store = store
        self._name = name
        self._keys = [f"{key_prefix}{name}:lease", f"{key_prefix}{name}:token"]
        self._holder = holder
        self.ttl_s = ttl_s
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._renew: Any = redis.register_script(_RENEW)
        self._release: Any = redis.register_script(_RELEASE)

    async def acquire(self) -> int | None:
        # the token must pass every token the database has seen, even if Redis lost its counter
        floor = await store_token(self._store, self._name)
        token = int(await self._acquire(keys=self._keys, args=[self._holder, int(self.ttl_s * 1000), floor]))
        return token or None

    async def renew(self, token: int) -> bool:
        value = f"{self._holder}|{token}"
        return bool(await self._renew(keys=self._keys[:1], args=[value, int(self.ttl_s * 1000)]))

    async def release(self, token: int) -> None:
        await self._release(keys=self._keys[:1], args=[f"{self._holder}|{token}"])


class StoreLease:
    def __init__(self, store: Store, holder: str, ttl_s: float, name: str = NAME) -> None:
        self._store = store
        self._holder = holder
        self.ttl_s = ttl_s
        self._name = name

    async def acquire(self) -> int | None:
        now = datetime.now(UTC)
        row = router_fence.c
        mine = sa.and_(row.holder == self._holder, row.expires_at >= now)  # held already: same token
        async with self._store.write() as conn:
            if self._name != NAME:  # the router's row comes with the schema; others on first use
                await insert_rows(
                    conn, router_fence, [{"name": self._name, "token": 0}], skip_conflicts_on=["name"]
                )
            token = await conn.scalar(
                sa.update(router_fence)
                .where(row.name == self._name, sa.or_(row.holder.is_(None), mine, row.expires_at < now))
                .values(
                    token=sa.case((mine, row.token), else_=row.token + 1),
                    holder=self._holder,
                    expires_at=now + timedelta(seconds=self.ttl_s),
                )
                .returning(row.token)
            )
        return int(token) if token is not None else None

    async def renew(self, token: int) -> bool:
        row = router_fence.c
        async with self._store.write() as conn:
            result = await conn.execute(
                sa.update(router_fence)
                .where(row.name == self._name, row.holder == self._holder, row.token == token)
                .values(expires_at=datetime.now(UTC) + timedelta(seconds=self.ttl_s))
            )
        return result.rowcount == 1

    async def release(self, token: int) -> None:
        row = router_fence.c
        async with self._store.write() as conn:
            await conn.execute(
                sa.update(router_fence)
                .where(row.name == self._name, row.holder == self._holder, row.token == token)
                .values(holder=None, expires_at=None)
            )


async def run_while_holding(lease: Lease, work: Callable[[], Coroutine[Any, Any, None]], what: str) -> None:
    """Run ``work`` only while this process holds ``lease`` (until cancelled): wait for the
    lease, start the work, renew every third of the lease's time, and stop the work at
    once when a renewal fails, so that two processes never run it together for longer
    than the lease lasts. A cancel ends it even when it lands while the work is being
    stopped, or inside a lease call that swallows it (``hub.tasks``)."""
    every = lease.ttl_s / 3
    while True:
        raise_if_cancelled()
        try:
            token = await lease.acquire()
        except Exception as exc:  # the store or Redis is away: look again soon
            log.warning("%s: lease not taken: %r", what, exc)
            token = None
        if token is None:
            await asyncio.sleep(every)
            continue
        log.info("%s: lease taken", what, extra={"token": token})
        task = asyncio.create_task(work(), name=what)
        try:
            while not task.done():
                await asyncio.sleep(every)
                raise_if_cancelled()
                try:
                    held = await lease.renew(token)
                except Exception as exc:
                    log.warning("%s: lease not renewed: %r", what, exc)
                    held = False
                if not held:
                    log.warning("%s: lease lost; stopping", what)
                    break
        finally:  # also when cancelled: the next holder need not wait for the lease to lapse
            try:
                await stop(task)
            finally:
                if not task.cancelled() and (failed := task.exception()) is not None:
                    # the work must never end by itself: a bug, said loudly
                    log.error(
                        "%s stopped with an error; it starts again once the lease is held",
                        what,
                        exc_info=failed,
                    )
                with contextlib.suppress(Exception):
                    await lease.release(token)
