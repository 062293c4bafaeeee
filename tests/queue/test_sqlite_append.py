"""The embedded queue's appender: SQLite's lock waited out on the event loop, the WAL
folded into the database off the loop, no answer before the fsync helper's, and the
helper replaced when it dies. (The contract suite covers what both backends do.)"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.queue.sql import SqlQueue
from hub.queue.sqlite_append import HELPER, SqliteAppender
from hub.store.engine import Store
from hub.transient import is_transient
from tests.conftest import make_settings
from tests.waits import eventually


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(make_settings(tmp_path, "embedded").database)
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture
def writer(store: Store) -> Iterator[sqlite3.Connection]:
    """Another writer of the same file: a connection that can hold SQLite's write lock."""
    assert store.sqlite_file is not None
    conn = sqlite3.connect(store.sqlite_file, isolation_level=None)
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


async def test_an_append_waits_for_another_writer_then_lands(
    store: Store, writer: sqlite3.Connection
) -> None:
    queue = SqlQueue(store, "s", lambda b: b, dead_letter_after=3)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock
        pending = asyncio.create_task(queue.append(b"waits"))
        await asyncio.sleep(0.3)
        assert not pending.done()  # neither refused nor written past the lock
        writer.execute("COMMIT")
        entry_id = await asyncio.wait_for(pending, 5)
        claimed = await queue.claim("c", 10, 100)
        assert [(c.id, c.payload) for c in claimed] == [(entry_id, b"waits")]
    finally:
        await queue.close()


async def test_an_append_goes_between_the_stores_transactions(store: Store) -> None:
    """In one process an append waits at the store's gate, not on SQLite's lock, and is
    handed it ahead of a transaction that was already waiting."""
    queue = SqlQueue(store, "s", lambda b: b, dead_letter_after=3)
    release = asyncio.Event()
    seen: list[int] = []

    holding = asyncio.Event()

    async def holds_the_lock() -> None:
        async with store.write():
            holding.set()
            await release.wait()

    async def counts_entries() -> None:
        async with store.write() as conn:
            seen.append((await conn.execute(sa.text("SELECT count(*) FROM queue_entries"))).scalar_one())

    gate = store.write_gate
    assert gate is not None
    try:
        tasks = [asyncio.create_task(holds_the_lock())]
        await asyncio.wait_for(holding.wait(), 10)
        tasks.append(asyncio.create_task(counts_entries()))  # waits for the first
        await eventually(lambda: gate.waiting == (0, 1), what="the second transaction waiting")
        append = asyncio.create_task(queue.append(b"urgent"))
        await eventually(lambda: gate.waiting == (1, 1), what="the append waiting")
        assert not append.done()  # not past the transaction that holds the lock
        release.set()
        await asyncio.wait_for(asyncio.gather(append, *tasks), 10)
        assert seen == [1]  # the append went before the transaction that waited
    finally:
        await queue.close()


async def test_an_append_inside_a_store_transaction_is_refused_not_left_hanging(store: Store) -> None:
    queue = SqlQueue(store, "s", lambda b: b, dead_letter_after=3)
    try:
        async with store.write():
            with pytest.raises(RuntimeError, match="inside a store transaction"):
                async with asyncio.timeout(5):  # this task's own append, not another's
                    await queue.append(b"x")
        assert await queue.append(b"y") == "1"
    finally:
        await queue.close()


async def test_an_append_inside_a_transaction_is_refused_on_in_memory_sqlite_too(tmp_path: Path) -> None:
    # no appender there: the batch goes through Store.write(), on the writer task
    memory = Store(
        make_settings(tmp_path, "embedded", **{"database.url": "sqlite+aiosqlite:///:memory:"}).database
    )
    queue = SqlQueue(memory, "s", lambda b: b, dead_letter_after=3)
    try:
        async with memory.write():
            with pytest.raises(RuntimeError, match="inside a store transaction"):
                async with asyncio.timeout(5):
                    await queue.append(b"x")
    finally:
        await queue.close()
        await memory.close()


async def test_a_lock_held_past_the_busy_timeout_is_a_transient_failure(
    store: Store, writer: sqlite3.Connection
) -> None:
    assert store.sqlite_file is not None
    appender = SqliteAppender(store.sqlite_file, busy_timeout_s=0.2)
    try:
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(Exception) as raised:
            await appender.append("s", [b"refused"])
        assert is_transient(raised.value)  # the webhook answers 503 and the provider retries
        writer.execute("ROLLBACK")
        assert await appender.append("s", [b"later"]) == ["1"]  # the refused one left nothing
    finally:
        await appender.close()


@pytest.mark.parametrize("checkpoint_every", [100, 1_000_000])
async def test_the_wal_is_folded_into_the_database_every_so_many_entries(
    store: Store, checkpoint_every: int
) -> None:
    assert store.sqlite_file is not None
    await store.close()  # the last connection gone: the WAL is folded in and removed
    before = os.path.getsize(store.sqlite_file)
    appender = SqliteAppender(store.sqlite_file, checkpoint_every=checkpoint_every)
    try:
        for batch in range(6):
            await appender.append("s", [b"x" * 2000 + bytes([batch])] * 25)
        grown = os.path.getsize(store.sqlite_file) > before
        assert grown == (checkpoint_every == 100)  # else every page is still in the WAL only
    finally:
        await appender.close()
    with sqlite3.connect(store.sqlite_file) as check:
        assert check.execute("SELECT count(*) FROM queue_entries").fetchone() == (150,)


async def test_a_dead_fsync_helper_is_replaced_and_nothing_is_lost(store: Store) -> None:
    assert store.sqlite_file is not None
    appender = SqliteAppender(store.sqlite_file)
    try:
        assert await appender.append("s", [b"one"]) == ["1"]
        helper = appender._helper
        assert helper is not None
        helper.kill()
        await helper.wait()
        assert await appender.append("s", [b"two", b"three"]) == ["2", "3"]
        assert appender._helper is not None and appender._helper is not helper
    finally:
        await appender.close()
    with sqlite3.connect(store.sqlite_file) as check:
        rows = check.execute("SELECT id, payload FROM queue_entries ORDER BY id").fetchall()
    assert rows == [(1, "one"), (2, "two"), (3, "three")]


async def test_an_append_answers_only_after_the_helper_has_synced(store: Store) -> None:
    assert store.sqlite_file is not None
    appender = SqliteAppender(store.sqlite_file)
    try:
        await appender.append("s", [b"one"])
        helper = appender._helper
        assert helper is not None
        os.kill(helper.pid, signal.SIGSTOP)  # an fsync that takes its time
        try:
            pending = asyncio.create_task(appender.append("s", [b"two"]))
            await asyncio.sleep(0.3)
            assert not pending.done()
        finally:
            os.kill(helper.pid, signal.SIGCONT)
        assert await asyncio.wait_for(pending, 5) == ["2"]
    finally:
        await appender.close()


def test_the_helper_says_why_it_cannot_sync(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db-wal"
    answer = subprocess.run(
        [sys.executable, "-I", HELPER, str(missing)], input=b"s", capture_output=True, timeout=30, check=True
    ).stdout.decode()
    assert answer.startswith("!cannot open") and str(missing) in answer
