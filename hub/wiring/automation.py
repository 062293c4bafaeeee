"""Automations and satisfaction surveys in each hub process: the versions in force of
both (and those another process saves), and, in the one process that holds the lease, the runner
(hub/automation/runner.py): the events every ``automation.step_seconds``, the timers
every ``automation.timer_seconds``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.automation.act import Acting
from hub.automation.config import AutomationConfig
from hub.automation.runner import Runner
from hub.clock import Clock
from hub.csat.config import CsatConfig
from hub.csat.surveys import Surveys
from hub.dispatch.lease import run_while_holding
from hub.keys import (
    AUTOMATION_RUNNER,
    AUTOMATIONS,
    BUS,
    CLOCK,
    CSAT,
    INBOX,
    OUTBOX,
    RECORDS,
    ROUTING,
    SETTINGS,
    STORE,
    SURVEYS,
)
from hub.wiring.health import notice_mailer
from hub.wiring.tasks import cancel, every, lease_for

log = logging.getLogger("contacthub.automation")


async def automation_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    config = AutomationConfig(app[STORE])
    await config.refresh()
    app[AUTOMATIONS] = config
    csat = CsatConfig(app[STORE])
    await csat.refresh()
    app[CSAT] = csat
    app[SURVEYS] = Surveys(
        store=app[STORE],
        config=csat,
        bus=app[BUS],
        clock=app[CLOCK],
        sends=lambda: app[OUTBOX].channels,
        public_url=settings.server.public_url,
    )
    reload = settings.routing.reload_seconds
    tasks = [asyncio.create_task(config.watch(reload)), asyncio.create_task(csat.watch(reload))]
    step = settings.automation.step_seconds
    runner = app[AUTOMATION_RUNNER] = make_runner(app, config, app[CLOCK])
    if step:
        timers_every = settings.automation.timer_seconds
        next_timers = 0.0

        async def round_() -> None:
            nonlocal next_timers
            await runner.follow_events()
            if time.monotonic() >= next_timers:
                next_timers = time.monotonic() + timers_every
                await runner.timers()

        async def loop() -> None:
            await every(step, "automations", round_, log)

        tasks.append(asyncio.create_task(run_while_holding(lease_for(app, "automation"), loop, "automation")))
    yield
    await cancel(tasks)


def make_runner(app: web.Application, config: AutomationConfig, clock: Clock) -> Runner:
    settings = app[SETTINGS]
    return Runner(
        acting=Acting(
            store=app[STORE],
            rules=lambda: app[ROUTING].rules,
            clock=clock,
            bus=app[BUS],
            inbox=app[INBOX],
            sends=lambda: app[OUTBOX].channels,
            mailer=notice_mailer(settings, "automation notices"),
            surveys=app[SURVEYS],
        ),
        config=config,
        records=app[RECORDS],
        zone=ZoneInfo(settings.reports.timezone),
        max_actions_per_hour=settings.automation.max_actions_per_hour,
    )
