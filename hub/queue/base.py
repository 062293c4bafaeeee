"""The queue contract (ARCHITECTURE §4) and the group-commit appender both backends share.

A queue carries opaque payloads of one stream. ``append`` returns only once the payload
is durable. Concurrent appends are grouped: while one batch is being written, new ones
gather, and the next write takes them all. Throughput therefore does not hinge on one
round trip (or one fsync) per message, and no append waits on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from hub.errors import ServiceUnavailable
from hub.transient import is_transient

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: str
    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry that used up its attempts: kept for an operator to look at and replay."""

    id: str
    payload: bytes
    attempts: int
    error: str
    at: float  # when it was dead-lettered (Unix seconds)


class IngestQueue(Protocol[T_contra]):
    async def append(self, item: T_contra) -> str: ...
    async def claim(self, consumer: str, max_items: int, block_ms: int) -> list[Claimed]: ...
    async def ack(self, ids: Sequence[str]) -> None: ...
    async def retry_later(self, id: str, error: str) -> None: ...
    async def reclaim_stale(self, min_idle_ms: int) -> int: ...
    async def depth(self) -> int: ...
    async def dead_count(self) -> int: ...
    async def dead_letters(self, limit: int) -> list[DeadLetter]: ...  # oldest first
    async def dead_letter(self, id: str) -> DeadLetter | None: ...
    async def replay(self, id: str) -> str | None: ...  # back on the queue, attempts reset
    async def scrub(self, values: Sequence[str]) -> int: ...
    async def ping(self) -> None: ...
    async def drain(self) -> None: ...
    async def close(self) -> None: ...


class GroupedQueue(Generic[T]):
    """Encodes items and groups concurrent appends; subclasses write a batch at once.

    It also makes a failed claim safe to repeat. A claim that raised may have been done by
    the server all the same, its answer lost with the connection (Redis killed, PostgreSQL
    crashed, between the claim's write and its reply): its entries are then claimed by the
    consumer that never saw them and would wait for the stale-entry takeover, minutes
    late. So after a failed claim, the consumer's next claim returns its own unacknowledged
    entries first; a worker holds no batch when it claims, so these are exactly the lost ones.
    """

    def __init__(self, encode: Callable[[T], bytes], max_batch: int) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._pending: list[tuple[bytes, asyncio.Future[str]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._unsure: set[str] = set()  # consumers whose last claim raised

    async def _append_batch(self, payloads: Sequence[bytes]) -> list[str]:
        raise NotImplementedError

    async def _claim_new(self, consumer: str, max_items: int, block_ms: int) -> list[Claimed]:
        """Up to ``max_items`` entries no one has claimed, waiting up to ``block_ms`` for one."""
        raise NotImplementedError

    async def _claimed_by(self, consumer: str, max_items: int) -> list[Claimed]:
        """Entries ``consumer`` claimed and has not acknowledged (nor handed back)."""
        raise NotImplementedError

    async def claim(self, consumer: str, max_items: int, block_ms: int) -> list[Claimed]:
        try:
            if consumer in self._unsure:
                lost = await self._claimed_by(consumer, max_items)
                self._unsure.discard(consumer)
                if lost:
                    return lost
            return await self._claim_new(consumer, max_items, block_ms)
        except BaseException:  # a cancelled claim too: the server may have done it
            self._unsure.add(consumer)
            raise

    async def append(self, item: T) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((self._encode(item), future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_pending())
        # Each caller waits on a future of its own, never on the writer task: a caller that
        # goes away cancels only its future, not the write others wait on (no shield needed).
        return await future

    async def _write_pending(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                try:
                    ids = await self._append_batch([payload for payload, _ in batch])
                except BaseException as exc:  # every waiter must learn of the failure
                    error: BaseException = exc
                    if is_transient(exc):
                        error = ServiceUnavailable("the ingest queue is unreachable; retry later")
                        error.__cause__ = exc
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), entry_id in zip(batch, ids, strict=True):
                    if not future.done():
                        future.set_result(entry_id)
        finally:
            self._writer = None

    async def drain(self) -> None:
        """Wait until every append that has started is written (or has failed)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)
