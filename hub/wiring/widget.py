"""The website chat's hub side: the widget service (visitor sockets, the feed that is the
chat channel's outbox) and its fan-out of bus events to this process's visitor sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.keys import BUS, IN_STORE, QUEUE, RECORDS, SERVICES, SETTINGS, STORE, WIDGET, WIDGET_FANOUT
from hub.widget.availability import Availability
from hub.widget.fanout import WidgetFanout
from hub.widget.service import WidgetService
from hub.wiring.tasks import cancel


async def widget_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    availability = Availability(app[STORE])
    service = WidgetService(
        store=app[STORE],
        records=app[RECORDS],
        bus=app[BUS],
        availability=availability,
        queue=lambda: app[QUEUE],
        region=settings.phone.default_region,
    )
    app[WIDGET] = service
    app[SERVICES].chat = service.deliver
    if settings.connectors.chat.enabled:
        app[IN_STORE]["chat"] = service.place_reply  # the feed is the chat's outbox
    fanout = WidgetFanout(app[BUS], app[STORE], availability)
    app[WIDGET_FANOUT] = fanout
    task = asyncio.create_task(fanout.run(), name="widget-fanout")
    yield
    await cancel([task])
