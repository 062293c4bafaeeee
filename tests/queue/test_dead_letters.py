"""Dead letters on both backends: the queue lists, shows and replays them; the CLI does it
as an operator would; readiness warns and a metric counts while any exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hub.keys import QUEUE
from hub.model import Address, AddressKind, Attachment, Channel, InboundMessage, ThreadHint
from hub.queue.base import IngestQueue
from hub.queue.codec import encode_message
from hub.settings import Settings
from tests.conftest import HubClient
from tests.helpers import T0
from tests.queue.test_contract import opened
from tests.waits import eventually

SECRET = "Meine Kontonummer ist DE02 1203 0000 0000 2020 51"


async def dead_letter(queue: IngestQueue[bytes], payload: bytes, settings: Settings, error: str) -> None:
    await queue.append(payload)
    for _ in range(settings.queue.dead_letter_after):
        (claimed,) = await queue.claim("c", 1, 500)
        await queue.retry_later(claimed.id, error)


async def test_a_dead_letter_is_listed_shown_and_replayed_with_attempts_reset(settings: Settings) -> None:
    async with opened(settings) as queue:
        await dead_letter(queue, b"first", settings, "ValueError('bad')")
        await dead_letter(queue, b"second", settings, "KeyError('x')")
        listed = await queue.dead_letters(10)
        assert [d.payload for d in listed] == [b"first", b"second"]
        assert [d.error for d in listed] == ["ValueError('bad')", "KeyError('x')"]
        assert all(d.attempts == settings.queue.dead_letter_after and d.at > 0 for d in listed)
        assert await queue.dead_letter(listed[1].id) == listed[1]
        assert await queue.dead_letter("12345-0") is None and await queue.dead_letter("nonsense") is None

        new_id = await queue.replay(listed[0].id)
        assert new_id is not None
        assert await queue.replay(listed[0].id) is None  # once only
        assert await queue.dead_count() == 1
        (claimed,) = await queue.claim("c", 10, 500)
        assert (claimed.id, claimed.payload, claimed.attempts) == (new_id, b"first", 0)


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(tmp_path / "contacthub.toml")
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "--config", config, "dead-letters", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.long
async def test_the_cli_lists_shows_without_the_body_and_replays(settings: Settings, tmp_path: Path) -> None:
    msg = InboundMessage(
        channel=Channel.EMAIL,
        external_id="<m1@example.com>",
        sender=Address(AddressKind.EMAIL, "erika.mustermann@example.com"),
        recipient=Address(AddressKind.EMAIL, "support@firma.example"),
        thread_hint=ThreadHint(key=None),
        subject="Konto",
        text=SECRET,
        attachments=(Attachment(sha256="0" * 64, filename="a.pdf", content_type="application/pdf", size=9),),
        received_at=T0,
    )
    async with opened(settings, "ingest") as queue:
        await dead_letter(queue, encode_message(msg), settings, "IntegrityError('boom')\nsecond line")
        await dead_letter(queue, b"not json", settings, "ValueError('undecodable')")
        dead = await queue.dead_letters(10)

    listed = cli(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 2
    assert dead[0].id in lines[0] and "email <m1@example.com>" in lines[0] and "IntegrityError" in lines[0]
    assert "unreadable" in lines[1]

    shown = cli(tmp_path, "show", dead[0].id)
    assert shown.returncode == 0, shown.stderr
    assert "second line" in shown.stdout and "application/pdf 9 bytes" in shown.stdout
    assert f"{len(SECRET)} characters" in shown.stdout
    assert SECRET not in shown.stdout and "Konto" not in shown.stdout
    assert "erika.mustermann@example.com" not in shown.stdout  # masked
    assert "not a readable message" in cli(tmp_path, "show", dead[1].id).stdout

    missing = cli(tmp_path, "show", "999999")
    assert missing.returncode == 2 and "no dead letter 999999" in missing.stderr

    replayed = cli(tmp_path, "replay", dead[0].id)
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {dead[0].id}" in replayed.stdout
    assert len(cli(tmp_path, "list").stdout.splitlines()) == 1
    assert cli(tmp_path, "replay", "--all").returncode == 0
    assert cli(tmp_path, "list").stdout.strip() == "no dead letters in queue ingest"


async def test_readiness_warns_and_the_metric_counts_while_dead_letters_exist(
    hub: HubClient, settings: Settings
) -> None:
    queue = hub.app[QUEUE]
    resp = await hub.client.get("/readyz")
    assert resp.status == 200 and "warnings" not in await resp.json()

    async with opened(settings, "ingest") as raw:
        await raw.append(b"not a message")  # the hub's workers retry it, then dead-letter it
    await eventually(queue.dead_count, timeout=60, what="the entry dead-lettered")
    resp = await hub.client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert body["warnings"] == ["1 dead letters in the ingest queue: see `contacthub dead-letters list`"]
    metrics = await (await hub.client.get("/metrics")).text()
    assert 'contacthub_queue_dead_letters{queue="ingest"} 1.0' in metrics
