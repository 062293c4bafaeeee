"""The connector contract (STYLE §1): a declared SPEC, and services handed in.

A connector never imports ``hub.web`` and never touches tables. It gets the queue,
the blob store, the shared HTTP session and a clock through ``ConnectorContext`` and declares its
routes as ``RouteSpec``s; the app registers them and enforces their access. A connector
that can send declares a ``Sender``; the outbox calls it, and retries what fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import aiohttp

from hub.metrics import Metrics
from hub.model import Address, Attachment, Channel, InboundMessage
from hub.queue.base import IngestQueue
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.store.blobs import BlobStore


@dataclass(frozen=True, slots=True)
class CallTarget:
    """Where a live call goes: ``agent`` (dial ``address``), or ``closed``/``busy`` (voicemail)."""

    kind: str
    address: str | None
    agent_id: str | None
    ring_timeout_s: int


@dataclass(slots=True)
class Services:
    """Opened when the app starts, after routes are fixed; handlers read them per request."""

    blobs: BlobStore
    queue: IngestQueue[InboundMessage] | None = None
    http: aiohttp.ClientSession | None = None
    # report(reply id, provider id, delivered|undelivered|failed|sent, error code) -> known?
    delivery: Callable[[str, str, str, str | None], Awaitable[bool]] | None = None
    # call_target(caller, department, language, now): where a live call goes
    call_target: Callable[[Address, str, str, datetime], Awaitable[CallTarget]] | None = None
    # chat(reply) -> the widget feed's seq, or None if the reply's message is gone
    chat: Callable[[Outbound], Awaitable[int | None]] | None = None


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

    async def call_target(self, caller: Address, department: str, language: str, now: datetime) -> CallTarget:
        if self.services.call_target is None:
            raise RuntimeError("routing is not open: the app has not started")
        return await self.services.call_target(caller, department, language, now)

    async def report_delivery(self, reply_id: str, provider_id: str, status: str, code: str | None) -> bool:
        if self.services.delivery is None:
            raise RuntimeError("the outbox is not open: the app has not started")
        return await self.services.delivery(reply_id, provider_id, status, code)

    @property
    def blobs(self) -> BlobStore:
        return self.services.blobs

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.services.http is None:
            raise RuntimeError("the HTTP session is not open: the app has not started")
        return self.services.http


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

    def opens_sender(self, settings: Settings) -> bool:
        if self.sender is None or not self.enabled(settings):
            return False
        return self.sends is None or self.sends(settings)
