"""The embedded queue: rows of one table in the store's own database (SQLite in WAL mode
by default). A claim marks rows with the consumer and the time; an ack deletes them.

On a SQLite file, appends go through a connection of their own (``SqliteAppender``: one
INSERT a batch, made durable by an fsync before it returns). Through the async engine
the same batch took five or six trips to a thread (checkout, BEGIN, INSERT, COMMIT,
reset), each waiting its turn in an event loop busy with requests; under load those
waits, not the fsync, bounded the rate at which webhooks were accepted. SQLite's own
lock orders the appender with the store's writers, in this process or another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa

from hub.errors import PayloadRejected
from hub.queue.base import Claimed, DeadLetter, GroupedQueue
from hub.queue.sqlite_append import SqliteAppender
from hub.store.engine import Store
from hub.store.tables import dead_letters, queue_entries
from hub.store.write_gate import holding_write_gate
from hub.untrusted import strict_int

T = TypeVar("T")
q = queue_entries


class SqlQueue(GroupedQueue[T]):
    def __init__(
        self,
        store: Store,
        stream: str,
        encode: Callable[[T], bytes],
        *,
        dead_letter_after: int,
        max_batch: int = 256,
    ) -> None:
        super().__init__(encode, max_batch)
        self._store = store
        self._stream = stream
        self._dead_after = dead_letter_after
        self._arrived = asyncio.Event()
        self._appender = (
            SqliteAppender(store.sqlite_file, gate=store.write_gate) if store.sqlite_file else None
        )

    async def append(self, item: T) -> str:
        # the batch is written by another task, which the gate cannot tell from a stranger
        if holding_write_gate():
            raise RuntimeError("a queue append inside a store transaction would wait for it: append after")
        return await super().append(item)

    async def _append_batch(self, payloads: Sequence[bytes]) -> list[str]:
        if self._appender is not None:
            ids = await self._appender.append(self._stream, payloads)
            self._arrived.set()
            return ids
        now = time.time()
        rows = [
            {"stream": self._stream, "payload": p.decode(), "attempts": 0, "created_at": now}
            for p in payloads
        ]
        async with self._store.write() as conn:
            # One statement with RETURNING keeps ids in insert order on both databases.
            result = await conn.execute(sa.insert(q).returning(q.c.id, sort_by_parameter_order=True), rows)
            ids = [str(r.id) for r in result]
        self._arrived.set()
        return ids

    async def _claim_new(self, consumer: str, max_items: int, block_ms: int) -> list[Claimed]:
        deadline = time.monotonic() + block_ms / 1000
        while True:
            self._arrived.clear()
            claimed = await self._claim_now(consumer, max_items)
            remaining = deadline - time.monotonic()
            if claimed or remaining <= 0:
                return claimed
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def _claim_now(self, consumer: str, max_items: int) -> list[Claimed]:
        return await self._take(consumer, q.c.consumer.is_(None), max_items)

    async def _claimed_by(self, consumer: str, max_items: int) -> list[Claimed]:
        return await self._take(consumer, q.c.consumer == consumer, max_items)

    async def _take(self, consumer: str, which: sa.ColumnElement[bool], max_items: int) -> list[Claimed]:
        """Claim (or claim again) for ``consumer`` up to ``max_items`` entries ``which`` picks."""
        rows = (
            sa.select(q.c.id)
            .where(q.c.stream == self._stream, which)
            .order_by(q.c.id)
            .limit(max_items)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            sa.update(q)
            .where(q.c.id.in_(rows.scalar_subquery()))
            .values(consumer=consumer, claimed_at=time.time())
            .returning(q.c.id, q.c.payload, q.c.attempts)
        )
        async with self._store.write() as conn:
            found = sorted((await conn.execute(stmt)).all(), key=lambda r: r.id)
        return [Claimed(str(r.id), r.payload.encode(), r.attempts) for r in found]

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with self._store.write() as conn:
            await conn.execute(sa.delete(q).where(q.c.id.in_([int(i) for i in ids])))

    async def retry_later(self, id: str, error: str) -> None:
        async with self._store.write() as conn:
            row = (await conn.execute(sa.select(q).where(q.c.id == int(id)))).one_or_none()
            if row is None:
                return
            attempts = row.attempts + 1
            if attempts >= self._dead_after:
                await conn.execute(
                    sa.insert(dead_letters).values(
                        stream=row.stream,
                        payload=row.payload,
                        attempts=attempts,
                        last_error=error,
                        created_at=time.time(),
                    )
                )
                await conn.execute(sa.delete(q).where(q.c.id == row.id))
            else:
                await conn.execute(
                    sa.update(q)
                    .where(q.c.id == row.id)
                    .values(attempts=attempts, consumer=None, claimed_at=None, last_error=error)
                )
        self._arrived.set()

    async def reclaim_stale(self, min_idle_ms: int) -> int:
        cutoff = time.time() - min_idle_ms / 1000
        async with self._store.write() as conn:
            result = await conn.execute(
                sa.update(q)
                .where(
                    q.c.stream == self._stream,
                    q.c.consumer.is_not(None),
                    q.c.claimed_at < cutoff,
                )
                .values(consumer=None, claimed_at=None)
            )
        if result.rowcount:
            self._arrived.set()
        return result.rowcount

    async def depth(self) -> int:
        async with self._store.read() as conn:
            return int(
                await conn.scalar(sa.select(sa.func.count()).select_from(q).where(q.c.stream == self._stream))
                or 0
            )

    async def dead_count(self) -> int:
        async with self._store.read() as conn:
            return int(
                await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(dead_letters)
                    .where(dead_letters.c.stream == self._stream)
                )
                or 0
            )

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        d = dead_letters
        async with self._store.read() as conn:
            query = sa.select(d).where(d.c.stream == self._stream).order_by(d.c.id).limit(limit)
            rows = await conn.execute(query)
            return [_dead(r) for r in rows]

    async def dead_letter(self, id: str) -> DeadLetter | None:
        number = _dead_id(id)
        if number is None:
            return None
        d = dead_letters
        async with self._store.read() as conn:
            row = (
                await conn.execute(sa.select(d).where(d.c.stream == self._stream, d.c.id == number))
            ).one_or_none()
        return _dead(row) if row is not None else None

    async def replay(self, id: str) -> str | None:
        """Move a dead letter back to the queue with its attempts reset, in one transaction:
        the delete that takes it is the one that puts it back (two replays: one entry)."""
        number = _dead_id(id)
        if number is None:
            return None
        d = dead_letters
        async with self._store.write() as conn:
            payload = await conn.scalar(
                sa.delete(d).where(d.c.stream == self._stream, d.c.id == number).returning(d.c.payload)
            )
            if payload is None:
                return None
            new_id = await conn.scalar(
                sa.insert(q)
                .values(stream=self._stream, payload=payload, attempts=0, created_at=time.time())
                .returning(q.c.id)
            )
        self._arrived.set()
        return str(new_id)

    async def scrub(self, values: Sequence[str]) -> int:
        """Delete waiting and dead-lettered entries whose payload contains any value (erasure)."""
        removed = 0
        async with self._store.write() as conn:
            for table in (q, dead_letters):
                for value in values:
                    result = await conn.execute(
                        sa.delete(table).where(table.c.payload.contains(value, autoescape=True))
                    )
                    removed += result.rowcount
        return removed

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:
        await self.drain()
        if self._appender is not None:
            await self._appender.close()


def _dead(row: sa.Row[Any]) -> DeadLetter:
    return DeadLetter(str(row.id), row.payload.encode(), row.attempts, row.last_error or "", row.created_at)


def _dead_id(id: str) -> int | None:
    """A dead letter's id as the table keeps it, or None for one that cannot be."""
    try:
        return strict_int(id, "id")
    except PayloadRejected:
        return None
