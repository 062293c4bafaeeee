"""The outbox worker: sends due replies through their channel's connector, with retries.

A provider's refusal that cannot change (a bad number) fails the reply at once; anything
else (a timeout, a 5xx, the provider unreachable) is retried with growing pauses, up to
``max_attempts``. Every change of a reply's delivery state is published on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from connectors.base import CarriesAttachments, Outbound, Sender, SendFailed
from hub.clock import Clock, utc_now
from hub.metrics import Metrics
from hub.model import Attachment, Channel
from hub.outbox import store as outbox_store
from hub.outbox.mail_thread import mail_thread
from hub.outbox.replies import consent, consent_withdrawn
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.store.tables import attachments
from hub.transient import classify, is_transient

log = logging.getLogger("contacthub.outbox")
T = TypeVar("T")


class OutboxWorker:
    def __init__(
        self,
        *,
        store: Store,
        senders: Mapping[str, Sender],
        bus: InProcessBus,
        metrics: Metrics,
        max_attempts: int = 8,
        poll_s: float = 1.0,
        mail_domain: str = "contacthub.invalid",
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._senders = senders
        self._bus = bus
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._poll_s = poll_s
        self._mail_domain = mail_domain
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    @property
    def channels(self) -> set[str]:
        """The channels some connector sends on."""
        return set(self._senders)

    def sender(self, channel: str) -> Sender | None:
        """The connector that sends on ``channel`` (the admin pages' "send test")."""
        return self._senders.get(channel)

    @property
    def file_channels(self) -> set[str]:
        """The channels whose connector carries attachments."""
        return {
            name
            for name, sender in self._senders.items()
            if isinstance(sender, CarriesAttachments) and sender.carries_attachments
        }

    def wake(self) -> None:
        """A reply was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        outage: str | None = None  # what the store's outage is, while it lasts
        while not self._stopping.is_set():
            self._wake.clear()
            pending: list[Any] = []
            try:
                async with self._store.write() as conn:
                    due = await outbox_store.claim(conn, self._clock(), 20)
                pending = list(due)
                while pending:
                    await self._send(pending[0])
                    pending.pop(0)
                if outage is not None:
                    log.warning("outbox: the store is reachable again")
                    outage = None
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    log.exception("outbox pass failed")
                elif outage is None:
                    outage = found[1]
                    log.warning("outbox: %s; replies wait, no attempt counted: %r", outage, exc)
                with contextlib.suppress(Exception):  # claimed, never tried: hand them back
                    for row in pending[1:]:
                        await self._record(partial(outbox_store.release, item_id=row.id, now=self._clock()))
                due = []
            if not due:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)

    async def _send(self, row: Any) -> None:
        try:
            item, withdrawn = await self._prepare(row)
        except Exception as exc:
            if is_transient(exc):  # the store went away before the provider was called: no attempt
                await self._record(lambda conn: outbox_store.release(conn, row.id, self._clock()))
            raise
        await self._deliver(row, item, withdrawn)

    async def _prepare(self, row: Any) -> tuple[Outbound, str | None]:
        """What to send, and whether consent was withdrawn since: read from the store."""
        async with self._store.read() as conn:
            files = await conn.execute(sa.select(attachments).where(attachments.c.message_id == row.id))
            carried = tuple(
                Attachment(sha256=f.sha256, filename=f.filename, content_type=f.content_type, size=f.size)
                for f in files
            )
            thread = await mail_thread(conn, row, self._mail_domain) if row.channel == "email" else None
        item = Outbound(
            id=row.id,
            channel=Channel(row.channel),
            sender=row.sender,
            recipient=row.recipient,
            text=row.text,
            attempt=row.attempts,
            attachments=carried,
            thread=thread,
            auto_reply=bool((row.details or {}).get("auto_reply")),
            unsubscribe=(row.details or {}).get("unsubscribe"),
            template=(row.details or {}).get("template"),
            sent_parts=outbox_store.sent_parts(row.details),
            record_part=lambda index, provider_id: self._record_part(row.id, index, provider_id),
        )
        async with self._store.read() as conn:  # a STOP may have come in since it was queued
            withdrawn = await consent_withdrawn(conn, row.customer_id, item.channel.value)
            purpose = (row.details or {}).get("purpose", "service")
            if withdrawn is None and purpose != "service":  # a marketing contact: that consent too
                state = await consent(conn, row.customer_id, item.channel.value, purpose)
                withdrawn = state[1] if state is not None and not state[0] else None
        return item, withdrawn

    async def _deliver(self, row: Any, item: Outbound, withdrawn: str | None) -> None:
        sender = self._senders.get(item.channel.value)
        now = self._clock()
        try:
            if sender is None:
                raise SendFailed(f"no connector sends on {item.channel.value}", permanent=True)
            if withdrawn is not None:
                raise SendFailed(
                    f"the customer withdrew consent ({withdrawn})", permanent=True, code="consent"
                )
            sent = await sender.send(item)
        except Exception as exc:
            permanent = isinstance(exc, SendFailed) and exc.permanent
            code = exc.code if isinstance(exc, SendFailed) else None
            retry_at = None
            if not permanent and item.attempt < self._max_attempts:
                retry_at = now + outbox_store.backoff(item.attempt)
            error = str(exc)
            status = await self._record(
                lambda conn: outbox_store.mark_failed(conn, item.id, error, code, retry_at, now)
            )
            log.warning(
                "reply not sent (attempt %d): %s",
                item.attempt,
                exc,
                extra={"channel": item.channel.value, "message_id": item.id, "status": status},
            )
            self._metrics.outbox.labels(item.channel.value, status).inc()
            self._publish(row, status, error=str(exc), code=code)
            return
        await self._record(
            lambda conn: outbox_store.mark_sent(conn, item.id, sent.provider_ids, sent.details, now)
        )
        self._metrics.outbox.labels(item.channel.value, "sent").inc()
        self._publish(row, "sent")

    async def _record_part(self, item_id: str, index: int, provider_id: str) -> None:
        await self._record(
            lambda conn: outbox_store.record_part(conn, item_id, index, provider_id, self._clock())
        )

    async def _record(self, write: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Write what a send did, waiting out an outage of the store: a reply the provider
        took but the store never heard of would be claimed and sent again once its claim
        lapsed. Gives up only when the worker stops (the claim then lapses: at least once)."""
        backoff = 0.1
        while True:
            try:
                async with self._store.write() as conn:
                    return await write(conn)
            except Exception as exc:
                if not is_transient(exc) or self._stopping.is_set():
                    raise
                if backoff == 0.1:
                    log.warning("outbox: store unreachable; a send's result waits for it: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, 5.0)

    def _publish(self, row: Any, status: str, **extra: object) -> None:
        self._bus.publish(
            "message.delivery",
            {
                "message_id": row.id,
                "conversation_id": row.conversation_id,
                "status": status,
                **extra,
            },
        )
