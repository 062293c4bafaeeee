"""Running ``contacthub serve`` as a real process, for crash and shutdown tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.waits import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def release_env(code: Path | None) -> dict[str, str] | None:
    """The environment that runs ``code``'s packages (None: this checkout's). PYTHONPATH
    comes before the editable install's finder, which only answers what sys.path does not."""
    if code is None:
        return None
    return {**os.environ, "PYTHONPATH": str(code)}


class HubProcess:
    """``contacthub serve`` with ``config`` in ``workdir``; ``code``: a folder whose
    ``hub`` package runs instead of this checkout's (another release's)."""

    def __init__(self, config: Path, workdir: Path, code: Path | None = None) -> None:
        self.config = config
        self.workdir = workdir
        self.code = code
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "hub.log"

    async def start(self, timeout: float = 30) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hub.cli",
                    "--config",
                    str(self.config),
                    "serve",
                    "--port",
                    str(self.port),
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=release_env(self.code),
            )
        proc = self.proc
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"hub exited with {proc.returncode}:\n{self.log.read_text()}")
                try:
                    async with session.get(self.url + "/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(
                healthy,
                timeout=timeout,
                interval=0.05,
                what=lambda: f"/healthz of the hub in {self.workdir}:\n{self.log.read_text()}",
            )

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 30) -> int:
        proc = self.proc
        assert proc is not None
        try:
            await eventually(lambda: proc.poll() is not None, timeout=timeout, what="the hub to exit")
        except AssertionError:
            proc.kill()
            raise
        return proc.returncode

    def stop(self) -> None:
        """Kill the hub; then, unless a failure is already on its way out, fail if it
        logged an internal error (a 500): the log scan of tests/conftest.py, for a hub in
        a process of its own."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if sys.exc_info()[0] is None and self.log.exists():
            errors = [
                line for line in self.log.read_text(errors="replace").splitlines() if "internal error" in line
            ]
            assert not errors, f"the hub in {self.workdir} logged internal errors:\n" + "\n".join(errors[:10])
