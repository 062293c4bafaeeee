"""Outbound contacts in each hub process: the contact policy in force (and the versions
another process saves), the service that starts conversations under it, product feedback,
the campaigns,
and, in the one process that holds the lease, the campaign runner every
``campaigns.step_seconds``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.dispatch.lease import run_while_holding
from hub.keys import (
    APPROVALS,
    CAMPAIGNS,
    CLOCK,
    CONTACT_POLICY,
    FEEDBACK,
    IN_STORE,
    INBOX,
    OUTBOX,
    OUTREACH,
    RECORDS,
    ROUTING,
    SETTINGS,
    STORE,
)
from hub.outreach.approvals import Approvals
from hub.outreach.campaigns import Campaigns
from hub.outreach.config import ContactPolicyConfig
from hub.outreach.feedback import ProductFeedback
from hub.outreach.start import Outreach
from hub.wiring.tasks import cancel, every, lease_for

log = logging.getLogger("contacthub.campaigns")


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
    app[APPROVALS] = Approvals(store=app[STORE], clock=app[CLOCK], rules=lambda: app[ROUTING].rules)
    campaigns = app[CAMPAIGNS] = Campaigns(
        store=app[STORE],
        records=app[RECORDS],
        policy=policy,
        clock=app[CLOCK],
        zone=ZoneInfo(settings.reports.timezone),
        senders=lambda: app[OUTBOX].channels,
        public_url=settings.server.public_url,
    )
    app[FEEDBACK] = ProductFeedback(
        store=app[STORE],
        rules=lambda: app[ROUTING].rules,
        clock=app[CLOCK],
        zone=ZoneInfo(settings.reports.timezone),
        departments=settings.customers.feedback_departments,
    )
    tasks = [asyncio.create_task(policy.watch(settings.routing.reload_seconds))]
    step = settings.campaigns.step_seconds
    if step:

        async def round_() -> None:
            if await campaigns.step(step):
                app[OUTBOX].wake()

        async def loop() -> None:
            await every(step, "campaigns", round_, log)

        tasks.append(asyncio.create_task(run_while_holding(lease_for(app, "campaigns"), loop, "campaigns")))
    yield
    await cancel(tasks)
