"""Email throughput benchmark: a real Dovecot, and the hub as its own process watching it.

Two modes, each on both backends:

- ``live``: the hub is up and idling (IMAP IDLE) when N mails are APPENDed from a few
  IMAP sessions at once; the clock runs from the first APPEND until the hub has stored
  every one.
- ``backlog``: an existing support inbox connected for the first time. N mails are in
  the mailbox first (written into Dovecot's maildir, as a delivery agent does), then the
  hub starts; the clock (and the CPU count) runs from the hub's start, start-up
  included, until every mail is stored. (Before issue 32 this never finished at about 2,000 mails.)

Each figure gives mails stored per second and the hub process's CPU time per mail
(Linux), which a busy machine disturbs less than a rate. Each pairing runs ``--rounds``
times; the summary gives the medians, the ratio of scaleout (PostgreSQL + Redis) to
embedded, and the ratio to the goal of 600 mails/s drained on the embedded backend.

    .venv/bin/python bench/mail.py [-n 10000] [--sessions 4] [--rounds 3]
        [--mode live|backlog|both] [--backend embedded|scaleout|both] [--parse-workers N]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its name would hide
# the standard library's email package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from email.message import EmailMessage  # noqa: E402

import sqlalchemy as sa  # noqa: E402

from hub.store.engine import Store  # noqa: E402
from hub.store.tables import messages  # noqa: E402
from tests.conftest import _reachable, drop_backend, make_settings  # noqa: E402
from tests.connectors.email.dovecot import Dovecot, running_dovecot  # noqa: E402
from tests.hubproc import HubProcess  # noqa: E402

GOAL = 600  # mails/s drained on the embedded backend (issue 32)


def mails(n: int, tag: str) -> list[bytes]:
    out = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"Kunde {i} <kunde{i % 400}@firma.example>"
        msg["To"] = "service@nordlicht.example"
        msg["Subject"] = f"Zählerstand {i}"
        msg["Message-ID"] = f"<bench-{tag}-{i}@firma.example>"
        msg.set_content(f"Guten Tag,\nmein Zählerstand ist {4711 + i}.\n\n> Zitat\n\nViele Grüße")
        out.append(msg.as_bytes())
    return out


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far (Linux); None elsewhere."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float | None:
    """``cpu_seconds`` of a process and of every process below it (the mail parser's
    workers and their fork server, the queue's fsync helper), with what its children
    that ended and were waited for had used (Linux); None elsewhere."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    tree, total = {pid}, 0.0
    while grown := {p for p, parent in parents.items() if parent in tree and p not in tree}:
        tree |= grown
    for member in tree:
        fields = _stat(member)
        if fields is not None:
            total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total if pid in parents else None


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (Linux); None elsewhere."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


@dataclass(frozen=True)
class Figure:
    rate: float  # mails stored per second
    cpu_ms: float | None  # the hub process's CPU time per mail
    tree_cpu_ms: float | None  # with the processes it started (parser workers, fsync helper)

    def __str__(self) -> str:
        cpu = f", {self.cpu_ms:.2f} ms CPU each" if self.cpu_ms is not None else ""
        tree = "" if self.tree_cpu_ms is None else f" ({self.tree_cpu_ms:.2f} ms with its child processes)"
        return f"{self.rate:7.0f} mails/s{cpu}{tree}"


async def stored(store: Store) -> int:
    async with store.read() as conn:
        query = sa.select(sa.func.count()).select_from(messages).where(messages.c.channel == "email")
        return int(await conn.scalar(query) or 0)


async def until_stored(store: Store, n: int, started: float) -> float:
    while (count := await stored(store)) < n:
        if time.perf_counter() - started > 900:
            raise SystemExit(f"only {count} of {n} stored after 900 s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def append_all(dovecot: Dovecot, bodies: list[bytes], sessions: int) -> None:
    async def appender(part: list[bytes]) -> None:
        async with dovecot.session() as imap:  # one login per session, as a relay would
            for raw in part:
                reply = await imap.append(raw, mailbox="INBOX")
                assert reply.result == "OK", reply

    await asyncio.gather(*(appender(bodies[k::sessions]) for k in range(sessions)))


async def measure(
    mode: str, backend: str, n: int, sessions: int, tag: str, parse_workers: int | None = None
) -> Figure:
    bodies = mails(n, tag)
    async with running_dovecot() as dovecot:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            mailbox = {
                "host": "127.0.0.1",
                "port": dovecot.port,
                "security": "none",
                "user": dovecot.user,
                "password": dovecot.password,
            }
            settings = make_settings(
                folder,
                backend,
                **{
                    "log.level": "WARNING",
                    "connectors.email.enabled": True,
                    "connectors.email.mailboxes": {"service": mailbox},
                    **({} if parse_workers is None else {"connectors.email.parse_workers": parse_workers}),
                },
            )
            store = Store(settings.database)
            await store.migrate()
            if mode == "backlog":
                dovecot.deliver_files(bodies)
            hub = HubProcess(folder / "contacthub.toml", folder)
            try:
                started = time.perf_counter()
                await hub.start()
                assert hub.proc is not None
                # backlog: the hub's start-up counts (it drains while it starts); live: from
                # the first APPEND, with the hub up and idling
                cpu_before = 0.0 if mode == "backlog" else cpu_seconds(hub.proc.pid)
                tree_before = 0.0 if mode == "backlog" else tree_cpu_seconds(hub.proc.pid)
                if mode == "live":
                    started = time.perf_counter()
                    await append_all(dovecot, bodies, sessions)
                total = await until_stored(store, n, started)
                cpu_after = cpu_seconds(hub.proc.pid)
                tree_after = tree_cpu_seconds(hub.proc.pid)
            finally:
                hub.stop()
                await store.close()
                await drop_backend(settings)
    cpu_ms = tree_ms = None
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = (cpu_after - cpu_before) * 1000 / n
    if tree_before is not None and tree_after is not None:
        tree_ms = (tree_after - tree_before) * 1000 / n
    return Figure(n / total, cpu_ms, tree_ms)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=4, help="IMAP sessions APPENDing in live mode")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure; the median is printed")
    parser.add_argument("--mode", choices=["live", "backlog", "both"], default="both")
    parser.add_argument("--backend", choices=["embedded", "scaleout", "both"], default="both")
    parser.add_argument(
        "--parse-workers", type=int, help="connectors.email.parse_workers (default: the hub's; 0: in-process)"
    )
    args = parser.parse_args()
    modes = ["live", "backlog"] if args.mode == "both" else [args.mode]
    backends = ["embedded", "scaleout"] if args.backend == "both" else [args.backend]
    if "scaleout" in backends and not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 6379)):
        print("PostgreSQL or Redis not reachable: scaleout skipped")
        backends.remove("scaleout")
    medians: dict[tuple[str, str], float] = {}
    for mode in modes:
        for backend in backends:
            figures = []
            for r in range(args.rounds):
                tag = f"{mode[:4]}{backend[:3]}{r}"
                figure = await measure(mode, backend, args.n, args.sessions, tag, args.parse_workers)
                figures.append(figure)
                print(f"{mode:<7} {backend:<9} {args.n} mails: {figure}", flush=True)
            rate = statistics.median(f.rate for f in figures)
            cpus = [f.cpu_ms for f in figures if f.cpu_ms is not None]
            trees = [f.tree_cpu_ms for f in figures if f.tree_cpu_ms is not None]
            cpu = f", {statistics.median(cpus):.2f} ms CPU each" if cpus else ""
            cpu += f" ({statistics.median(trees):.2f} ms with its child processes)" if trees else ""
            medians[mode, backend] = rate
            goal = f" ({rate / GOAL:.2f} of the {GOAL}/s goal)" if backend == "embedded" else ""
            print(f"{mode:<7} {backend:<9} median over {args.rounds}: {rate:.0f} mails/s{cpu}{goal}\n")
        if (mode, "scaleout") in medians and (mode, "embedded") in medians:
            ratio = medians[mode, "scaleout"] / medians[mode, "embedded"]
            print(f"{mode:<7} scaleout / embedded: {ratio:.2f} (goal: at least 1.00)\n")


if __name__ == "__main__":
    asyncio.run(main())
