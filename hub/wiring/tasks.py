"""What the wiring of several areas shares: this process's name, leases, stopping tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.dispatch.lease import Lease, RedisLease, StoreLease
from hub.keys import REDIS, SETTINGS, STORE
from hub.transient import OutageNotice

log = logging.getLogger("contacthub.app")
PROCESS = f"{socket.gethostname()}-{os.getpid()}"  # names this process to queues and leases


def lease_for(app: web.Application, name: str) -> Lease:
    """The lease that lets one process of all run ``name`` (the router, a mailbox watcher)."""
    settings = app[SETTINGS]
    ttl = settings.routing.lease_seconds
    if settings.queue.backend == "redis":
        return RedisLease(app[REDIS], app[STORE], settings.queue.key_prefix, PROCESS, ttl, name)
    return StoreLease(app[STORE], PROCESS, ttl, name)


async def finish(task: asyncio.Task[None], what: str, within_s: float) -> None:
    """Wait for a service told to stop; cancel it past the shutdown timeout."""
    try:
        await asyncio.wait_for(task, within_s)
    except TimeoutError:
        log.error("%s did not stop in time", what)


async def cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel loops that run until cancelled, and wait until they have ended."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def every(
    seconds: float, what: str, work: Callable[[], Awaitable[None]], logger: logging.Logger
) -> None:
    """``work`` now and then every ``seconds``, until cancelled. A failed round is tried
    again next time: an outage of the store is one warning when it starts and one line
    when it ends, anything else an error with its traceback."""
    outage = OutageNotice(logger, what)
    while True:
        try:
            await work()
        except Exception as exc:
            if not outage.failed(exc):
                logger.exception("%s failed; trying again in %.0fs", what, seconds)
        else:
            outage.succeeded()
        await asyncio.sleep(seconds)
