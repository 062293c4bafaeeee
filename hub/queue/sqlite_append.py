"""Appending queue entries to a SQLite file: the INSERT on the event loop, the fsync in a
helper process.

A batch is one INSERT statement, run in autocommit on the event loop's own thread: it
writes its WAL frames to the page cache (tens of microseconds) and never blocks on
SQLite's lock. Within the process it takes its turn at the store's ``WriteGate``, ahead
of waiting transactions; a database kept busy by another process is retried after a
short asynchronous sleep, as SQLite's busy handler would, for up to ``busy_timeout_s``.
The commit is then made durable by an fsync of the WAL file in ``fsync_helper``, a small
process of its own that the loop asks over a pipe; ``append`` returns only after its
answer.

Why not a thread: a thread has to win the GIL back from an event loop busy with
requests after every blocking call. A batch written on a thread (the earlier design)
cost about twenty such hand-offs, an fsync on a thread still about ten, each one
stalling the loop at its next system call. With the helper the loop makes two system
calls a batch and shares no lock with anyone: bench/sms.py accepted 21% more signed
webhooks a second on the embedded backend (medians of six alternating runs).

Durability is that of ``synchronous=FULL``: in WAL mode a commit is its frames appended
to the WAL, and FULL differs from NORMAL only by an fsync of the WAL file at commit,
which this class has made before it answers. Rows are visible to readers a moment
before that fsync; a reader that stores anything commits with FULL, which syncs the
same WAL, these frames first. SQLite deletes the WAL file only when the last connection
closes, and this one stays open, so the helper's descriptor stays the WAL's.

An append that fails after its INSERT (the fsync failed, the helper died) has stored
its entries all the same: the caller answers 503, the provider retries, and ingest drops
the second copy by its unique key, as after a Redis append whose answer was lost.

Checkpoints are kept off the loop too: this connection never checkpoints on commit,
and every ``checkpoint_every`` entries a thread folds the WAL into the database
(PASSIVE: it waits for nobody). A failed checkpoint is logged and tried again later;
it never fails an append whose entries are on disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from hub.store.engine import SQLITE_PRAGMAS
from hub.store.write_gate import WriteGate

INSERT = "INSERT INTO queue_entries (stream, payload, attempts, created_at) VALUES "
HELPER = str(Path(__file__).with_name("fsync_helper.py"))
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
log = logging.getLogger("contacthub.queue")


class SqliteAppender:
    """Raises SQLAlchemy's ``OperationalError`` (transient) when the database stays locked
    past ``busy_timeout_s`` or cannot be written, as the engine would."""

    def __init__(
        self,
        path: str,
        *,
        gate: WriteGate | None = None,
        busy_timeout_s: float = 30.0,
        checkpoint_every: int = 4096,
    ) -> None:
        self._path = path
        self._gate = gate or WriteGate()  # the store's, to take turns with its transactions
        self._wal = os.path.abspath(path + "-wal")  # whatever folder the helper runs in
        self._busy_timeout_s = busy_timeout_s
        self._checkpoint_every = checkpoint_every
        self._since_checkpoint = 0
        self._conn: sqlite3.Connection | None = None
        self._helper: asyncio.subprocess.Process | None = None
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-checkpoint")

    async def append(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        """Insert the entries and return their ids once they are on disk. Not reentrant:
        the caller (``GroupedQueue``) writes one batch at a time."""
        try:
            last = await self._insert(stream, payloads)
            await self._fsync_wal()
        except (sqlite3.Error, OSError) as exc:
            raise sa.exc.OperationalError(INSERT, None, exc) from exc
        self._since_checkpoint += len(payloads)
        if self._since_checkpoint >= self._checkpoint_every:
            self._since_checkpoint = 0
            await asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint)
        # one INSERT in its own transaction: its rows took the ids just before ``last``
        return [str(i) for i in range(last - len(payloads) + 1, last + 1)]

    async def _insert(self, stream: str, payloads: Sequence[bytes]) -> int:
        conn = self._connection()
        sql = INSERT + ", ".join(["(?, ?, 0, ?)"] * len(payloads))
        now = time.time()
        params = [value for p in payloads for value in (stream, p.decode(), now)]
        deadline = time.monotonic() + self._busy_timeout_s
        delay = 0.001
        while True:
            async with self._gate.hold(first=True):  # this process's writers: our turn
                try:
                    cursor = conn.execute(sql, params)  # autocommit: one transaction
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF not in _BUSY or time.monotonic() > deadline:
                        raise
                    cursor = None
            if cursor is not None:
                if cursor.lastrowid is None:
                    raise RuntimeError("SQLite returned no row id for an insert")
                return cursor.lastrowid
            await asyncio.sleep(delay)  # another process holds the lock: let it finish
            delay = min(delay * 2, 0.05)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                conn.execute(pragma)
            # the three that differ, for the reasons in the module docstring
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA wal_autocheckpoint=0")
            self._conn = conn
        return self._conn

    async def _fsync_wal(self) -> None:
        """Raises OSError when the fsync failed or the helper is gone (the next batch
        starts a new one)."""
        helper = self._helper
        if helper is None or helper.returncode is not None:
            helper = self._helper = await asyncio.create_subprocess_exec(
                sys.executable, "-I", HELPER, self._wal, stdin=PIPE, stdout=PIPE
            )
        assert helper.stdin is not None and helper.stdout is not None
        try:
            helper.stdin.write(b"s")
            answer = await helper.stdout.readexactly(1)
            if answer != b".":
                raise OSError(f"fsync of the queue's WAL failed: {(await helper.stdout.readline()).decode()}")
        except BaseException as exc:
            # An answer left unread would be taken for the next batch's: never reuse it.
            self._helper = None
            if helper.returncode is None:
                helper.kill()
            await helper.wait()
            if isinstance(exc, asyncio.IncompleteReadError):
                raise OSError("the fsync helper ended") from exc
            raise

    def _checkpoint(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the WAL only grows until the next one
            log.warning("queue WAL checkpoint failed, tried again later: %r", exc)

    async def close(self) -> None:
        self._checkpointer.shutdown(wait=True)
        if self._helper is not None and self._helper.stdin is not None:
            self._helper.stdin.close()  # its input ends: it exits
            await self._helper.wait()
            self._helper = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
