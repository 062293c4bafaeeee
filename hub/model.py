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
from typing import Any


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"
    FAX = "fax"
    CHAT = "chat"
    API = "api"
    WHATSAPP = "whatsapp"  # through Twilio, addressed by the phone number


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


class ConversationState(StrEnum):
    """Where a conversation stands for the inbox: its status, and if open, its routing."""

    WAITING = "waiting"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Priority(StrEnum):
    """What the customer marked or a rule set; stored as a rank (``RANK``), lower is more urgent."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        return PRIORITY_RANKS[self]

    @classmethod
    def of_rank(cls, rank: int | None) -> Priority:
        """The priority a stored rank names; NORMAL for none or an unknown rank."""
        return next((p for p, r in PRIORITY_RANKS.items() if r == rank), cls.NORMAL)


PRIORITY_RANKS = {Priority.HIGH: 1, Priority.NORMAL: 3, Priority.LOW: 5}


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    """A conversation with its routing, SLA and snooze state; times are aware (UTC)."""

    id: str
    customer_id: str
    channel: Channel
    thread_key: str
    status: ConversationStatus
    needs_routing: bool
    message_count: int
    opened_at: datetime
    last_message_at: datetime
    closed_at: datetime | None = None
    queue: str | None = None
    offered_to: str | None = None
    offer_expires_at: datetime | None = None
    assignee_id: str | None = None
    assigned_at: datetime | None = None
    route: Mapping[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    first_response_due: datetime | None = None
    first_response_at: datetime | None = None
    next_response_due: datetime | None = None
    breached: str | None = None
    breached_at: datetime | None = None
    snoozed_until: datetime | None = None
    snoozed_at: datetime | None = None

    @property
    def state(self) -> ConversationState:
        if self.status is not ConversationStatus.OPEN:
            return ConversationState.CLOSED
        if self.assignee_id is not None:
            return ConversationState.ASSIGNED
        return ConversationState.OFFERED if self.offered_to is not None else ConversationState.WAITING

    def snoozed(self, now: datetime) -> bool:
        """Hidden from its agent's inbox: snoozed until after ``now``, and the customer
        has not written since it was snoozed (a message wakes it early)."""
        return (
            self.snoozed_until is not None
            and self.snoozed_at is not None
            and self.snoozed_until > now
            and self.last_message_at <= self.snoozed_at
        )


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
    sender_kind: str  # an AddressKind for inbound; "agent" or "system" for replies
    sender_name: str | None = None
    html: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Agent:
    """An agent as the API shows them: never the password hash nor the TOTP secret."""

    id: str
    email: str
    name: str
    role: Role
    presence: Presence = Presence.OFFLINE
    languages: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    capacity: Mapping[str, int] = field(default_factory=dict)
    active: bool = True
    phone: str | None = None
    totp_enabled: bool = False
    totp_required: bool = False
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    name: str
    priority: int
