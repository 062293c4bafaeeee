"""Shared fixtures. Store, queue and ingest tests run on both backends:

- ``embedded``: SQLite in a temp folder, the SQL queue;
- ``scaleout``: PostgreSQL (a database of its own, emptied for the next test afterwards)
  plus Redis (a key prefix of its own, deleted afterwards).

Either database is a copy of a template migrated once per run (tests/databases.py).

Without ``CI=true`` a missing PostgreSQL or Redis skips with the reason; with it, fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from hub.settings import Settings, load_settings
from tests import databases
from tests.databases import TEMPLATES

PG_URL = os.environ.get("CONTACTHUB_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CONTACTHUB_TEST_REDIS", "redis://127.0.0.1:6379/0")
BACKENDS = ["embedded", "scaleout"]


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def require_services() -> None:
    missing = [
        name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _reachable("127.0.0.1", port)
    ]
    if missing:
        reason = f"{' and '.join(missing)} not reachable on 127.0.0.1"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true needs both backends")
        pytest.skip(reason)


def make_settings(tmp_path: Path, backend: str, **overrides: Any) -> Settings:
    """Settings for one test: its own database and its own Redis prefix. The database is
    a copy of a migrated template (tests/databases.py): a SQLite file, or a PostgreSQL
    database of its own; with a ``database.url`` in ``overrides``, it is left as it is."""
    return _settings(tmp_path, backend, True, overrides)


def make_empty_settings(tmp_path: Path, backend: str, **overrides: Any) -> Settings:
    """Settings whose database starts empty, for tests of the migrations: a SQLite file
    nobody made yet, or a schema of its own in the PostgreSQL database ``test``."""
    return _settings(tmp_path, backend, False, overrides)


def _settings(tmp_path: Path, backend: str, migrated: bool, overrides: dict[str, Any]) -> Settings:
    config = tmp_path / "contacthub.toml"
    values: dict[str, Any] = {
        "blobs.path": str(tmp_path / "blobs"),
        "log.format": "text",
        "customers.tiers_file": str(tmp_path / "tiers.yaml"),
        "routing.rules_file": str(tmp_path / "routing.yaml"),
        "routing.reload_seconds": 0.2,
    }
    copy = migrated and "database.url" not in overrides
    if backend == "embedded":
        values["database.url"] = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
        if copy:
            TEMPLATES.sqlite_copy(tmp_path / "hub.db")
    else:
        tag = uuid.uuid4().hex[:12]
        values.update(
            {
                "database.url": TEMPLATES.pg_copy(PG_URL) if copy else PG_URL,
                "database.schema": databases.SCHEMA if copy else f"t_{tag}",
                "queue.backend": "redis",
                "queue.url": REDIS_URL,
                "queue.key_prefix": f"test:{tag}:",
            }
        )
    values.update(overrides)
    config.write_text(_toml(values))
    return load_settings(config, environ={})


def _toml(values: dict[str, Any]) -> str:
    """Dotted keys to a TOML file, so a hub subprocess can read the same settings."""
    sections: dict[str, list[str]] = {}
    for dotted, value in values.items():
        section, _, key = dotted.rpartition(".")
        sections.setdefault(section, []).append(f"{key} = {_toml_value(value)}")
    return "".join(f"[{name}]\n" + "\n".join(lines) + "\n\n" for name, lines in sections.items())


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


async def drop_backend(settings: Settings) -> None:
    if databases.is_copy(settings.database.url):
        await TEMPLATES.release_pg(settings.database.url)
    elif settings.database.schema_:
        engine = create_async_engine(settings.database.url)
        drop = sa.text(f'DROP SCHEMA IF EXISTS "{settings.database.schema_}" CASCADE')
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
                await conn.execute(drop)
        except DBAPIError:
            # A connection left in a transaction (a task the app did not stop) holds a lock
            # on the schema: say so, end it, and drop. Without this the run would hang here.
            async with engine.begin() as conn:
                leaked = (
                    await conn.execute(
                        sa.text(
                            "SELECT pid, left(query, 200) FROM pg_stat_activity"
                            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                            " AND state LIKE 'idle in transaction%'"
                        )
                    )
                ).all()
                print(f"drop_backend: ending connections left in a transaction: {leaked}", file=sys.stderr)
                for pid, _query in leaked:
                    await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            async with engine.begin() as conn:
                await conn.execute(drop)
        await engine.dispose()
    if settings.queue.backend == "redis":
        client = aioredis.Redis.from_url(settings.queue.url)
        keys = [k async for k in client.scan_iter(match=settings.queue.key_prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


class HubErrorLog(logging.Handler):
    """Keeps every internal error the hub logs: the 500 path of hub/web/middleware.py
    ("internal error") and any ERROR record with a traceback from a ``contacthub.*``
    logger. Installed once on the ``contacthub`` logger, so it hears hubs in this process
    whatever the test does to the root logger's handlers (hub.logs.setup_logging)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.msg == "internal error":
            self.records.append(record)


HUB_ERRORS = HubErrorLog()
logging.getLogger("contacthub").addHandler(HUB_ERRORS)


def _describe(record: logging.LogRecord) -> str:
    where = ""
    if record.exc_info and record.exc_info[1] is not None:
        where = f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
    return f"{record.name}: {record.getMessage()}{where}"


def unexpected_hub_errors(
    records: list[logging.LogRecord], marker: pytest.Mark | None
) -> list[logging.LogRecord]:
    """The records a test's ``hub_errors_expected`` marker does not allow: all of them
    without the marker, none with a bare marker, else those whose message contains none
    of the marker's strings."""
    if marker is None:
        return list(records)
    allowed = marker.args
    return [r for r in records if allowed and not any(a in r.getMessage() for a in allowed)]


@pytest.fixture(autouse=True)
def hub_error_scan(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test whose hub logged an internal error it did not expect, during the test
    or its fixtures' teardown (declared first, so it is torn down last).

    A test that provokes one on purpose says so with ``@pytest.mark.hub_errors_expected``:
    with no arguments any such error is allowed; with strings, only errors whose message
    contains one of them."""
    start = len(HUB_ERRORS.records)
    yield
    logged = unexpected_hub_errors(
        HUB_ERRORS.records[start:], request.node.get_closest_marker("hub_errors_expected")
    )
    del HUB_ERRORS.records[start:]  # their tracebacks hold frames: keep no more than a test's
    if logged:
        lines = "\n".join(f"  - {_describe(r)}" for r in logged)
        pytest.fail(
            f"the hub logged {len(logged)} internal error(s) this test did not expect "
            f"(mark it @pytest.mark.hub_errors_expected if it provokes them):\n{lines}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its cheapest for hubs in this process: production parameters cost about
    0.25 s a hash here, and the suite signs agents in hundreds of times. The hashes are
    still argon2 (the parameters travel inside each hash); hub processes the tests start
    keep the production cost."""
    from argon2 import PasswordHasher

    from hub.auth import sessions

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(sessions, "_hasher", cheap)
    monkeypatch.setattr(sessions, "_DUMMY_HASH", cheap.hash("not-a-password"))


def pytest_sessionfinish(session: pytest.Session) -> None:
    TEMPLATES.close()


# Fixtures that start Chromium or Dovecot: their tests are marked so that `make test-fast`
# can leave them out (``-m "not browser and not dovecot"``).
BROWSER_FIXTURES = {"browser", "chromium", "shared_chromium"}
DOVECOT_FIXTURES = {"dovecot", "dovecot_minimal", "dovecot_tls", "private_dovecot"}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by these marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the tests that need a browser or Dovecot, and moves the ``long`` ones to the
    front: pytest-xdist hands out the first tests round robin, so the long ones start at
    once on different workers instead of one of them ending the run alone."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & DOVECOT_FIXTURES:
            item.add_marker(pytest.mark.dovecot)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: else as collected


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "scaleout":
        require_services()
    yield request.param


@pytest.fixture
async def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Settings]:
    """The test's settings; its database is migrated unless the test is marked
    ``@pytest.mark.unmigrated``."""
    unmigrated = request.node.get_closest_marker("unmigrated") is not None
    s = (make_empty_settings if unmigrated else make_settings)(tmp_path, backend)
    yield s
    await drop_backend(s)


@pytest.fixture
async def hub(settings: Settings) -> AsyncIterator[HubClient]:
    """A running app (same factory as production) with an API token."""
    async with running_hub(settings) as client:
        yield client


@contextlib.asynccontextmanager
async def running_hub(settings: Settings) -> AsyncIterator[HubClient]:
    from aiohttp.test_utils import TestClient, TestServer

    from hub.app import create_app
    from hub.keys import TOKENS

    app = create_app(settings, migrate=True)
    async with TestClient(TestServer(app)) as client:
        _, token = await app[TOKENS].create("tests")
        yield HubClient(client, token)


class HubClient:
    def __init__(self, client: Any, token: str) -> None:
        self.client = client
        self.app = client.app
        self.token = token
        self.auth = {"Authorization": f"Bearer {token}"}

    async def post_message(self, body: Any, **kwargs: Any) -> Any:
        return await self.client.post("/api/v1/messages", json=body, headers=self.auth, **kwargs)

    async def wait_stored(self, count: int, timeout: float = 60) -> int:
        """Wait until ``count`` messages are stored; return the final count."""
        import asyncio
        import time

        from hub.keys import STORE
        from hub.store.tables import messages

        deadline = time.monotonic() + timeout
        while True:
            async with self.app[STORE].read() as conn:
                stored = int(await conn.scalar(sa.select(sa.func.count()).select_from(messages)) or 0)
            if stored >= count or time.monotonic() > deadline:
                return stored
            await asyncio.sleep(0.05)


ROLES = ("agent", "supervisor", "admin")


async def sign_in(hub: HubClient, email: str, password: str, **extra: Any) -> dict[str, str]:
    """Sign in through the API; return the Cookie and X-CSRF-Token headers of the session."""
    resp = await hub.client.post("/api/v1/auth/login", json={"email": email, "password": password, **extra})
    assert resp.status == 200, await resp.text()
    token = resp.cookies["contacthub_session"].value
    csrf = (await resp.json())["csrf_token"]
    hub.client.session.cookie_jar.clear()
    return {"Cookie": f"contacthub_session={token}", "X-CSRF-Token": csrf}


async def sign_in_all(hub: HubClient) -> dict[str, dict[str, str]]:
    """Create one agent per role and sign each in; return the Cookie and X-CSRF-Token
    headers per role."""
    from datetime import UTC, datetime

    from hub.auth.sessions import hash_password
    from hub.keys import STORE
    from hub.store.tables import agents

    headers: dict[str, dict[str, str]] = {}
    async with hub.app[STORE].write() as conn:
        for role in ROLES:
            await conn.execute(
                sa.insert(agents).values(
                    id=str(uuid.uuid4()),
                    email=f"{role}@test.example",
                    name=role.title(),
                    role=role,
                    password_hash=hash_password(f"pw-{role}"),
                    presence="offline",
                    languages=["de"],
                    departments=["service"],
                    capacity={},
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
    for role in ROLES:
        headers[role] = await sign_in(hub, f"{role}@test.example", f"pw-{role}")
    return headers
