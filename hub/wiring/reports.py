"""The report rollups' refresh step, on a schedule (``reports.refresh_seconds``; 0: off)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from hub.keys import CLOCK, SETTINGS, STORE
from hub.reports.refresh import refresh
from hub.wiring.tasks import cancel, every

log = logging.getLogger("contacthub.reports")


async def reports_ctx(app: web.Application) -> AsyncIterator[None]:
    reports = app[SETTINGS].reports
    tasks = []
    if reports.refresh_seconds:
        store, clock, settle = app[STORE], app[CLOCK], timedelta(seconds=reports.settle_seconds)

        async def run() -> None:
            await refresh(store, clock(), settle)

        tasks.append(asyncio.create_task(every(reports.refresh_seconds, "report rollups: refresh", run, log)))
    yield
    await cancel(tasks)
