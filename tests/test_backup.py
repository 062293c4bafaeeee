"""Backup and restore on both backends, as an operator runs them (the CLI in a process of
its own): a hub with customers, conversations and files; `contacthub backup` into a new
folder; a fresh installation (an empty database, an empty file store) restored from it
holds the same customers, conversations, messages and files. A damaged backup and a
database that is not empty are refused before anything is written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from hub.keys import BLOBS, QUEUE, STORE
from hub.model import Attachment
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import attachments, conversations, customers, messages
from tests.conftest import drop_backend, make_empty_settings, make_settings, running_hub, sign_in_all
from tests.helpers import inbound
from tests.test_cli import run as cli
from tests.waits import eventually

MESSAGES = 24


async def contents(settings: Settings) -> dict[str, Any]:
    """What the test compares: every customer, conversation, message and file."""
    store = Store(settings.database)
    try:
        async with store.read() as conn:

            async def rows(*columns: Any) -> list[tuple[Any, ...]]:
                return sorted(tuple(r) for r in await conn.execute(sa.select(*columns)))

            return {
                "customers": await rows(customers.c.id, customers.c.name),
                "conversations": await rows(
                    conversations.c.id, conversations.c.customer_id, conversations.c.status
                ),
                "messages": await rows(messages.c.id, messages.c.conversation_id, messages.c.text),
                "attachments": await rows(attachments.c.message_id, attachments.c.sha256, attachments.c.size),
            }
    finally:
        await store.close()


def files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_a_backup_restores_into_a_fresh_installation(backend: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = make_settings(tmp_path / "a", backend)
    try:
        async with running_hub(source) as hub:
            for n in range(MESSAGES):
                data = f"Rechnung {n}\n".encode() * (50 + n)
                sha = await hub.app[BLOBS].put(data)
                msg = inbound(f"bk-{n}", f"kunde{n % 7}@example.com", text=f"Nachricht {n}: Zählerstand")
                files_ = (
                    Attachment(sha256=sha, filename=f"r{n}.txt", content_type="text/plain", size=len(data)),
                )
                await hub.app[QUEUE].append(replace(msg, attachments=files_))

            async def stored() -> bool:
                async with hub.app[STORE].read() as conn:
                    return await conn.scalar(sa.select(sa.func.count()).select_from(messages)) == MESSAGES

            await eventually(stored, what="every message stored")
        before = await contents(source)
        assert len(before["customers"]) == 7 and len(before["attachments"]) == MESSAGES

        made = cli(tmp_path / "a", "backup", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stderr
        assert "checked" in made.stdout and f"{MESSAGES} messages" in made.stdout
        again = cli(tmp_path / "a", "backup", str(tmp_path / "backup"))
        assert again.returncode == 2 and "not an empty folder" in again.stderr

        # the fresh installation: an empty database (PostgreSQL: the same schema, emptied) and file store
        if backend == "embedded":
            target = make_empty_settings(tmp_path / "b", backend)
        else:
            target = make_settings(
                tmp_path / "b",
                backend,
                **{
                    "database.url": source.database.url,
                    "database.schema": source.database.schema_,
                    "queue.key_prefix": source.queue.key_prefix,  # cleared with the source's
                },
            )
            engine = create_async_engine(source.database.url)
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA "{source.database.schema_}" CASCADE'))
            await engine.dispose()

        # a damaged file is found before anything is restored
        blob = next(p for p in (tmp_path / "backup" / "blobs").rglob("*") if p.is_file())
        good = blob.read_bytes()
        blob.write_bytes(good[:-1] + b"X")
        refused = cli(tmp_path / "b", "restore", str(tmp_path / "backup"))
        assert refused.returncode == 2 and "damaged" in refused.stderr
        blob.write_bytes(good)

        restored = cli(tmp_path / "b", "restore", str(tmp_path / "backup"))
        assert restored.returncode == 0, restored.stderr
        assert await contents(target) == before
        assert files(target.blobs.path) == files(source.blobs.path)
        twice = cli(tmp_path / "b", "restore", str(tmp_path / "backup"))
        assert twice.returncode == 2 and "not empty" in twice.stderr

        # the restored installation serves: its conversations are there over the API
        async with running_hub(target) as hub:
            roles = await sign_in_all(hub)
            resp = await hub.client.get(
                "/api/v1/conversations?status=open&limit=50", headers=roles["supervisor"]
            )
            assert resp.status == 200, await resp.text()
            shown = {c["id"] for c in (await resp.json())["items"]}
            assert shown == {c[0] for c in before["conversations"]}
    finally:
        await drop_backend(source)
