"""Revenue figures derived again when a month ends (hub/customers/revenue.py): each hub
process checks every hour; the customers derived before the month began are few queries
each, a chunk per transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from hub.clock import Clock
from hub.customers import revenue
from hub.customers.records import CustomerRecords
from hub.keys import CLOCK, RECORDS, STORE
from hub.store.engine import Store
from hub.transient import OutageNotice
from hub.wiring.tasks import cancel

log = logging.getLogger("contacthub.revenue")
EVERY_SECONDS = 3600.0


async def revenue_ctx(app: web.Application) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(run_roll(app[STORE], app[RECORDS], app[CLOCK], EVERY_SECONDS))]
    yield
    await cancel(tasks)


async def roll_all(store: Store, records: CustomerRecords, today: datetime) -> int:
    """Every customer's figures as of this month; how many were derived again."""
    done = 0
    while True:
        async with store.write() as conn:
            count = await revenue.roll(conn, records, today.date())
        if not count:
            return done
        done += count


async def run_roll(store: Store, records: CustomerRecords, clock: Clock, every_seconds: float) -> None:
    """``roll_all``, now and then every ``every_seconds``, until cancelled."""
    outage = OutageNotice(log, "revenue figures: month roll")
    while True:
        try:
            rolled = await roll_all(store, records, clock())
            if rolled:
                log.info("revenue figures derived again for the new month: %d customers", rolled)
        except Exception as exc:
            if not outage.failed(exc):
                log.exception("revenue figures: month roll failed; trying again in %.0fs", every_seconds)
        else:
            outage.succeeded()
        await asyncio.sleep(every_seconds)
