"""The connector contract (STYLE §1): a declared SPEC, and services handed in.

A connector never imports ``hub.web`` and never touches tables. It gets the queue,
the blob store, the shared HTTP session and a clock through ``ConnectorContext`` and declares its
routes as ``RouteSpec``s; the app registers them and enforces their access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import aiohttp

from hub.metrics import Metrics
from hub.model import Channel, InboundMessage
from hub.queue.base import IngestQueue
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.store.blobs import BlobStore


@dataclass(slots=True)
class Services:
    """Opened when the app starts, after routes are fixed; handlers read them per request."""

    blobs: BlobStore
    queue: IngestQueue[InboundMessage] | None = None
    http: aiohttp.ClientSession | None = None


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

    @property
    def blobs(self) -> BlobStore:
        return self.services.blobs

    @property
    def http(self) -> aiohttp.ClientSession:
        if self.services.http is None:
            raise RuntimeError("the HTTP session is not open: the app has not started")
        return self.services.http


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    name: str  # also its folder and its URL segment
    channel: Channel
    enabled: Callable[[Settings], bool]
    routes: Callable[[ConnectorContext], list[RouteSpec]]
