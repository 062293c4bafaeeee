"""Fault tests with a real hub process: SIGKILL mid-run, and a graceful SIGTERM.

Every message that got a 202 is stored exactly once after a restart, on both backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import messages
from hub.tokens import TokenService
from tests.conftest import drop_backend, make_settings
from tests.hubproc import HubProcess
from tests.waits import eventually

pytestmark = pytest.mark.slow
TOTAL = 5000


@pytest.fixture
async def proc_settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    s = make_settings(tmp_path, backend, **{"queue.stale_after_ms": 1000, "log.level": "WARNING"})
    yield s
    await drop_backend(s)


async def _token(settings: Settings) -> str:
    store = Store(settings.database)
    await store.migrate()
    _, token = await TokenService(store).create("crash-test")
    await store.close()
    return token


async def _send_all(
    url: str, token: str, ids: list[str], accepted: list[str], on_progress: asyncio.Event, threshold: int
) -> None:
    sem = asyncio.Semaphore(32)
    headers = {"Authorization": f"Bearer {token}"}

    async with aiohttp.ClientSession() as session:

        async def send(ext: str) -> None:
            async with sem:
                body = {
                    "external_id": ext,
                    "from": {"kind": "email", "value": f"{ext[-2:]}@example.com"},
                    "text": f"text of {ext}",
                }
                try:
                    async with session.post(url + "/api/v1/messages", json=body, headers=headers) as r:
                        if r.status == 202:
                            accepted.append(ext)
                            if len(accepted) >= threshold:
                                on_progress.set()
                except (TimeoutError, aiohttp.ClientError):
                    pass  # no 202: the client would retry

        await asyncio.gather(*(send(e) for e in ids))


async def _stored(settings: Settings, ids: list[str]) -> dict[str, int]:
    store = Store(settings.database)
    try:
        async with store.read() as conn:
            rows = await conn.execute(
                sa.select(messages.c.external_id, sa.func.count())
                .where(messages.c.external_id.in_(ids))
                .group_by(messages.c.external_id)
            )
            return {r[0]: r[1] for r in rows}
    finally:
        await store.close()


async def _wait_stored(settings: Settings, ids: list[str], timeout: float = 90) -> dict[str, int]:
    """What of ``ids`` is stored, once all are or ``timeout`` passed: the caller's asserts
    then say what was lost or doubled, which says more than a timeout would."""
    found: dict[str, int] = {}

    async def all_stored() -> bool:
        nonlocal found
        found = await _stored(settings, ids)
        return len(found) >= len(ids)

    with contextlib.suppress(AssertionError):
        await eventually(all_stored, timeout=timeout, interval=0.25)
    return found


async def test_sigkill_mid_run_loses_and_duplicates_nothing(proc_settings: Settings, tmp_path: Path) -> None:
    token = await _token(proc_settings)
    hub = HubProcess(tmp_path / "contacthub.toml", tmp_path)
    ids = [f"crash-{i:05d}" for i in range(TOTAL)]
    accepted: list[str] = []
    try:
        await hub.start()
        halfway = asyncio.Event()
        sender = asyncio.create_task(_send_all(hub.url, token, ids, accepted, halfway, TOTAL // 3))
        await asyncio.wait_for(halfway.wait(), 120)
        hub.signal(signal.SIGKILL)
        assert await hub.wait_exit() == -signal.SIGKILL
        await sender
        assert TOTAL // 3 <= len(accepted) < TOTAL, "the kill must land mid-run"

        await hub.start()
        found = await _wait_stored(proc_settings, accepted)
        missing = sorted(set(accepted) - set(found))
        assert not missing, f"{len(missing)} accepted messages lost, e.g. {missing[:5]}"
        assert set(found.values()) == {1}

        # The client retries what got no 202; some of those were durable already.
        retry = sorted(set(ids) - set(accepted))
        again: list[str] = []
        await _send_all(hub.url, token, retry, again, asyncio.Event(), TOTAL + 1)
        assert sorted(again) == retry
        found = await _wait_stored(proc_settings, ids)
        assert len(found) == TOTAL and set(found.values()) == {1}

        hub.signal(signal.SIGTERM)
        assert await hub.wait_exit() == 0
    finally:
        hub.stop()


async def test_sigterm_under_load_drains_and_exits_cleanly(proc_settings: Settings, tmp_path: Path) -> None:
    token = await _token(proc_settings)
    hub = HubProcess(tmp_path / "contacthub.toml", tmp_path)
    ids = [f"term-{i:05d}" for i in range(2000)]
    accepted: list[str] = []
    try:
        await hub.start()
        some = asyncio.Event()
        sender = asyncio.create_task(_send_all(hub.url, token, ids, accepted, some, 500))
        await asyncio.wait_for(some.wait(), 120)
        hub.signal(signal.SIGTERM)
        assert await hub.wait_exit() == 0, hub.log.read_text()[-3000:]
        await sender
        await hub.start()
        found = await _wait_stored(proc_settings, accepted)
        assert set(accepted) <= set(found) and set(found.values()) == {1}
    finally:
        hub.stop()
