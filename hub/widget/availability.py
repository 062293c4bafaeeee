"""Whether a site's chat is answered now: within its business hours, with an agent free.

"Free" means an active agent who is available and takes chats (chat capacity above 0).
The count is read from the store at most once per ``ttl`` seconds for all sites, so
thousands of widgets connecting at once cost one query; a presence change clears it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import sqlalchemy as sa

from hub.model import Presence
from hub.routing.hours import BusinessHours
from hub.store.engine import Store
from hub.store.tables import agents


def offline_reason(is_open: bool, agents_free: bool) -> str | None:
    """``closed``, ``no_agents`` or None (online). Pure."""
    if not is_open:
        return "closed"
    return None if agents_free else "no_agents"


class Availability:
    def __init__(self, store: Store, ttl: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl
        self._free: bool | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._free = None

    async def agents_free(self) -> bool:
        async with self._lock:
            if self._free is None or time.monotonic() - self._read_at > self._ttl:
                async with self._store.read() as conn:
                    rows = await conn.execute(
                        sa.select(agents.c.capacity).where(
                            agents.c.active.is_(True), agents.c.presence == Presence.AVAILABLE.value
                        )
                    )
                    self._free = any(int((r.capacity or {}).get("chat", 0)) > 0 for r in rows)
                self._read_at = time.monotonic()
            return self._free

    async def reason(self, hours: BusinessHours, now: datetime) -> str | None:
        """Why the site is offline now, or None."""
        if not hours.is_open(now):
            return "closed"
        return offline_reason(True, await self.agents_free())
