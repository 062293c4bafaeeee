"""Widget fan-out: one bus subscription per hub process, handed out to visitor sockets.

Thousands of widgets must not each match every bus event, so this process's sockets
register here by customer and by site, and one loop turns bus events into widget frames:

- ``widget.feed`` -> ``message`` for the customer's sockets;
- ``conversation.assigned`` -> ``agent_joined``; ``closed`` and ``transferred`` -> ``agent_left``;
- an agent's ``conversation.typing`` -> ``typing``; an agent viewing -> ``read``;
- ``agent.presence`` (and a minute passing, for business hours) -> ``offline_mode`` when a
  site's state changed.

Only chat conversations count; which customer a conversation belongs to is looked up
once and remembered. A socket whose queue is full is told to reconnect (it resumes from
the feed), so one slow browser never holds up the rest. When the bus lost events (Redis
was away), every socket reads its customer's feed after what it has shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub.realtime.bus import RESYNC, Event, InProcessBus
from hub.routing.hours import BusinessHours
from hub.store.engine import Store
from hub.store.tables import agents, conversations
from hub.widget.availability import Availability
from hub.widget.feed import TOPIC as FEED

log = logging.getLogger("contacthub.widget")
QUEUE_SIZE = 256
RECHECK_S = 60.0
REMEMBERED = 20_000
# a socket's frame that is not sent: it sends what its customer's feed holds after what
# it has shown (the bus lost events)
CATCH_UP: dict[str, Any] = {"type": "_catch_up"}


@dataclass(eq=False)
class WidgetConn:
    site_key: str
    hours: BusinessHours
    reason: str | None  # why the site is offline for this widget, as last told
    customer_id: str | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def push(self, frame: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue.get_nowait()
            self.queue.put_nowait({"type": "_overflow"})


class WidgetFanout:
    def __init__(
        self,
        bus: InProcessBus,
        store: Store,
        availability: Availability,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._bus = bus
        self._store = store
        self._availability = availability
        self._clock = clock
        self._by_customer: dict[str, set[WidgetConn]] = {}
        self._by_site: dict[str, set[WidgetConn]] = {}
        self._chat_customer: OrderedDict[str, str | None] = OrderedDict()
        self._agent_names: dict[str, str] = {}
        self._recheck = asyncio.Event()

    # -- registry ------------------------------------------------------------------------

    def register(self, conn: WidgetConn) -> None:
        self._by_site.setdefault(conn.site_key, set()).add(conn)
        if conn.customer_id:
            self._by_customer.setdefault(conn.customer_id, set()).add(conn)

    def attach(self, conn: WidgetConn, customer_id: str) -> None:
        """The socket's visitor now belongs to ``customer_id`` (first message, or verified)."""
        if conn.customer_id == customer_id:
            return
        self._drop(self._by_customer, conn.customer_id, conn)
        conn.customer_id = customer_id
        self._by_customer.setdefault(customer_id, set()).add(conn)

    def unregister(self, conn: WidgetConn) -> None:
        self._drop(self._by_customer, conn.customer_id, conn)
        self._drop(self._by_site, conn.site_key, conn)

    @staticmethod
    def _drop(index: dict[str, set[WidgetConn]], key: str | None, conn: WidgetConn) -> None:
        if key is None or key not in index:
            return
        index[key].discard(conn)
        if not index[key]:
            del index[key]

    @property
    def sockets(self) -> int:
        return sum(len(c) for c in self._by_site.values())

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        subscription = self._bus.subscribe("*", buffer=50_000)
        rechecker = asyncio.create_task(self._recheck_loop())
        try:
            while True:
                event = await subscription.queue.get()
                try:
                    await self.dispatch(event)
                except Exception:  # one bad event must not end the fan-out for everyone
                    log.exception("widget fan-out could not pass on %s", event.topic)
        finally:
            rechecker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rechecker
            self._bus.unsubscribe(subscription)

    async def dispatch(self, event: Event) -> None:
        topic, data = event.topic, event.data
        if topic == RESYNC:  # the bus lost events: each socket reads its feed afresh
            for conns in tuple(self._by_site.values()):
                for conn in tuple(conns):
                    conn.push(CATCH_UP)
            return
        if topic == FEED:
            for conn in tuple(self._by_customer.get(data.get("customer_id") or "", ())):
                conn.push(data["event"])
            return
        if topic == "message.stored" and data.get("channel") == "chat":
            self._remember(data["conversation_id"], data["customer_id"])
            return
        if topic == "agent.presence":
            self._availability.invalidate()
            self._recheck.set()
            return
        frame = await self._frame(topic, data)
        if frame is None:
            return
        customer = await self._customer_of(str(data.get("conversation_id") or ""))
        for conn in tuple(self._by_customer.get(customer or "", ())):
            conn.push(frame)

    async def _frame(self, topic: str, data: dict[str, Any]) -> dict[str, Any] | None:
        if topic == "conversation.assigned":
            return {"type": "agent_joined", "name": await self._name(data.get("agent_id"))}
        if topic in ("conversation.closed", "conversation.transferred"):
            return {"type": "agent_left", "name": await self._name(data.get("by"))}
        if topic == "conversation.typing" and data.get("agent_id"):
            return {"type": "typing", "name": data.get("name") or "", "on": True}
        if topic == "conversation.viewing" and data.get("agent_id") and data.get("on"):
            return {"type": "read", "seq": None}  # the socket fills in what it has shown
        return None

    async def _customer_of(self, conversation_id: str) -> str | None:
        if not conversation_id:
            return None
        if conversation_id in self._chat_customer:
            return self._chat_customer[conversation_id]
        async with self._store.read() as conn:
            row = (
                await conn.execute(
                    sa.select(conversations.c.customer_id, conversations.c.channel).where(
                        conversations.c.id == conversation_id
                    )
                )
            ).one_or_none()
        customer = row.customer_id if row is not None and row.channel == "chat" else None
        self._remember(conversation_id, customer)
        return customer

    def _remember(self, conversation_id: str, customer_id: str | None) -> None:
        self._chat_customer[conversation_id] = customer_id
        self._chat_customer.move_to_end(conversation_id)
        while len(self._chat_customer) > REMEMBERED:
            self._chat_customer.popitem(last=False)

    async def _name(self, agent_id: Any) -> str:
        if not agent_id:
            return ""
        if agent_id not in self._agent_names:
            async with self._store.read() as conn:
                name = await conn.scalar(sa.select(agents.c.name).where(agents.c.id == str(agent_id)))
            self._agent_names[agent_id] = name or ""
        return self._agent_names[agent_id]

    # -- offline mode --------------------------------------------------------------------

    async def _recheck_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._recheck.wait(), RECHECK_S)
            self._recheck.clear()
            await asyncio.sleep(0.2)  # several presence changes at once: one look
            try:
                await self.recheck()
            except Exception:
                log.exception("widget offline mode not rechecked")

    async def recheck(self) -> None:
        """Tell every widget whose site went offline or came back."""
        now = self._clock()
        for conns in tuple(self._by_site.values()):
            for conn in tuple(conns):
                reason = await self._availability.reason(conn.hours, now)
                if reason != conn.reason:
                    conn.reason = reason
                    conn.push({"type": "offline_mode", "offline": reason is not None, "reason": reason})
