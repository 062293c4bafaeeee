"""The mail parser's worker processes (``connectors.email.parse_pool``): the same mails as
parsing in the hub's process, workers only while a watcher runs, and a mail that kills
its worker is delivered as text while the others of its chunk are parsed as usual.

The parse function handed to the pool here is ``parse_mail`` that notes the process it
ran in (``X-Parsed-By`` in ``headers``), so a test can tell the workers' answers from
the hub process's, and that stops a worker (never the test's process) at a mail saying
``STOP-THE-PARSER``, as a crash of the interpreter would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from types import MappingProxyType

import pytest

from connectors.email.parse_pool import MailParser
from connectors.email.payloads import ParsedMail, parse_mail
from hub.errors import PayloadRejected
from tests.connectors.email.test_corpus import corpus

HERE = str(os.getpid())
STOP = b"STOP-THE-PARSER"


def parse_noting_the_process(raw: bytes) -> ParsedMail:
    """``parse_mail``, with the parsing process's id in ``headers``; in a worker, a mail
    saying ``STOP`` ends the process at once."""
    if STOP in raw and multiprocessing.parent_process() is not None:
        os._exit(70)
    parsed = parse_mail(raw)
    return dataclasses.replace(
        parsed, headers=MappingProxyType({**parsed.headers, "X-Parsed-By": str(os.getpid())})
    )


def parsed_by(parsed: ParsedMail) -> str:
    return parsed.headers["X-Parsed-By"]


def as_parse_mail_gives(parsed: ParsedMail) -> ParsedMail:
    """The mail without the note of its process."""
    headers = {k: v for k, v in parsed.headers.items() if k != "X-Parsed-By"}
    return dataclasses.replace(parsed, headers=MappingProxyType(headers))


def mail(number: int, text: str = "Guten Tag") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Kundin {number} <kundin{number}@firma.example>"
    msg["To"] = "service@nordlicht.example"
    msg["Subject"] = f"Zählerstand {number}"
    msg["Message-ID"] = f"<pool-{number}@firma.example>"
    msg.set_content(f"{text},\nmein Zählerstand ist {4711 + number}.\n\n> Zitat")
    msg.add_attachment(
        b"Z\xe4hler;Stand\r\n1;4711\r\n", maintype="text", subtype="csv", filename="zähler.csv"
    )
    return bytes(msg)


async def until_the_workers_parse(parser: MailParser) -> None:
    """Until a mail is parsed in a worker (they start in the background; the fork server
    imports the parser first, which a busy machine makes slow)."""
    deadline = time.monotonic() + 120
    while parsed_by(await parser.parse(mail(0))) == HERE:
        assert time.monotonic() < deadline, "no worker answered within 120 s"
        await asyncio.sleep(0.05)


async def test_the_workers_parse_the_corpus_as_the_hub_process_does() -> None:
    files = sorted(corpus("zammad").glob("*.box"))
    for sub in ("rfc", "thirdparty", "malformed"):
        files += sorted(corpus("stalwart", sub).glob("*.eml"))
    raws = [path.read_bytes() for path in files]
    raws += [raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in raws]  # and as CRLF
    parser = MailParser(2, parse_noting_the_process)
    async with parser.in_use():
        await until_the_workers_parse(parser)
        pooled = await asyncio.gather(*(parser.parse(raw) for raw in raws))  # as a watcher's batch does
    workers = {parsed_by(parsed) for parsed in pooled}
    assert HERE not in workers and 1 <= len(workers) <= 2
    for path, raw, parsed in zip(files + files, raws, pooled, strict=True):
        # every field, the attachments' bytes included
        assert as_parse_mail_gives(parsed) == parse_mail(raw), path.name


async def test_with_no_workers_mail_is_parsed_in_the_hub_process() -> None:
    before = set(multiprocessing.active_children())
    parser = MailParser(0, parse_noting_the_process)
    async with parser.in_use():
        parsed = await asyncio.gather(*(parser.parse(mail(n)) for n in range(5)))
    assert {parsed_by(p) for p in parsed} == {HERE}
    assert [as_parse_mail_gives(p) for p in parsed] == [parse_mail(mail(n)) for n in range(5)]
    assert set(multiprocessing.active_children()) <= before


async def test_the_workers_run_until_the_last_watcher_stops() -> None:
    before = set(multiprocessing.active_children())
    parser = MailParser(2, parse_noting_the_process)
    async with parser.in_use():  # two mailboxes' watchers
        async with parser.in_use():
            await until_the_workers_parse(parser)
        assert parsed_by(await parser.parse(mail(1))) != HERE, "one watcher still runs: so do the workers"
        workers = set(multiprocessing.active_children()) - before
        assert workers
    deadline = time.monotonic() + 60
    while any(worker.is_alive() for worker in workers):
        assert time.monotonic() < deadline, "the workers outlived the last watcher"
        await asyncio.sleep(0.05)
    assert parsed_by(await parser.parse(mail(2))) == HERE, "outside a watcher: in the hub's process"


@pytest.mark.parametrize("workers", [1, 2])
async def test_a_mail_that_kills_its_worker_is_delivered_as_text_and_no_other_is_lost(workers: int) -> None:
    parser = MailParser(workers, parse_noting_the_process)
    async with parser.in_use():
        await until_the_workers_parse(parser)
        batch = [mail(n, "Hallo " + STOP.decode() if n == 3 else "Guten Tag") for n in range(1, 9)]
        parsed = await asyncio.gather(*(parser.parse(raw) for raw in batch))  # one chunk per worker
        for n, (raw, got) in enumerate(zip(batch, parsed, strict=True), start=1):
            if n == 3:  # as a mail whose structure cannot be read: its whole source as text
                assert got.degraded and STOP.decode() in got.text and "Zählerstand" in got.text
            else:
                assert parsed_by(got) != HERE and as_parse_mail_gives(got) == parse_mail(raw)
        await until_the_workers_parse(parser)  # a new pool took over
        again = await asyncio.gather(*(parser.parse(mail(n)) for n in range(10, 14)))
        assert all(parsed_by(p) != HERE and not p.degraded for p in again)


async def test_what_the_parser_raises_is_raised_where_the_mail_was_asked_for() -> None:
    parser = MailParser(1, parse_noting_the_process)
    async with parser.in_use():
        await until_the_workers_parse(parser)
        with pytest.raises(PayloadRejected):
            await parser.parse(b"")
        assert parsed_by(await parser.parse(mail(5))) != HERE, "and the workers go on"


# A hub process with running workers, that says READY and waits to be killed.
HUB = """
import asyncio
from connectors.email.parse_pool import MailParser

async def main():
    parser = MailParser(2)
    async with parser.in_use():
        while (await parser.parse(b"Subject: x\\n\\nhi")).subject != "x" or parser._pool() is None:
            await asyncio.sleep(0.05)
        await asyncio.gather(*(parser.parse(b"Subject: x\\n\\nhi") for _ in range(10)))
        print("READY", flush=True)
        await asyncio.sleep(3600)

if __name__ == "__main__":
    asyncio.run(main())
"""


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit():
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = {pid}
    while grown := {p for p, parent in parents.items() if parent in found and p not in found}:
        found |= grown
    return found - {pid}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
async def test_the_workers_end_with_a_hub_killed_outright() -> None:
    root = Path(__file__).parents[3]
    with subprocess.Popen([sys.executable, "-c", HUB], cwd=root, stdout=subprocess.PIPE, text=True) as hub:
        try:
            assert hub.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(hub.stdout.readline), 120)
            assert line.strip() == "READY"
            below = descendants(hub.pid)
            assert len(below) >= 3, below  # the fork server and the workers (and the resource tracker)
        finally:
            hub.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 60
    while left := {pid for pid in below if Path(f"/proc/{pid}").exists()}:
        assert time.monotonic() < deadline, f"outlived the hub: {left}"
        await asyncio.sleep(0.1)


def test_the_parsers_processes_start_without_the_hub() -> None:
    """The fork server imports this module, and every worker starts from it: importing
    the store, the queue and the rules engine there cost a second of CPU per start."""
    script = (
        "import sys, connectors.email.parse_pool;"
        " print(sorted(m for m in ('hub.store', 'hub.queue', 'sqlalchemy', 'rule_engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
