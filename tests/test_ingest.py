"""The ingest worker on both backends: dedupe, customer, conversation, store, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
import sqlalchemy as sa

from hub.ingest import IngestWorker
from hub.metrics import Metrics
from hub.model import Channel, InboundMessage, ThreadHint, message_id
from hub.queue import open_queue
from hub.queue.base import IngestQueue
from hub.queue.codec import encode_message
from hub.realtime.bus import InProcessBus
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.ingest_batch import store_batch
from hub.store.tables import conversations, customers, events, identities, messages, outbox
from tests.helpers import inbound


@dataclass
class Rig:
    store: Store
    queue: IngestQueue[InboundMessage]
    bus: InProcessBus
    metrics: Metrics
    settings: Settings

    def worker(self, name: str = "w1", batch: int = 100) -> IngestWorker:
        return IngestWorker(
            store=self.store,
            queue=self.queue,
            bus=self.bus,
            metrics=self.metrics,
            consumer=name,
            batch_size=batch,
            block_ms=50,
            stale_after_ms=30_000,
        )

    async def drain(self, *workers: IngestWorker) -> None:
        """Run workers until the queue is empty."""
        workers = workers or (self.worker(),)
        for _ in range(200):
            claimed = await asyncio.gather(*(self._step(w) for w in workers))
            if not any(claimed) and await self.queue.depth() == 0:
                return
        raise AssertionError("queue did not drain")

    async def _step(self, worker: IngestWorker) -> int:
        claimed = await self.queue.claim(worker._consumer, worker._batch_size, 50)
        if claimed:
            await worker.process(claimed)
        return len(claimed)

    async def count(self, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
        async with self.store.read() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


@pytest.fixture
async def rig(settings: Settings) -> AsyncIterator[Rig]:
    store = Store(settings.database)
    await store.migrate()
    client = aioredis.Redis.from_url(settings.queue.url) if settings.queue.backend == "redis" else None
    queue = open_queue(settings.queue, "ingest", encode_message, store=store, redis=client)
    yield Rig(store, queue, InProcessBus(), Metrics(), settings)
    await queue.close()
    if client is not None:
        await client.aclose()
    await store.close()


async def test_one_sender_one_customer_one_open_conversation(rig: Rig) -> None:
    for i in range(3):
        await rig.queue.append(inbound(f"m{i}", seconds=i))
    await rig.queue.append(inbound("other", sender="ben@example.com"))
    await rig.drain()
    assert await rig.count(messages) == 4
    assert await rig.count(customers) == 2
    assert await rig.count(identities) == 2
    async with rig.store.read() as conn:
        convs = (await conn.execute(sa.select(conversations).order_by(conversations.c.message_count))).all()
    assert [c.message_count for c in convs] == [1, 3]
    assert all(c.needs_routing and c.status == "open" for c in convs)
    assert convs[1].last_message_at.replace(tzinfo=None) == inbound("x", seconds=2).received_at.replace(
        tzinfo=None
    )


async def test_known_identity_attaches_to_existing_customer(rig: Rig) -> None:
    await rig.queue.append(inbound("first", sender="max@example.com"))
    await rig.drain()
    await rig.queue.append(inbound("second", sender="max@example.com", thread="order-7"))
    await rig.drain()
    assert await rig.count(customers) == 1
    # a different thread of the same customer is a conversation of its own
    assert await rig.count(conversations) == 2


async def test_duplicates_are_dropped_within_and_across_batches(rig: Rig) -> None:
    for ext in ["a", "b", "a", "c", "b"]:
        await rig.queue.append(inbound(ext))
    await rig.drain()
    await rig.queue.append(inbound("a", text="retry of a"))
    await rig.drain()
    assert await rig.count(messages) == 3
    async with rig.store.read() as conn:
        text = await conn.scalar(sa.select(messages.c.text).where(messages.c.external_id == "a"))
    assert text == "Hallo"  # the first one wins; a provider retry changes nothing
    assert rig.metrics.duplicates.labels("api")._value.get() == 3


async def test_events_are_published_after_the_commit(rig: Rig) -> None:
    sub = rig.bus.subscribe("*")
    await rig.queue.append(inbound("e1"))
    await rig.drain()
    topics = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        topics.append(event.topic)
        if event.topic == "message.stored":
            # whoever hears the event can already read the row
            assert event.data["message_id"] == message_id("api", "e1")
            assert await rig.count(messages, messages.c.id == event.data["message_id"]) == 1
    assert topics == [
        "customer.created",
        "conversation.opened",
        "message.stored",
        "conversation.needs_routing",
    ]
    assert await rig.count(events, events.c.action == "customer.created") == 1
    assert await rig.count(events, events.c.action == "conversation.opened") == 1


async def test_racing_workers_create_each_customer_and_conversation_once(rig: Rig) -> None:
    senders = [f"s{i}@example.com" for i in range(20)]
    for round_ in range(5):
        for s in senders:
            await rig.queue.append(inbound(f"{s}-{round_}", sender=s))
    await rig.drain(rig.worker("w1", 7), rig.worker("w2", 11), rig.worker("w3", 13))
    assert await rig.count(messages) == 100
    assert await rig.count(customers) == 20
    assert await rig.count(conversations) == 20


async def _install_poison_trigger(rig: Rig) -> None:
    async with rig.store.write() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.external_id = 'poison' "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"
                )
            )
        else:
            await conn.execute(
                sa.text(
                    "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            await conn.execute(
                sa.text(
                    "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()"
                )
            )


async def test_a_failing_message_does_not_hold_up_its_batch(rig: Rig) -> None:
    await _install_poison_trigger(rig)
    for ext in ["ok1", "poison", "ok2"]:
        await rig.queue.append(inbound(ext))
    await rig.drain()
    assert await rig.count(messages) == 2
    assert await rig.queue.dead_count() == 1  # retried, then dead-lettered
    assert rig.metrics.failed._value.get() == rig.settings.queue.dead_letter_after


async def test_an_undecodable_entry_is_dead_lettered(rig: Rig, settings: Settings) -> None:
    raw = open_queue(
        settings.queue, "ingest", lambda b: b, store=rig.store, redis=getattr(rig.queue, "_redis", None)
    )
    await raw.append(b"{not json")
    await rig.queue.append(inbound("fine"))
    await rig.drain()
    assert await rig.count(messages) == 1
    assert await rig.queue.dead_count() == 1


async def test_sms_stop_withdraws_sms_consent_and_start_gives_it(rig: Rig) -> None:
    from hub.model import AddressKind, Channel
    from hub.store.tables import consents

    phone = "+491711112222"
    await rig.queue.append(inbound("sm1", phone, kind=AddressKind.PHONE, channel=Channel.SMS, text="Stopp!"))
    await rig.queue.append(
        inbound(
            "sm2",
            phone,
            kind=AddressKind.PHONE,
            channel=Channel.SMS,
            text="please stop sending me bills twice",
        )
    )
    await rig.drain()
    async with rig.store.read() as conn:
        rows = (await conn.execute(sa.select(consents))).all()
    assert sorted((r.channel, r.purpose, r.granted, r.source) for r in rows) == [
        ("sms", "marketing", False, "sms:STOPP!"),
        ("sms", "service", False, "sms:STOPP!"),
    ]
    assert await rig.count(events, events.c.action == "consent.changed") == 2
    await rig.queue.append(inbound("sm3", phone, kind=AddressKind.PHONE, channel=Channel.SMS, text="start"))
    await rig.drain()
    async with rig.store.read() as conn:
        assert set((await conn.execute(sa.select(consents.c.granted))).scalars()) == {True}
    assert await rig.count(messages) == 3  # keywords are kept as messages too


async def test_a_replayed_entry_whose_message_is_stored_is_still_announced(rig: Rig) -> None:
    """Stored, then the acknowledgement was lost and the worker that stored it died: the
    worker that replays the entry finds the message stored and still publishes what follows
    a store (live events, the router's hint), counted as a duplicate, stored once."""
    msg = inbound("ack-lost")
    async with rig.store.write() as conn:
        stored = (await store_batch(conn, [msg], datetime.now(UTC))).stored[0]  # nothing announced
    sub = rig.bus.subscribe("*")
    await rig.queue.append(msg)
    await rig.drain()
    seen = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        seen.append((event.topic, event.data.get("message_id"), event.data["conversation_id"]))
    assert seen == [
        ("message.stored", message_id("api", "ack-lost"), stored.conversation_id),
        ("conversation.needs_routing", None, stored.conversation_id),
    ]
    assert await rig.count(messages) == 1
    assert rig.metrics.duplicates.labels("api")._value.get() == 1
    assert rig.metrics.stored.labels("api")._value.get() == 0


async def test_a_first_mail_and_its_reply_in_one_batch_get_one_auto_reply(rig: Rig) -> None:
    """Both land in the conversation the first opens; only the first opens it."""
    first = replace(
        inbound("<a@example.com>", channel=Channel.EMAIL, thread="<a@example.com>", seconds=0),
        meta={"mailbox": "support"},
    )
    reply = replace(
        inbound("<b@example.com>", channel=Channel.EMAIL, thread="<a@example.com>", seconds=60),
        thread_hint=ThreadHint(key="<a@example.com>", references=("<a@example.com>",)),
        meta={"mailbox": "support"},
    )
    sub = rig.bus.subscribe("conversation.opened")
    worker = IngestWorker(
        store=rig.store,
        queue=rig.queue,
        bus=rig.bus,
        metrics=rig.metrics,
        consumer="w1",
        batch_size=10,
        block_ms=50,
        stale_after_ms=30_000,
        auto_replies={"support": "Danke, wir melden uns."},
    )
    await rig.queue.append(reply)  # the reply first in the batch: the earlier mail still opens
    await rig.queue.append(first)
    await rig.drain(worker)
    assert await rig.count(conversations) == 1
    assert await rig.count(outbox) == 1
    assert sub.queue.qsize() == 1
    async with rig.store.read() as conn:
        answered = await conn.scalar(sa.select(outbox.c.recipient))
    assert answered == "erika@example.com"
