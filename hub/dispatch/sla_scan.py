"""The router's SLA scan, every few seconds: due times that passed without a response are
recorded once as breaches (an ``sla.breached`` event, counted, announced); due times close
ahead are warned of once per due time (an ``sla.warning`` event, announced: automations
follow both).

Both run in fenced transactions; a conversation whose row another transaction holds is
left for the next scan rather than waited for.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.clock import Clock
from hub.dispatch.decisions import ACTOR
from hub.dispatch.lease import fence
from hub.metrics import Metrics
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.repos import routing as repo
from hub.store.repos.routing import SlaHit
from hub.store.times import iso


class SlaScan:
    def __init__(
        self,
        *,
        store: Store,
        bus: InProcessBus,
        metrics: Metrics,
        clock: Clock,
        warning: timedelta,
    ) -> None:
        self._store = store
        self._bus = bus
        self._metrics = metrics
        self._clock = clock
        self._warning = warning  # how far ahead a due time is warned of; 0: never

    async def run(self, token: int) -> None:
        now = self._clock()
        breaches = await self._record_breaches(token, now)
        if self._warning:
            await self._warn(token, now)
        for hit in breaches:
            self._metrics.sla_breaches.labels(hit.kind).inc()
            self._bus.publish(
                "sla.breached", {"conversation_id": hit.conversation_id, **_said(hit, hit.assignee_id)}
            )

    async def _record_breaches(self, token: int, now: datetime) -> list[SlaHit]:
        """Due times that passed without a response: recorded once (announced by ``run``)."""
        async with self._store.write() as conn:
            await fence(conn, token)
            found = await repo.mark_breaches(conn, now)
            await repo.add_events(
                conn, [_event(now, "sla.breached", hit, _said(hit, hit.assignee_id)) for hit in found]
            )
        return found

    async def _warn(self, token: int, now: datetime) -> None:
        """Due times close ahead: each recorded and announced once (``sla.warning``)."""
        async with self._store.write() as conn:
            await fence(conn, token)
            found = await repo.mark_warnings(conn, now, now + self._warning)
            said = [(hit, _said(hit, hit.assignee_id or hit.offered_to)) for hit in found]
            await repo.add_events(conn, [_event(now, "sla.warning", hit, data) for hit, data in said])
        for hit, data in said:
            self._bus.publish("sla.warning", {"conversation_id": hit.conversation_id, **data})


def _event(now: datetime, action: str, hit: SlaHit, data: dict[str, str | None]) -> dict[str, object]:
    return {
        "at": now,
        "actor": ACTOR,
        "action": action,
        "subject_type": "conversation",
        "subject_id": hit.conversation_id,
        "customer_id": hit.customer_id,
        "reason": None,
        "data": data,
    }


def _said(hit: SlaHit, agent_id: str | None) -> dict[str, str | None]:
    return {"kind": hit.kind, "due": iso(hit.due), "queue": hit.queue, "agent_id": agent_id}
