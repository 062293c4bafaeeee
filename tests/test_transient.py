"""hub/transient.py over real exceptions: raised by PostgreSQL (through asyncpg and
SQLAlchemy, as the hub meets them), by SQLite, and by a server that refuses connections
while it shuts down or starts up (SQLSTATE 57P03)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub.transient import classify, is_conflict, is_transient
from tests.conftest import PG_URL, require_services
from tests.hubproc import free_port
from tests.pgproxy import PgProxy


@dataclass
class Pg:
    engine: AsyncEngine
    table: str


@pytest.fixture
async def pg() -> AsyncIterator[Pg]:
    require_services()
    engine = create_async_engine(PG_URL)
    table = f"t_transient_{uuid.uuid4().hex[:8]}"
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"CREATE TABLE {table} (id int PRIMARY KEY, v int)"))
        await conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 0), (2, 0)"))
    yield Pg(engine, table)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"DROP TABLE {table}"))
    await engine.dispose()


async def _raised(coro: object) -> BaseException:
    try:
        await coro  # type: ignore[misc]
    except Exception as exc:
        return exc
    raise AssertionError("nothing was raised")


async def test_a_serialization_failure_is_a_conflict(pg: Pg) -> None:
    table = pg.table
    serializable = pg.engine.execution_options(isolation_level="SERIALIZABLE")
    async with serializable.connect() as a, serializable.connect() as b:
        await a.begin()
        await b.begin()
        await a.execute(sa.text(f"SELECT v FROM {table} WHERE id = 1"))
        await b.execute(sa.text(f"SELECT v FROM {table} WHERE id = 1"))
        await a.execute(sa.text(f"UPDATE {table} SET v = 1 WHERE id = 1"))
        await a.commit()
        exc = await _raised(b.execute(sa.text(f"UPDATE {table} SET v = 2 WHERE id = 1")))
        await b.rollback()
    assert is_transient(exc) and is_conflict(exc)
    assert classify(exc) == ("conflict", "a serialization failure")


async def test_a_deadlock_is_a_conflict(pg: Pg) -> None:
    table = pg.table
    async with pg.engine.connect() as a, pg.engine.connect() as b:
        await a.begin()
        await b.begin()
        for conn in (a, b):
            await conn.execute(sa.text("SET LOCAL deadlock_timeout = '50ms'"))
        await a.execute(sa.text(f"UPDATE {table} SET v = 1 WHERE id = 1"))
        await b.execute(sa.text(f"UPDATE {table} SET v = 1 WHERE id = 2"))
        results = await asyncio.gather(
            a.execute(sa.text(f"UPDATE {table} SET v = 1 WHERE id = 2")),
            b.execute(sa.text(f"UPDATE {table} SET v = 1 WHERE id = 1")),
            return_exceptions=True,
        )
        await a.rollback()
        await b.rollback()
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1
    assert classify(failed[0]) == ("conflict", "a deadlock")


async def test_a_terminated_backend_is_an_outage(pg: Pg) -> None:
    async with pg.engine.connect() as victim:
        pid = await victim.scalar(sa.text("SELECT pg_backend_pid()"))
        async with pg.engine.connect() as admin:
            await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await admin.commit()
        exc = await _raised(victim.execute(sa.text("SELECT 1")))
    found = classify(exc)
    assert found is not None and found[0] == "outage"
    assert not is_conflict(exc)


async def test_a_server_shutting_down_or_starting_up_is_an_outage() -> None:
    """SQLSTATE 57P03 on connect: what PostgreSQL answers while it stops cleanly or starts.
    It is neither an OperationalError nor a lost connection to SQLAlchemy."""
    require_services()
    proxy = PgProxy()
    await proxy.start()
    proxy.refuse("57P03")
    engine = create_async_engine(proxy.url())
    try:
        exc = await _raised(engine.connect().__aenter__())
    finally:
        await engine.dispose()
        await proxy.close()
    assert classify(exc) == ("outage", "the database is starting up or shutting down")
    for code in ("57P01", "57P02", "08006", "53300"):
        proxy = PgProxy()
        await proxy.start()
        proxy.refuse(code)
        engine = create_async_engine(proxy.url())
        try:
            exc = await _raised(engine.connect().__aenter__())
        finally:
            await engine.dispose()
            await proxy.close()
        assert is_transient(exc) and not is_conflict(exc), code


async def test_a_refused_connection_is_an_outage() -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")
    try:
        exc = await _raised(engine.connect().__aenter__())
    finally:
        await engine.dispose()
    assert is_transient(exc) and not is_conflict(exc)


async def test_bad_input_is_not_transient(pg: Pg) -> None:
    table = pg.table
    async with pg.engine.connect() as conn:
        duplicate = await _raised(conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 0)")))
        await conn.rollback()
        no_table = await _raised(conn.execute(sa.text("SELECT * FROM no_such_table_here")))
        await conn.rollback()
        too_long = await _raised(conn.execute(sa.text("SELECT 'x'::varchar(1)::int")))
    for exc in (duplicate, no_table, too_long, ValueError("bad"), KeyError("x")):
        assert not is_transient(exc), exc


async def test_sqlite_locked_is_an_outage_and_a_missing_table_is_not(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (v int)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 0.01})
    try:
        async with engine.connect() as conn:
            locked = await _raised(conn.execute(sa.text("INSERT INTO t VALUES (1)")))
            await conn.rollback()
            missing = await _raised(conn.execute(sa.text("SELECT * FROM nothing")))
    finally:
        await engine.dispose()
        holder.close()
    assert classify(locked) == ("outage", "the database is locked")
    assert not is_transient(missing)


def test_a_missing_file_behind_an_error_is_no_outage() -> None:
    """A blob the store no longer has (NotFound from FileNotFoundError) is a definite
    answer: retrying it as an outage would keep a fax job forever."""
    from hub.errors import NotFound
    from hub.transient import is_transient

    try:
        try:
            open("/nonexistent/blob")
        except FileNotFoundError as exc:
            raise NotFound("no blob named x") from exc
    except NotFound as wrapped:
        assert not is_transient(wrapped)
    assert is_transient(ConnectionRefusedError(111, "refused"))


@pytest.mark.hub_errors_expected
async def test_a_repeated_task_outlives_its_failures(caplog: pytest.LogCaptureFixture) -> None:
    """``hub.wiring.tasks.every`` (the rollups, revenue, webhooks and health loops): an
    outage is one warning when it starts and one when it ends; another failure is an
    error with its traceback; the loop goes on after both until it is cancelled."""
    import logging

    from hub.wiring.tasks import every

    outcomes: list[BaseException | None] = [
        ConnectionRefusedError("down"),
        ConnectionRefusedError("still down"),
        None,
        ValueError("a bug"),
        None,
    ]
    done = asyncio.Event()
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(1)
        if len(rounds) == len(outcomes):
            done.set()
        outcome = outcomes[min(len(rounds), len(outcomes)) - 1]
        if outcome is not None:
            raise outcome

    logger = logging.getLogger("contacthub.test.every")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        task = asyncio.create_task(every(0, "the test loop", work, logger))
        await asyncio.wait_for(done.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    said = [(r.levelname, r.getMessage().split(":")[0], r.exc_info is not None) for r in caplog.records]
    assert said == [
        ("WARNING", "the test loop", False),  # the outage starts
        ("WARNING", "the test loop", False),  # and ends
        ("ERROR", "the test loop failed; trying again in 0s", True),
    ]
