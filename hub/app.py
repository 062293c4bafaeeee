"""``create_app(settings)``: the one place where the hub is wired together.

Resources open and close in pairs in ``cleanup_ctx``, in this order, and close in
reverse: store -> Redis -> queues -> HTTP session -> widget fan-out -> ingest workers ->
router -> outbox -> connectors' background loops (mailbox watchers) -> retention. On shutdown
the server first stops accepting, then the workers finish their batch, then in-flight
appends drain, then connections close.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors import CONNECTORS
from connectors.base import ConnectorContext, Sender, Services
from connectors.fax.prepare import accept_fax
from hub.auth.sessions import SessionService
from hub.customers.privacy import apply_retention
from hub.customers.records import CustomerRecords
from hub.customers.tier_config import TierConfig
from hub.customers.tiers import load_tier_rules
from hub.dispatch.call_target import CallTargets
from hub.dispatch.inbox import STREAM as INBOX_STREAM
from hub.dispatch.inbox import Inbox, encode_hint
from hub.dispatch.lease import Lease, RedisLease, StoreLease, run_while_holding
from hub.dispatch.router import Router
from hub.dispatch.rules_config import RoutingConfig
from hub.ingest import IngestWorker
from hub.keys import (
    BLOBS,
    BUS,
    CALL_TARGETS,
    HTTP,
    IN_STORE,
    INBOX,
    METRICS,
    OUTBOX,
    QUEUE,
    RECORDS,
    REDIS,
    ROUTER,
    ROUTES,
    ROUTING,
    SERVICES,
    SESSIONS,
    SETTINGS,
    SOCKETS,
    STORE,
    TIERS,
    TOKENS,
    WIDGET,
    WIDGET_FANOUT,
    WORKERS,
)
from hub.metrics import Metrics
from hub.outbox.reports import DeliveryReports
from hub.outbox.worker import OutboxWorker
from hub.queue import open_queue
from hub.queue.codec import encode_message
from hub.realtime.bus import InProcessBus
from hub.realtime.redis_bus import RedisBus
from hub.realtime.widget_fanout import WidgetFanout
from hub.routespec import RouteSpec
from hub.settings import Settings
from hub.store.blobs import BlobStore, FolderBlobStore
from hub.store.engine import Store
from hub.store.mail_cursors import StoreMailCursors
from hub.tokens import TokenService
from hub.web.admin import admin_routes
from hub.web.agent_socket import close_sockets, socket_routes
from hub.web.agents import agent_routes
from hub.web.api_tokens import token_routes
from hub.web.auth import auth_routes
from hub.web.canned import canned_routes
from hub.web.channel_settings import channel_settings_routes
from hub.web.channels import channel_routes
from hub.web.console import console_routes
from hub.web.conversations import conversation_routes
from hub.web.customers import customer_routes
from hub.web.invitations import invitation_routes
from hub.web.middleware import SPEC, access, errors, request_context, storable_params
from hub.web.routing import routing_routes
from hub.web.supervisor import supervisor_routes
from hub.web.system import system_routes
from hub.web.totp import totp_routes
from hub.web.widget_public import widget_public_routes
from hub.web.widget_sites import widget_site_routes
from hub.web.widget_socket import widget_socket_routes
from hub.widget.availability import Availability
from hub.widget.service import WidgetService

log = logging.getLogger("contacthub.app")
PROCESS = f"{socket.gethostname()}-{os.getpid()}"  # names this process to queues and leases


def create_app(settings: Settings, *, migrate: bool | None = None) -> web.Application:
    """Build the application. ``migrate=None`` migrates on the embedded backend only."""
    app = web.Application(
        middlewares=[request_context, errors, storable_params, access],
        client_max_size=settings.server.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[BUS] = InProcessBus()
    app[SOCKETS] = weakref.WeakSet()
    app.on_shutdown.append(close_sockets)
    app[BLOBS] = FolderBlobStore(settings.blobs.path)
    tiers = load_tier_rules(settings.customers.tiers_file)  # an invalid file refuses the start
    app[RECORDS] = CustomerRecords(tiers, settings.phone.default_region)
    app[ROUTES] = []
    app[IN_STORE] = {}
    app[SPEC] = {}
    do_migrate = settings.database.url.startswith("sqlite") if migrate is None else migrate
    services = app[SERVICES] = Services(blobs=app[BLOBS])
    ctx = ConnectorContext(
        settings=settings, metrics=app[METRICS], clock=lambda: datetime.now(UTC), services=services
    )

    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        store = Store(settings.database)
        try:
            await (store.migrate() if do_migrate else store.require_schema())
        except BaseException:
            await store.close()
            raise
        app[STORE] = store
        app[TOKENS] = TokenService(store)
        services.cursors = StoreMailCursors(store)
        app[SESSIONS] = SessionService(store, settings.security)
        tier_config = TierConfig(store, settings.customers.tiers_file, app[RECORDS])
        try:
            await tier_config.load()  # the routing rules name tiers: these first
            routing = RoutingConfig(store, app[RECORDS].tiers, settings.routing.rules_file)
            await routing.load()
        except BaseException:
            await store.close()
            raise
        tier_config.attach(routing)
        app[TIERS] = tier_config
        app[ROUTING] = routing
        calls = CallTargets(store, routing, inbox=lambda: app.get(INBOX))
        app[CALL_TARGETS] = services.call_target = calls
        services.end_call = calls.end
        watchers = [
            asyncio.create_task(routing.watch(settings.routing.reload_seconds)),
            asyncio.create_task(tier_config.watch(settings.routing.reload_seconds)),
        ]
        yield
        for watcher in watchers:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await store.close()

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        if settings.queue.backend != "redis":
            yield
            return
        client = aioredis.Redis.from_url(
            settings.queue.url,
            # a connection broken by a Redis restart is retried on a fresh one; a retried
            # append can at worst add a duplicate, which ingest drops by external id
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
        )
        app[REDIS] = client
        bus = RedisBus(client, settings.queue.key_prefix)  # events reach every process's consoles
        await bus.start()
        app[BUS] = bus
        yield
        await bus.close()
        await client.aclose()

    async def queue_ctx(app: web.Application) -> AsyncIterator[None]:
        queue = open_queue(settings.queue, "ingest", encode_message, store=app[STORE], redis=app.get(REDIS))
        app[QUEUE] = queue
        services.queue = queue
        inbox: Inbox = open_queue(
            settings.queue, INBOX_STREAM, encode_hint, store=app[STORE], redis=app.get(REDIS)
        )
        app[INBOX] = inbox
        if settings.connectors.fax.enabled:  # durable until a fax's pages and text are made
            services.fax_jobs = open_queue(
                settings.queue, "fax", encode_message, store=app[STORE], redis=app.get(REDIS)
            )
            # how another connector (email-to-fax gateway mail) hands a fax to the fax connector
            services.fax_intake = functools.partial(accept_fax, ctx)

        async def refresh() -> None:
            try:
                app[METRICS].queue_depth.labels("ingest").set(await queue.depth())
                app[METRICS].dead_letters.labels("ingest").set(await queue.dead_count())
                if services.fax_jobs is not None:  # faxes waiting for their pages and text
                    app[METRICS].queue_depth.labels("fax").set(await services.fax_jobs.depth())
                    app[METRICS].dead_letters.labels("fax").set(await services.fax_jobs.dead_count())
            except Exception as exc:  # a scrape still answers; /readyz reports the outage
                log.warning("queue gauges not refreshed: %r", exc)

        app[METRICS].on_scrape(refresh)
        yield
        await queue.close()
        await inbox.close()
        if services.fax_jobs is not None:
            await services.fax_jobs.close()

    async def http_ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            app[HTTP] = session
            services.http = session
            yield

    async def widget_ctx(app: web.Application) -> AsyncIterator[None]:
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
        services.chat = service.deliver
        if settings.connectors.chat.enabled:
            app[IN_STORE]["chat"] = service.place_reply  # the feed is the chat's outbox
        fanout = WidgetFanout(app[BUS], app[STORE], availability)
        app[WIDGET_FANOUT] = fanout
        task = asyncio.create_task(fanout.run(), name="widget-fanout")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
        workers = [
            IngestWorker(
                store=app[STORE],
                queue=app[QUEUE],
                bus=app[BUS],
                inbox=app[INBOX],
                metrics=app[METRICS],
                consumer=f"{PROCESS}-{n}",
                batch_size=settings.ingest.batch_size,
                block_ms=settings.ingest.block_ms,
                stale_after_ms=settings.queue.stale_after_ms,
                default_tier=lambda: app[RECORDS].tiers.default,  # admins may rename tiers
                reopen_within=timedelta(days=settings.ingest.reopen_days),
                calls=app[CALL_TARGETS],
                auto_replies={
                    name: box.auto_reply
                    for name, box in settings.connectors.email.mailboxes.items()
                    if box.auto_reply and settings.connectors.email.enabled
                },
            )
            for n in range(settings.ingest.workers)
        ]
        tasks = [asyncio.create_task(w.run(), name=f"ingest-{n}") for n, w in enumerate(workers)]
        app[WORKERS] = tasks
        yield
        if not tasks:
            return
        for w in workers:
            w.stop()
        done, pending = await asyncio.wait(tasks, timeout=settings.server.shutdown_timeout)
        for task in pending:
            task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("ingest worker had stopped with %r", task.exception())

    async def router_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.routing.router:
            yield
            return
        lease = lease_for(app, "router")
        router = Router(
            store=app[STORE],
            config=app[ROUTING],
            inbox=app[INBOX],
            lease=lease,
            bus=app[BUS],
            metrics=app[METRICS],
            consumer=f"{PROCESS}-router",
            sla_warning_s=settings.routing.sla_warning_seconds,
            sends=[c.channel.value for c in CONNECTORS if c.sender is not None and c.opens_sender(settings)],
        )
        app[ROUTER] = router
        task = asyncio.create_task(router.run(), name="router")
        yield
        router.stop()
        await _finish(task, "the router", settings.server.shutdown_timeout)

    async def outbox_ctx(app: web.Application) -> AsyncIterator[None]:
        senders: dict[str, Sender] = {
            c.channel.value: c.sender(ctx)
            for c in CONNECTORS
            if c.sender is not None and c.opens_sender(settings)
        }
        services.delivery = app[WIDGET].delivery = DeliveryReports(app[STORE], app[BUS])
        worker = OutboxWorker(
            store=app[STORE],
            senders=senders,
            bus=app[BUS],
            metrics=app[METRICS],
            mail_domain=settings.connectors.email.domain,
        )
        app[OUTBOX] = worker
        task = asyncio.create_task(worker.run(), name="outbox")
        yield
        worker.stop()
        await _finish(task, "the outbox", settings.server.shutdown_timeout)
        for sender in senders.values():
            await sender.close()

    async def background_ctx(app: web.Application) -> AsyncIterator[None]:
        """Connectors' own loops (mailbox watchers), each in one process at a time (by a
        lease of its own), cancelled on shutdown."""
        loops = [
            (f"{c.name}:{loop.name}", loop)
            for c in CONNECTORS
            if c.background is not None and c.enabled(settings)
            for loop in c.background(ctx)
        ]
        tasks = [
            asyncio.create_task(run_while_holding(lease_for(app, name), loop.run, name), name=name)
            for name, loop in loops
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
        days = settings.retention.message_body_days
        task = None
        if days:
            task = asyncio.create_task(
                run_retention(app[STORE], app[BLOBS], days, settings.retention.interval_minutes * 60)
            )
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.extend(
        [
            store_ctx,
            redis_ctx,
            queue_ctx,
            http_ctx,
            widget_ctx,
            workers_ctx,
            router_ctx,
            outbox_ctx,
            background_ctx,
            retention_ctx,
        ]
    )
    routes = [
        *system_routes(),
        *auth_routes(),
        *totp_routes(),
        *customer_routes(),
        *routing_routes(),
        *agent_routes(),
        *conversation_routes(),
        *supervisor_routes(),
        *canned_routes(),
        *channel_routes(),
        *channel_settings_routes(),
        *token_routes(),
        *invitation_routes(),
        *admin_routes(),
        *console_routes(),
        *socket_routes(),
        *widget_site_routes(),
        *(widget_public_routes() + widget_socket_routes() if settings.connectors.chat.enabled else []),
    ]
    for spec in routes:
        _register(app, spec)
    for connector in CONNECTORS:
        if connector.enabled(settings):
            for spec in connector.routes(ctx):
                _register(app, spec)
    return app


def lease_for(app: web.Application, name: str) -> Lease:
    """The lease that lets one process of all run ``name`` (the router, a mailbox watcher)."""
    settings = app[SETTINGS]
    ttl = settings.routing.lease_seconds
    if settings.queue.backend == "redis":
        return RedisLease(app[REDIS], app[STORE], settings.queue.key_prefix, PROCESS, ttl, name)
    return StoreLease(app[STORE], PROCESS, ttl, name)


async def _finish(task: asyncio.Task[None], what: str, within_s: float) -> None:
    """Wait for a service told to stop; cancel it past the shutdown timeout."""
    try:
        await asyncio.wait_for(task, within_s)
    except TimeoutError:
        log.error("%s did not stop in time", what)


def _register(app: web.Application, spec: RouteSpec) -> None:
    route = app.router.add_route(spec.method, spec.path, spec.handler)
    app[ROUTES].append(spec)
    app[SPEC][route] = spec


async def run_retention(store: Store, blobs: BlobStore, days: int, every_seconds: float) -> None:
    """The retention policy, on a schedule. A failed run is logged and tried next time."""
    while True:
        try:
            async with store.write() as conn:
                _, unused = await apply_retention(conn, datetime.now(UTC), days)
            for sha in unused:
                await blobs.delete(sha)
            await store.checkpoint()
        except Exception:
            log.exception("retention run failed; trying again in %.0fs", every_seconds)
        await asyncio.sleep(every_seconds)
