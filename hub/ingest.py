"""The ingest worker: claim a batch, store it in one transaction, ack, then publish.

Failures are sorted by cause (``hub.transient``):
- the store or the queue is unreachable: the worker keeps the batch it claimed (and what
  of it is already stored) and retries it with backoff before it reads anything new;
  nothing counts as an attempt, so an outage never dead-letters good messages;
- the transaction lost a deadlock or serialization race: it is tried again at once;
- anything else: store the batch one message at a time, so one bad message cannot
  hold up the others; the ones that still fail go to ``retry_later`` (and are
  dead-lettered after N attempts).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hub.csat.surveys import apply_sms_answers
from hub.customers.keyword_consent import apply_consent_keywords
from hub.dispatch.inbox import Inbox, notify
from hub.metrics import Metrics
from hub.model import InboundMessage
from hub.outbox.auto_reply import queue_auto_replies
from hub.queue.base import Claimed, IngestQueue
from hub.queue.codec import decode_message
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.ingest_batch import BatchResult, StoredMessage, store_batch
from hub.text.addresses import mask
from hub.transient import classify, is_conflict, is_transient

if TYPE_CHECKING:
    from hub.dispatch.call_target import CallTargets

log = logging.getLogger("contacthub.ingest")
MAX_BACKOFF_S = 2.0
CONFLICT_RETRIES = 8  # a deadlock or serialization failure: tries again at once, so many times


@dataclass
class _Batch:
    """A claimed batch until each entry is acknowledged or handed back (``retry_later``)."""

    undecodable: list[tuple[Claimed, str]] = field(default_factory=list)
    todo: list[tuple[Claimed, InboundMessage]] = field(default_factory=list)  # not stored yet
    done: list[Claimed] = field(default_factory=list)  # stored, not yet acknowledged
    results: list[BatchResult] = field(default_factory=list)  # what the stored ones did

    @classmethod
    def of(cls, claimed: Sequence[Claimed]) -> _Batch:
        batch = cls()
        for entry in claimed:
            try:
                batch.todo.append((entry, decode_message(entry.payload)))
            except ValueError as exc:
                batch.undecodable.append((entry, str(exc)))
        return batch

    def stored(self, entries: Sequence[Claimed], result: BatchResult) -> None:
        self.done += entries
        self.results.append(result)

    def __len__(self) -> int:
        return len(self.undecodable) + len(self.todo) + len(self.done)


@dataclass(frozen=True, slots=True)
class _Outage:
    what: str
    since: float


class IngestWorker:
    def __init__(
        self,
        *,
        store: Store,
        queue: IngestQueue[InboundMessage],
        bus: InProcessBus,
        inbox: Inbox | None = None,
        metrics: Metrics,
        consumer: str,
        batch_size: int,
        block_ms: int,
        stale_after_ms: int,
        default_tier: str | Callable[[], str] = "standard",  # a callable: read per batch
        calls: CallTargets | None = None,
        auto_replies: Mapping[str, str] | None = None,
        reopen_within: timedelta = timedelta(0),
    ) -> None:
        self._store = store
        self._queue = queue
        self._bus = bus
        self._inbox = inbox
        self._metrics = metrics
        self._consumer = consumer
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._stale_after_ms = stale_after_ms
        self._default_tier = default_tier
        self._calls = calls  # where calls go: the queues a screen pop reaches, the lines held
        self._auto_replies = auto_replies or {}  # mailbox -> the text of its auto-reply
        self._reopen_within = reopen_within  # a reply this soon after a close reopens it
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the batch in hand, then return from ``run``."""
        self._stopping.set()

    async def run(self) -> None:
        backoff = 0.1
        last_reclaim = 0.0
        batch: _Batch | None = None  # claimed by this worker and not yet finished
        outage: _Outage | None = None
        while not self._stopping.is_set():
            try:
                if batch is None:
                    now = time.monotonic()
                    if now - last_reclaim > self._stale_after_ms / 2000:
                        last_reclaim = now
                        moved = await self._queue.reclaim_stale(self._stale_after_ms)
                        if moved:
                            log.warning("reclaimed %d entries of a stopped consumer", moved)
                    claimed = await self._queue.claim(self._consumer, self._batch_size, self._block_ms)
                    batch = _Batch.of(claimed)
                await self._finish(batch)
                batch = None
                if outage is not None:
                    log.warning(
                        "store and queue reachable again after %.1fs; the batch in hand was kept",
                        time.monotonic() - outage.since,
                    )
                    outage = None
                backoff = 0.1
            except Exception as exc:
                # The worker must outlive any failure: a dead worker silently stops ingest.
                found = classify(exc)
                if found is None:
                    log.exception("ingest worker error, retrying in %.1fs", backoff)
                    batch = None  # left claimed: the stale-entry takeover tries it again
                elif outage is None or outage.what != found[1]:
                    held = len(batch) if batch is not None else 0
                    log.warning(
                        "%s: keeping the %d claimed entries and retrying them with backoff: %r",
                        found[1],
                        held,
                        exc,
                    )
                    outage = _Outage(found[1], outage.since if outage else time.monotonic())
                else:
                    log.debug("still %s, retrying in %.1fs: %r", found[1], backoff, exc)
                try:
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                except TimeoutError:
                    pass
                # at most 2 s apart: what was accepted during an outage is stored within
                # seconds of the store's return (a try costs one connection attempt)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def process(self, claimed: Sequence[Claimed]) -> None:
        """Store one claimed batch. Transient errors propagate (the batch stays claimed)."""
        await self._finish(_Batch.of(claimed))

    async def _finish(self, batch: _Batch) -> None:
        """Store, acknowledge and announce what is left of ``batch``. A transient failure
        propagates and leaves in ``batch`` exactly what is still to do, so that a retry
        neither counts an attempt twice nor stores anything again, and a batch stored
        before its acknowledgement failed is still announced once it is acknowledged."""
        while batch.undecodable:
            entry, error = batch.undecodable[0]
            await self._queue.retry_later(entry.id, error)
            self._metrics.failed.inc()
            batch.undecodable.pop(0)
        if batch.todo:
            try:
                result = await self._store_all([m for _, m in batch.todo])
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.warning("batch of %d failed, storing one by one: %r", len(batch.todo), exc)
                await self._one_by_one(batch)
            else:
                batch.stored([e for e, _ in batch.todo], result)
                batch.todo = []
        if batch.done:
            await self._queue.ack([e.id for e in batch.done])
            results, batch.done, batch.results = batch.results, [], []
            for result in results:
                await self._after_stored(result)

    async def _store_all(self, batch: Sequence[InboundMessage]) -> BatchResult:
        """One transaction; one that lost a race (a deadlock, a serialization failure) is
        tried again at once, with a short random pause that grows."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return await self._store_once(batch)
            except Exception as exc:
                if attempt == CONFLICT_RETRIES or not is_conflict(exc):
                    raise
                self._metrics.conflicts.labels("ingest").inc()
                log.debug("batch lost a race (%r), trying again", exc)
                await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
        raise AssertionError("unreachable")

    async def _store_once(self, batch: Sequence[InboundMessage]) -> BatchResult:
        started = time.perf_counter()
        now = datetime.now(UTC)
        async with self._store.write() as conn:
            default_tier = self._default_tier() if callable(self._default_tier) else self._default_tier
            result = await store_batch(
                conn, batch, now, default_tier=default_tier, reopen_within=self._reopen_within
            )
            await apply_consent_keywords(conn, batch, result.stored, now)
            await apply_sms_answers(conn, batch, result.stored, now)
            if self._auto_replies:  # in the same transaction: once, and never lost
                await queue_auto_replies(conn, result.stored, self._auto_replies, now)
        self._metrics.stage.labels("store_batch").observe(time.perf_counter() - started)
        return result

    async def _one_by_one(self, batch: _Batch) -> None:
        while batch.todo:
            entry, msg = batch.todo[0]
            try:
                result = await self._store_all([msg])
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error(
                    "message failed: channel=%s external_id=%s attempt=%d error=%r",
                    msg.channel,
                    msg.external_id,
                    entry.attempts + 1,
                    exc,
                )
                await self._queue.retry_later(entry.id, repr(exc))
                self._metrics.failed.inc()
            else:
                batch.stored([entry], result)
            batch.todo.pop(0)

    async def _after_stored(self, result: BatchResult) -> None:
        """What follows a stored, acknowledged batch: log lines and metrics, screen pops,
        the lines PBX calls hold, and the router's hint."""
        self._announce(result)
        await self._pop_screens(result)
        await self._hold_pbx_lines(result)
        await self._hint_router(result)

    async def _pop_screens(self, result: BatchResult) -> None:
        """A call ringing or answered: the agents of the queues the rules give such a call
        see who is calling (or that nobody knows them); the agent named by the PBX sees
        the answer."""
        for s in result.stored:
            if s.kind != "call_event" or s.meta.get("event") not in ("newCall", "answer"):
                continue
            queues: list[str] = []
            if self._calls is not None:
                try:
                    queues = await self._calls.queues_for(s.customer_id)
                except Exception as exc:  # the pop goes to supervisors only; the call is stored
                    log.warning("screen pop without queues: %r", exc)
            self._bus.publish(
                "call.ringing" if s.meta["event"] == "newCall" else "call.answered",
                {
                    "call_id": s.meta.get("call_id"),
                    "customer_id": s.customer_id,
                    "conversation_id": s.conversation_id,
                    "known_caller": not s.customer_created,
                    "answering_number": s.meta.get("answering_number"),
                    "users": s.meta.get("users"),
                    "queues": queues,
                },
            )

    async def _hold_pbx_lines(self, result: BatchResult) -> None:
        """A PBX call (generic CTI) holds the voice line of the agent who answered it, from
        ``answer`` to ``hangup``, so the router offers them no voice work meanwhile. The
        messages are stored already: a failure here is only logged (a hold expires)."""
        if self._calls is None:
            return
        for s in result.stored:
            event = s.meta.get("event")
            if not s.external_id.startswith("cti:") or event not in ("answer", "hangup"):
                continue
            call_id = "cti:" + s.meta["call_id"]
            try:
                if event == "hangup":
                    await self._calls.end(call_id)
                else:
                    named = [s.meta.get("answering_number", ""), *s.meta.get("users", "").split(",")]
                    await self._calls.hold_for_pbx(
                        call_id,
                        {n.strip() for n in named if n.strip()},
                        ended_by=f"{call_id}:hangup",
                        now=datetime.now(UTC),
                    )
            except Exception as exc:
                log.warning("line of PBX call %s not tracked: %r", call_id, exc)

    async def _hint_router(self, result: BatchResult) -> None:
        """Tell the router which conversations changed. A lost hint only costs latency:
        the router also sweeps for conversations marked ``needs_routing``."""
        changed = [s.conversation_id for s in (*result.stored, *result.already_stored)]
        if self._inbox is None or not changed:
            return
        try:
            await notify(self._inbox, conversations=changed)
        except Exception as exc:
            log.warning("router not told of %d conversations: %r", len(changed), exc)

    def _announce(self, result: BatchResult) -> None:
        now = datetime.now(UTC)
        for dup in result.duplicates:
            self._metrics.duplicates.labels(dup.channel.value).inc()
            log.info(
                "ingested",
                extra={
                    "channel": dup.channel.value,
                    "external_id": dup.external_id,
                    "decision": "duplicate",
                    "sender": mask(dup.sender.kind, dup.sender.value),
                },
            )
        for s in result.already_stored:  # its announcement may have been lost: again, harmlessly
            self._publish_stored(s)
        for s in result.stored:
            self._metrics.stored.labels(s.channel).inc()
            self._metrics.stage.labels("accepted_to_stored").observe((now - s.received_at).total_seconds())
            log.info(
                "ingested",
                extra={
                    "channel": s.channel,
                    "external_id": s.external_id,
                    "conversation_id": s.conversation_id,
                    "decision": "stored",
                },
            )
            if s.customer_created:
                self._bus.publish("customer.created", {"customer_id": s.customer_id})
            if s.conversation_opened:
                self._bus.publish(
                    "conversation.opened",
                    {"conversation_id": s.conversation_id, "customer_id": s.customer_id},
                )
            self._publish_stored(s)

    def _publish_stored(self, s: StoredMessage) -> None:
        self._bus.publish(
            "message.stored",
            {
                "message_id": s.id,
                "conversation_id": s.conversation_id,
                "customer_id": s.customer_id,
                "channel": s.channel,
            },
        )
        self._bus.publish("conversation.needs_routing", {"conversation_id": s.conversation_id})
