"""Delivery reports from providers, recorded on the reply and published."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.outbox import store as outbox_store
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store


class DeliveryReports:
    def __init__(self, store: Store, bus: InProcessBus) -> None:
        self._store = store
        self._bus = bus

    async def __call__(self, reply_id: str, provider_id: str, status: str, code: str | None) -> bool:
        """Record one part's report; False if no such reply (not ours, or erased)."""
        now = datetime.now(UTC)
        async with self._store.write() as conn:
            found = await outbox_store.record_report(conn, reply_id, provider_id, status, code, now)
        if found is None:
            return False
        conversation_id, overall = found
        self._bus.publish(
            "message.delivery",
            {"message_id": reply_id, "conversation_id": conversation_id, "status": overall, "code": code},
        )
        return True
