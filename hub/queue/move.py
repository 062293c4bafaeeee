"""Moving the embedded queue's entries (waiting and dead) to Redis streams, for
``contacthub move-store``: each stream's entries in their order, attempts kept for the
dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis
import sqlalchemy as sa

from hub.errors import InputError
from hub.queue import open_queue
from hub.queue.redis_streams import RedisStreamQueue
from hub.settings import QueueSettings
from hub.store.engine import Store
from hub.store.tables import dead_letters, queue_entries

CHUNK = 500


def _raw(payload: bytes) -> bytes:
    return payload


async def move_entries(
    source: Store, settings: QueueSettings, progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Every entry of the embedded queue onto the Redis streams ``settings`` names, which
    must hold nothing yet: how many waiting and dead entries per stream."""
    client = aioredis.Redis.from_url(settings.url)
    try:
        if [k async for k in client.scan_iter(match=settings.key_prefix + "*", count=1000)]:
            raise InputError(
                f"Redis at {settings.url} holds keys under {settings.key_prefix!r} already: choose another"
                " key_prefix or an empty Redis"
            )
        async with source.read() as conn:
            waiting = (
                await conn.execute(
                    sa.select(queue_entries.c.stream, queue_entries.c.payload).order_by(queue_entries.c.id)
                )
            ).all()
            dead = (
                await conn.execute(
                    sa.select(
                        dead_letters.c.stream,
                        dead_letters.c.payload,
                        dead_letters.c.attempts,
                        dead_letters.c.last_error,
                    ).order_by(dead_letters.c.id)
                )
            ).all()
        moved: dict[str, int] = {}
        queues: dict[str, RedisStreamQueue[bytes]] = {}

        def stream(name: str) -> RedisStreamQueue[bytes]:
            if name not in queues:
                found = open_queue(settings, name, _raw, store=source, redis=client)
                assert isinstance(found, RedisStreamQueue)
                queues[name] = found
            return queues[name]

        for start in range(0, len(waiting), CHUNK):  # appended in order, a batch at a time
            chunk = waiting[start : start + CHUNK]
            await asyncio.gather(*(stream(e.stream).append(e.payload.encode()) for e in chunk))
            for entry in chunk:
                moved[entry.stream] = moved.get(entry.stream, 0) + 1
            progress("queue", start + len(chunk))
        for letter in dead:
            await stream(letter.stream).add_dead(
                letter.payload.encode(), letter.attempts, letter.last_error or ""
            )
            moved[f"{letter.stream} (dead)"] = moved.get(f"{letter.stream} (dead)", 0) + 1
        for name, queue in queues.items():  # every entry arrived
            length = int(await client.xlen(queue.key)) + await queue.dead_count()
            if length != moved.get(name, 0) + moved.get(f"{name} (dead)", 0):
                raise InputError(f"queue {name}: {length} entries in Redis after the move, expected more")
            await queue.close()
        return moved
    finally:
        await client.aclose()
