"""The ingest workers: each takes batches off the ingest queue until shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from hub.ingest import IngestWorker
from hub.keys import BUS, CALL_TARGETS, INBOX, METRICS, QUEUE, RECORDS, SETTINGS, STORE, WORKERS
from hub.wiring.tasks import PROCESS, log


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    workers = [
        IngestWorker(
            store=app[STORE],
            queue=app[QUEUE],
            bus=app[BUS],
            inbox=app[INBOX],
            metrics=app[METRICS],
            consumer=f"{PROCESS}-{n}",
            batch_size=settings.ingest.batch_size,
            block_ms=settings.ingest.block_ms,
            stale_after_ms=settings.queue.stale_after_ms,
            default_tier=lambda: app[RECORDS].tiers.default,  # admins may rename tiers
            reopen_within=timedelta(days=settings.ingest.reopen_days),
            calls=app[CALL_TARGETS],
            auto_replies=settings.connectors.email.auto_replies,
        )
        for n in range(settings.ingest.workers)
    ]
    tasks = [asyncio.create_task(w.run(), name=f"ingest-{n}") for n, w in enumerate(workers)]
    app[WORKERS] = tasks
    yield
    if not tasks:
        return
    for w in workers:
        w.stop()
    done, pending = await asyncio.wait(tasks, timeout=settings.server.shutdown_timeout)
    for task in pending:
        task.cancel()
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("ingest worker had stopped with %r", task.exception())
