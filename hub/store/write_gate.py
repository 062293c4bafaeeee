"""One SQLite writer at a time within the process, queue appends first. No I/O.

SQLite lets one connection write at a time. Within one hub the store's transactions and
the queue's appends (``hub.queue.sqlite_append``) take turns here, so that none of them
polls SQLite's lock: a waiter is handed the gate the moment the writer before it is done.

An append is one INSERT of a few microseconds, and webhooks wait on it; an ingest
transaction can run for tens of milliseconds. So ``hold(first=True)`` goes ahead of
every waiting transaction, never ahead of the one that holds the gate. Before this, an
append that found the lock taken slept and tried again, and under load it spent most of
its time asleep while the lock was already free (measured in bench/sms.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

# the task inside a hold() block; tasks it starts inherit the value, not the gate
_HOLDER: ContextVar[asyncio.Task[object] | None] = ContextVar("write_gate_holder", default=None)


def holding_write_gate() -> bool:
    """Whether the running task is inside a ``WriteGate.hold()`` block."""
    holder = _HOLDER.get()  # None outside any block: the common case, and the cheap test
    return holder is not None and holder is asyncio.current_task()


class WriteGate:
    def __init__(self) -> None:
        self._held = False
        self._first: deque[asyncio.Future[None]] = deque()
        self._others: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> tuple[int, int]:
        """How many wait for the gate: (appends, transactions)."""
        return sum(not w.done() for w in self._first), sum(not w.done() for w in self._others)

    @asynccontextmanager
    async def hold(self, *, first: bool = False) -> AsyncIterator[None]:
        """Hold the gate for the block; ``first``: ahead of the ordinary waiters."""
        if holding_write_gate():
            # e.g. a queue append awaited inside a store transaction: it would wait for itself
            raise RuntimeError("the SQLite write gate is already held here: write after the block")
        await self._acquire(first)
        token = _HOLDER.set(asyncio.current_task())
        try:
            yield
        finally:
            _HOLDER.reset(token)
            self._release()

    async def _acquire(self, first: bool) -> None:
        if not self._held and not self._first and not self._others:
            self._held = True
            return
        waiter = asyncio.get_running_loop().create_future()
        waiters = self._first if first else self._others
        waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed the gate just as it was cancelled: pass it on
            elif waiter in waiters:  # not yet skipped by a release
                waiters.remove(waiter)
            raise

    def _release(self) -> None:
        """Hand the gate straight to the next live waiter, appends first."""
        for waiters in (self._first, self._others):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # stays held: it is theirs now
                    return
        self._held = False
