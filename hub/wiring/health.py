"""Customer health, kept current in each hub process (hub/customers/health_run.py): the
health rules in force (and those another process saves), the step every
``STEP_SECONDS``, and the full run once a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from hub.clock import Clock
from hub.customers import health_run
from hub.customers.health_config import HealthConfig
from hub.keys import BUS, CLOCK, HEALTH, SETTINGS, STORE
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.transient import OutageNotice
from hub.wiring.tasks import cancel

log = logging.getLogger("contacthub.health")
STEP_SECONDS = 30.0


async def health_ctx(app: web.Application) -> AsyncIterator[None]:
    config = HealthConfig(app[STORE])
    await config.refresh()
    app[HEALTH] = config
    tasks = [asyncio.create_task(config.watch(app[SETTINGS].routing.reload_seconds))]
    if app[SETTINGS].health.step_seconds:
        announce = announcer(app[BUS])
        every = app[SETTINGS].health.step_seconds
        tasks.append(asyncio.create_task(run_steps(app[STORE], config, app[CLOCK], every, announce)))
    yield
    await cancel(tasks)


def announcer(bus: InProcessBus) -> health_run.Announce:
    """A change of level, live in the consoles: to the customer's key account manager
    (``agent_id``) and to supervisors and admins, who see every event."""

    def announce(change: health_run.Changed) -> None:
        bus.publish(
            "health.changed",
            {
                "customer_id": change.customer_id,
                "name": change.name,
                "agent_id": change.key_account_manager_id,
                "from": change.before,
                "to": change.after,
                "score": change.score,
                "reasons": change.reasons,
            },
        )

    return announce


async def run_steps(
    store: Store, config: HealthConfig, clock: Clock, every_seconds: float, announce: health_run.Announce
) -> None:
    """The step until cancelled, and the full run when one is due; a failed round is
    tried again next time."""
    outage = OutageNotice(log, "customer health")
    while True:
        try:
            await health_run.step(store, config.rules, clock(), announce)
            if await health_run.full_run_due(store, clock()):
                done = await health_run.recompute_all(store, config.rules, clock(), announce=announce)
                log.info("customer health recomputed for %d customers", done)
        except Exception as exc:
            if not outage.failed(exc):
                log.exception("customer health: a step failed; trying again in %.0fs", every_seconds)
        else:
            outage.succeeded()
        await asyncio.sleep(every_seconds)
