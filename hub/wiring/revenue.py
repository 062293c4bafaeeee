"""Revenue figures derived again when a month ends (``hub.customers.revenue.roll_all``):
each hub process checks every hour; the customers derived before the month began are few
queries each, a chunk per transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.customers import revenue
from hub.keys import CLOCK, RECORDS, STORE
from hub.wiring.tasks import cancel, every

log = logging.getLogger("contacthub.revenue")
EVERY_SECONDS = 3600.0


async def revenue_ctx(app: web.Application) -> AsyncIterator[None]:
    store, records, clock = app[STORE], app[RECORDS], app[CLOCK]

    async def run() -> None:
        if rolled := await revenue.roll_all(store, records, clock()):
            log.info("revenue figures derived again for the new month: %d customers", rolled)

    tasks = [asyncio.create_task(every(EVERY_SECONDS, "revenue figures: month roll", run, log))]
    yield
    await cancel(tasks)
