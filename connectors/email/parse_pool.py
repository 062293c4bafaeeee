"""Incoming mail parsed in worker processes, so that a mailbox's backlog uses more than
one core (``connectors.email.parse_workers``).

Parsing (``payloads.parse_mail``) is pure CPU work, about a third of what the hub spends
on a mail; IMAP, the queue and the store stay in the hub's process, which goes on with
them while the workers parse. The mails a watcher delivers together (one FETCH) go to
the workers as one chunk per worker: a task per mail cost the hub's process about as
much as parsing the mail itself.

- The workers run while a watcher runs (``MailParser.keeps_up``): a parse outside of
  one, before the workers have started, or with ``parse_workers = 0`` runs in the
  hub's process, as before.
- The workers are forked by a fork server that has imported the parser once, never by
  forking the hub itself (it runs threads and an event loop); ``spawn`` where there is
  no fork server.
- A worker that dies (a mail that crashes the interpreter, the OOM killer) breaks the
  pool: it is replaced, and each mail of the chunk is parsed again alone, in a process
  of its own; a mail that stops that process too is delivered as plain text
  (``degraded``), like a mail whose structure cannot be read. No mail is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from types import MappingProxyType
from typing import TYPE_CHECKING

from connectors.email.payloads import ParsedMail, degraded_mail, parse_mail

if TYPE_CHECKING:  # the parser's processes start from this module: they need no hub
    from connectors.base import RunsInBackground

log = logging.getLogger("contacthub.email")

# What a worker hands back for one mail: the parsed mail, or what parse_mail raised.
Outcome = ParsedMail | Exception


def default_workers() -> int:
    """One worker per CPU beside the one the hub's own process keeps busy, at most two
    (the hub's process is the limit beyond that); none on a single CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(0, min(2, cpus - 1))


class MailParser:
    """``parse`` as ``payloads.parse_mail`` does, in up to ``workers`` worker processes;
    see the module doc. One per hub process, shared by its mailbox watchers. ``parse``
    replaces ``parse_mail`` (a module-level function: the workers import it by name)."""

    def __init__(self, workers: int, parse: Callable[[bytes], ParsedMail] = parse_mail) -> None:
        self._workers = workers
        self._parse = parse
        self._users = 0  # watchers running
        self._starting: asyncio.Future[ProcessPoolExecutor] | None = None  # the pool, once a worker is up
        self._running: ProcessPoolExecutor | None = None  # the pool a start gave
        self._alone: ProcessPoolExecutor | None = None  # one process, for one suspect mail at a time
        self._alone_lock = asyncio.Lock()
        self._pending: list[tuple[bytes, asyncio.Future[ParsedMail]]] = []
        self._chunks: set[asyncio.Task[None]] = set()  # sent, not yet answered

    def keeps_up(self, loop: RunsInBackground) -> RunsInBackground:
        """``loop`` (a mailbox watcher), keeping the workers up while it runs."""
        return _KeptUp(loop, self)

    @contextlib.asynccontextmanager
    async def in_use(self) -> AsyncIterator[None]:
        """The workers run from now (they start while a watcher connects) until the
        last user leaves."""
        self._users += 1
        self._pool()
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                self.close()

    def close(self) -> None:
        """Shut the workers down; what was sent to them is still answered. A later
        ``parse`` within ``in_use`` starts new ones."""
        if self._starting is not None:
            self._starting.add_done_callback(_shut_down)
        for pool in (self._running, self._alone):
            if pool is not None:
                pool.shutdown(wait=False)
        self._starting = self._running = self._alone = None

    async def parse(self, raw: bytes) -> ParsedMail:
        """The parsed mail; raises what ``parse_mail`` raises (``PayloadRejected``)."""
        if self._users < 1 or self._pool() is None:
            return self._parse(raw)
        future: asyncio.Future[ParsedMail] = asyncio.get_running_loop().create_future()
        if not self._pending:  # the mails delivered together ask in this same turn of the loop
            asyncio.get_running_loop().call_soon(self._send)
        self._pending.append((raw, future))
        return await future

    def _pool(self) -> ProcessPoolExecutor | None:
        """The pool once a worker is up, else None; starts it on first use. A pool that
        cannot start (no processes allowed here, say) leaves parsing to this process."""
        if self._workers < 1:
            return None
        if self._running is not None:
            return self._running
        if self._starting is None:
            # in a thread: the first worker waits for the fork server to import the
            # parser (a second or more), and the event loop must not
            self._starting = asyncio.ensure_future(asyncio.to_thread(_started_pool, self._workers))
            return None
        if not self._starting.done():
            return None
        if self._starting.cancelled() or (failed := self._starting.exception()) is not None:
            log.warning("mail parser processes did not start (%r); parsing in the hub's process", failed)
            self._starting, self._workers = None, 0
            return None
        self._running, self._starting = self._starting.result(), None
        return self._running

    def _send(self) -> None:
        """The mails asked for since the last call, as one chunk per worker."""
        pending, self._pending = self._pending, []
        size = math.ceil(len(pending) / max(1, self._workers))
        for start in range(0, len(pending), size):
            task = asyncio.create_task(self._parse_chunk(pending[start : start + size]))
            self._chunks.add(task)
            task.add_done_callback(self._chunks.discard)

    async def _parse_chunk(self, chunk: list[tuple[bytes, asyncio.Future[ParsedMail]]]) -> None:
        pool = self._pool()
        try:
            if pool is None:  # closed meanwhile
                outcomes = [_outcome(self._parse, raw) for raw, _ in chunk]
            else:
                raws = [raw for raw, _ in chunk]
                outcomes = await asyncio.get_running_loop().run_in_executor(
                    pool, _parse_all, self._parse, raws
                )
        except Exception as exc:
            # a worker died (or its answer did not come back): which mail did it is not
            # known, so each is parsed again alone
            if isinstance(exc, BrokenProcessPool) and pool is not None and pool is self._running:
                log.warning("a mail parser process stopped; parsing its %d mails one by one", len(chunk))
                pool.shutdown(wait=False)
                self._running = None  # the next mail starts a new pool
            for raw, future in chunk:
                if future.done():
                    continue
                try:
                    outcome = await self._parse_alone(raw)
                except Exception as failed:  # no process could start: the watcher tries again later
                    outcome = failed
                _answer(future, outcome)
            return
        for (_, future), outcome in zip(chunk, outcomes, strict=True):
            _answer(future, outcome)

    async def _parse_alone(self, raw: bytes) -> Outcome:
        """One mail in a process of its own: if that process dies too, this mail did it,
        and it is delivered as plain text."""
        async with self._alone_lock:
            if self._alone is None:
                self._alone = _new_pool(1)
            pool = self._alone
            try:
                (outcome,) = await asyncio.get_running_loop().run_in_executor(
                    pool, _parse_all, self._parse, [raw]
                )
            except BrokenProcessPool:
                pool.shutdown(wait=False)
                if self._alone is pool:
                    self._alone = None
                log.warning("a mail of %d bytes stopped the mail parser: delivered as plain text", len(raw))
                return degraded_mail(raw)
            return outcome


def _answer(future: asyncio.Future[ParsedMail], outcome: Outcome) -> None:
    if future.done():  # the watcher stopped waiting: it is being stopped
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(dataclasses.replace(outcome, headers=MappingProxyType(dict(outcome.headers))))


class _KeptUp:
    """A connector loop during which the mail parser's workers may run."""

    def __init__(self, loop: RunsInBackground, parser: MailParser) -> None:
        self.name = loop.name
        self.loop = loop
        self._parser = parser

    async def run(self) -> None:
        async with self._parser.in_use():
            await self.loop.run()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=_context(), initializer=_set_up, initargs=(os.getpid(),))


def _started_pool(workers: int) -> ProcessPoolExecutor:
    """A new pool, once its workers are up (blocks: run it in a thread). Every worker
    starts here: one the pool started later could miss the pool's breaking (a worker
    dying meanwhile) and leave the pool waiting for it for good, at exit too."""
    pool = _new_pool(workers)
    try:
        for started in [pool.submit(_warm_up) for _ in range(workers)]:  # one process each
            started.result()
    except BaseException:
        pool.shutdown(wait=False)
        raise
    return pool


def _shut_down(starting: asyncio.Future[ProcessPoolExecutor]) -> None:
    """Shut down the pool a start gave, when it gave one."""
    if not starting.cancelled() and starting.exception() is None:
        starting.result().shutdown(wait=False)


def _context() -> BaseContext:
    """A fork server that imports this module once, so that a worker starts in
    milliseconds (importing the parser pulls in the ``connectors`` package, about a
    second); ``spawn`` where there is none. Never ``fork``: the hub runs threads."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])  # read when the fork server starts
        return context
    return multiprocessing.get_context("spawn")


# --- in the worker processes ---------------------------------------------------------


def _set_up(hub: int) -> None:
    """Ctrl-C in a terminal reaches the whole process group: ignored, the hub stops its
    workers itself. And a worker ends with the hub, also with one killed outright: then
    nothing stops the workers (their pipes stay open in each other), and they would
    keep the fork server, and their memory, for good."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(hub,), name="end-with-hub", daemon=True).start()


def _end_with(hub: int) -> None:
    try:
        handle = os.pidfd_open(hub)  # Linux: readable once the hub has ended
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):  # elsewhere: look every second
        while _alive(hub):
            time.sleep(1)
        os._exit(0)
    select.select([handle], [], [])
    os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, as another user's
        pass
    return True


def _warm_up() -> None:
    """Unpickling this function has imported the parser. It holds its worker a moment,
    so that each warm-up a new pool is given starts a process of its own."""
    time.sleep(0.05)


def _parse_all(parse: Callable[[bytes], ParsedMail], raws: list[bytes]) -> list[Outcome]:
    return [_outcome(parse, raw) for raw in raws]


def _outcome(parse: Callable[[bytes], ParsedMail], raw: bytes) -> Outcome:
    try:
        parsed = parse(raw)
    except Exception as exc:  # handed back, to be raised where the mail was asked for
        return exc
    # a MappingProxyType cannot be pickled
    return dataclasses.replace(parsed, headers=dict(parsed.headers))
