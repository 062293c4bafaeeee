"""The retention policy, on a schedule (when ``retention.message_body_days`` is set)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web

from hub.customers.privacy import apply_retention
from hub.keys import BLOBS, SETTINGS, STORE
from hub.store.blobs import BlobStore
from hub.store.engine import Store
from hub.wiring.tasks import cancel

log = logging.getLogger("contacthub.app")


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    retention = app[SETTINGS].retention
    tasks = []
    if retention.message_body_days:
        every_s = retention.interval_minutes * 60
        tasks.append(
            asyncio.create_task(run_retention(app[STORE], app[BLOBS], retention.message_body_days, every_s))
        )
    yield
    await cancel(tasks)


async def run_retention(store: Store, blobs: BlobStore, days: int, every_seconds: float) -> None:
    """The retention policy, on a schedule. A failed run is logged and tried next time."""
    while True:
        try:
            async with store.write() as conn:
                _, unused = await apply_retention(conn, datetime.now(UTC), days)
            for sha in unused:
                await blobs.delete(sha)
            await store.checkpoint()
        except Exception:
            log.exception("retention run failed; trying again in %.0fs", every_seconds)
        await asyncio.sleep(every_seconds)
