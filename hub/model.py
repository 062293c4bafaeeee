"""The normalised model every channel speaks (ARCHITECTURE §3).

Frozen dataclasses and enums only: no I/O, no imports from web, store, queue or
connectors. Connectors build an ``InboundMessage``; the ingest worker turns it into
stored rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    FAX = "fax"
    CHAT = "chat"
    API = "api"


class AddressKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    FAX = "fax"
    CHAT_VISITOR = "chat_visitor"
    API = "api"
    EXTERNAL = "external"


class MessageKind(StrEnum):
    MESSAGE = "message"
    CALL_EVENT = "call_event"  # a call's progress: logged on the timeline, not routed
    MISSED_CALL = "missed_call"
    VOICEMAIL = "voicemail"
    FAX = "fax"
    STATUS = "status"


# Kinds that are work for an agent: a conversation with one of them is routed.
ROUTABLE_KINDS = frozenset(
    {MessageKind.MESSAGE, MessageKind.MISSED_CALL, MessageKind.VOICEMAIL, MessageKind.FAX}
)


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class ConversationStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Address:
    """An identity on a channel; ``value`` is already normalised (E.164, lower-cased)."""

    kind: AddressKind
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadHint:
    """What a channel knows about threading.

    ``key`` names the thread within the customer's conversations on that channel
    (an email thread root, a call id); ``None`` means "the channel's open conversation".
    ``references`` carries extra ids a channel may match on (e.g. email References);
    ingest follows them, and ``conversation``, only within the sender's own customer.
    """

    key: str | None = None
    references: tuple[str, ...] = ()
    conversation: str | None = None  # a conversation the sender names (an email subject's [#ref] tag)


@dataclass(frozen=True, slots=True, kw_only=True)
class Attachment:
    """A file already written to the blob store; ``sha256`` is its content address."""

    sha256: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    channel: Channel
    external_id: str
    sender: Address
    recipient: Address | None = None
    thread_hint: ThreadHint = field(default_factory=ThreadHint)
    subject: str | None = None
    text: str = ""
    html: str | None = None
    attachments: tuple[Attachment, ...] = ()
    kind: MessageKind = MessageKind.MESSAGE
    received_at: datetime
    sender_name: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallTarget:
    """Where a live call goes: ``agent`` (dial ``address``), or ``closed``/``busy`` (voicemail).
    The Router answers it and the voice connector acts on it, so it lives here, below both."""

    kind: str
    address: str | None
    agent_id: str | None
    ring_timeout_s: int


_MESSAGE_NS = uuid.UUID("5f0c5a6e-4d3b-4c1e-9a51-9d7f2f4b8c11")


def message_id(channel: Channel | str, external_id: str) -> str:
    """The stored id of a message: the same ``(channel, external_id)`` always gives the
    same id, so an edge can answer with it before the message is stored."""
    return str(uuid.uuid5(_MESSAGE_NS, f"{Channel(channel).value}\x00{external_id}"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    id: str
    name: str | None
    tier: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    customer_id: str
    address: Address


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    id: str
    customer_id: str
    channel: Channel
    thread_key: str
    status: ConversationStatus
    needs_routing: bool
    opened_at: datetime
    last_message_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    id: str
    conversation_id: str
    channel: Channel
    external_id: str
    direction: Direction
    kind: MessageKind
    text: str
    subject: str | None
    received_at: datetime
    stored_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    id: str
    email: str
    name: str
    role: Role
    presence: Presence = Presence.OFFLINE
    languages: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    capacity: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    name: str
    priority: int
