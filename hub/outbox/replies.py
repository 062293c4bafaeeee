"""An agent's reply: the outbound message and its outbox row, in one transaction.

The reply goes out on the conversation's channel, or on another channel of the same
customer (a missed call answered by SMS). The recipient is the address the customer
wrote from on that channel, else their identity of that kind; the sender is the address
they wrote to. A channel the customer withdrew consent for (an SMS STOP) is refused.

A channel whose delivery is a write to the hub's own store (the chat widget's feed) is
delivered in the same transaction, ``in_store``: its outbox row is ``sent`` at once and
what it announces is published after the commit, with no outbox round trip.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.auth.visibility import hidden, scope_of
from hub.clock import Clock
from hub.customers import audit
from hub.errors import Conflict, Forbidden, InputError, NotFound
from hub.model import Attachment, Channel, ConversationStatus, Role
from hub.outbox import store as outbox_store
from hub.outbox import whatsapp
from hub.routing.rules import RuleSet
from hub.store import search_index
from hub.store.engine import Store
from hub.store.tables import attachments, consents, conversations, identities, messages, outbox
from hub.store.times import iso

# The identity kind a reply on each channel is addressed to.
# in_store(conn, reply id, files, now) -> (provider id, what to publish once committed)
InStore = Callable[
    [AsyncConnection, str, Sequence[Attachment], datetime], Awaitable[tuple[str, Callable[[], None]]]
]
ADDRESS_KIND = {
    "sms": "phone",
    "voice": "phone",
    "email": "email",
    "fax": "fax",
    "chat": "chat_visitor",
    "api": "external",  # the id the integration knows the customer by
    "whatsapp": "phone",
}
MAX_TEXT = 20_000
# a reply's id from the sender's client_id (``reply``)
REPLY_IDS = uuid.UUID("6f3a9d52-1c1e-4b8e-9a57-3c0f5a2b7d11")


async def reply(
    store: Store,
    rules: RuleSet,
    conv_id: str,
    who: Principal,
    clock: Clock,
    text: str,
    channel: str | None,
    senders: set[str],
    files: Sequence[Attachment] = (),
    file_channels: Collection[str] = (),
    in_store: Mapping[str, InStore] | None = None,
    template: whatsapp.Filled | None = None,
    client_id: str | None = None,
) -> dict[str, Any]:
    """Store the reply and its outbox row. ``files`` are uploads already in the blob
    store (their sizes checked by the caller); only ``file_channels`` carry them.
    A conversation ``who`` may not see is NotFound (``hub.auth.visibility``); of one
    they see, only the assignee (or a supervisor) replies. On WhatsApp, free text goes
    only within the 24-hour window; a ``template`` (filled) goes at any time.

    ``client_id`` names the reply on the sender's side: sent again (the answer to the
    first request was lost), the first reply is answered, with ``"repeat": True``, and
    nothing is sent twice. The reply's id is derived from it, so two such requests at
    the same moment cannot both store one."""
    if template is not None:
        if text.strip():
            raise InputError("text: send either text or a template, not both", field="text")
        text = template.text
    if not text.strip() and not files:
        raise InputError("text: write something to send", field="text")
    now = clock()
    named = None if client_id is None else _reply_id(conv_id, who, client_id)
    try:
        async with store.write() as conn:
            conv = (
                await conn.execute(sa.select(conversations).where(conversations.c.id == conv_id))
            ).one_or_none()
            if conv is None or not (await scope_of(conn, who, rules)).allows(conv):
                raise hidden(conv_id)
            if named is not None and (repeat := await _repeat(conn, named, text)) is not None:
                return repeat
            if who.role == Role.AGENT and conv.assignee_id != who.agent_id:
                raise Forbidden("only the assigned agent or a supervisor may reply")
            if conv.status != ConversationStatus.OPEN:
                raise Conflict("the conversation is closed; reopen it to reply")
            channel = channel or conv.channel
            check_channel("replies", channel, senders, bool(files), file_channels)
            if channel == whatsapp.CHANNEL:
                whatsapp.check_window(await whatsapp.last_message(conn, conv.customer_id), now, template)
            elif template is not None:
                raise InputError(
                    f"template: templates are WhatsApp's; this reply goes on {channel}", field="template"
                )
            sender, recipient = await reply_addresses(conn, conv, channel)
            await _check_consent(conn, conv.customer_id, channel)
            item = Outgoing(
                conversation_id=conv.id,
                customer_id=conv.customer_id,
                channel=channel,
                text=text,
                sender=sender,
                recipient=recipient,
                meta={"template": template.name} if template else {},
                details={"template": template.details()} if template else {},
            )
            reply_id, delivered = await store_outbound(conn, item, who, now, files, in_store, named)
            await conn.execute(
                sa.update(conversations)
                .where(conversations.c.id == conv.id)
                .values(
                    first_response_at=sa.func.coalesce(conversations.c.first_response_at, now),
                    next_response_due=None,
                    message_count=conversations.c.message_count + 1,
                    last_message_at=now,
                )
            )
            await audit.record(
                conn,
                actor=who.actor,
                action="message.replied",
                subject_type="conversation",
                subject_id=conv.id,
                customer_id=conv.customer_id,
                data={"message_id": reply_id, "channel": channel},
                at=now,  # the reply's time: reports know the first response by it
            )
    except IntegrityError:
        if named is None:
            raise
        # the same reply, stored by a request at the same moment: answer as a repeat
        async with store.read() as conn:
            repeat = await _repeat(conn, named, text)
        if repeat is None:
            raise
        return repeat
    if delivered is not None:
        delivered[1]()  # committed: announce it
    return {
        "id": reply_id,
        "conversation_id": conv.id,
        "channel": channel,
        "status": "queued" if delivered is None else "sent",
        "at": iso(now),
    }


def _reply_id(conv_id: str, who: Principal, client_id: str) -> str:
    return str(uuid.uuid5(REPLY_IDS, f"{conv_id}\n{who.agent_id}\n{client_id}"))


async def _repeat(conn: AsyncConnection, reply_id: str, text: str) -> dict[str, Any] | None:
    """The reply stored under ``reply_id`` as the answer to a repeated request (None: none
    is); Conflict when it says something else (the client id was used for another)."""
    found = (
        await conn.execute(
            sa.select(messages.c.conversation_id, messages.c.channel, messages.c.text, messages.c.stored_at)
            .add_columns(outbox.c.status)
            .outerjoin(outbox, outbox.c.id == messages.c.id)
            .where(messages.c.id == reply_id)
        )
    ).one_or_none()
    if found is None:
        return None
    if found.text != text:
        raise Conflict("client_id: it was used for another reply; send a new one under a new client_id")
    return {
        "id": reply_id,
        "conversation_id": found.conversation_id,
        "channel": found.channel,
        "status": found.status or "sent",
        "at": iso(found.stored_at),
        "repeat": True,
    }


def check_channel(
    what: str, channel: str, senders: Collection[str], with_files: bool, file_channels: Collection[str]
) -> None:
    """InputError unless a connector sends on ``channel`` (and carries files, if any)."""
    if channel not in senders:
        raise InputError(f"{what} on {channel} are not possible: no connector sends on it", field="channel")
    if with_files and channel not in file_channels:
        able = ", ".join(sorted(file_channels)) or "none yet"
        raise InputError(
            f"{what} on {channel} cannot carry files (channels that can: {able})", field="attachments"
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """A message to store and queue: an agent's reply, the first of a conversation they
    start, a campaign's (``store_outbound_many``)."""

    conversation_id: str
    customer_id: str
    channel: str
    text: str
    sender: str | None  # our address; None: the connector's default
    recipient: str
    subject: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)  # for the outbox (purpose, unsubscribe)


def _message_row(message_id: str, item: Outgoing, who: Principal, now: datetime) -> dict[str, Any]:
    return {
        "id": message_id,
        "conversation_id": item.conversation_id,
        "customer_id": item.customer_id,
        "channel": item.channel,
        "external_id": f"outbox:{message_id}",
        "direction": "out",
        "kind": "message",
        "sender_kind": "agent",
        "sender_value": who.agent_id,
        "sender_name": who.name,
        "recipient": item.recipient,
        "subject": item.subject,
        "text": item.text,
        "meta": dict(item.meta),
        "received_at": now,
        "stored_at": now,
    }


def _outbox_row(message_id: str, item: Outgoing, now: datetime, sent_as: str | None = None) -> dict[str, Any]:
    return outbox_store.row(
        reply_id=message_id,
        conversation_id=item.conversation_id,
        customer_id=item.customer_id,
        channel=item.channel,
        sender=item.sender,
        recipient=item.recipient,
        text=item.text,
        now=now,
        details=item.details,
        sent_as=sent_as,
    )


async def store_outbound(
    conn: AsyncConnection,
    item: Outgoing,
    who: Principal,
    now: datetime,
    files: Sequence[Attachment] = (),
    in_store: Mapping[str, InStore] | None = None,
    reply_id: str | None = None,
) -> tuple[str, tuple[str, Callable[[], None]] | None]:
    """An agent's outbound message (under ``reply_id``, else a new id), its files, its
    search document and its outbox row (sent at once where the channel delivers
    ``in_store``): its id, and what the in-store delivery announces once committed."""
    reply_id = reply_id or str(uuid.uuid4())
    row = _message_row(reply_id, item, who, now)
    await conn.execute(sa.insert(messages).values(**row))
    file_rows = [
        {
            "message_id": reply_id,
            "sha256": f.sha256,
            "filename": f.filename,
            "content_type": f.content_type,
            "size": f.size,
        }
        for f in files
    ]
    if file_rows:
        await conn.execute(sa.insert(attachments), file_rows)
    await search_index.index_messages(conn, [row], file_rows)
    delivered = None
    if in_store and item.channel in in_store:
        delivered = await in_store[item.channel](conn, reply_id, files, now)
    await outbox_store.enqueue(
        conn, [_outbox_row(reply_id, item, now, None if delivered is None else delivered[0])]
    )
    return reply_id, delivered


async def store_outbound_many(
    conn: AsyncConnection, items: Sequence[Outgoing], who: Principal, now: datetime
) -> list[str]:
    """Many messages at once (no files, none delivered in the store): their ids, in order."""
    ids = [str(uuid.uuid4()) for _ in items]
    rows = [_message_row(i, item, who, now) for i, item in zip(ids, items, strict=True)]
    if rows:
        await conn.execute(sa.insert(messages), rows)
        await search_index.index_messages(conn, rows, [])
        await outbox_store.enqueue(
            conn, [_outbox_row(i, item, now) for i, item in zip(ids, items, strict=True)]
        )
    return ids


async def reply_addresses(conn: AsyncConnection, conv: Any, channel: str) -> tuple[str | None, str]:
    """Ours and the customer's address on ``channel``: those of the customer's last
    message there, else their first identity of that kind. Raises InputError if none."""
    last_in = (
        await conn.execute(
            sa.select(messages.c.sender_value, messages.c.recipient)
            .where(
                messages.c.customer_id == conv.customer_id,
                messages.c.channel == channel,
                messages.c.direction == "in",
            )
            .order_by(messages.c.received_at.desc())
            .limit(1)
        )
    ).one_or_none()
    if last_in is not None:
        return last_in.recipient, last_in.sender_value
    kind = ADDRESS_KIND.get(channel)
    address = None
    if kind is not None:
        address = await conn.scalar(
            sa.select(identities.c.value)
            .where(identities.c.customer_id == conv.customer_id, identities.c.kind == kind)
            .order_by(identities.c.created_at)
            .limit(1)
        )
    if address is None:
        raise InputError(
            f"the customer has no {kind or channel} address to reply to on {channel}", field="channel"
        )
    return None, address


async def _check_consent(conn: AsyncConnection, customer_id: str, channel: str) -> None:
    withdrawn = await consent_withdrawn(conn, customer_id, channel)
    if withdrawn is not None:
        raise Conflict(
            f"the customer withdrew consent for {Channel(channel).value} ({withdrawn}); "
            "nothing can be sent there until they opt in again"
        )


async def consent_withdrawn(conn: AsyncConnection, customer_id: str, channel: str) -> str | None:
    """How the customer withdrew service consent on the channel (e.g. ``sms:STOP``), or None."""
    found = await consent(conn, customer_id, channel, "service")
    return found[1] if found is not None and not found[0] else None


async def consent(
    conn: AsyncConnection, customer_id: str, channel: str, purpose: str
) -> tuple[bool, str] | None:
    """Whether the customer granted or withdrew ``purpose`` on ``channel``, and how; None: neither."""
    row = (
        await conn.execute(
            sa.select(consents.c.granted, consents.c.source).where(
                consents.c.customer_id == customer_id,
                consents.c.channel == channel,
                consents.c.purpose == purpose,
            )
        )
    ).one_or_none()
    return None if row is None else (bool(row.granted), str(row.source))


async def retry(
    store: Store, rules: RuleSet, conv_id: str, message_id: str, who: Principal, clock: Clock
) -> dict[str, Any]:
    """A failed or undelivered reply queued again, attempts reset. Raises NotFound for a
    conversation ``who`` may not see (as GET does) and for a message that is not a reply
    of this conversation, Conflict for one that has not failed."""
    now = clock()
    async with store.write() as conn:
        conv = (
            await conn.execute(
                sa.select(
                    conversations.c.assignee_id, conversations.c.offered_to, conversations.c.queue
                ).where(conversations.c.id == conv_id)
            )
        ).one_or_none()
        if conv is None or not (await scope_of(conn, who, rules)).allows(conv):
            raise hidden(conv_id)
        row = (
            await conn.execute(
                sa.select(
                    outbox.c.status, outbox.c.customer_id, outbox.c.details, conversations.c.assignee_id
                )
                .join(conversations, conversations.c.id == outbox.c.conversation_id)
                .where(outbox.c.id == message_id, outbox.c.conversation_id == conv_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"no reply {message_id} in conversation {conv_id}")
        if who.role == Role.AGENT and row.assignee_id != who.agent_id:
            raise Forbidden("only the assigned agent or a supervisor may send it again")
        if row.status not in ("failed", "undelivered"):
            raise Conflict(f"the reply is {row.status}, not failed; nothing to retry")
        # of a reply in parts, the parts that did not arrive go again; the others do not
        details = dict(row.details or {})
        reports = dict(details.get("parts") or {})
        lost = {p for p, state in reports.items() if state in ("failed", "undelivered")}
        details["sent_parts"] = {k: v for k, v in (details.get("sent_parts") or {}).items() if v not in lost}
        details["parts"] = {p: state for p, state in reports.items() if p not in lost}
        await conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == message_id, outbox.c.status.in_(("failed", "undelivered")))
            .values(
                status="queued",
                attempts=0,
                next_attempt_at=now,
                claimed_until=None,
                provider_ids=[],
                details=details,
                error=None,
                error_code=None,
                updated_at=now,
            )
        )
        await audit.record(
            conn,
            actor=who.actor,
            action="message.retried",
            subject_type="conversation",
            subject_id=conv_id,
            customer_id=row.customer_id,
            data={"message_id": message_id},
        )
    return {"id": message_id, "conversation_id": conv_id, "status": "queued"}
