"""Conversations, their messages (with a reply's delivery) and attachments, as records.

The inbox list and a conversation's thread are the hot reads of the console; the
filters are plain values and the caller's view is the visibility rule's clause, so a
new filter (a search term) is one more field of ``ConversationFilter``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
    Priority,
)
from hub.store.tables import attachments, conversations, customers, identities, messages, outbox
from hub.store.times import utc, utc_or_none

c = conversations.c


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerBrief:
    """What the inbox shows of a conversation's customer: ``contact`` is their first
    identity, for the nameless."""

    name: str | None
    tier: str
    contact: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedConversation:
    conversation: Conversation
    customer: CustomerBrief


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationFilter:
    """The inbox's filters; None (or False) leaves a filter out."""

    limit: int
    status: ConversationStatus | None = None
    queue: str | None = None
    assignee_id: str | None = None
    customer_id: str | None = None
    tag: str | None = None  # a clean tag (hub.dispatch.tags.clean_tag)
    held_by: str | None = None  # offered or assigned to this agent
    waiting: bool = False  # open and nobody's yet
    ids: tuple[str, ...] | None = None  # only these (the hits of a search, hub/search/service.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """How far a reply got in the outbox; ``details`` holds the channel's extras."""

    status: str
    attempts: int
    error: str | None
    error_code: str | None
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredAttachment:
    id: int
    message_id: str
    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadMessage:
    """A message of a conversation's thread: its files, and for a reply its delivery."""

    message: Message
    attachments: tuple[StoredAttachment, ...]
    delivery: Delivery | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """What the visibility rule reads of a conversation."""

    assignee_id: str | None
    offered_to: str | None
    queue: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachmentInContext:
    """An attachment with the conversation it came in (for the visibility rule) and the
    customer whose message carried it (for the audit log)."""

    attachment: StoredAttachment
    conversation: Placement
    customer_id: str


def conversation_of(row: Any) -> Conversation:
    """A conversations row (or a select of all its columns) as a record."""
    return Conversation(
        id=row.id,
        customer_id=row.customer_id,
        channel=Channel(row.channel),
        thread_key=row.thread_key,
        status=ConversationStatus(row.status),
        needs_routing=row.needs_routing,
        message_count=row.message_count,
        opened_at=utc(row.opened_at),
        last_message_at=utc(row.last_message_at),
        closed_at=utc_or_none(row.closed_at),
        queue=row.queue,
        offered_to=row.offered_to,
        offer_expires_at=utc_or_none(row.offer_expires_at),
        assignee_id=row.assignee_id,
        assigned_at=utc_or_none(row.assigned_at),
        route=row.route or {},
        priority=Priority.of_rank(row.priority),
        first_response_due=utc_or_none(row.first_response_due),
        first_response_at=utc_or_none(row.first_response_at),
        next_response_due=utc_or_none(row.next_response_due),
        breached=row.breached,
        breached_at=utc_or_none(row.breached_at),
        snoozed_until=utc_or_none(row.snoozed_until),
        snoozed_at=utc_or_none(row.snoozed_at),
    )


def has_tag(dialect: str, tag: str) -> sa.ColumnElement[bool]:
    """A WHERE clause: the conversation carries this tag (a JSON array in ``route``)."""
    if dialect == "postgresql":
        items = sa.func.jsonb_array_elements_text(c.route.op("->")("tags")).table_valued("value")
    else:
        items = sa.func.json_each(c.route, "$.tags").table_valued("value")
    return sa.exists(sa.select(sa.literal(1)).select_from(items).where(items.c.value == tag))


def _with_customer() -> sa.Select[Any]:
    """Conversations with their customer's name, tier and first identity."""
    contact = (
        sa.select(identities.c.value)
        .where(identities.c.customer_id == c.customer_id)
        .order_by(identities.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.select(
        conversations,
        customers.c.name.label("customer_name"),
        customers.c.tier.label("customer_tier"),
        contact.label("customer_contact"),
    ).join(customers, customers.c.id == c.customer_id)


def _listed(row: Any) -> ListedConversation:
    return ListedConversation(
        conversation=conversation_of(row),
        customer=CustomerBrief(name=row.customer_name, tier=row.customer_tier, contact=row.customer_contact),
    )


async def list_conversations(
    conn: AsyncConnection, wanted: ConversationFilter, visible: sa.ColumnElement[bool]
) -> list[ListedConversation]:
    """The conversations ``visible`` allows that match ``wanted``, latest activity first."""
    query = _with_customer().where(visible).order_by(c.last_message_at.desc(), c.id).limit(wanted.limit)
    if wanted.status is not None:
        query = query.where(c.status == wanted.status)
    if wanted.queue:
        query = query.where(c.queue == wanted.queue)
    if wanted.assignee_id is not None:
        query = query.where(c.assignee_id == wanted.assignee_id)
    if wanted.held_by is not None:
        query = query.where(sa.or_(c.assignee_id == wanted.held_by, c.offered_to == wanted.held_by))
    if wanted.waiting:
        query = query.where(c.status == ConversationStatus.OPEN, c.assignee_id.is_(None))
    if wanted.customer_id:
        query = query.where(c.customer_id == wanted.customer_id)
    if wanted.ids is not None:
        query = query.where(c.id.in_(list(wanted.ids)))
    if wanted.tag:
        query = query.where(has_tag(conn.dialect.name, wanted.tag))
    return [_listed(r) for r in await conn.execute(query)]


async def get_listed(conn: AsyncConnection, conv_id: str) -> ListedConversation | None:
    row = (await conn.execute(_with_customer().where(c.id == conv_id))).one_or_none()
    return None if row is None else _listed(row)


async def thread(conn: AsyncConnection, conv_id: str) -> list[ThreadMessage]:
    """A conversation's messages, oldest first, with their files and delivery."""
    rows = (
        await conn.execute(
            sa.select(
                messages,
                outbox.c.status.label("delivery_status"),
                outbox.c.attempts,
                outbox.c.error,
                outbox.c.error_code,
                outbox.c.details,
            )
            .select_from(messages.outerjoin(outbox, outbox.c.id == messages.c.id))
            .where(messages.c.conversation_id == conv_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
    ).all()
    files = await attachments_of(conn, [r.id for r in rows])
    return [
        ThreadMessage(
            message=message_of(r),
            attachments=tuple(files.get(r.id, ())),
            delivery=None
            if r.delivery_status is None
            else Delivery(
                status=r.delivery_status,
                attempts=r.attempts,
                error=r.error,
                error_code=r.error_code,
                details=r.details or {},
            ),
        )
        for r in rows
    ]


def message_of(row: Any) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=Channel(row.channel),
        external_id=row.external_id,
        direction=Direction(row.direction),
        kind=MessageKind(row.kind),
        text=row.text,
        subject=row.subject,
        received_at=utc(row.received_at),
        stored_at=utc(row.stored_at),
        sender_kind=row.sender_kind,
        sender_name=row.sender_name,
        html=row.html,
        meta=row.meta or {},
    )


def _attachment(row: Any) -> StoredAttachment:
    return StoredAttachment(
        id=row.id,
        message_id=row.message_id,
        sha256=row.sha256,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
    )


async def attachments_of(
    conn: AsyncConnection, message_ids: Sequence[str]
) -> dict[str, list[StoredAttachment]]:
    """The files of these messages, by message id, in the order they were stored."""
    found: dict[str, list[StoredAttachment]] = {}
    if message_ids:
        rows = await conn.execute(
            sa.select(attachments).where(attachments.c.message_id.in_(message_ids)).order_by(attachments.c.id)
        )
        for r in rows:
            found.setdefault(r.message_id, []).append(_attachment(r))
    return found


async def attachment_in_context(conn: AsyncConnection, attachment_id: int) -> AttachmentInContext | None:
    row = (
        await conn.execute(
            sa.select(
                attachments,
                c.assignee_id,
                c.offered_to,
                c.queue,
                messages.c.customer_id.label("owner"),
            )
            .join(messages, messages.c.id == attachments.c.message_id)
            .join(conversations, c.id == messages.c.conversation_id)
            .where(attachments.c.id == attachment_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return AttachmentInContext(
        attachment=_attachment(row),
        conversation=Placement(assignee_id=row.assignee_id, offered_to=row.offered_to, queue=row.queue),
        customer_id=row.owner,
    )


async def held_by(conn: AsyncConnection, agent_id: str) -> set[str]:
    """The ids of the open conversations offered or assigned to the agent."""
    rows = await conn.execute(
        sa.select(c.id).where(
            c.status == ConversationStatus.OPEN,
            sa.or_(c.assignee_id == agent_id, c.offered_to == agent_id),
        )
    )
    return {r.id for r in rows}


async def placement(conn: AsyncConnection, conv_id: str) -> Placement | None:
    row = (
        await conn.execute(sa.select(c.assignee_id, c.offered_to, c.queue).where(c.id == conv_id))
    ).one_or_none()
    return (
        None
        if row is None
        else Placement(assignee_id=row.assignee_id, offered_to=row.offered_to, queue=row.queue)
    )
