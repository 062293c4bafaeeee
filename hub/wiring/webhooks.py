"""Webhook deliveries, every ``webhooks.interval_seconds`` in each hub process (a webhook
is claimed by one process per round), and the attempts older than ``ATTEMPTS_KEPT``
pruned about hourly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from hub.clock import Clock
from hub.keys import CLOCK, HTTP, SETTINGS, STORE
from hub.store.engine import Store
from hub.store.repos import webhooks as repo
from hub.transient import OutageNotice
from hub.webhooks.delivery import deliver_due
from hub.wiring.tasks import cancel

log = logging.getLogger("contacthub.webhooks")
ATTEMPTS_KEPT = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    every = app[SETTINGS].webhooks.interval_seconds
    tasks = [asyncio.create_task(run_deliveries(app[STORE], app[HTTP], app[CLOCK], every))] if every else []
    yield
    await cancel(tasks)


async def run_deliveries(
    store: Store, http: aiohttp.ClientSession, clock: Clock, every_seconds: float
) -> None:
    """Rounds of deliveries until cancelled; a failed round is tried again next time."""
    outage = OutageNotice(log, "webhooks: deliveries")
    rounds, prune_rounds = 0, max(int(PRUNE_EVERY.total_seconds() / every_seconds), 1)
    while True:
        try:
            await deliver_due(store, http, clock())
            if rounds % prune_rounds == 0:
                async with store.write() as conn:
                    await repo.prune_attempts(conn, clock() - ATTEMPTS_KEPT)
        except Exception as exc:
            if not outage.failed(exc):
                log.exception("webhooks: a round of deliveries failed; trying again in %.0fs", every_seconds)
        else:
            outage.succeeded()
        rounds += 1
        await asyncio.sleep(every_seconds)
