"""Migrated databases for tests, copied from a template that this process (one pytest
run, or one xdist worker) migrates once.

Running the Alembic migrations costs about 0.2 s on SQLite and 0.7 s on PostgreSQL; a
copy costs milliseconds: SQLite copies the template's file, PostgreSQL runs
``CREATE DATABASE … TEMPLATE`` (and reuses the copy after the test). The migrations keep
tests of their own, which start from an empty database (``@pytest.mark.unmigrated``,
``make_empty_settings``); a hub started on a copy still runs ``Store.migrate()``, which
finds the newest revision and does nothing.

``make_settings`` (tests/conftest.py) calls this synchronously, sometimes from inside a
running event loop; the async work runs on a thread with a loop of its own.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from hub.settings import DatabaseSettings
from hub.store.engine import Store

T = TypeVar("T")
SCHEMA = "hub"  # the schema of every copied PostgreSQL database (each has its own)
DATABASE_PREFIX = "chtest_"  # per-test databases; the template is chtmpl_…


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a thread of its own, whatever loop is running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _migrated_sqlite(path: Path) -> None:
    async def migrate() -> None:
        store = Store(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
        try:
            await store.migrate()
            await store.checkpoint()  # the whole schema in the file itself, nothing in the WAL
        finally:
            await store.close()

    _run(migrate())


class Templates:
    """The migrated templates of this process, built on first use, and the PostgreSQL
    copies made of them.

    A PostgreSQL copy is used again after its test: dropping a database forces a
    checkpoint on the whole server (slow while other suites write to it), and emptying
    the tables is cheaper than copying anew. Emptying ends the connections a test left
    behind, deletes every row and puts back the rows the migrations insert; a copy
    whose schema the test changed is dropped instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._sqlite: Path | None = None
        self._pg_admin: str | None = None  # asyncpg DSN of the server's maintenance database
        self._pg_template: str | None = None
        self._pg_shape: tuple[Any, ...] = ()  # the template schema's objects and revision
        self._pg_seeds: list[tuple[str, list[str], list[tuple[Any, ...]]]] = []
        self._pg_tables: list[str] = []
        self._pg_made: set[str] = set()  # every copy made, in use or free
        self._pg_free: list[str] = []

    # --- SQLite ------------------------------------------------------------------------

    def sqlite_copy(self, target: Path) -> None:
        """A migrated SQLite database at ``target``."""
        with self._lock:
            if self._sqlite is None:
                self._folder = Path(tempfile.mkdtemp(prefix="contacthub-templates-"))
                self._sqlite = self._folder / "template.db"
                _migrated_sqlite(self._sqlite)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, target)

    # --- PostgreSQL --------------------------------------------------------------------

    def pg_copy(self, server_url: str) -> str:
        """A migrated database of its own on the server of ``server_url`` (a SQLAlchemy
        URL); returns its URL. Its tables are in the schema ``SCHEMA``."""
        url = make_url(server_url)
        with self._lock:
            if self._pg_template is None:
                self._pg_admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._pg_template = f"chtmpl_{uuid.uuid4().hex[:12]}"
                _run(self._build_pg_template(url.render_as_string(hide_password=False)))
            name = self._pg_free.pop() if self._pg_free else None
            if name is None:
                name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
                self._pg_made.add(name)
                _run(self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._pg_template}"'))
        return url.set(database=name).render_as_string(hide_password=False)

    async def _build_pg_template(self, server_url: str) -> None:
        assert self._pg_template is not None
        await self._admin(f'CREATE DATABASE "{self._pg_template}"')
        url = make_url(server_url).set(database=self._pg_template)
        store = Store(DatabaseSettings(url=url.render_as_string(hide_password=False), schema=SCHEMA))
        try:
            await store.migrate()
        finally:
            await store.close()  # a template must have no connections when it is copied
        conn = await asyncpg.connect(self._database_dsn(self._pg_template))
        try:
            self._pg_shape = await _shape(conn)
            self._pg_tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT tablename FROM pg_tables"
                    " WHERE schemaname = $1 AND tablename <> 'alembic_version'",
                    SCHEMA,
                )
            ]
            for table in self._pg_tables:
                rows = await conn.fetch(f'SELECT * FROM "{SCHEMA}"."{table}"')
                if rows:
                    self._pg_seeds.append((table, list(rows[0].keys()), [tuple(r.values()) for r in rows]))
        finally:
            await conn.close()

    def _database_dsn(self, name: str) -> str:
        assert self._pg_admin is not None
        return make_url(self._pg_admin).set(database=name).render_as_string(hide_password=False)

    async def _admin(self, statement: str) -> None:
        conn = await asyncpg.connect(self._pg_admin)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def release_pg(self, database_url: str) -> None:
        """Give back a database ``pg_copy`` made: emptied for the next test, or dropped
        if its schema is no longer the template's."""
        name = make_url(database_url).database
        assert name is not None and name in self._pg_made, name
        conn = await asyncpg.connect(self._database_dsn(name))
        try:
            # connections the test left open (a task it did not stop) would hold locks
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            reusable = await _shape(conn) == self._pg_shape
            if reusable:
                async with conn.transaction():
                    # DELETE, not TRUNCATE: a dozen rows per table go in milliseconds, while
                    # TRUNCATE makes new files for every table and index (about a second)
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await conn.execute("SET LOCAL session_replication_role = replica")  # no FK order
                    await conn.execute("; ".join(f'DELETE FROM "{SCHEMA}"."{t}"' for t in self._pg_tables))
                    await conn.execute(
                        "SELECT setval(format('%I.%I', sequence_schema, sequence_name), 1, false)"
                        " FROM information_schema.sequences WHERE sequence_schema = $1",
                        SCHEMA,
                    )
                    for table, columns, records in self._pg_seeds:
                        await conn.copy_records_to_table(
                            table, records=records, columns=columns, schema_name=SCHEMA
                        )
        finally:
            await conn.close()
        if reusable:
            with self._lock:
                self._pg_free.append(name)
        else:
            with self._lock:
                self._pg_made.discard(name)
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # --- the end of the run ------------------------------------------------------------

    def close(self) -> None:
        async def drop_all(names: list[str]) -> None:
            for name in names:
                await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        if self._pg_template is not None:
            _run(drop_all([*self._pg_made, self._pg_template]))
            self._pg_template = None
            self._pg_made.clear()
            self._pg_free.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self._sqlite = None


async def _shape(conn: asyncpg.Connection) -> tuple[Any, ...]:
    """What a test could change in a copy's schema: its objects and its revision."""
    objects = await conn.fetch(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = $1 ORDER BY 1, 2",
        SCHEMA,
    )
    columns = await conn.fetchval(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1", SCHEMA
    )
    revision = await conn.fetchval(f'SELECT version_num FROM "{SCHEMA}".alembic_version')
    return (tuple(tuple(r) for r in objects), columns, revision)


TEMPLATES = Templates()


def is_copy(database_url: str) -> bool:
    """Whether the URL names a PostgreSQL database that ``Templates.pg_copy`` made."""
    name = make_url(database_url).database or ""
    return name.startswith(DATABASE_PREFIX)
