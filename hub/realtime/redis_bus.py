"""The event bus across hub processes: Redis pub/sub, one sequence for every process.

``publish`` never blocks: events queue for one sender task, which numbers and publishes
each with a Lua script (``INCR`` then ``PUBLISH``, atomic), a batch per round trip, so the
numbers follow the publishing order. Every process, the publisher included, delivers what its listener
receives; so all processes see the same events, in the same order, with the same
sequence numbers, and a console can resume on any of them. Events are notifications:
when Redis is away they are dropped (logged). What was lost is made good from the store:
a listener that subscribes again after losing Redis (itself, or redis-py's retry) hands
its subscribers a ``RESYNC``
(``InProcessBus.resync``), and a sender that dropped events publishes one to every
process once Redis takes its publishes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
import redis.asyncio as aioredis

from hub.realtime.bus import RESYNC, Event, InProcessBus

log = logging.getLogger("contacthub.bus")

_PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], seq .. '|' .. ARGV[2])
return seq
"""


class RedisBus(InProcessBus):
    def __init__(self, redis: aioredis.Redis, key_prefix: str, replay: int = 10_000) -> None:
        super().__init__(replay)
        self._redis = redis
        self._channel = f"{key_prefix}bus"
        self._seq_key = f"{key_prefix}bus:seq"
        self._script: Any = redis.register_script(_PUBLISH)
        self._outgoing: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = asyncio.Event()

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        self._outgoing.put_nowait((topic, data))

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="bus-listen"),
            asyncio.create_task(self._send(), name="bus-send"),
        ]
        try:  # subscribed before the hub serves, unless Redis is away: then it joins later
            await asyncio.wait_for(self._ready.wait(), 2)
        except TimeoutError:
            log.warning("bus: Redis not reachable yet; live events start when it is")

    async def close(self) -> None:
        """Publish what is queued (for a few seconds at most), then stop."""
        listener, sender = self._tasks or (None, None)
        if sender is not None:
            # a sentinel, not a cancel: redis-py may swallow a cancel in mid-command
            self._outgoing.put_nowait(None)
            done, _ = await asyncio.wait({sender}, timeout=5)
            if not done:
                log.warning("bus: %d events not published at shutdown", self._outgoing.qsize())
                sender.cancel()
        if listener is not None:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _send(self) -> None:
        """Publish in batches: one round trip for everything queued meanwhile, in order."""
        stopping, dropped = False, False
        while not stopping:
            item = await self._outgoing.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= 500 or self._outgoing.empty():
                    break
                item = self._outgoing.get_nowait()
            stopping = item is None
            if not batch:
                continue
            if dropped:  # first of all: every process's listeners make good what was lost
                batch.insert(0, (RESYNC, {}))
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for topic, data in batch:
                        payload = orjson.dumps({"topic": topic, "data": data}).decode()
                        await self._script(keys=[self._seq_key], args=[self._channel, payload], client=pipe)
                    await pipe.execute()
                dropped = False
            except Exception as exc:  # Redis away: the events are lost; RESYNC once it is back
                dropped = True
                log.warning("bus: %d events not published: %r", len(batch), exc)

    def _reconnected(self, _connection: object) -> None:
        """The listener's connection was made again (redis-py's retry): what was
        published while it was away is lost."""
        self.resync()

    async def _listen(self) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if self._ready.is_set():  # subscribed again: what was published meanwhile is lost
                        self.resync()
                    # redis-py also reconnects and subscribes again by itself, unseen here
                    assert pubsub.connection is not None
                    pubsub.connection.register_connect_callback(self._reconnected)
                    self._ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        seq, _, payload = bytes(message["data"]).partition(b"|")
                        body = orjson.loads(payload)
                        self.deliver(Event(int(seq), body["topic"], body["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus listener lost Redis, reconnecting: %r", exc)
                await asyncio.sleep(1)
