"""Redis (when the queue backend is Redis), the bus, and the durable queues: ingest, the
router's inbox, and the job queue of each connector that keeps one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.registry import CONNECTORS
from hub.dispatch.inbox import STREAM as INBOX_STREAM
from hub.dispatch.inbox import Inbox, encode_hint
from hub.keys import BUS, INBOX, METRICS, QUEUE, REDIS, SERVICES, SETTINGS, STORE
from hub.queue import open_queue
from hub.queue.codec import encode_message
from hub.realtime.redis_bus import RedisBus

log = logging.getLogger("contacthub.app")


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.queue.backend != "redis":
        yield
        return
    client = aioredis.Redis.from_url(
        settings.queue.url,
        # a connection broken by a Redis restart is retried on a fresh one; a retried
        # append can at worst add a duplicate, which ingest drops by external id
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        health_check_interval=30,
    )
    app[REDIS] = client
    yield
    await client.aclose()


async def bus_ctx(app: web.Application) -> AsyncIterator[None]:
    """With Redis, events reach every process's consoles; else the in-process bus stays."""
    if REDIS not in app:
        yield
        return
    bus = RedisBus(app[REDIS], app[SETTINGS].queue.key_prefix)
    await bus.start()
    app[BUS] = bus
    yield
    await bus.close()


async def queues_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, services, metrics = app[SETTINGS], app[SERVICES], app[METRICS]
    store, redis = app[STORE], app.get(REDIS)
    queue = open_queue(settings.queue, "ingest", encode_message, store=store, redis=redis)
    app[QUEUE] = services.queue = queue
    inbox: Inbox = open_queue(settings.queue, INBOX_STREAM, encode_hint, store=store, redis=redis)
    app[INBOX] = inbox
    for c in CONNECTORS:  # work accepted at the edge, durable until the connector has done it
        if c.jobs and c.enabled(settings):
            services.jobs[c.name] = open_queue(
                settings.queue, c.name, encode_message, store=store, redis=redis
            )
    gauged = {"ingest": queue, **services.jobs}

    async def refresh() -> None:
        try:
            for name, q in gauged.items():
                metrics.queue_depth.labels(name).set(await q.depth())
                metrics.dead_letters.labels(name).set(await q.dead_count())
        except Exception as exc:  # a scrape still answers; /readyz reports the outage
            log.warning("queue gauges not refreshed: %r", exc)

    metrics.on_scrape(refresh)
    yield
    await queue.close()
    await inbox.close()
    for jobs in services.jobs.values():
        await jobs.close()
