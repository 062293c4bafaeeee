"""Running ``contacthub serve`` as a real process, for crash and shutdown tests."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HubProcess:
    def __init__(self, config: Path, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
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
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log.read_text()}")
                try:
                    async with session.get(self.url + "/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"hub did not answer /healthz in {timeout}s:\n{self.log.read_text()}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float = 30) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("hub did not exit in time")
            await asyncio.sleep(0.05)
        return self.proc.returncode

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
