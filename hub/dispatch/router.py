"""The Router service: holds the lease and, while it leads, runs the routing loop.

Every ``serve`` process runs one; exactly one is active (``lease.py``), the others stand
by. The active router rebuilds its ``DispatchView`` from the store (``view_loader.py``),
then loops:

1. lapsed offers go back to waiting (the agent counts a miss; N misses set them away),
   and ``view.dispatch(now)`` makes every decision capacity allows; each is written with
   a condition (the conversation is still open and unheld) inside a fenced transaction,
   so a stale router or a racing agent action can never double-assign (``decisions.py``);
2. SLA due times that passed are recorded as breaches, once (``sla_scan.py``);
3. it waits on its inbox (hints from ingest and agent actions in any process) or the
   next timer, and re-reads what the hints name; every few seconds it sweeps for what a
   lost hint missed.

The store is the truth; the view is a cache of it that a new router rebuilds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection
from datetime import timedelta

from hub.clock import Clock, utc_now
from hub.dispatch.decisions import DecisionWriter
from hub.dispatch.inbox import Inbox, read_hints
from hub.dispatch.lease import Lease, LeaseLost
from hub.dispatch.rules_config import RoutingConfig
from hub.dispatch.sla_scan import SlaScan
from hub.dispatch.view import DispatchView
from hub.dispatch.view_loader import ViewLoader
from hub.metrics import Metrics
from hub.queue.base import Claimed
from hub.realtime.bus import InProcessBus
from hub.store.engine import Store
from hub.tasks import raise_if_cancelled, stop
from hub.transient import classify

log = logging.getLogger("contacthub.router")


class Router:
    def __init__(
        self,
        *,
        store: Store,
        config: RoutingConfig,
        inbox: Inbox,
        lease: Lease,
        bus: InProcessBus,
        metrics: Metrics,
        consumer: str,
        clock: Clock = utc_now,
        block_ms: int = 1000,
        breach_every_s: float = 2.0,
        sweep_every_s: float = 5.0,
        sla_warning_s: float = 300.0,
        sends: Collection[str] = (),
    ) -> None:
        self._inbox = inbox
        self._lease = lease
        self._metrics = metrics
        self._consumer = consumer
        self._clock = clock
        self._block_ms = block_ms
        self._breach_every_s = breach_every_s
        self._sweep_every_s = sweep_every_s
        self._stopping = asyncio.Event()
        self._loader = ViewLoader(store, config, clock)
        self._decisions = DecisionWriter(
            store=store, loader=self._loader, bus=bus, metrics=metrics, clock=clock, sends=sends
        )
        self._sla = SlaScan(
            store=store, bus=bus, metrics=metrics, clock=clock, warning=timedelta(seconds=sla_warning_s)
        )
        self.active = False
        self.view: DispatchView | None = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Stand by until the lease is ours, lead until it is lost, and again."""
        while not self._stopping.is_set():
            try:
                token = await self._lease.acquire()
            except Exception as exc:
                log.warning("router lease not reachable: %r", exc)
                token = None
            if token is None:
                await self._pause(self._lease.ttl_s / 3)
                continue
            try:
                await self._lead(token)
            except LeaseLost as exc:
                log.warning("router stepped down: %s", exc)
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    log.exception("router failed; it steps down and starts over")
                else:  # an outage, or a transaction that lost a race (deadlock)
                    log.warning("router stepped down (%s): %r", found[1], exc)
                await self._pause(1.0)
            finally:
                self.active = False
                self.view = None
                self._metrics.router_active.set(0)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _lead(self, token: int) -> None:
        keeper = asyncio.create_task(self._keep(token), name="router-lease")
        try:
            await self._inbox.reclaim_stale(0)  # hints a dead router had claimed
            view = await self._loader.rebuild(token)
            self.view, self.active = view, True
            self._metrics.router_active.set(1)
            log.info("router active", extra={"token": token, "waiting": len(view.line)})
            next_sla_scan = 0.0
            next_sweep = time.monotonic() + self._sweep_every_s
            while not self._stopping.is_set():
                if keeper.done():
                    raise LeaseLost(f"lease {token} was not renewed in time")
                self._loader.follow_rules(view)
                await self._decisions.step(view, token)
                if time.monotonic() >= next_sla_scan:
                    await self._sla.run(token)
                    next_sla_scan = time.monotonic() + self._breach_every_s
                if time.monotonic() >= next_sweep:  # conversations and calls whose hint got lost
                    await self._loader.sweep(view, token)
                    next_sweep = time.monotonic() + self._sweep_every_s
                entries = await self._next_hints(view)
                if entries:
                    conv_ids, agent_ids = read_hints(entries)
                    await self._loader.refresh(view, token, conv_ids, agent_ids)
                    await self._inbox.ack([e.id for e in entries])
            await self._lease.release(token)
        finally:
            await stop(keeper)  # a cancel of the router meanwhile is not lost

    async def _next_hints(self, view: DispatchView) -> list[Claimed]:
        """The inbox's next hints; none as soon as the router is told to stop, so that a
        shutdown does not wait out the blocking read. A hint claimed but not read then is
        taken over by the next active router; the sweep finds its conversation anyway."""
        claim = asyncio.ensure_future(self._inbox.claim(self._consumer, 500, self._wait_ms(view)))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({claim, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if claim.done():
            return claim.result()
        await stop(claim)  # a cancel of the router meanwhile is not lost
        return []

    async def _keep(self, token: int) -> None:
        """Renew the lease; return (and so end the leadership) once it cannot be kept."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self._lease.ttl_s / 3)
            raise_if_cancelled()  # a renewal may have swallowed the cancel that stops it
            try:
                if not await self._lease.renew(token):
                    return
                renewed = time.monotonic()
            except Exception as exc:
                log.warning("router lease renewal failed: %r", exc)
                if time.monotonic() - renewed >= self._lease.ttl_s:
                    return

    def _wait_ms(self, view: DispatchView) -> int:
        due = view.next_timer()
        if due is None:
            return self._block_ms
        ms = (due - self._clock()).total_seconds() * 1000
        return int(min(self._block_ms, max(ms, 10)))
