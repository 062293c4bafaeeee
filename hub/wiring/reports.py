"""The report rollups' refresh step, on a schedule (``reports.refresh_seconds``; 0: off)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from hub.keys import CLOCK, SETTINGS, STORE
from hub.reports.refresh import run_refresh
from hub.wiring.tasks import cancel


async def reports_ctx(app: web.Application) -> AsyncIterator[None]:
    reports = app[SETTINGS].reports
    tasks = []
    if reports.refresh_seconds:
        settle = timedelta(seconds=reports.settle_seconds)
        tasks.append(
            asyncio.create_task(run_refresh(app[STORE], app[CLOCK], reports.refresh_seconds, settle))
        )
    yield
    await cancel(tasks)
