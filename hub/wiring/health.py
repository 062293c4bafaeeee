"""Customer health, kept current in each hub process (hub/customers/health_run.py): the
health rules in force (and those another process saves), the step every
``STEP_SECONDS``, and the full run once a day."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from hub.customers import health_digest, health_run
from hub.customers.health_config import HealthConfig
from hub.customers.health_digest import Mailer
from hub.keys import BUS, CLOCK, HEALTH, SETTINGS, STORE
from hub.realtime.bus import InProcessBus
from hub.settings import Settings
from hub.store.engine import Store
from hub.wiring.tasks import cancel, every

log = logging.getLogger("contacthub.health")
STEP_SECONDS = 30.0


async def health_ctx(app: web.Application) -> AsyncIterator[None]:
    config = HealthConfig(app[STORE])
    await config.refresh()
    app[HEALTH] = config
    tasks = [asyncio.create_task(config.watch(app[SETTINGS].routing.reload_seconds))]
    settings = app[SETTINGS]
    if settings.health.step_seconds:
        store, clock = app[STORE], app[CLOCK]
        announce, digest = announcer(app[BUS]), digester(store, settings)

        async def run() -> None:
            """The step, the full run when one is due, and the digest when it is."""
            await health_run.step(store, config.rules, clock(), announce)
            if await health_run.full_run_due(store, clock()):
                done = await health_run.recompute_all(store, config.rules, clock(), announce=announce)
                log.info("customer health recomputed for %d customers", done)
            if digest is not None and (sent := await digest(clock())):
                log.info("customer health: %d daily digests sent", sent)

        tasks.append(asyncio.create_task(every(settings.health.step_seconds, "customer health", run, log)))
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


def notice_mailer(settings: Settings, what: str) -> Mailer | None:
    """What sends the hub's notices to agents by mail: the email connector's SMTP, when
    it is on (its code loads only then: tests/test_settings.py)."""
    if not settings.connectors.email.enabled:
        log.info("%s: none by mail, as the email connector is off", what)
        return None
    from connectors.email.notices import mailer_of

    mailer = mailer_of(settings.connectors.email)
    if mailer is None:
        log.info("%s: none by mail, as the email connector cannot send (no SMTP)", what)
    return mailer


def digester(store: Store, settings: Settings) -> Callable[[datetime], Awaitable[int]] | None:
    """The daily digest, when there is an hour for it and mail can go out."""
    hour = settings.health.digest_hour
    mailer = notice_mailer(settings, "customer health digest") if hour is not None else None
    if mailer is None or hour is None:
        return None
    zone = ZoneInfo(settings.reports.timezone)
    return lambda now: health_digest.send_digests(store, mailer, now, zone, hour)
