"""Replies the hub sends by itself: a mailbox's auto-reply, a queue's out-of-hours reply
and an automation's. Each is an outbound message and an outbox row written in the caller's
transaction, marked automatic (``auto_reply``), so that the sender sends it the RFC 3834
way (``Auto-Submitted: auto-replied``, an empty envelope sender) and nothing answers it.

Never to automatic mail (an absence note, a bounce, a list): the edge marks those in the
message's ``meta``, and ``is_automatic`` reads that mark.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import InputError
from hub.outbox import store as outbox_store
from hub.outbox import whatsapp
from hub.outbox.replies import consent_withdrawn, reply_addresses
from hub.store.tables import conversations, messages


def is_automatic(meta: Mapping[str, Any]) -> bool:
    """The message was sent by a machine (an absence note, a bounce, a list): never
    answer it automatically."""
    return bool(meta.get("auto") or meta.get("out_of_office") or meta.get("bounce"))


async def queue_system_reply(
    conn: AsyncConnection,
    *,
    conversation_id: str,
    customer_id: str,
    channel: str,
    sender: str | None,
    recipient: str,
    text: str,
    reason: str,
    now: datetime,
) -> str:
    """Store an automatic reply and queue it; returns its message id. ``reason`` names
    it on the message (``meta[reason]``) and the outbox row (``details[reason]``)."""
    reply_id = str(uuid.uuid4())
    await conn.execute(
        sa.insert(messages).values(
            id=reply_id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            channel=channel,
            external_id=f"outbox:{reply_id}",
            direction="out",
            kind="message",
            sender_kind="system",
            sender_value=reason.replace("_", "-"),
            sender_name=None,
            recipient=recipient,
            text=text,
            meta={"auto_reply": "1", reason: "1"},
            received_at=now,
            stored_at=now,
        )
    )
    await outbox_store.enqueue(
        conn,
        [
            outbox_store.row(
                reply_id=reply_id,
                conversation_id=conversation_id,
                customer_id=customer_id,
                channel=channel,
                sender=sender,
                recipient=recipient,
                text=text,
                now=now,
                details={"auto_reply": True, reason: True},
            )
        ],
    )
    return reply_id


@dataclass(frozen=True, slots=True)
class HubReply:
    """What became of a reply the hub sends by itself: queued (``message_id``) or not,
    and why not."""

    message_id: str | None = None
    skipped: str | None = None


async def queue_hub_reply(
    conn: AsyncConnection,
    conv_id: str,
    text: str,
    sends: Collection[str],
    now: datetime,
    *,
    reason: str = "out_of_hours",
    answering: Mapping[str, Any] | None = None,
) -> HubReply:
    """A reply by the hub itself (the out-of-hours reply, an automation's) on the
    conversation's own channel, to the address its customer wrote from, unless nothing
    sends on that channel, the message it answers (``answering``: its meta; by default
    the first) was automatic, or the customer withdrew consent on the channel."""
    conv = (
        await conn.execute(
            sa.select(conversations.c.id, conversations.c.customer_id, conversations.c.channel).where(
                conversations.c.id == conv_id
            )
        )
    ).one_or_none()
    if conv is None:
        return HubReply(skipped="the conversation is gone")
    if conv.channel not in sends:
        return HubReply(skipped=f"no connector sends on {conv.channel}")
    if answering is None:
        answering = await conn.scalar(
            sa.select(messages.c.meta)
            .where(messages.c.conversation_id == conv_id, messages.c.direction == "in")
            .order_by(messages.c.received_at, messages.c.id)
            .limit(1)
        )
    if is_automatic(answering or {}):
        return HubReply(skipped="the sender is automatic")
    if (
        conv.channel == whatsapp.CHANNEL
        and not whatsapp.window_view(await whatsapp.last_message(conn, conv.customer_id), now)["open"]
    ):
        return HubReply(skipped="WhatsApp's 24-hour window is closed: only a template could go")
    withdrawn = await consent_withdrawn(conn, conv.customer_id, conv.channel)
    if withdrawn is not None:
        return HubReply(skipped=f"the customer withdrew consent ({withdrawn})")
    try:
        sender, recipient = await reply_addresses(conn, conv, conv.channel)
    except InputError as exc:
        return HubReply(skipped=exc.detail)
    message_id = await queue_system_reply(
        conn,
        conversation_id=conv.id,
        customer_id=conv.customer_id,
        channel=conv.channel,
        sender=sender,
        recipient=recipient,
        text=text,
        reason=reason,
        now=now,
    )
    return HubReply(message_id=message_id)
