"""Ingest and the router change the same conversations at once (PostgreSQL + Redis).

Ingest's batch updates its conversations (count, last message, needs routing) while the
router writes its decisions on them (needs routing, queue, route, due time). Each takes
its row locks in id order, so neither deadlocks the other; and a batch that does meet a
deadlock is retried by its own worker, never left to the stale-entry takeover (set to
ten minutes here: a batch left to it would never be stored within the test).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.keys import METRICS, QUEUE, STORE
from hub.store.tables import conversations, messages
from tests.conftest import drop_backend, make_settings, require_services, running_hub
from tests.helpers import inbound

SENDERS = 300
ROUNDS = 40


async def test_ingest_and_the_router_on_the_same_conversations_never_wait_for_a_takeover(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    require_services()
    settings = make_settings(
        tmp_path,
        "scaleout",
        **{"queue.stale_after_ms": 600_000, "ingest.batch_size": 100, "ingest.workers": 3},
    )
    rng = random.Random(32)
    try:
        async with running_hub(settings) as hub:
            queue = hub.app[QUEUE]
            total = 0
            for round_no in range(ROUNDS):
                # half the senders write again (conversations the router already holds),
                # half are new (conversations it routes for the first time)
                senders = [f"old{i}" for i in range(SENDERS // 2)]
                senders += [f"new{round_no}-{i}" for i in range(SENDERS // 2)]
                rng.shuffle(senders)
                await asyncio.gather(
                    *(
                        queue.append(inbound(f"r{round_no}-{s}", sender=f"{s}@example.com", seconds=round_no))
                        for s in senders
                    )
                )
                total += len(senders)
            stored = await hub.wait_stored(total, timeout=120)
            assert stored == total
            async with hub.app[STORE].read() as conn:
                counted = await conn.scalar(sa.select(sa.func.sum(conversations.c.message_count)))
                distinct = await conn.scalar(sa.select(sa.func.count(sa.distinct(messages.c.external_id))))
            assert counted == total and distinct == total
            assert await queue.dead_count() == 0
            # the two take their locks in one order: no transaction of either lost a deadlock
            assert hub.app[METRICS].conflicts.labels("ingest")._value.get() == 0
            assert not [r for r in caplog.records if "stepped down" in r.getMessage()]
    finally:
        await drop_backend(settings)
