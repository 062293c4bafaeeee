"""A gateway may report a reply's outcome before the sender has recorded that the gateway
took it (Phaxio does so for a fax that fails at once). The report must not be lost when
the send is recorded: neither the status nor the error code it brought."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from hub.outbox import store as outbox_store
from hub.settings import Settings
from hub.store.engine import Store
from hub.store.ingest_batch import store_batch
from hub.store.tables import outbox
from tests.helpers import inbound, queued_reply


async def _sending_reply(store: Store, now: datetime) -> str:
    async with store.write() as conn:
        stored = (await store_batch(conn, [inbound("m1")], now)).stored[0]
        reply_id = await queued_reply(conn, stored, now, "fax", "+4930901820", "Anbei unser Angebot.")
        (claimed,) = await outbox_store.claim(conn, now, 10)
        assert claimed.id == reply_id and claimed.status == "sending"
    return reply_id


async def _outcome(store: Store, reply_id: str, status: str, code: str | None) -> tuple[str, str | None]:
    now = datetime.now(UTC)
    async with store.write() as conn:
        await outbox_store.record_report(conn, reply_id, "F1", status, code, now)
        await outbox_store.mark_sent(conn, reply_id, ["F1"], {}, now)
        row = (await conn.execute(sa.select(outbox).where(outbox.c.id == reply_id))).one()
    return row.status, row.error_code


async def test_a_failure_reported_before_the_send_is_recorded_keeps_its_code(settings: Settings) -> None:
    store = Store(settings.database)
    try:
        reply_id = await _sending_reply(store, datetime.now(UTC))
        assert await _outcome(store, reply_id, "failed", "Fax machine not detected") == (
            "failed",
            "Fax machine not detected",
        )
    finally:
        await store.close()


async def test_a_delivery_reported_before_the_send_is_recorded_counts(settings: Settings) -> None:
    store = Store(settings.database)
    try:
        reply_id = await _sending_reply(store, datetime.now(UTC))
        assert await _outcome(store, reply_id, "delivered", None) == ("delivered", None)
    finally:
        await store.close()
