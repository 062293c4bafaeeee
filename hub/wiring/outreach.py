"""Outbound contacts in each hub process: the contact policy in force (and the versions
another process saves) and the service that starts conversations under it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.keys import CLOCK, CONTACT_POLICY, IN_STORE, INBOX, OUTBOX, OUTREACH, ROUTING, SETTINGS, STORE
from hub.outreach.config import ContactPolicyConfig
from hub.outreach.start import Outreach
from hub.wiring.tasks import cancel


async def outreach_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    policy = app[CONTACT_POLICY] = ContactPolicyConfig(app[STORE])
    in_store = app[IN_STORE]  # filled by the channels that deliver in the reply's transaction
    await policy.refresh()
    app[OUTREACH] = Outreach(
        store=app[STORE],
        policy=policy,
        clock=app[CLOCK],
        rules=lambda: app[ROUTING].rules,
        inbox=app[INBOX],
        zone=ZoneInfo(settings.reports.timezone),
        senders=lambda: app[OUTBOX].channels,
        file_channels=lambda: app[OUTBOX].file_channels,
        in_store=in_store,
    )
    watcher = asyncio.create_task(policy.watch(settings.routing.reload_seconds))
    yield
    await cancel([watcher])
