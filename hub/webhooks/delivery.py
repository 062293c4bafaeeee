"""Delivering webhooks. A webhook keeps two cursors: the last event (the events table, in
id order) and the last inbound message (in stored order) its receiver took. A delivery
is the next page of what the webhook wants after them, once it is ``SETTLE`` old (so a
transaction that recorded it has committed, and a cursor never passes what is still to
come); only a 2xx moves the cursors. Anything else puts the webhook off, for longer each
time (``backoff``), and the same page (and whatever came since) goes again: nothing is
skipped while a receiver is down, and a receiver may see an item twice (after a process
died mid-delivery), so it keeps the ids it has seen.

Why cursors and not a row per delivery in the outbox: an item is already stored durably
once (the event, the message); a row per item and webhook would add writes to the
ingest path for every receiver, where a cursor costs one update per delivery.

A delivery is ``{"webhook", "attempt", "items": [...]}``, each item ``{"id", "type",
"at", "subject_type", "subject_id", "customer_id", "data"}``; an inbound message is
named (``message.received``: its conversation and channel), never quoted. The POST
carries ``X-ContactHub-Timestamp`` and ``X-ContactHub-Signature`` (hub/signing.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import orjson

from hub.signing import SIGNATURE, TIMESTAMP, sign
from hub.store.engine import Store
from hub.store.repos import event_feed
from hub.store.repos import webhooks as repo
from hub.store.repos.webhooks import Webhook

MESSAGE_RECEIVED = "message.received"
# what a webhook may want: the events of the feed that the hub records, and new messages
EVENTS = (
    "conversation.opened",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.reopened",
    "conversation.closed",
    "conversation.tagged",
    MESSAGE_RECEIVED,
    "message.replied",
    "customer.created",
    "customer.updated",
    "customer.merged",
    "customer.unmerged",
    "customer.erased",
    "contract.added",
    "contract.changed",
    "contract.removed",
    "tier.changed",
    "consent.changed",
    "sla.breached",
    "health.changed",
)
SETTLE = event_feed.SETTLE
PAGE = 100  # events, and messages, per delivery
HOLD = timedelta(seconds=60)  # a claim: longer than a delivery may take
TIMEOUT = 15.0
FIRST_BACKOFF = timedelta(seconds=5)
LONGEST_BACKOFF = timedelta(hours=1)


def backoff(failures: int) -> timedelta:
    """How long a webhook waits after ``failures`` failed deliveries in a row: 5 s,
    doubling, at most an hour."""
    wait: timedelta = FIRST_BACKOFF * 2 ** min(failures - 1, 20)
    return min(wait, LONGEST_BACKOFF)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    event_cursor: int
    message_cursor: tuple[datetime, str] | None


async def next_page(store: Store, hook: Webhook, until: datetime) -> Page:
    """What the webhook wants after its cursors, recorded before ``until``."""
    wanted = [e for e in hook.events if e != MESSAGE_RECEIVED]
    items: list[dict[str, Any]] = []
    event_cursor, message_cursor = hook.event_cursor, hook.message_cursor
    async with store.read() as conn:
        # the events it wants, and the calls automations addressed to it
        for ev in await event_feed.after(
            conn, hook.event_cursor, until, PAGE, actions=wanted, addressed_to=hook.id
        ):
            items.append(
                {
                    "id": f"e:{ev.id}",
                    "type": ev.action,
                    "at": ev.at.isoformat(),
                    "subject_type": ev.subject_type,
                    "subject_id": ev.subject_id,
                    "customer_id": ev.customer_id,
                    "data": ev.data,
                }
            )
            event_cursor = ev.id
        if MESSAGE_RECEIVED in hook.events and message_cursor is not None:
            for msg in await repo.inbound_after(conn, message_cursor, until, PAGE):
                items.append(
                    {
                        "id": f"m:{msg.id}",
                        "type": MESSAGE_RECEIVED,
                        "at": msg.stored_at.isoformat(),
                        "subject_type": "message",
                        "subject_id": msg.id,
                        "customer_id": msg.customer_id,
                        "data": {"conversation_id": msg.conversation_id, "channel": msg.channel},
                    }
                )
                message_cursor = (msg.stored_at, msg.id)
    return Page(items, event_cursor, message_cursor)


async def deliver_due(store: Store, http: aiohttp.ClientSession, now: datetime) -> int:
    """One round: every webhook due at ``now`` with something new gets its next page (one
    process delivers it: the webhook is claimed first); how many items were delivered.
    A webhook with nothing new costs a read, never a write."""
    async with store.read() as conn:
        due = await repo.due(conn, now)
    delivered = 0
    for hook in due:
        if (await next_page(store, hook, now - SETTLE)).items:
            delivered += await _deliver(store, http, hook, now)
    return delivered


async def _deliver(store: Store, http: aiohttp.ClientSession, seen: Webhook, now: datetime) -> int:
    async with store.write() as conn:
        hook = await repo.claim(conn, seen, now, HOLD)
    if hook is None:
        return 0
    page = await next_page(store, hook, now - SETTLE)  # from the cursors as claimed
    if not page.items:  # another process delivered it meanwhile
        async with store.write() as conn:
            await repo.put_off(conn, hook.id, hook.failures, now)
        return 0
    body = orjson.dumps({"webhook": hook.id, "attempt": hook.failures + 1, "items": page.items})
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP: timestamp,
        SIGNATURE: sign(hook.secret, timestamp, body),
    }
    status: int | None = None
    error: str | None = None
    started = time.monotonic()
    try:
        async with http.post(
            hook.url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            allow_redirects=False,
        ) as resp:
            status = resp.status
            if status >= 300:
                error = f"the receiver answered {status}: {(await resp.text())[:300] or resp.reason}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"the receiver is not reachable: {exc!r}"[:500]
    ms = int((time.monotonic() - started) * 1000)
    async with store.write() as conn:
        if await repo.get(conn, hook.id) is None:  # removed while it was being delivered
            return 0
        await repo.record_attempt(conn, hook.id, now, len(page.items), status, error, ms)
        if error is None:  # due again at once: more may be waiting
            await repo.delivered(conn, hook.id, page.event_cursor, page.message_cursor, now)
            return len(page.items)
        await repo.put_off(conn, hook.id, hook.failures + 1, now + backoff(hook.failures + 1))
    return 0
