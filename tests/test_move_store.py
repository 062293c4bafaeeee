"""`contacthub move-store` as an operator runs it: an embedded installation (10,000
conversations with their messages and files, messages still waiting on the queue, a dead
letter) moves to PostgreSQL and Redis; every table compares equal, the hub then serves it
on the new store (the waiting messages are stored, search finds the words, the dead
letter is there), and a second move, or one while the hub serves, is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.keys import QUEUE, STORE
from hub.queue.codec import encode_message
from hub.queue.sql import SqlQueue
from hub.store.blobs import FolderBlobStore
from hub.store.engine import Store
from hub.store.tables import attachments, conversations, customers, dead_letters, messages, router_fence
from tests.conftest import (
    PG_URL,
    REDIS_URL,
    drop_backend,
    make_empty_settings,
    make_settings,
    running_hub,
    sign_in_all,
)
from tests.helpers import inbound
from tests.test_backup import contents
from tests.test_cli import run as cli
from tests.waits import eventually

pytestmark = pytest.mark.slow
CONVERSATIONS = 10_000
CUSTOMERS = 2_000
WAITING = 5


async def fill(store: Store, blobs: FolderBlobStore) -> None:
    """The installation's history, written in bulk: customers, conversations, one message
    each with a file (100 different files), and the queue's waiting and dead entries."""
    now = datetime.now(UTC) - timedelta(days=1)
    hashes = [await blobs.put(f"Zählerfoto {n}\n".encode() * (20 + n)) for n in range(100)]
    people = [
        {
            "id": str(uuid.uuid4()),
            "name": f"Kundin {n}",
            "tier": "standard",
            "attributes": {"n": n},
            "created_at": now,
            "updated_at": now,
        }
        for n in range(CUSTOMERS)
    ]
    convs, msgs, files = [], [], []
    for n in range(CONVERSATIONS):
        conv_id, msg_id, customer = str(uuid.uuid4()), str(uuid.uuid4()), people[n % CUSTOMERS]["id"]
        at = now + timedelta(seconds=n)
        convs.append(
            {
                "id": conv_id,
                "customer_id": customer,
                "channel": "api",
                "thread_key": f"t{n}",
                "status": "closed",
                "open_key": None,
                "needs_routing": False,
                "message_count": 1,
                "opened_at": at,
                "last_message_at": at,
                "closed_at": at,
                "route": {"tags": ["alt"]},
            }
        )
        msgs.append(
            {
                "id": msg_id,
                "conversation_id": conv_id,
                "customer_id": customer,
                "channel": "api",
                "external_id": f"old-{n}",
                "direction": "in",
                "kind": "message",
                "sender_kind": "email",
                "sender_value": f"k{n % CUSTOMERS}@example.com",
                "text": f"Zählerstand {n} Wärmepumpe",
                "meta": {},
                "received_at": at,
                "stored_at": at,
            }
        )
        sha = hashes[n % 100]
        files.append(
            {
                "message_id": msg_id,
                "sha256": sha,
                "filename": f"foto{n}.txt",
                "content_type": "text/plain",
                "size": len(f"Zählerfoto {n % 100}\n".encode()) * (20 + n % 100),
            }
        )
    async with store.write() as conn:
        for table, rows in (
            (customers, people),
            (conversations, convs),
            (messages, msgs),
            (attachments, files),
        ):
            for start in range(0, len(rows), 2000):
                await conn.execute(sa.insert(table), rows[start : start + 2000])
        await conn.execute(
            sa.insert(dead_letters).values(
                stream="ingest", payload="{}", attempts=5, last_error="kaputt", created_at=now.timestamp()
            )
        )
    queue = SqlQueue(store, "ingest", encode_message, dead_letter_after=5)
    for n in range(WAITING):
        await queue.append(inbound(f"waiting-{n}", f"neu{n}@example.com", text=f"Noch nicht gespeichert {n}"))
    await queue.close()


async def test_an_embedded_installation_moves_to_postgresql_and_redis(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    source = make_settings(tmp_path / "a", "embedded", **{"ingest.workers": 0})
    target = make_empty_settings(tmp_path / "b", "scaleout", **{"blobs.path": str(tmp_path / "b" / "files")})
    store = Store(source.database)
    try:
        await fill(store, FolderBlobStore(source.blobs.path))
    finally:
        await store.close()
    before = await contents(source)
    move = [
        "move-store",
        "--to",
        PG_URL,
        "--schema",
        str(target.database.schema_),
        "--redis",
        REDIS_URL,
        "--key-prefix",
        target.queue.key_prefix,
        "--blobs",
        str(target.blobs.path),
    ]
    try:
        done = cli(tmp_path / "a", *move)
        assert done.returncode == 0, done.stderr
        assert "moved and compared" in done.stdout and f'schema = "{target.database.schema_}"' in done.stdout
        again = cli(tmp_path / "a", *move)
        assert again.returncode == 2 and "not empty" in again.stderr

        async with running_hub(target) as hub:

            async def stored() -> bool:
                async with hub.app[STORE].read() as conn:
                    found = await conn.scalar(sa.select(sa.func.count()).select_from(messages))
                return found == CONVERSATIONS + WAITING

            await eventually(stored, timeout=60, what="the waiting messages stored on the new store")
            assert await hub.app[QUEUE].dead_count() == 1
            roles = await sign_in_all(hub)
            resp = await hub.client.get("/api/v1/search?q=W%C3%A4rmepumpe", headers=roles["supervisor"])
            assert resp.status == 200, await resp.text()
            assert len((await resp.json())["items"]) > 0
            one = await hub.client.get(
                f"/api/v1/conversations/{before['messages'][0][1]}", headers=roles["supervisor"]
            )
            assert one.status == 200 and (await one.json())["messages"][0]["attachments"]
        after = await contents(target)
        assert set(before["customers"]) <= set(after["customers"])
        assert set(before["conversations"]) <= set(after["conversations"])
        assert (
            set(before["messages"]) <= set(after["messages"])
            and len(after["messages"]) == CONVERSATIONS + WAITING
        )
        assert after["attachments"] == before["attachments"]
        copied = {p.name for p in target.blobs.path.rglob("*") if p.is_file()}
        assert copied == {sha for _, sha, _ in before["attachments"]}

        # a hub that serves is not moved from
        store = Store(source.database)
        async with store.write() as conn:
            await conn.execute(sa.delete(router_fence))
            await conn.execute(
                sa.insert(router_fence).values(
                    name="router",
                    token=1,
                    holder="hub-1",
                    expires_at=datetime.now(UTC) + timedelta(minutes=5),
                )
            )
        await store.close()
        busy = cli(tmp_path / "a", "move-store", "--to", PG_URL, "--schema", "t_never")
        assert busy.returncode == 2 and "the hub is serving" in busy.stderr
    finally:
        await drop_backend(target)
