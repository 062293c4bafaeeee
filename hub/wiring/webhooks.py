"""Webhook deliveries, every ``webhooks.interval_seconds`` in each hub process (a webhook
is claimed by one process per round), and the attempts older than ``ATTEMPTS_KEPT``
pruned about hourly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from aiohttp import web

from hub.keys import CLOCK, HTTP, SETTINGS, STORE
from hub.store.repos import webhooks as repo
from hub.webhooks.delivery import deliver_due
from hub.wiring.tasks import cancel, every

log = logging.getLogger("contacthub.webhooks")
ATTEMPTS_KEPT = timedelta(days=7)
PRUNE_EVERY = timedelta(hours=1)


async def webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    seconds = app[SETTINGS].webhooks.interval_seconds
    store, http, clock = app[STORE], app[HTTP], app[CLOCK]
    pruned: list[datetime] = []  # when this process last pruned the attempts

    async def run() -> None:
        await deliver_due(store, http, clock())
        if not pruned or clock() - pruned[-1] >= PRUNE_EVERY:
            async with store.write() as conn:
                await repo.prune_attempts(conn, clock() - ATTEMPTS_KEPT)
            pruned[:] = [clock()]

    tasks = [asyncio.create_task(every(seconds, "webhooks: deliveries", run, log))] if seconds else []
    yield
    await cancel(tasks)
