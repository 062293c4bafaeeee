"""``create_app(settings)``: the one place where the hub is wired together.

Each area's wiring is in ``hub.wiring``. Resources open and close in pairs in
``cleanup_ctx``, in this order, and close in reverse: store -> admin configuration -> call
targets -> Redis -> bus -> queues -> HTTP session -> widget -> ingest workers -> router ->
outbox -> connectors' background loops (mailbox watchers) -> retention -> report rollups. On shutdown the
server first stops accepting, then the workers finish their batch, then in-flight appends
drain, then connections close.
"""

from __future__ import annotations

import weakref
from functools import partial

from aiohttp import web

from connectors.base import Services
from hub.clock import Clock, utc_now
from hub.customers.records import CustomerRecords
from hub.customers.tiers import load_tier_rules
from hub.keys import (
    BLOBS,
    BUS,
    CLOCK,
    CONNECTOR_CONTEXT,
    IN_STORE,
    METRICS,
    RECORDS,
    ROUTES,
    SERVICES,
    SETTINGS,
    SOCKETS,
)
from hub.metrics import Metrics
from hub.realtime.bus import InProcessBus
from hub.settings import Settings
from hub.store.blobs import FolderBlobStore
from hub.web.agent_socket import close_sockets
from hub.web.middleware import SPEC, access, errors, request_context, storable_params
from hub.wiring.automation import automation_ctx
from hub.wiring.connectors import background_ctx, connector_context, http_ctx, wire_connectors
from hub.wiring.dispatch import calls_ctx, router_ctx
from hub.wiring.health import health_ctx
from hub.wiring.ingest import workers_ctx
from hub.wiring.outbox import outbox_ctx
from hub.wiring.outreach import outreach_ctx
from hub.wiring.queues import bus_ctx, queues_ctx, redis_ctx
from hub.wiring.reports import reports_ctx
from hub.wiring.retention import retention_ctx
from hub.wiring.revenue import revenue_ctx
from hub.wiring.store import config_ctx, store_ctx
from hub.wiring.web import hub_routes, register
from hub.wiring.webhooks import webhooks_ctx
from hub.wiring.widget import widget_ctx


def create_app(settings: Settings, *, migrate: bool | None = None, clock: Clock = utc_now) -> web.Application:
    """Build the application. ``migrate=None`` migrates on the embedded backend only;
    ``clock`` is the one clock the services are handed (tests give a fake one)."""
    app = web.Application(
        middlewares=[request_context, errors, storable_params, access],
        client_max_size=settings.server.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = Metrics()
    app[BUS] = InProcessBus()  # with Redis, bus_ctx puts one that reaches every process
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_sockets)
    app[BLOBS] = FolderBlobStore(settings.blobs.path)
    tiers = load_tier_rules(settings.customers.tiers_file)  # an invalid file refuses the start
    app[RECORDS] = CustomerRecords(tiers, settings.phone.default_region)
    app[ROUTES] = []
    app[IN_STORE] = {}
    app[SPEC] = {}
    services = app[SERVICES] = Services(blobs=app[BLOBS])
    ctx = app[CONNECTOR_CONTEXT] = connector_context(settings, app[METRICS], services, clock)
    do_migrate = settings.database.url.startswith("sqlite") if migrate is None else migrate

    app.cleanup_ctx.extend(
        [
            partial(store_ctx, migrate=do_migrate),
            config_ctx,
            calls_ctx,
            redis_ctx,
            bus_ctx,
            queues_ctx,
            http_ctx,
            widget_ctx,
            workers_ctx,
            router_ctx,
            outbox_ctx,
            background_ctx,
            retention_ctx,
            reports_ctx,
            revenue_ctx,
            webhooks_ctx,
            health_ctx,
            automation_ctx,
            outreach_ctx,
        ]
    )
    for spec in [*hub_routes(settings), *wire_connectors(ctx)]:
        register(app, spec)
    return app
