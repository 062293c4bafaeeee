"""The in-process event bus, and the interface the Redis one shares (ARCHITECTURE §7).

Every event carries a sequence number that only grows. The bus keeps the last
``replay`` events, so a console that reconnects gets what it missed (``since``), or
learns that the gap is too old and resyncs from the store. Publishers never block: a
subscriber that falls behind by more than its buffer loses the oldest events and is
told so by a ``gap`` counter.

When a bus may have lost events (the Redis one, after Redis was away), it hands every
subscriber a ``RESYNC`` event, numbered like the last one it saw and kept out of the
replay: what listens reads what it shows afresh from the store (consoles reload, widget
sockets send the feed after what they showed).
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

RESYNC = "bus.resync"


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    topic: str
    data: dict[str, Any]


@dataclass(eq=False)
class Subscription:
    pattern: str
    buffer: int
    queue: asyncio.Queue[Event] = field(init=False)
    gap: int = 0

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.buffer)

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.gap += 1
        self.queue.put_nowait(event)

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class InProcessBus:
    def __init__(self, replay: int = 10_000) -> None:
        self._subs: set[Subscription] = set()
        self._recent: deque[Event] = deque(maxlen=replay)
        self.last_seq = 0

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        self.deliver(Event(self.last_seq + 1, topic, data))

    def deliver(self, event: Event) -> None:
        """Hand a numbered event to the replay buffer and every matching subscriber."""
        self.last_seq = max(self.last_seq, event.seq)
        self._recent.append(event)
        for sub in tuple(self._subs):
            if fnmatch.fnmatchcase(event.topic, sub.pattern):
                sub.offer(event)

    def resync(self) -> None:
        """Tell every subscriber that events may have been lost (not kept for replay)."""
        event = Event(self.last_seq, RESYNC, {})
        for sub in tuple(self._subs):
            sub.offer(event)

    def since(self, seq: int) -> list[Event] | None:
        """Events after ``seq``; None if some of them have left the replay buffer."""
        if seq >= self.last_seq:
            return []
        if not self._recent or self._recent[0].seq > seq + 1:
            return None
        return [e for e in self._recent if e.seq > seq]

    def subscribe(self, pattern: str = "*", buffer: int = 10_000) -> Subscription:
        sub = Subscription(pattern, buffer)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def start(self) -> None:
        """Nothing to connect in process; the Redis bus starts its listener here."""

    async def close(self) -> None:
        """Nothing to release in process."""
