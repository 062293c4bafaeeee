"""A SQLite connection the pool closes in the middle of a statement leaves no lock
behind (hub.store.engine.RollbackOnClose).

A task cancelled between a statement's first step and its fetch leaves a cursor with an
unfinished statement, and the pool closes that connection. SQLite kept it open as a
"zombie", with its transaction and the write lock, for as long as the cursor lived: the
next writer waited out the 30 s busy timeout (a shutdown under load hung that long)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from hub.store.engine import RollbackOnClose, Store
from tests.conftest import make_settings


async def test_a_connection_closed_in_mid_statement_keeps_no_write_lock(tmp_path: Path) -> None:
    store = Store(make_settings(tmp_path, "embedded").database)
    try:
        async with store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection  # the aiosqlite connection under the pool's
            assert driver is not None
            await driver.execute("BEGIN IMMEDIATE")
            # one step taken, the row not fetched: the statement stays unfinished, and
            # this cursor lives on, as a cancelled task's traceback would keep it
            unfinished = await driver.execute("UPDATE router_fence SET token = token RETURNING name")
            await conn.invalidate()  # what the pool does with a connection cancelled mid-statement
        async with asyncio.timeout(10), store.write() as conn:  # the busy timeout is 30 s
            await conn.execute(sa.text("UPDATE router_fence SET token = token"))
        del unfinished
    finally:
        await store.close()


def test_a_second_close_is_harmless(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "x.db", factory=RollbackOnClose)
    conn.execute("BEGIN IMMEDIATE")
    conn.close()
    conn.close()  # as sqlite3's own: no ProgrammingError from asking a closed database
