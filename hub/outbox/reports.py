"""Delivery reports from providers, recorded on the reply and published. A permanent
bounce of an email reply also marks the address undeliverable on the customer record."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.outbox import store as outbox_store
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.tables import identities, outbox


class DeliveryReports:
    def __init__(self, store: Store, bus: InProcessBus, clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock

    async def __call__(self, reply_id: str, provider_id: str, status: str, code: str | None) -> bool:
        """Record one part's report; False if no such reply (not ours, or erased)."""
        now = self._clock()
        async with self._store.write() as conn:
            found = await outbox_store.record_report(conn, reply_id, provider_id, status, code, now)
            if found is not None and status == "undelivered" and (code or "").startswith("5."):
                await _mark_undeliverable(conn, reply_id, code or "", now)
        if found is None:
            return False
        conversation_id, overall = found
        self._bus.publish(
            "message.delivery",
            {"message_id": reply_id, "conversation_id": conversation_id, "status": overall, "code": code},
        )
        return True


async def _mark_undeliverable(conn: AsyncConnection, reply_id: str, code: str, now: datetime) -> None:
    """A permanent bounce (an SMTP 5.x.x status) of an email reply: its address is
    marked undeliverable on the customer record, with the status and the day."""
    row = (
        await conn.execute(sa.select(outbox.c.channel, outbox.c.recipient).where(outbox.c.id == reply_id))
    ).one_or_none()
    if row is None or row.channel != "email":
        return
    await conn.execute(
        sa.update(identities)
        .where(identities.c.kind == "email", identities.c.value == row.recipient.lower())
        .values(undeliverable=f"{code} since {now.date().isoformat()}")
    )
