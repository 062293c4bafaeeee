"""The IngestQueue contract (ARCHITECTURE §4), run against both backends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
import redis.asyncio as aioredis

from hub.queue import open_queue
from hub.queue.base import IngestQueue
from hub.settings import Settings
from hub.store.engine import Store
from tests.waits import eventually

QueueFactory = Callable[[], AbstractAsyncContextManager[IngestQueue[bytes]]]


@asynccontextmanager
async def opened(settings: Settings, stream: str = "contract") -> AsyncIterator[IngestQueue[bytes]]:
    store = Store(settings.database)
    await store.migrate()
    client = aioredis.Redis.from_url(settings.queue.url) if settings.queue.backend == "redis" else None
    queue: IngestQueue[bytes] = open_queue(settings.queue, stream, lambda b: b, store=store, redis=client)
    try:
        yield queue
    finally:
        await queue.close()
        if client is not None:
            await client.aclose()
        await store.close()


@pytest.fixture
async def queue(settings: Settings) -> AsyncIterator[IngestQueue[bytes]]:
    async with opened(settings) as q:
        yield q


async def test_append_is_durable_when_it_returns(settings: Settings) -> None:
    async with opened(settings) as first:
        await first.append(b"one")
        await first.append(b"two")
    # A new connection (as after a restart) finds both.
    async with opened(settings) as second:
        claimed = await second.claim("c", 10, 100)
        assert [c.payload for c in claimed] == [b"one", b"two"]


async def test_claim_in_order_then_ack_removes(queue: IngestQueue[bytes]) -> None:
    ids = [await queue.append(f"m{i}".encode()) for i in range(3)]
    claimed = await queue.claim("c", 10, 100)
    assert [c.id for c in claimed] == ids
    assert [c.attempts for c in claimed] == [0, 0, 0]
    assert await queue.depth() == 3
    await queue.ack(ids)
    assert await queue.depth() == 0
    assert await queue.claim("c", 10, 50) == []


async def test_a_claimed_entry_goes_to_one_consumer_only(queue: IngestQueue[bytes]) -> None:
    for i in range(5):
        await queue.append(f"m{i}".encode())
    first = await queue.claim("c1", 2, 100)
    second = await queue.claim("c2", 10, 100)
    assert len(first) == 2 and len(second) == 3
    assert not {c.id for c in first} & {c.id for c in second}


async def test_claim_waits_for_an_append(queue: IngestQueue[bytes]) -> None:
    waiting = asyncio.create_task(queue.claim("c", 10, 3000))
    await asyncio.sleep(0.1)  # a window, not a wait: the claim must still be waiting after it
    assert not waiting.done()
    started = time.monotonic()
    await queue.append(b"late")
    claimed = await asyncio.wait_for(waiting, 3)
    assert [c.payload for c in claimed] == [b"late"]
    assert time.monotonic() - started < 2  # woken by the append, not by the timeout


async def test_retry_later_counts_attempts_then_dead_letters(
    queue: IngestQueue[bytes], settings: Settings
) -> None:
    await queue.append(b"poison")
    limit = settings.queue.dead_letter_after
    for attempt in range(limit):
        claimed = await queue.claim("c", 10, 200)
        assert len(claimed) == 1 and claimed[0].attempts == attempt
        await queue.retry_later(claimed[0].id, f"failure {attempt}")
    assert await queue.claim("c", 10, 100) == []
    assert await queue.depth() == 0
    assert await queue.dead_count() == 1


async def test_a_crashed_consumers_entries_are_reclaimed(queue: IngestQueue[bytes]) -> None:
    await queue.append(b"orphan")
    assert len(await queue.claim("crashed", 10, 100)) == 1  # never acked
    assert await queue.claim("healthy", 10, 50) == []
    assert await queue.reclaim_stale(60_000) == 0  # not idle long enough yet
    assert await eventually(lambda: queue.reclaim_stale(200), what="idle for 200 ms") == 1
    claimed = await queue.claim("healthy", 10, 200)
    assert [c.payload for c in claimed] == [b"orphan"]


async def test_after_a_failed_claim_the_entries_it_may_have_taken_come_first(
    queue: IngestQueue[bytes], settings: Settings
) -> None:
    """A claim the server did while its answer was lost (the connection broke, the worker
    was stopped): the failure is all the worker sees. Its next claim returns what that
    claim took, instead of leaving it for the stale-entry takeover minutes later."""
    for payload in (b"one", b"two"):
        await queue.append(payload)
    async with opened(settings) as elsewhere:  # the lost answer: taken for "c", never seen
        assert len(await elsewhere.claim("c", 10, 100)) == 2
    assert await queue.claim("c", 10, 50) == []  # no failure seen: only new entries
    failing = asyncio.create_task(queue.claim("c", 10, 5000))
    await asyncio.sleep(0.1)  # a window, not a wait: the claim is blocked when it breaks
    failing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await failing
    recovered = await queue.claim("c", 10, 100)
    assert [c.payload for c in recovered] == [b"one", b"two"]
    assert [c.attempts for c in recovered] == [0, 0]
    await queue.ack([c.id for c in recovered])
    assert await queue.claim("c", 10, 50) == []
    assert await queue.depth() == 0


@pytest.mark.parametrize("backend", ["scaleout"])
async def test_a_claim_whose_redis_connection_breaks_fails_and_the_next_returns_what_it_took(
    queue: IngestQueue[bytes], settings: Settings
) -> None:
    """The client repeats a command whose connection broke (appends need that); a repeated
    XREADGROUP would take new entries and hide the answer that was lost, so a claim fails."""
    await queue.append(b"taken")
    async with opened(settings) as elsewhere:
        assert len(await elsewhere.claim("c", 10, 100)) == 1  # its answer "lost"
    blocked = asyncio.create_task(queue.claim("c", 10, 5000))
    admin = aioredis.Redis.from_url(settings.queue.url)
    try:
        await eventually(
            lambda: _blocked_on(admin),
            what="the claim blocked in XREADGROUP",
        )
        await admin.client_kill_filter(_type="normal", skipme=True)
    finally:
        await admin.aclose()
    with pytest.raises(aioredis.ConnectionError):
        await asyncio.wait_for(blocked, 10)
    assert [c.payload for c in await queue.claim("c", 10, 100)] == [b"taken"]


async def _blocked_on(admin: aioredis.Redis) -> bool:
    return any("b" in c.get("flags", "") for c in await admin.client_list(_type="normal"))


async def test_concurrent_appends_are_grouped(queue: IngestQueue[bytes]) -> None:
    calls: list[int] = []
    original = queue._append_batch  # type: ignore[attr-defined]

    async def counting(payloads):
        calls.append(len(payloads))
        return await original(payloads)

    queue._append_batch = counting  # type: ignore[attr-defined]
    ids = await asyncio.gather(*(queue.append(f"m{i}".encode()) for i in range(200)))
    assert len(set(ids)) == 200
    assert sum(calls) == 200
    assert len(calls) < 20, calls


async def test_the_ids_appends_return_are_those_their_entries_are_claimed_by(
    queue: IngestQueue[bytes],
) -> None:
    payloads = [f"m{i}".encode() for i in range(150)]
    ids = await asyncio.gather(*(queue.append(p) for p in payloads))  # grouped into batches
    claimed = await queue.claim("c1", 500, 100)
    assert {c.id: c.payload for c in claimed} == dict(zip(ids, payloads, strict=True))


async def test_nothing_lost_nothing_redelivered_after_ack(queue: IngestQueue[bytes]) -> None:
    total = 600
    sent = {f"m{i}".encode() for i in range(total)}
    delivered: list[bytes] = []

    async def consume(name: str) -> None:
        idle = 0
        while idle < 3:
            batch = await queue.claim(name, 37, 100)
            if not batch:
                idle += 1
                continue
            idle = 0
            delivered.extend(c.payload for c in batch)
            await queue.ack([c.id for c in batch])

    async def produce() -> None:
        await asyncio.gather(*(queue.append(p) for p in sorted(sent)))

    await asyncio.gather(produce(), consume("a"), consume("b"))
    assert len(delivered) == total
    assert set(delivered) == sent
    assert await queue.depth() == 0
    assert await queue.claim("a", 100, 100) == []


async def test_scrub_removes_waiting_and_dead_entries_with_a_value(
    queue: IngestQueue[bytes], settings: Settings
) -> None:
    poison = b'{"from": "secret@example.com", "n": 1}'
    for payload in (
        poison,
        b'{"from": "other@example.com", "n": 2}',
        b'{"from": "secret@example.com", "n": 3}',
    ):
        await queue.append(payload)
    for _ in range(settings.queue.dead_letter_after * 3):  # dead-letter the first one
        for entry in await queue.claim("c", 10, 100):
            if entry.payload == poison:
                await queue.retry_later(entry.id, "failing")
        if await queue.dead_count():
            break
    assert await queue.dead_count() == 1 and await queue.depth() == 2
    assert await queue.scrub(["secret@example.com"]) == 2
    assert await queue.dead_count() == 0
    assert await queue.depth() == 1
