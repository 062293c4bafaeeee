"""The outbox through a PostgreSQL outage (played by a proxy): a reply the provider took
while the store went away is recorded when it is back, and sent once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from connectors.base import Outbound, Sent
from hub.metrics import Metrics
from hub.outbox.worker import OutboxWorker
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.ingest_batch import store_batch
from hub.store.tables import outbox
from tests.conftest import drop_backend, make_settings, require_services
from tests.helpers import inbound, queued_reply
from tests.pgproxy import PgProxy
from tests.waits import eventually


class DownDuringSend:
    """A provider that accepts the reply while PostgreSQL goes down."""

    def __init__(self, proxy: PgProxy) -> None:
        self.proxy = proxy
        self.sent: list[str] = []

    async def send(self, item: Outbound) -> Sent:
        self.sent.append(item.id)
        self.proxy.refuse("57P01")
        return Sent(("SM1",))

    async def close(self) -> None:
        pass


async def test_a_reply_sent_while_the_store_was_down_is_recorded_and_sent_once(tmp_path: Path) -> None:
    require_services()
    proxy = PgProxy()
    await proxy.start()
    settings = make_settings(tmp_path, "scaleout", **{"database.url": proxy.url()})
    store = Store(settings.database)
    try:
        await store.migrate()
        now = datetime.now(UTC)
        async with store.write() as conn:
            stored = (await store_batch(conn, [inbound("m1")], now)).stored[0]
            reply_id = await queued_reply(conn, stored, now, "sms", "+4915112345678", "Hallo")
        provider = DownDuringSend(proxy)
        worker = OutboxWorker(
            store=store, senders={"sms": provider}, bus=InProcessBus(), metrics=Metrics(), poll_s=0.05
        )
        task = asyncio.create_task(worker.run())
        try:
            # the result waits while the store is down
            await eventually(lambda: proxy.refused >= 3, timeout=30, what="the worker to meet the outage")
            proxy.pass_through()

            async def sent() -> Any:
                async with store.read() as conn:
                    row = (await conn.execute(sa.select(outbox).where(outbox.c.id == reply_id))).one()
                return row if row.status == "sent" else None

            # recorded long before the claim (60 s) could lapse and send it again
            row = await eventually(sent, timeout=30, interval=0.05, what="the reply recorded as sent")
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)
        assert provider.sent == [reply_id]
        assert row.attempts == 1 and row.provider_ids == ["SM1"]
    finally:
        proxy.pass_through()
        await store.close()
        await drop_backend(settings)
        await proxy.close()
