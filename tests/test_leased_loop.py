"""A connector's loop runs in one process at a time: the holder of its lease runs it, a
second one waits, and takes over when the first stops; on both backends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from hub.dispatch.lease import Lease, RedisLease, StoreLease, run_while_holding
from hub.keys import REDIS, STORE
from tests.conftest import HubClient
from tests.waits import eventually


def lease(hub: HubClient, holder: str) -> Lease:
    settings = hub.app[STORE]
    if REDIS in hub.app:
        return RedisLease(hub.app[REDIS], settings, "test:lease:", holder, ttl_s=0.6, name="email:service")
    return StoreLease(settings, holder, ttl_s=0.6, name="email:service")


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
