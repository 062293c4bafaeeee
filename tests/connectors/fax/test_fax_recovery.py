"""A preparer that dies mid-fax loses nothing, on both backends: the job it had claimed
is taken over once stale and the fax reaches the ingest queue with its pages and text."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from connectors.base import ConnectorContext, FilePart, ReceivedFax, Services
from connectors.fax.prepare import FaxPreparer, accept_fax
from hub.metrics import Metrics
from hub.model import InboundMessage
from hub.queue import open_queue
from hub.queue.base import IngestQueue
from hub.queue.codec import decode_message, encode_message
from hub.settings import Settings
from hub.store.blobs import FolderBlobStore
from hub.store.engine import Store
from tests.conftest import drop_backend, make_settings
from tests.connectors.fax.conftest import CUSTOMER_FAX, german_pdf
from tests.waits import eventually


@pytest.fixture
async def parts(backend: str, tmp_path: Path) -> AsyncIterator[tuple[Settings, ConnectorContext]]:
    settings = make_settings(
        tmp_path,
        backend,
        **{"connectors.fax.enabled": True, "queue.stale_after_ms": 300, "connectors.fax.render_dpi": 100},
    )
    store = Store(settings.database)
    await store.migrate()
    client = aioredis.Redis.from_url(settings.queue.url) if settings.queue.backend == "redis" else None
    services = Services(blobs=FolderBlobStore(settings.blobs.path))
    services.queue = open_queue(settings.queue, "ingest", encode_message, store=store, redis=client)
    services.jobs["fax"] = open_queue(settings.queue, "fax", encode_message, store=store, redis=client)
    ctx = ConnectorContext(
        settings=settings, metrics=Metrics(), clock=lambda: datetime.now(UTC), services=services
    )
    yield settings, ctx
    await services.queue.close()
    await services.jobs["fax"].close()
    if client is not None:
        await client.aclose()
    await store.close()
    await drop_backend(settings)


async def test_a_job_claimed_by_a_dead_preparer_is_taken_over(
    parts: tuple[Settings, ConnectorContext],
) -> None:
    _, ctx = parts
    jobs, ingest = ctx.services.jobs["fax"], ctx.queue
    assert jobs is not None
    pdf = german_pdf([["Bestellung", "Drei Kisten Äpfel"]])
    fax = ReceivedFax(
        provider="generic",
        fax_id="crash-1",
        sender=CUSTOMER_FAX,
        recipient=None,
        document=FilePart("file", "fax.pdf", "application/pdf", pdf),
    )
    await accept_fax(ctx, fax)
    # a preparer claims the job and is killed before it finishes (never acks)
    (claimed,) = await jobs.claim("dead-preparer", 10, 1000)
    assert decode_message(claimed.payload).external_id == "generic:crash-1"

    state = ctx.services.state("fax:ocr")
    task = asyncio.create_task(FaxPreparer(ctx, ocr_off=None, state=state).run())
    try:
        entries = await eventually(lambda: ingest.claim("ingest-test", 10, 200), what="the fax at ingest")
        await eventually(lambda: _done(jobs), what="the job acked, once the fax is at ingest")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    (entry,) = entries
    msg = decode_message(entry.payload)
    assert msg.external_id == "generic:crash-1" and "Äpfel" in msg.text
    assert [a.filename for a in msg.attachments] == ["fax.pdf", "page-001.png", "page-001-thumb.png"]
    assert msg.meta["render"] == "ok" and msg.meta["ocr"] == "done"


@pytest.mark.hub_errors_expected("fax not prepared")
async def test_a_failing_job_is_retried_then_dead_lettered(parts: tuple[Settings, ConnectorContext]) -> None:
    settings, ctx = parts
    jobs = ctx.services.jobs["fax"]
    assert jobs is not None
    fax = ReceivedFax(
        provider="generic",
        fax_id="gone",
        sender="",
        recipient=None,
        document=FilePart("file", "f", "", b"%PDF"),
    )
    job = await accept_fax(ctx, fax)
    assert isinstance(ctx.blobs, FolderBlobStore)
    await ctx.blobs.delete(job.attachments[0].sha256)  # erased before it was prepared
    preparer = FaxPreparer(ctx, ocr_off="off", state=ctx.services.state("fax:ocr"))
    for _ in range(settings.queue.dead_letter_after):
        (entry,) = await eventually(lambda: jobs.claim("p", 1, 200), what="the job")
        await preparer._one(jobs, entry)
    assert await jobs.depth() == 0 and await jobs.dead_count() == 1
    assert await ctx.queue.depth() == 0


async def _done(jobs: IngestQueue[InboundMessage]) -> bool:
    return await jobs.depth() == 0
