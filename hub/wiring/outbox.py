"""The outbox: replies leave through the senders of the connectors that send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from connectors.base import Sender
from connectors.registry import CONNECTORS
from hub.keys import BUS, CONNECTOR_CONTEXT, METRICS, OUTBOX, SETTINGS, STORE, WIDGET
from hub.outbox.reports import DeliveryReports
from hub.outbox.worker import OutboxWorker
from hub.wiring.tasks import finish


async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, ctx = app[SETTINGS], app[CONNECTOR_CONTEXT]
    senders: dict[str, Sender] = {
        c.channel.value: c.sender(ctx)
        for c in CONNECTORS
        if c.sender is not None and c.opens_sender(settings)
    }
    ctx.services.delivery = app[WIDGET].delivery = DeliveryReports(app[STORE], app[BUS])
    worker = OutboxWorker(
        store=app[STORE],
        senders=senders,
        bus=app[BUS],
        metrics=app[METRICS],
        mail_domain=settings.connectors.email.domain,  # replies' Message-IDs, for threading
    )
    app[OUTBOX] = worker
    task = asyncio.create_task(worker.run(), name="outbox")
    yield
    worker.stop()
    await finish(task, "the outbox", settings.server.shutdown_timeout)
    for sender in senders.values():
        await sender.close()
