"""The scale-out queue: one Redis Stream per queue, read by a consumer group.

``ack`` removes the entry (XACK + XDEL in one MULTI), so XLEN is the backlog.
``retry_later`` and ``reclaim_stale`` re-add the entry as a new one, so any consumer
reads it with a plain ``XREADGROUP >``; a crashed consumer's entries are taken over
with XAUTOCLAIM first, which makes the take-over atomic among several reclaimers.
Durability is Redis's: run it with ``appendonly yes`` for accepted messages to survive
a Redis restart.

Claims go through a client of their own that never repeats a command: an XREADGROUP
whose answer was lost with its connection has still claimed its entries, and the client
repeating it would hide that. The failure reaches ``GroupedQueue.claim`` instead, which
reads the consumer's own pending entries next (XREADGROUP from id 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from hub.queue.base import Claimed, DeadLetter, GroupedQueue

T = TypeVar("T")
GROUP = "workers"
RECLAIMER = "reclaimer"
# One command for a whole batch: cheaper to send and parse than a pipeline of XADDs.
APPEND_MANY = """
local ids = {}
for i = 1, #ARGV do
  ids[i] = redis.call('XADD', KEYS[1], '*', 'p', ARGV[i], 'a', '0')
end
return ids
"""

# A dead letter back on the stream, once even if two operators replay it at the same time.
REPLAY = """
if redis.call('XDEL', KEYS[2], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[1], '*', 'p', ARGV[2], 'a', '0')
end
return false
"""


class RedisStreamQueue(GroupedQueue[T]):
    def __init__(
        self,
        client: aioredis.Redis,
        claims: aioredis.Redis,
        stream: str,
        encode: Callable[[T], bytes],
        *,
        key_prefix: str,
        dead_letter_after: int,
        max_batch: int = 256,
    ) -> None:
        super().__init__(encode, max_batch)
        self._redis = client
        self._claims = claims  # without retries: see the module doc
        self.key = f"{key_prefix}stream:{stream}"
        self.dead_key = f"{key_prefix}dead:{stream}"
        self._dead_after = dead_letter_after
        self._group_ready = False
        self._append_many = client.register_script(APPEND_MANY)
        self._replay = client.register_script(REPLAY)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _append_batch(self, payloads: Sequence[bytes]) -> list[str]:
        ids = await self._append_many(keys=[self.key], args=list(payloads))
        return [_text(i) for i in ids]

    async def _claim_new(self, consumer: str, max_items: int, block_ms: int) -> list[Claimed]:
        return await self._read(consumer, ">", max_items, block=max(block_ms, 1))

    async def _claimed_by(self, consumer: str, max_items: int) -> list[Claimed]:
        return await self._read(consumer, "0", max_items, block=None)

    async def _read(self, consumer: str, after: str, max_items: int, block: int | None) -> list[Claimed]:
        await self._ensure_group()
        reply: Any = await self._claims.xreadgroup(
            GROUP, consumer, {self.key: after}, count=max_items, block=block
        )
        claimed, gone = [], []
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                if not fields:  # deleted while pending (read from id 0 only)
                    gone.append(entry_id)
                    continue
                claimed.append(Claimed(_text(entry_id), fields[b"p"], int(fields[b"a"])))
        if gone:
            await self._redis.xack(self.key, GROUP, *gone)
        return claimed

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.key, GROUP, *ids)
            pipe.xdel(self.key, *ids)
            await pipe.execute()

    async def retry_later(self, id: str, error: str) -> None:
        entries: Any = await self._redis.xrange(self.key, id, id)
        if not entries:
            return
        fields = entries[0][1]
        await self._requeue(id, fields[b"p"], int(fields[b"a"]) + 1, error)

    async def _requeue(self, id: str, payload: bytes, attempts: int, error: str) -> None:
        target = self.dead_key if attempts >= self._dead_after else self.key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(target, {"p": payload, "a": attempts, "e": error[:500]})
            pipe.xack(self.key, GROUP, id)
            pipe.xdel(self.key, id)
            await pipe.execute()

    async def reclaim_stale(self, min_idle_ms: int) -> int:
        await self._ensure_group()
        moved = 0
        start = "0-0"
        while True:
            reply: Any = await self._redis.xautoclaim(
                self.key, GROUP, RECLAIMER, min_idle_ms, start_id=start, count=100
            )
            start = _text(reply[0])
            for entry_id, fields in reply[1]:
                if fields is None:  # deleted while pending: nothing left to deliver
                    await self._redis.xack(self.key, GROUP, entry_id)
                    continue
                await self._requeue(
                    _text(entry_id), fields[b"p"], int(fields[b"a"]), fields.get(b"e", b"").decode()
                )
                moved += 1
            if start == "0-0":
                return moved

    async def depth(self) -> int:
        return int(await self._redis.xlen(self.key))

    async def add_dead(self, payload: bytes, attempts: int, error: str) -> None:
        """A dead letter brought from elsewhere (``contacthub move-store``)."""
        await self._redis.xadd(self.dead_key, {"p": payload, "a": attempts, "e": error[:500]})

    async def dead_count(self) -> int:
        return int(await self._redis.xlen(self.dead_key))

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        entries: Any = await self._redis.xrange(self.dead_key, "-", "+", count=limit)
        return [_dead(i, f) for i, f in entries]

    async def dead_letter(self, id: str) -> DeadLetter | None:
        try:
            entries: Any = await self._redis.xrange(self.dead_key, id, id)
        except ResponseError:  # not a stream id
            return None
        return _dead(*entries[0]) if entries else None

    async def replay(self, id: str) -> str | None:
        """Move a dead letter back to the stream with its attempts reset, atomically."""
        dead = await self.dead_letter(id)
        if dead is None:
            return None
        new_id = await self._replay(keys=[self.key, self.dead_key], args=[id, dead.payload])
        return _text(new_id) if new_id else None  # None: replayed by someone else meanwhile

    async def scrub(self, values: Sequence[str]) -> int:
        """Delete entries of the stream and the dead-letter stream whose payload contains any
        value (erasure). Scans both streams; erasures are rare and the streams short."""
        needles = [v.encode() for v in values if v]
        removed = 0
        for key in (self.key, self.dead_key):
            start = "-"
            while True:
                entries: Any = await self._redis.xrange(key, start, "+", count=500)
                doomed = [i for i, f in entries if any(n in f[b"p"] for n in needles)]
                if doomed:
                    async with self._redis.pipeline(transaction=True) as pipe:
                        if key == self.key:
                            pipe.xack(self.key, GROUP, *doomed)
                        pipe.xdel(key, *doomed)
                        await pipe.execute()
                    removed += len(doomed)
                if len(entries) < 500:
                    break
                start = "(" + _text(entries[-1][0])
        return removed

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self.drain()
        await self._claims.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _dead(entry_id: bytes | str, fields: dict[bytes, bytes]) -> DeadLetter:
    text_id = _text(entry_id)
    return DeadLetter(
        text_id,
        fields[b"p"],
        int(fields[b"a"]),
        fields.get(b"e", b"").decode(errors="replace"),
        int(text_id.split("-")[0]) / 1000,
    )
