"""The store and what lives directly on it: tokens, sessions, the mail cursors, and the
versioned admin configuration (tiers, routing rules) with its watch loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.auth.sessions import SessionService
from hub.customers.tier_config import TierConfig
from hub.dispatch.rules_config import RoutingConfig
from hub.keys import RECORDS, ROUTING, SERVICES, SESSIONS, SETTINGS, STORE, TIERS, TOKENS
from hub.store.engine import Store
from hub.store.mail_cursors import StoreMailCursors
from hub.tokens import TokenService
from hub.wiring.tasks import cancel


async def store_ctx(app: web.Application, *, migrate: bool) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    store = Store(settings.database)
    try:
        await (store.migrate() if migrate else store.require_schema())
    except BaseException:
        await store.close()
        raise
    app[STORE] = store
    app[TOKENS] = TokenService(store)
    app[SERVICES].cursors = StoreMailCursors(store)
    app[SESSIONS] = SessionService(store, settings.security)
    yield
    await store.close()


async def config_ctx(app: web.Application) -> AsyncIterator[None]:
    """Tier and routing rules: loaded before anything routes, then watched for changes."""
    settings, store = app[SETTINGS], app[STORE]
    tier_config = TierConfig(store, settings.customers.tiers_file, app[RECORDS])
    try:
        await tier_config.load()  # the routing rules name tiers: these first
        routing = RoutingConfig(store, app[RECORDS].tiers, settings.routing.rules_file)
        await routing.load()
    except BaseException:  # a refused start leaves nothing open, even where nobody cleans up
        await store.close()
        raise
    tier_config.attach(routing)
    app[TIERS] = tier_config
    app[ROUTING] = routing
    watchers = [
        asyncio.create_task(routing.watch(settings.routing.reload_seconds)),
        asyncio.create_task(tier_config.watch(settings.routing.reload_seconds)),
    ]
    yield
    await cancel(watchers)
