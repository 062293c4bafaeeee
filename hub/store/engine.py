"""The async engine for SQLite (WAL) or PostgreSQL (asyncpg), chosen by URL.

SQLite allows one writer at a time. Writes go through ``Store.write()``, which takes the
process's ``WriteGate`` and opens the transaction with ``BEGIN IMMEDIATE`` so that a
writer never fails half-way on a lock upgrade; reads use ``Store.read()`` and never block
under WAL. The embedded queue appends through a connection of its own
(``hub.queue.sql``), with the same settings; it takes its turn at the same gate, ahead of
waiting transactions, and SQLite's lock orders it with writers in other processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.errors import ConfigError
from hub.settings import DatabaseSettings
from hub.store.write_gate import WriteGate

# What ``read()`` and ``write()`` hand out and repositories take: a handler holds one
# only to keep several repository calls in one transaction, and never builds SQL on it.
Connection = AsyncConnection
MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "contacthub_write"
# Every SQLite connection's settings (also the queue's own appending connection).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a commit is on disk when it returns, so an accepted message survives
    # a power cut as well as a crash.
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
    # deleted and overwritten content is zeroed in the file (privacy erasure, retention)
    "PRAGMA secure_delete=ON",
)


class RollbackOnClose(sqlite3.Connection):
    """A SQLite connection that rolls back an open transaction before it closes.

    A task cancelled between a statement's first step and its fetch (``UPDATE ...
    RETURNING`` in a queue claim, say) leaves a cursor with an unfinished statement; the
    pool then closes its connection. SQLite cannot close a connection while a statement
    of it is unfinished: it keeps it as a "zombie", with its transaction and the write
    lock, until that cursor is garbage, which may be never (a cancelled task's traceback
    holds it). Every later writer then waited out ``busy_timeout`` (30 s); a shutdown
    that cancelled the router's claim hung that long (tests/test_crash.py). A ROLLBACK
    first ends the transaction and aborts the unfinished statement, so the close frees
    the lock at once."""

    def close(self) -> None:
        # closing anyway: SQLite rolls back what it can; and a second close is a no-op,
        # where in_transaction would raise ProgrammingError (a closed database)
        with suppress(sqlite3.Error):
            if self.in_transaction:
                self.rollback()
        super().close()


class Store:
    """Owns the engine. ``dialect`` is ``"sqlite"`` or ``"postgresql"``."""

    def __init__(self, settings: DatabaseSettings) -> None:
        url = make_url(settings.url)
        self.dialect = url.get_backend_name()
        self.schema = settings.schema_
        # the database file of SQLite (None in memory or on PostgreSQL)
        self.sqlite_file: str | None = None
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
                self.sqlite_file = url.database
            kwargs["connect_args"] = {"timeout": 30, "factory": RollbackOnClose}
        elif self.dialect == "postgresql":
            kwargs["pool_size"] = settings.pool_size
            kwargs["pool_pre_ping"] = True
            if self.schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
        else:
            raise ValueError(f"database.url: unsupported database {self.dialect!r}")
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        self._writer = self.engine.execution_options(**{_WRITE: True})
        # SQLite: the store's transactions and the queue's appends take turns here
        self.write_gate = WriteGate() if self.dialect == "sqlite" else None
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction; commits on exit, rolls back on error."""
        if self.write_gate is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self.write_gate.hold(), self._writer.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to ``revision``, every one by default (creates
        the PostgreSQL schema if needed)."""
        if self.dialect == "postgresql" and self.schema:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
        async with self.write() as conn:
            await conn.run_sync(alembic_step, command.upgrade, revision)

    async def require_schema(self) -> None:
        """Raise ConfigError, saying what to run, unless the database is at the newest
        schema: a command on a database nobody migrated would otherwise fail at its first
        statement with "no such table"."""
        async with self.engine.connect() as conn:
            current = await conn.run_sync(_current_revision)
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        where = self.sqlite_file or self.engine.url.render_as_string(hide_password=True)
        if current is None:
            raise ConfigError(f"the database at {where} has no schema: run `contacthub migrate`")
        if current != head:
            raise ConfigError(
                f"the database at {where} is at schema {current}, this hub needs {head}:"
                " run `contacthub migrate`"
            )

    async def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics after a bulk load; without them PostgreSQL may
        pick a plan a hundred times slower for a fresh table."""
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.exec_driver_sql("ANALYZE " + ", ".join(tables))
            else:
                await conn.exec_driver_sql("PRAGMA optimize")

    async def checkpoint(self) -> None:
        """SQLite: fold the WAL into the database file and truncate it, so that old page
        images (which may hold erased data) leave the disk. No-op on PostgreSQL."""
        if self.dialect == "sqlite":
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        await self.engine.dispose()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def alembic_step(connection: SyncConnection, step: Callable[[Config, str], None], revision: str) -> None:
    """Run an Alembic command (upgrade, downgrade) to ``revision`` on ``connection``."""
    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    step(cfg, revision)


def _current_revision(connection: SyncConnection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver; ``_on_begin`` issues BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: SyncConnection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
