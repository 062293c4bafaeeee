"""Storing a batch of inbound messages in one transaction (ARCHITECTURE §1, step 4).

For the whole batch at once, with a handful of statements however large it is:
dedupe on ``(channel, external_id)``, resolve each sender to a customer (exact identity
match, else a new customer), find or open the conversation, store the messages and
attachments, and mark the conversations as needing routing. A message whose threading
hints name a conversation closed less than ``reopen_within`` ago reopens it (routed
afresh) rather than opening another. Races with other workers
are settled by unique keys (``ON CONFLICT DO NOTHING``, then a re-read), never by
locks held in memory. What a message means beyond that (an SMS STOP withdraws consent)
is the domain's, in the same transaction: ``hub.customers.keyword_consent``, called by the
ingest worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import ROUTABLE_KINDS, Address, ConversationStatus, InboundMessage, message_id
from hub.sanitize import clean_html
from hub.store import search_index
from hub.store.bulk import any_of, insert_rows, is_pg, pairs_in
from hub.store.search_terms import all_rows
from hub.store.tables import (
    PRIORITIES,
    attachments,
    conversations,
    customers,
    events,
    identities,
    messages,
    search_terms,
)
from hub.store.threads import follow_threads

DEFAULT_THREAD = "default"
NORMAL = PRIORITIES["normal"]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    channel: str
    external_id: str
    customer_id: str
    conversation_id: str
    conversation_opened: bool
    customer_created: bool
    received_at: datetime
    kind: str = "message"
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BatchResult:
    stored: list[StoredMessage]
    duplicates: list[InboundMessage]
    # duplicates found in the store: a replay of an entry whose acknowledgement was lost, or
    # a provider's retry. What follows a store (live events, the router's hint) follows
    # from the stored rows, so it is done again for these: harmless when it was done before.
    already_stored: list[StoredMessage] = field(default_factory=list)


async def store_batch(
    conn: AsyncConnection,
    batch: Sequence[InboundMessage],
    now: datetime,
    *,
    default_tier: str = "standard",
    reopen_within: timedelta = timedelta(0),
) -> BatchResult:
    fresh, ids, duplicates, already = await _drop_duplicates(conn, batch)
    if not fresh:
        return BatchResult([], duplicates, already)
    owners, created, languages = await _resolve_customers(conn, fresh, now, default_tier)
    own_keys = [m.thread_hint.key for m in fresh]
    fresh = await follow_threads(conn, fresh, owners)
    # the conversations a message's hints led to (not merely its own thread key)
    followed = {
        _open_key(owners[m.sender], m)
        for m, own in zip(fresh, own_keys, strict=True)
        if m.thread_hint.key != own
    }
    threads, opened = await _open_conversations(conn, fresh, owners, now, followed, reopen_within)

    rows = []
    for msg, mid in zip(fresh, ids, strict=True):
        customer_id = owners[msg.sender]
        rows.append(
            {
                "id": mid,
                "conversation_id": threads[_open_key(customer_id, msg)],
                "customer_id": customer_id,
                "channel": msg.channel.value,
                "external_id": msg.external_id,
                "direction": "in",
                "kind": msg.kind.value,
                "sender_kind": msg.sender.kind.value,
                "sender_value": msg.sender.value,
                "sender_name": msg.sender_name,
                "recipient": msg.recipient.value if msg.recipient else None,
                "subject": msg.subject,
                "text": msg.text,
                "html": clean_html(msg.html),
                "meta": dict(msg.meta),
                "received_at": msg.received_at,
                "stored_at": now,
            }
        )
    inserted = await insert_rows(
        conn, messages, rows, skip_conflicts_on=["channel", "external_id"], returning=[messages.c.id]
    )
    stored_ids = {r.id for r in inserted}
    # A conversation opened by this batch is opened by its earliest message only, not by a
    # reply that came in the same batch (which would get an auto-reply of its own).
    openers: dict[str, str] = {}
    for msg, mid in sorted(zip(fresh, ids, strict=True), key=lambda pair: pair[0].received_at):
        conv_id = threads[_open_key(owners[msg.sender], msg)]
        if conv_id in opened and mid in stored_ids:
            openers.setdefault(conv_id, mid)
    stored: list[StoredMessage] = []
    attachment_rows = []
    # conversation -> (last, added, routable, most urgent priority rank)
    touched: dict[str, tuple[datetime, int, bool, int | None]] = {}
    for msg, mid in zip(fresh, ids, strict=True):
        if mid not in stored_ids:  # another worker stored it a moment ago
            duplicates.append(msg)
            continue
        customer_id = owners[msg.sender]
        conv_id = threads[_open_key(customer_id, msg)]
        stored.append(
            StoredMessage(
                id=mid,
                channel=msg.channel.value,
                external_id=msg.external_id,
                customer_id=customer_id,
                conversation_id=conv_id,
                conversation_opened=openers.get(conv_id) == mid,
                customer_created=customer_id in created,
                received_at=msg.received_at,
                kind=msg.kind.value,
                meta=msg.meta,
            )
        )
        last, count, routable, rank = touched.get(conv_id, (msg.received_at, 0, False, None))
        marked = PRIORITIES.get(msg.meta.get("priority", ""))  # None: the sender marked nothing
        rank = marked if rank is None else rank if marked is None else min(rank, marked)
        touched[conv_id] = (
            max(last, msg.received_at),
            count + 1,
            routable or msg.kind in ROUTABLE_KINDS,
            rank,
        )
        attachment_rows += [
            {
                "message_id": mid,
                "sha256": a.sha256,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
            }
            for a in msg.attachments
        ]
    await insert_rows(conn, attachments, attachment_rows)
    await search_index.index_new_customers(
        conn, [(customer_id, name, a.kind.value, a.value, now) for customer_id, (name, a) in created.items()]
    )
    await search_index.index_messages(
        conn, [r for r in rows if r["id"] in stored_ids], attachment_rows, languages
    )
    if touched:
        rank_of = sa.bindparam("rank", type_=sa.SmallInteger)
        later = sa.func.greatest if is_pg(conn) else sa.func.max
        sooner = sa.func.least if is_pg(conn) else sa.func.min
        await conn.execute(
            sa.update(conversations)
            .where(conversations.c.id == sa.bindparam("conv_id"))
            .values(
                needs_routing=sa.or_(
                    conversations.c.needs_routing, sa.bindparam("routable", type_=sa.Boolean)
                ),
                message_count=conversations.c.message_count + sa.bindparam("added"),
                last_message_at=later(
                    conversations.c.last_message_at, sa.bindparam("last", type_=sa.DateTime(True))
                ),
                # set by the messages that open it (normal where none is marked), then
                # raised, never lowered, by a more urgent one; a message that marks nothing
                # leaves it as it is (a rule may have set it)
                priority=sooner(
                    sa.func.coalesce(conversations.c.priority, sa.func.coalesce(rank_of, NORMAL)),
                    sa.func.coalesce(rank_of, max(PRIORITIES.values())),
                ),
            ),
            [
                {"conv_id": cid, "added": count, "last": last, "routable": routable, "rank": rank}
                for cid, (last, count, routable, rank) in sorted(touched.items())
            ],
        )
    await _log_events(conn, stored, now)
    return BatchResult(stored, duplicates, already)


async def _drop_duplicates(
    conn: AsyncConnection, batch: Sequence[InboundMessage]
) -> tuple[list[InboundMessage], list[str], list[InboundMessage], list[StoredMessage]]:
    """Split the batch into (fresh messages, their ids), duplicates, and the duplicates'
    stored rows."""
    seen: set[str] = set()
    fresh: list[tuple[InboundMessage, str]] = []
    duplicates: list[InboundMessage] = []
    for msg in batch:
        mid = message_id(msg.channel, msg.external_id)
        if mid in seen:
            duplicates.append(msg)
        else:
            seen.add(mid)
            fresh.append((msg, mid))
    m = messages.c
    existing = {
        r.id: r
        for r in await conn.execute(
            sa.select(m.id, m.channel, m.external_id, m.customer_id, m.conversation_id)
            .add_columns(m.received_at, m.kind, m.meta)
            .where(any_of(conn, m.id, [mid for _, mid in fresh]))
        )
    }
    duplicates += [msg for msg, mid in fresh if mid in existing]
    already = [
        StoredMessage(
            id=r.id,
            channel=r.channel,
            external_id=r.external_id,
            customer_id=r.customer_id,
            conversation_id=r.conversation_id,
            conversation_opened=False,
            customer_created=False,
            received_at=r.received_at,
            kind=r.kind,
            meta=r.meta or {},
        )
        for r in existing.values()
    ]
    kept = [(msg, mid) for msg, mid in fresh if mid not in existing]
    return [msg for msg, _ in kept], [mid for _, mid in kept], duplicates, already


async def _owners_of(
    conn: AsyncConnection, addresses: Sequence[Address]
) -> tuple[dict[Address, str], dict[str, str | None]]:
    """Who owns each known address, and those customers' languages (the search index
    stems their messages by it)."""
    if not addresses:
        return {}, {}
    pairs = [(a.kind.value, a.value) for a in addresses]
    result = await conn.execute(
        sa.select(identities.c.kind, identities.c.value, identities.c.customer_id, customers.c.language)
        .join(customers, customers.c.id == identities.c.customer_id)
        .where(pairs_in(conn, identities.c.kind, identities.c.value, pairs))
    )
    wanted = {(a.kind.value, a.value): a for a in addresses}
    owners: dict[Address, str] = {}
    languages: dict[str, str | None] = {}
    for r in result:
        owners[wanted[(r.kind, r.value)]] = r.customer_id
        languages[r.customer_id] = r.language
    return owners, languages


async def _resolve_customers(
    conn: AsyncConnection, batch: Sequence[InboundMessage], now: datetime, default_tier: str
) -> tuple[dict[Address, str], dict[str, tuple[str | None, Address]], dict[str, str | None]]:
    """Each sender's customer (created for senders nobody knows), the customers created
    (id to name and address), and the languages of the customers found."""
    names: dict[Address, str | None] = {}
    for msg in batch:
        names.setdefault(msg.sender, msg.sender_name)
    owners, languages = await _owners_of(conn, list(names))
    missing = sorted((a for a in names if a not in owners), key=lambda a: (a.kind, a.value))
    if not missing:
        return owners, {}, languages
    new_ids = {a: str(uuid.uuid4()) for a in missing}
    await insert_rows(
        conn,
        customers,
        [
            {
                "id": new_ids[a],
                "name": names[a],
                "tier": default_tier,
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for a in missing
        ],
    )
    won = await insert_rows(
        conn,
        identities,
        [
            {"customer_id": new_ids[a], "kind": a.kind.value, "value": a.value, "created_at": now}
            for a in missing
        ],
        skip_conflicts_on=["kind", "value"],
        returning=[identities.c.kind, identities.c.value],
    )
    won_pairs = {(r.kind, r.value) for r in won}
    lost = [a for a in missing if (a.kind.value, a.value) not in won_pairs]
    created = {new_ids[a]: (names[a], a) for a in missing if a not in lost}
    for a in missing:
        if a not in lost:
            owners[a] = new_ids[a]
    await insert_rows(
        conn, search_terms, all_rows((new_ids[a], names[a], None) for a in missing if a not in lost)
    )
    if lost:  # another worker created these senders first: use theirs, drop ours
        await conn.execute(
            sa.delete(customers).where(any_of(conn, customers.c.id, [new_ids[a] for a in lost]))
        )
        theirs, their_languages = await _owners_of(conn, lost)
        owners.update(theirs)
        languages.update(their_languages)
    return owners, created, languages


def _open_key(customer_id: str, msg: InboundMessage) -> str:
    return open_key(customer_id, msg.channel.value, msg.thread_hint.key or DEFAULT_THREAD)


def open_key(customer_id: str, channel: str, thread_key: str) -> str:
    """What makes a conversation the one open thread of its customer, channel and thread."""
    return f"{customer_id}|{channel}|{thread_key}"


async def _open_conversations(
    conn: AsyncConnection,
    batch: Sequence[InboundMessage],
    owners: dict[Address, str],
    now: datetime,
    followed: set[str],
    reopen_within: timedelta,
) -> tuple[dict[str, str], set[str]]:
    wanted: dict[str, dict[str, Any]] = {}
    for msg in batch:
        customer_id = owners[msg.sender]
        key = _open_key(customer_id, msg)
        if key not in wanted:
            wanted[key] = {
                "id": str(uuid.uuid4()),
                "customer_id": customer_id,
                "channel": msg.channel.value,
                "thread_key": msg.thread_hint.key or DEFAULT_THREAD,
                "status": ConversationStatus.OPEN,
                "open_key": key,
                "needs_routing": False,  # set below if a message in it is work for an agent
                "message_count": 0,
                "opened_at": msg.received_at,
                "last_message_at": msg.received_at,
            }

    async def existing(keys: Sequence[str]) -> dict[str, str]:
        result = await conn.execute(
            sa.select(conversations.c.open_key, conversations.c.id).where(
                any_of(conn, conversations.c.open_key, keys)
            )
        )
        return {r.open_key: r.id for r in result}

    threads = await existing(list(wanted))
    if reopen_within > timedelta(0):
        since = now - reopen_within
        threads |= await _reopen_recent(conn, [wanted[k] for k in followed if k not in threads], since, now)
        # an answer to a campaign's message (an SMS has no thread to follow) reopens it
        unfollowed = [wanted[k] for k in wanted if k not in threads]
        if unfollowed:
            campaigns = await _latest_campaign_threads(conn, unfollowed, since)
            threads |= await _reopen_recent(conn, [wanted[k] for k in campaigns], since, now)
    missing = sorted(k for k in wanted if k not in threads)
    opened: set[str] = set()
    if missing:
        result = await insert_rows(
            conn,
            conversations,
            [wanted[k] for k in missing],
            skip_conflicts_on=["open_key"],
            returning=[conversations.c.open_key, conversations.c.id],
        )
        for row in result:
            threads[row.open_key] = row.id
            opened.add(row.id)
        raced = [k for k in missing if k not in threads]
        if raced:
            threads.update(await existing(raced))
    return threads, opened


async def _latest_campaign_threads(
    conn: AsyncConnection, wanted: Sequence[dict[str, Any]], since: datetime
) -> set[str]:
    """The open keys of the wanted threads whose latest conversation closed after ``since``
    is a campaign's (hub/outreach/campaigns.py): one query for the batch."""
    c = conversations.c
    keys = {(w["customer_id"], w["channel"], w["thread_key"]): str(w["open_key"]) for w in wanted}
    rows = await conn.execute(
        sa.select(c.customer_id, c.channel, c.thread_key, c.closed_at, c.route)
        .where(
            any_of(conn, c.customer_id, sorted({w["customer_id"] for w in wanted})),
            c.status == ConversationStatus.CLOSED,
            c.closed_at >= since,
        )
        .order_by(c.closed_at)
    )
    latest: dict[str, Any] = {}
    for row in rows:  # oldest first: the latest of each thread stays
        key = keys.get((row.customer_id, row.channel, row.thread_key))
        if key is not None:
            latest[key] = row.route
    return {key for key, route in latest.items() if isinstance(route, dict) and route.get("campaign")}


async def _reopen_recent(
    conn: AsyncConnection, wanted: Sequence[dict[str, Any]], since: datetime, now: datetime
) -> dict[str, str]:
    """Reopen the latest conversation of each wanted thread that was closed after
    ``since``; returns their ids by open key. A reopened conversation is routed afresh
    (no holder, a route that keeps only the tags, which agents may have set) and says so
    on the timeline."""
    c = conversations.c
    reopened: dict[str, str] = {}
    for want in sorted(wanted, key=lambda w: str(w["open_key"])):
        row = (
            await conn.execute(
                sa.select(c.id, c.closed_at, c.route)
                .where(
                    c.customer_id == want["customer_id"],
                    c.channel == want["channel"],
                    c.thread_key == want["thread_key"],
                    c.status == ConversationStatus.CLOSED,
                    c.closed_at >= since,
                )
                .order_by(c.closed_at.desc())
                .limit(1)
            )
        ).one_or_none()
        if row is None:
            continue
        result = await conn.execute(
            sa.update(conversations)
            .where(c.id == row.id, c.status == ConversationStatus.CLOSED)
            .values(
                status=ConversationStatus.OPEN,
                open_key=want["open_key"],
                closed_at=None,
                assignee_id=None,
                assigned_at=None,
                offered_to=None,
                offer_expires_at=None,
                route=_kept_on_reopen(row.route),
                snoozed_until=None,
                snoozed_at=None,
                breached=None,  # a new wait: a new promise
                breached_at=None,
                next_response_due=None,
            )
        )
        if result.rowcount != 1:  # an agent reopened it a moment ago: it is not ours to reopen
            continue
        event = _event(now, "conversation.reopened", "conversation", row.id, str(want["customer_id"]))
        await insert_rows(
            conn,
            events,
            [
                {
                    **event,
                    "reason": "the customer wrote again",
                    "data": {"closed_at": row.closed_at.isoformat()},
                }
            ],
        )
        reopened[str(want["open_key"])] = row.id
    # routed afresh: its department is gone, from the index too
    await search_index.refresh_conversations(conn, reopened.values())
    return reopened


CAMPAIGN_KEPT = ("tags", "campaign", "department", "transfer_queue")


def _kept_on_reopen(route: Any) -> dict[str, Any] | None:
    """What of a conversation's routing state outlives a reopen: its tags, which may be an
    agent's work; of a campaign's (hub/outreach/campaigns.py), also the campaign, its
    department and the queue its answers wait on. A route without ``waiting_since`` counts
    as none for the router (``hub.dispatch.admission.unrouted``)."""
    if not isinstance(route, dict):
        return None
    if route.get("campaign"):
        return {k: route[k] for k in CAMPAIGN_KEPT if k in route}
    tags = route.get("tags")
    return {"tags": tags} if tags else None


async def _log_events(conn: AsyncConnection, stored: Sequence[StoredMessage], now: datetime) -> None:
    rows = []
    for s in stored:
        if s.customer_created:
            rows.append(_event(now, "customer.created", "customer", s.customer_id, s.customer_id))
        if s.conversation_opened:
            rows.append(_event(now, "conversation.opened", "conversation", s.conversation_id, s.customer_id))
        # what automations (and the integration's feed) follow: in the order stored, with
        # the ids of the event log, so a reader that keeps its place misses none
        received = _event(now, "message.received", "message", s.id, s.customer_id)
        rows.append(
            {**received, "data": {"conversation_id": s.conversation_id, "channel": s.channel, "kind": s.kind}}
        )
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        if (row["action"], row["subject_id"]) not in seen:
            seen.add((row["action"], row["subject_id"]))
            unique.append(row)
    await insert_rows(conn, events, unique)


def _event(now: datetime, action: str, kind: str, subject: str, customer: str) -> dict[str, Any]:
    return {
        "at": now,
        "actor": "system:ingest",
        "action": action,
        "subject_type": kind,
        "subject_id": subject,
        "customer_id": customer,
        "reason": None,
        "data": {},
    }
