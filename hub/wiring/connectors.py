"""The connectors, every one through the same path: each enabled connector gets a
``ConnectorContext`` (the settings, the metrics, a clock, and the services opened at
start-up: the queue, the HTTP session, the blob store, its job queue), declares its routes,
and may run loops of its own. Their senders are the outbox's (``hub.wiring.outbox``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from connectors.base import ConnectorContext, Services
from connectors.registry import CONNECTORS
from hub.dispatch.lease import run_while_holding
from hub.keys import CONNECTOR_CONTEXT, HTTP, SETTINGS
from hub.metrics import Metrics
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.wiring.tasks import cancel, lease_for


def connector_context(settings: Settings, metrics: Metrics, services: Services) -> ConnectorContext:
    return ConnectorContext(
        settings=settings, metrics=metrics, clock=lambda: datetime.now(UTC), services=services
    )


def wire_connectors(ctx: ConnectorContext) -> list[RouteSpec]:
    """Every enabled connector: what it offers the others goes into the services; its
    routes are returned for the app to register."""
    enabled = [c for c in CONNECTORS if c.enabled(ctx.settings)]
    for c in enabled:
        if c.offers is not None:
            c.offers(ctx)
    return [spec for c in enabled for spec in c.routes(ctx)]


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    """The one HTTP client session: provider APIs, media downloads, reply webhooks."""
    async with aiohttp.ClientSession() as session:
        app[HTTP] = app[CONNECTOR_CONTEXT].services.http = session
        yield


async def background_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connectors' own loops (mailbox watchers, the fax reader), each in one process at a
    time (by a lease of its own), cancelled on shutdown."""
    ctx = app[CONNECTOR_CONTEXT]
    loops = [
        (f"{c.name}:{loop.name}", loop)
        for c in CONNECTORS
        if c.background is not None and c.enabled(app[SETTINGS])
        for loop in c.background(ctx)
    ]
    tasks = [
        asyncio.create_task(run_while_holding(lease_for(app, name), loop.run, name), name=name)
        for name, loop in loops
    ]
    yield
    await cancel(tasks)
