"""Routing at run time: where live calls go, and the router (one active per deployment)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from connectors.registry import CONNECTORS
from hub.dispatch.call_target import CallTargets
from hub.dispatch.router import Router
from hub.keys import BUS, CALL_TARGETS, INBOX, METRICS, ROUTER, ROUTING, SERVICES, SETTINGS, STORE
from hub.wiring.tasks import PROCESS, finish, lease_for


async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
    calls = CallTargets(app[STORE], app[ROUTING], inbox=lambda: app.get(INBOX))
    services = app[SERVICES]
    app[CALL_TARGETS] = services.call_target = calls
    services.end_call = calls.end
    yield


async def router_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.routing.router:
        yield
        return
    router = Router(
        store=app[STORE],
        config=app[ROUTING],
        inbox=app[INBOX],
        lease=lease_for(app, "router"),
        bus=app[BUS],
        metrics=app[METRICS],
        consumer=f"{PROCESS}-router",
        sla_warning_s=settings.routing.sla_warning_seconds,
        sends=[c.channel.value for c in CONNECTORS if c.opens_sender(settings)],
    )
    app[ROUTER] = router
    task = asyncio.create_task(router.run(), name="router")
    yield
    router.stop()
    await finish(task, "the router", settings.server.shutdown_timeout)
