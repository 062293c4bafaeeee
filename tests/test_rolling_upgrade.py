"""A rolling upgrade, live (README: Rolling upgrades): the release before the newest
migration serves on PostgreSQL and Redis under a steady load of API messages; this
release's ``contacthub migrate`` runs meanwhile (expand); a process of this release
joins on the same database and Redis stream; the old process stops. Every accepted
message is stored exactly once, and nothing is a dead letter.

The old release is this repository's own history: the commit before the one that added
the newest migration, unpacked with ``git archive`` and run by the same interpreter."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from hub.settings import Settings
from hub.store.engine import Store
from hub.tokens import TokenService
from tests.conftest import drop_backend, make_empty_settings, require_services
from tests.hubproc import HubProcess, release_env
from tests.test_crash import _wait_stored
from tests.waits import eventually

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
VERSIONS = "hub/store/migrations/versions"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def previous_release(into: Path) -> str:
    """Unpack the code as it was before the newest migration; its commit. The history is
    where the earlier release comes from: a copy without it (an exported tree, a shallow
    clone) cannot run this test, and says so."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True)
    if inside.returncode != 0:
        pytest.skip("not a git clone: no earlier release to roll from")
    if _git("rev-parse", "--is-shallow-repository") == "true":
        pytest.skip("a shallow clone holds no earlier release")
    newest = sorted(p.name for p in (ROOT / VERSIONS).glob("[0-9]*.py"))[-1]
    added = _git("log", "--diff-filter=A", "--format=%H", "-1", "--", f"{VERSIONS}/{newest}")
    if not added:
        pytest.skip(f"{newest} is not committed yet: the release before it is not known")
    before = f"{added}^"
    into.mkdir()
    archive = subprocess.run(["git", "archive", before], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    assert not (into / VERSIONS / newest).exists()
    imported = subprocess.run(
        [sys.executable, "-c", "import hub; print(hub.__file__)"],
        env=release_env(into),
        cwd=into.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert imported.startswith(str(into)), f"the old release's processes would run {imported}"
    return _git("rev-parse", "--short", before)


def migrate(config: Path, code: Path | None) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", str(config), "migrate"],
        cwd=config.parent,
        env=release_env(code),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


class Load:
    """API messages, one at a time per lane, each retried until accepted, to whichever
    processes are in ``targets``."""

    def __init__(self, token: str) -> None:
        self.headers = {"Authorization": f"Bearer {token}"}
        self.targets: list[str] = []
        self.accepted: list[str] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await asyncio.gather(*(self._lane(session, lane) for lane in range(4)))

    async def _lane(self, session: aiohttp.ClientSession, lane: int) -> None:
        n = 0
        while not self._stop.is_set():
            ext = f"roll-{lane}-{n}"
            n += 1
            while True:
                url = self.targets[n % len(self.targets)]
                body = {
                    "external_id": ext,
                    "from": {"kind": "email", "value": f"r{lane}@example.com"},
                    "text": ext,
                }
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.post(
                        url + "/api/v1/messages", json=body, headers=self.headers
                    ) as resp:
                        if resp.status == 202:
                            self.accepted.append(ext)
                            break
                await asyncio.sleep(0.05)

    async def more(self, count: int) -> None:
        goal = len(self.accepted) + count
        await eventually(lambda: len(self.accepted) >= goal, timeout=60, what=f"{count} more accepted")

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture
async def empty_scaleout(tmp_path: Path) -> AsyncIterator[Settings]:
    require_services()
    settings = make_empty_settings(tmp_path, "scaleout", **{"log.level": "WARNING"})
    yield settings
    await drop_backend(settings)


async def test_a_release_rolls_in_while_the_one_before_serves(
    empty_scaleout: Settings, tmp_path: Path
) -> None:
    settings, config = empty_scaleout, tmp_path / "contacthub.toml"
    old_code = tmp_path / "previous-release"
    release = previous_release(old_code)
    migrate(config, old_code)  # the old release's schema
    store = Store(settings.database)
    try:
        _, token = await TokenService(store).create("rolling upgrade")
    finally:
        await store.close()
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = HubProcess(config, tmp_path / "old", code=old_code)
    new = HubProcess(config, tmp_path / "new")
    load = Load(token)
    try:
        await old.start()
        load.targets = [old.url]
        sending = asyncio.create_task(load.run())
        await load.more(100)
        migrate(config, None)  # expand, while the old release serves
        await load.more(100)
        await new.start()  # the roll: both releases on one database and one Redis stream
        load.targets = [old.url, new.url]
        await load.more(200)
        old.signal(signal.SIGTERM)
        assert await old.wait_exit() == 0
        load.targets = [new.url]
        await load.more(100)
        load.stop()
        await sending
        found = await _wait_stored(settings, load.accepted)
        lost = [ext for ext in load.accepted if ext not in found]
        doubled = [ext for ext, n in found.items() if n > 1]
        print(
            f"\nrolling upgrade from {release}: {len(load.accepted)} accepted,"
            f" lost {len(lost)}, doubled {len(doubled)}"
        )
        assert (lost, doubled) == ([], [])
        async with aiohttp.ClientSession() as session, session.get(new.url + "/readyz") as ready:
            body = await ready.json()
        assert ready.status == 200 and "warnings" not in body, body  # no dead letters
    finally:
        load.stop()
        for hub in (old, new):
            if hub.proc is not None and hub.proc.poll() is None:
                hub.proc.kill()
                hub.proc.wait()
