"""The connector contract (STYLE §1): a declared SPEC, and services handed in.

A connector never imports ``hub.web`` and never touches tables. It gets the queue,
the blob store, the shared HTTP session and a clock through ``ConnectorContext`` and declares its
routes as ``RouteSpec``s; the app registers them and enforces their access. A connector
that can send declares a ``Sender``; the outbox calls it, and retries what fails.
Connectors never import each other: what one hands to another (a fax that came as mail)
is a record of this module passed through the context (``ConnectorContext.accept_fax``);
code two connectors share is a library under ``connectors/lib``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import aiohttp

from hub.metrics import Metrics
from hub.model import Address, Attachment, CallTarget, Channel, InboundMessage
from hub.queue.base import IngestQueue
from hub.request_body import FormFile
from hub.routespec import RouteSpec
from hub.settings import Settings


@dataclass(slots=True)
class ConnectorState:
    """How one part of a connector is doing (a mailbox, a sender), for GET /api/v1/channels:
    ``starting``, ``connected``, ``transient_failure`` (retrying), ``bad_credentials``
    (waits for new settings), ``degraded`` (works, with a part missing) or ``stopped``;
    ``detail`` says the last error or what is missing."""

    state: str = "starting"
    detail: str | None = None
    since: datetime | None = None

    def set(self, state: str, detail: str | None = None) -> None:
        if state != self.state or detail != self.detail:
            self.state, self.detail, self.since = state, detail, datetime.now(UTC)


class Blobs(Protocol):
    """The blob store as a connector sees it: files in and out by content hash. The hub
    hands its store in (``hub.store.blobs`` implements this); a connector never imports it."""

    async def put(self, data: bytes) -> str: ...
    async def get(self, sha256: str) -> bytes: ...


class MailCursors(Protocol):
    """Where a mailbox watcher keeps its place: the folder's UIDVALIDITY and the last UID
    it has put on the ingest queue."""

    async def get(self, mailbox: str) -> tuple[int | None, int]: ...
    async def set(self, mailbox: str, uidvalidity: int, last_uid: int) -> None: ...


@dataclass(slots=True)
class Services:
    """Opened when the app starts, after routes are fixed; handlers read them per request."""

    blobs: Blobs
    queue: IngestQueue[InboundMessage] | None = None
    http: aiohttp.ClientSession | None = None
    # report(reply id, provider id, delivered|undelivered|failed|sent, error code) -> known?
    delivery: Callable[[str, str, str, str | None], Awaitable[bool]] | None = None
    # call_target(caller, department, language, now, call id): where a live call goes; an
    # agent it is put through to is held for it until end_call(call id)
    call_target: Callable[[Address, str, str, datetime, str], Awaitable[CallTarget]] | None = None
    end_call: Callable[[str], Awaitable[None]] | None = None
    # chat(reply id, its files) -> the widget feed's seq, or None if the reply's message is gone
    chat: Callable[[str, Sequence[Attachment]], Awaitable[int | None]] | None = None
    cursors: MailCursors | None = None
    # by connector: work accepted at the edge, waiting to be done (a fax's pages and OCR)
    jobs: dict[str, IngestQueue[InboundMessage]] = field(default_factory=dict)
    # fax_intake(fax): store its document and queue it for its pages and OCR (the fax
    # connector's); how another connector hands over a fax without importing that one
    fax_intake: Callable[[ReceivedFax], Awaitable[InboundMessage]] | None = None
    states: dict[str, ConnectorState] = field(default_factory=dict)  # by "<connector>:<part>"

    def state(self, name: str) -> ConnectorState:
        """The state of one connector part, made on first use."""
        return self.states.setdefault(name, ConnectorState())


@dataclass(frozen=True, slots=True)
class ConnectorContext:
    settings: Settings
    metrics: Metrics
    clock: Callable[[], datetime]
    services: Services

    @property
    def queue(self) -> IngestQueue[InboundMessage]:
        if self.services.queue is None:
            raise RuntimeError("the queue is not open: the app has not started")
        return self.services.queue

    async def call_target(
        self, caller: Address, department: str, language: str, now: datetime, call_id: str
    ) -> CallTarget:
        if self.services.call_target is None:
            raise RuntimeError("routing is not open: the app has not started")
        return await self.services.call_target(caller, department, language, now, call_id)

    async def end_call(self, call_id: str) -> None:
        """The call's agent leg is over: the agent's line is free again."""
        if self.services.end_call is None:
            raise RuntimeError("routing is not open: the app has not started")
        await self.services.end_call(call_id)

    async def report_delivery(self, reply_id: str, provider_id: str, status: str, code: str | None) -> bool:
        if self.services.delivery is None:
            raise RuntimeError("the outbox is not open: the app has not started")
        return await self.services.delivery(reply_id, provider_id, status, code)

    async def accept_fax(self, fax: ReceivedFax) -> InboundMessage:
        """Hand a fax to the fax connector; durable when it returns."""
        if self.services.fax_intake is None:
            raise RuntimeError("the fax intake is not open: the fax connector is off or not started")
        return await self.services.fax_intake(fax)

    @property
    def cursors(self) -> MailCursors:
        if self.services.cursors is None:
            raise RuntimeError("the mail cursors are not open: the app has not started")
        return self.services.cursors

    @property
    def blobs(self) -> Blobs:
        return self.services.blobs

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.services.http is None:
            raise RuntimeError("the HTTP session is not open: the app has not started")
        return self.services.http


FilePart = FormFile  # a file as a provider sent it: its form field, the name it was given, its bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceivedFax:
    """An inbound fax as a gateway reported it; numbers as the gateway wrote them. The fax
    connector's gateways make these, and so does the email connector for mail from an
    email-to-fax gateway: it hands them over with ``ConnectorContext.accept_fax``."""

    provider: str
    fax_id: str
    sender: str
    recipient: str | None
    document: FilePart
    pages: int | None = None
    station_id: str | None = None  # the sending machine's CSID / TSI


@dataclass(frozen=True, slots=True)
class MailThread:
    """What a reply by email needs of its thread; the hub reads it from the conversation."""

    subject: str  # "Re: …" with the conversation's [#ref] tag
    in_reply_to: str | None  # the Message-ID of the customer's latest mail
    references: tuple[str, ...]  # the thread's Message-IDs, oldest first
    message_id: str  # this reply's own: <reply id@domain>
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class Outbound:
    """A reply to send, as the outbox hands it to a connector."""

    id: str  # the outbox row and the outbound message: one id
    channel: Channel
    sender: str | None  # our number or address; None lets the connector choose
    recipient: str
    text: str
    attempt: int  # 1 for the first try
    attachments: tuple[Attachment, ...] = ()  # files in the blob store, for senders that carry them
    thread: MailThread | None = None  # for email replies
    auto_reply: bool = False  # sent by the hub itself: marked so (RFC 3834), never to be answered
    unsubscribe: str | None = None  # a campaign's one-click unsubscribe URL (email: List-Unsubscribe)
    # A WhatsApp template instead of free text: {"content_sid": "HX…", "variables": {"1": …}}
    template: Mapping[str, Any] | None = None
    # A reply that leaves in parts (a long SMS): the provider ids of the parts an earlier
    # attempt got accepted, by part number; a retry sends only the others.
    sent_parts: Mapping[int, str] = field(default_factory=dict)
    # Records one accepted part on the outbox row (durably) before the next part is sent.
    record_part: Callable[[int, str], Awaitable[None]] | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    provider_ids: tuple[str, ...]  # the provider's ids, one per part
    details: Mapping[str, Any] = field(default_factory=dict)


class SendFailed(Exception):
    """The provider refused. ``permanent`` ones are not retried (a bad number, no consent)."""

    def __init__(self, message: str, *, permanent: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


class Sender(Protocol):
    async def send(self, item: Outbound) -> Sent: ...
    async def close(self) -> None: ...


class RunsInBackground(Protocol):
    """A connector's own loop (an IMAP IDLE watcher): runs until cancelled, and never
    ends by itself on a failure: it reports its state and tries again. The hub runs each
    ``name`` in one process at a time."""

    name: str

    async def run(self) -> None: ...


@runtime_checkable
class CarriesAttachments(Protocol):
    """A sender that delivers ``Outbound.attachments``; replies with files are refused on
    channels whose sender is not one."""

    carries_attachments: bool


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str  # also its folder and its URL segment
    channel: Channel
    enabled: Callable[[Settings], bool]
    routes: Callable[[ConnectorContext], list[RouteSpec]]
    sender: Callable[[ConnectorContext], Sender] | None = None  # opened when the app starts
    sends: Callable[[Settings], bool] | None = None  # whether to open it; default: when enabled
    background: Callable[[ConnectorContext], Sequence[RunsInBackground]] | None = None  # started with the app
    jobs: bool = False  # keeps a durable job queue of its own (named after it): Services.jobs
    # hands what it offers other connectors to the services (the fax intake), when enabled
    offers: Callable[[ConnectorContext], None] | None = None

    def opens_sender(self, settings: Settings) -> bool:
        if self.sender is None or not self.enabled(settings):
            return False
        return self.sends is None or self.sends(settings)
