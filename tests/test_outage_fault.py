"""The fault test: two hub processes on PostgreSQL + Redis under a steady load of API
messages, sent as a provider sends them (retried until accepted). PostgreSQL is stopped
cleanly (``pg_ctl stop -m fast``) and by crash (``-m immediate``) and started again, then
Redis is killed and restarted (AOF on). Afterwards: nothing lost, nothing stored twice,
no 500, no dead letter, and what was accepted before each return is stored within 5 s
of it (the workers retry at most 2 s apart), long before the stale-entry takeover (ten
minutes here) could have stored it.

PostgreSQL is a private cluster the test makes with ``initdb`` and runs with ``pg_ctl`` as
the ``postgres`` user; Redis a private ``redis-server``; both on free ports.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import messages
from hub.tokens import TokenService
from tests.conftest import make_settings
from tests.hubproc import HubProcess, free_port
from tests.test_redis_restart import PrivateRedis
from tests.waits import eventually

pytestmark = pytest.mark.slow
BACK_WITHIN_S = 5  # what was accepted is stored this soon after the service returns
NO_TAKEOVER_MS = 600_000


class PrivatePostgres:
    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found or shutil.which("runuser") is None:
            pytest.fail("PostgreSQL server binaries (pg_ctl, initdb) or runuser are not installed")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="contacthub-pg-"))
        self.root.chmod(0o755)  # the postgres user works in here
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            cwd=self.root,
            timeout=120,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            pg_ctl = ["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl")]
            subprocess.run(
                [*pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0:
        pytest.skip("runs the private cluster as the postgres user: needs root")
    pg = PrivatePostgres()
    pg.init()
    pg.start()
    yield pg
    pg.remove()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    if redis.proc and redis.proc.poll() is None:
        redis.kill()


class Load:
    """Providers sending messages one after another, each retried until it gets a 202."""

    def __init__(self, urls: list[str], token: str, senders: int = 8) -> None:
        self.urls = urls
        self.headers = {"Authorization": f"Bearer {token}"}
        self.senders = senders
        self.accepted: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._provider(session, k) for k in range(self.senders)))

    async def _provider(self, session: aiohttp.ClientSession, k: int) -> None:
        hubs = itertools.cycle(self.urls[k % len(self.urls) :] + self.urls[: k % len(self.urls)])
        for i in itertools.count():
            if self.stopping.is_set():
                return
            ext = f"p{k}-{i}"
            body = {"external_id": ext, "from": {"kind": "phone", "value": f"+49151000{k:04d}"}, "text": ext}
            while True:  # as a provider does: the same message again until it is accepted
                try:
                    async with session.post(
                        next(hubs) + "/api/v1/messages", json=body, headers=self.headers
                    ) as r:
                        self.statuses[r.status] += 1
                        if r.status == 202:
                            self.accepted.append(ext)
                            break
                except (aiohttp.ClientError, TimeoutError):
                    self.statuses[0] += 1
                await asyncio.sleep(0.05)  # a provider's retry pace, not a wait for anything


async def _stored(settings: Settings) -> Counter[str]:
    store = Store(settings.database)
    try:
        async with store.read() as conn:
            rows = await conn.execute(sa.select(messages.c.external_id))
            return Counter(r.external_id for r in rows)
    finally:
        await store.close()


async def _all_stored(settings: Settings, wanted: list[str], what: str) -> None:
    missing: list[str] = []

    async def none_missing() -> bool:
        nonlocal missing
        try:
            stored = await _stored(settings)
            missing = [e for e in wanted if e not in stored]
        except Exception as exc:  # the store itself still coming up
            missing = [repr(exc)]
        return not missing

    await eventually(
        none_missing,
        timeout=BACK_WITHIN_S,
        interval=0.2,
        what=lambda: f"{what}: {len(missing)} accepted messages not stored, e.g. {missing[:5]}",
    )


async def _grow(load: Load, by: int) -> None:
    """Let the load run until ``by`` more messages were accepted (or some retries failed)."""
    target = len(load.accepted) + by
    await eventually(
        lambda: len(load.accepted) >= target,
        timeout=60,
        interval=0.05,
        what=lambda: f"{by} more accepted; the load stalled: {load.statuses}",
    )


@pytest.fixture
async def hubs(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> AsyncIterator[tuple[Settings, list[HubProcess], str]]:
    settings = make_settings(
        tmp_path,
        "scaleout",
        **{
            "database.url": private_pg.url(),
            "queue.url": f"redis://127.0.0.1:{private_redis.port}/0",
            "queue.stale_after_ms": NO_TAKEOVER_MS,
            "log.level": "WARNING",
        },
    )
    store = Store(settings.database)
    await store.migrate()
    _, token = await TokenService(store).create("fault-test")
    await store.close()
    procs = []
    for n in range(2):
        workdir = tmp_path / f"hub{n}"
        workdir.mkdir()
        proc = HubProcess(tmp_path / "contacthub.toml", workdir)
        await proc.start()
        procs.append(proc)
    yield settings, procs, token
    for proc in procs:
        proc.stop()


@pytest.mark.long
async def test_postgres_stopped_and_crashed_and_redis_restarted_under_load(
    hubs: tuple[Settings, list[HubProcess], str], private_pg: PrivatePostgres, private_redis: PrivateRedis
) -> None:
    settings, procs, token = hubs
    load = Load([p.url for p in procs], token)
    sending = asyncio.create_task(load.run())
    try:
        await _grow(load, 200)
        for mode in ("fast", "immediate"):
            await asyncio.to_thread(private_pg.stop, mode)
            await _grow(load, 100)  # accepted into Redis while PostgreSQL is away
            await asyncio.to_thread(private_pg.start)
            await _all_stored(settings, list(load.accepted), f"after PostgreSQL stopped -m {mode}")
            await _grow(load, 100)

        await asyncio.to_thread(private_redis.kill)
        refused = load.statuses[503]
        await eventually(  # the load meets the outage: answered 503
            lambda: load.statuses[503] >= refused + 5,
            timeout=30,
            interval=0.05,
            what=lambda: f"503s while Redis was down: {load.statuses}",
        )
        await asyncio.to_thread(private_redis.start)
        await _grow(load, 100)
        await _all_stored(settings, list(load.accepted), "after Redis restarted")
    finally:
        load.stopping.set()
        await asyncio.wait_for(sending, 60)

    await _all_stored(settings, list(load.accepted), "at the end")
    stored = await _stored(settings)
    logs = "\n".join(p.log.read_text()[-3000:] for p in procs)
    assert load.statuses[500] == 0, logs
    assert len(load.accepted) == len(set(load.accepted))
    assert [e for e, n in stored.items() if n > 1] == []
    assert set(load.accepted) <= set(stored)
    client = aioredis.Redis(port=private_redis.port)
    try:
        assert await client.xlen(settings.queue.key_prefix + "dead:ingest") == 0
    finally:
        await client.aclose()
