"""Durable queues: the protocol, and a factory choosing the backend from settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from hub.queue.base import IngestQueue
from hub.queue.redis_streams import RedisStreamQueue
from hub.queue.sql import SqlQueue
from hub.settings import QueueSettings
from hub.store.engine import Store

T = TypeVar("T")


def open_queue(
    settings: QueueSettings,
    stream: str,
    encode: Callable[[T], bytes],
    *,
    store: Store,
    redis: aioredis.Redis | None,
) -> IngestQueue[T]:
    if settings.backend == "redis":
        if redis is None:
            raise ValueError("queue.backend is redis but no Redis client was opened")
        return RedisStreamQueue(
            redis,
            # claims are never repeated by the client itself: see RedisStreamQueue
            aioredis.Redis.from_url(settings.url, retry=Retry(NoBackoff(), 0)),
            stream,
            encode,
            key_prefix=settings.key_prefix,
            dead_letter_after=settings.dead_letter_after,
            max_batch=settings.append_batch,
        )
    return SqlQueue(
        store,
        stream,
        encode,
        dead_letter_after=settings.dead_letter_after,
        max_batch=settings.append_batch,
    )
