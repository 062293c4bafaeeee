"""A connector's loop runs in one process at a time: the holder of its lease runs it, a
second one waits, and takes over when the first stops; on both backends. A shutdown's
cancel ends it whenever it lands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hub.dispatch.lease import Lease, RedisLease, StoreLease, run_while_holding
from hub.keys import REDIS, SETTINGS, STORE
from hub.store.tables import router_fence
from hub.tasks import stop
from tests.conftest import HubClient
from tests.waits import eventually


def lease(hub: HubClient, holder: str) -> Lease:
    store = hub.app[STORE]
    if REDIS in hub.app:  # the test's own key prefix: tests in parallel share the Redis
        prefix = hub.app[SETTINGS].queue.key_prefix
        return RedisLease(hub.app[REDIS], store, prefix, holder, ttl_s=0.6, name="email:service")
    return StoreLease(store, holder, ttl_s=0.6, name="email:service")


async def test_one_process_at_a_time_and_a_take_over(hub: HubClient) -> None:
    running: list[str] = []

    def work(who: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def loop() -> None:
            running.append(who)
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(who)

        return loop

    first = asyncio.create_task(run_while_holding(lease(hub, "a"), work("a"), "email:service"))
    await eventually(lambda: running == ["a"], what="the first to run")
    second = asyncio.create_task(run_while_holding(lease(hub, "b"), work("b"), "email:service"))
    await asyncio.sleep(1.5)  # a window, not a wait: the second must not start meanwhile
    assert running == ["a"], "the second waits while the first holds the lease"
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    # released on the way out: no wait for it to lapse
    await eventually(lambda: running == ["b"], timeout=2, what="the second to take over")
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second
    assert running == []


async def _steal(hub: HubClient, holder: str) -> None:
    """Another process takes the lease: the holder's next renewal fails."""
    if REDIS in hub.app:
        key = f"{hub.app[SETTINGS].queue.key_prefix}email:service:lease"
        await hub.app[REDIS].set(key, f"{holder}|999", px=60_000)
        return
    async with hub.app[STORE].write() as conn:
        await conn.execute(
            sa.update(router_fence)
            .where(router_fence.c.name == "email:service")
            .values(holder=holder, expires_at=datetime.now(UTC) + timedelta(seconds=60))
        )


async def test_a_cancel_that_lands_while_the_work_stops_ends_the_loop(hub: HubClient) -> None:
    """The lease is lost and the work takes a moment to stop (an IMAP logout): a shutdown's
    cancel in that moment ends the loop. It used to be taken for the work's own end and
    the loop went on waiting for the lease, so the shutdown never ended."""
    started, stopping = asyncio.Event(), asyncio.Event()

    async def slow_to_stop() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopping.set()
            await asyncio.sleep(0.5)  # saying goodbye to a server

    loop = asyncio.create_task(run_while_holding(lease(hub, "a"), slow_to_stop, "email:service"))
    await asyncio.wait_for(started.wait(), 10)
    await _steal(hub, "b")
    await asyncio.wait_for(stopping.wait(), 10)  # lease lost: the work is being stopped
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(loop, 10)


async def test_stop_waits_for_the_task_and_keeps_the_callers_cancel() -> None:
    ended = asyncio.Event()

    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.2)
            ended.set()

    async def caller(task: asyncio.Task[None]) -> str:
        await stop(task)
        return "went on"

    task = asyncio.create_task(slow())
    await asyncio.sleep(0)  # a turn of the loop: the task is running
    stopping = asyncio.create_task(caller(task))
    await asyncio.sleep(0.05)  # a window, not a wait: the caller is waiting for the task
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert ended.is_set() and task.cancelled()
