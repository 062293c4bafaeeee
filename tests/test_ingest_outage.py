"""The ingest worker through PostgreSQL and Redis outages (played by a proxy in front of
each): an outage never counts as an attempt, the worker keeps the batch it claimed and
stores it when the service is back (no entry waits for the stale-entry takeover), and a
batch stored before its acknowledgement was lost is still announced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from hub.ingest import IngestWorker
from hub.metrics import Metrics
from hub.model import InboundMessage, message_id
from hub.queue import open_queue
from hub.queue.base import IngestQueue
from hub.queue.codec import encode_message
from hub.realtime.bus import InProcessBus
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import conversations, messages
from tests.conftest import drop_backend, make_settings, require_services
from tests.helpers import inbound
from tests.pgproxy import PgProxy, TcpProxy
from tests.waits import eventually

NO_TAKEOVER_MS = 600_000  # a batch left to the stale-entry takeover would wait ten minutes


@dataclass
class Outage:
    pg: PgProxy
    redis: TcpProxy
    settings: Settings
    store: Store
    queue: IngestQueue[InboundMessage]
    metrics: Metrics
    bus: InProcessBus

    async def stored(self) -> int:
        async with self.store.read() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(messages)) or 0)

    async def stored_is(self, count: int) -> bool:
        return await self.stored() == count

    def worker(self) -> IngestWorker:
        return IngestWorker(
            store=self.store,
            queue=self.queue,
            bus=self.bus,
            metrics=self.metrics,
            consumer="w1",
            batch_size=100,
            block_ms=50,
            stale_after_ms=NO_TAKEOVER_MS,
        )


@pytest.fixture
async def outage(tmp_path: Path) -> AsyncIterator[Outage]:
    require_services()
    pg, redis_proxy = PgProxy(), TcpProxy(6379)
    await pg.start()
    await redis_proxy.start()
    settings = make_settings(
        tmp_path,
        "scaleout",
        **{
            "database.url": pg.url(),
            "queue.url": f"redis://127.0.0.1:{redis_proxy.port}/0",
            "queue.stale_after_ms": NO_TAKEOVER_MS,
        },
    )
    store = Store(settings.database)
    await store.migrate()
    client = aioredis.Redis.from_url(settings.queue.url)
    queue = open_queue(settings.queue, "ingest", encode_message, store=store, redis=client)
    yield Outage(pg, redis_proxy, settings, store, queue, Metrics(), InProcessBus())
    pg.pass_through()
    redis_proxy.pass_through()
    await queue.close()
    await client.aclose()
    await store.close()
    await drop_backend(settings)
    await pg.close()
    await redis_proxy.close()


async def test_an_outage_never_counts_as_an_attempt(outage: Outage) -> None:
    """PostgreSQL refusing connections with 57P03 (stopping cleanly, or starting up) for
    many rounds of retries: no entry is retried later, none is dead-lettered."""
    for i in range(20):
        await outage.queue.append(inbound(f"m{i}", sender=f"s{i % 5}@example.com"))
    outage.pg.refuse("57P03")
    worker = outage.worker()
    task = asyncio.create_task(worker.run())
    try:
        # more rounds than the five attempts that dead-letter an entry
        await eventually(lambda: outage.pg.refused >= 6, 60, "the worker to retry through the outage")
        assert outage.metrics.failed._value.get() == 0
        outage.pg.pass_through()
        await eventually(lambda: outage.stored_is(20), 60, "every message stored")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    assert outage.metrics.failed._value.get() == 0
    assert await outage.queue.dead_count() == 0
    assert await outage.queue.depth() == 0


async def test_the_worker_stores_the_batch_it_claimed_once_the_store_is_back(outage: Outage) -> None:
    """The batch claimed while PostgreSQL was down is retried by the worker that holds it:
    nothing waits for the stale-entry takeover (ten minutes here)."""
    worker = outage.worker()
    task = asyncio.create_task(worker.run())
    try:
        await outage.queue.append(inbound("before"))
        await eventually(lambda: outage.stored_is(1), 60, "the first message stored")
        outage.pg.refuse("57P01")  # terminating connections: an administrator's shutdown
        for i in range(30):
            await outage.queue.append(inbound(f"m{i}", sender=f"s{i % 7}@example.com"))
        # the worker has claimed them and tried to store them
        await eventually(lambda: outage.pg.refused >= 2, 60, "the worker to meet the outage")
        outage.pg.pass_through()
        await eventually(lambda: outage.stored_is(31), 60, "the claimed batch stored")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    assert outage.metrics.failed._value.get() == 0
    assert await outage.queue.depth() == 0


async def test_a_batch_whose_acknowledgement_failed_is_announced_once_acknowledged(
    outage: Outage,
) -> None:
    """Stored, then Redis goes away before the acknowledgement: the worker keeps the
    stored batch, acknowledges it when Redis is back, and only then announces it (log,
    metrics, live events, router hint), once."""
    sub = outage.bus.subscribe("*")
    worker = outage.worker()
    task = asyncio.create_task(worker.run())
    try:
        await outage.queue.append(inbound("first"))
        await eventually(lambda: outage.stored_is(1), 60, "the first message stored")
        async with outage.store.engine.connect() as blocker:
            await blocker.begin()
            holder = await blocker.scalar(sa.text("SELECT pg_backend_pid()"))
            # hold the conversation row: the next batch's transaction waits on it
            await blocker.execute(sa.select(conversations.c.id).with_for_update())
            await outage.queue.append(inbound("second"))
            await eventually(
                lambda: _blocked_by(outage.store, holder), 60, "the batch to wait on the row lock"
            )
            outage.redis.refuse()
            await blocker.commit()
        await eventually(lambda: outage.stored_is(2), 60, "the second message stored")
        await eventually(lambda: outage.redis.refused >= 1, 60, "the acknowledgement to fail")
        assert outage.metrics.stored.labels("api")._value.get() == 1  # not announced yet
        outage.redis.pass_through()
        await eventually(
            lambda: outage.metrics.stored.labels("api")._value.get() == 2, 60, "the announcement"
        )
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
    assert await outage.queue.depth() == 0
    stored_events = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        if event.topic == "message.stored":
            stored_events.append(event.data["message_id"])
    assert stored_events == [message_id("api", "first"), message_id("api", "second")]
    assert outage.metrics.duplicates.labels("api")._value.get() == 0


async def _blocked_by(store: Store, holder: int) -> bool:
    async with store.engine.connect() as conn:
        waiting = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))"),
            {"holder": holder},
        )
    return bool(waiting)
