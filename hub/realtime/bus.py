"""The in-process event bus. Publishers never block: a subscriber that falls behind by
more than its buffer loses the oldest events and is told so by a ``gap`` counter
(the console and widget resume from the store in that case, ARCHITECTURE §7)."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
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
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        event = Event(topic, data)
        for sub in tuple(self._subs):
            if fnmatch.fnmatchcase(topic, sub.pattern):
                sub.offer(event)

    def subscribe(self, pattern: str = "*", buffer: int = 10_000) -> Subscription:
        sub = Subscription(pattern, buffer)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)
