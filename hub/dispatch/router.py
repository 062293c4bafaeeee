"""The Router service: holds the lease, keeps the view, applies and persists decisions.

Every ``serve`` process runs one; exactly one is active (``lease.py``), the others stand
by. The active router rebuilds its ``DispatchView`` from the store, then loops:

1. lapsed offers go back to waiting (the agent counts a miss; N misses set them away);
2. ``view.dispatch(now)`` makes every decision capacity allows; each is written with a
   condition (the conversation is still open and unheld) inside a fenced transaction,
   so a stale router or a racing agent action can never double-assign;
3. SLA due times that passed are recorded as breaches, once;
4. it waits on its inbox (hints from ingest and agent actions in any process) or the
   next timer, and re-reads what the hints name.

The store is the truth; the view is a cache of it that a new router rebuilds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.dispatch.bad_rows import ROW_ERRORS, BadRows, checked_agent_state
from hub.dispatch.facts import (
    AGENT_QUERY,
    RULE_TEXT_CHARS,
    conversation_query,
    message_facts,
    waiting_conversation,
)
from hub.dispatch.inbox import Inbox, read_hints
from hub.dispatch.lease import Lease, LeaseLost, fence
from hub.dispatch.rules_config import RoutingConfig
from hub.dispatch.view import DispatchView, Hold, Outcome
from hub.metrics import Metrics
from hub.outbox.system_reply import queue_out_of_hours_reply
from hub.queue.base import Claimed
from hub.realtime.bus import InProcessBus
from hub.routing.decide import routed
from hub.routing.hours import BusinessHours
from hub.routing.types import AgentState, Escalate, Offer, OutOfHours
from hub.store.bulk import any_of, is_pg
from hub.store.engine import Store
from hub.store.tables import PRIORITIES, agents, call_holds, conversations, events, messages
from hub.store.times import iso, utc, utc_or_none
from hub.transient import classify

log = logging.getLogger("contacthub.router")
ACTOR = "system:router"
CALL = "call:"  # the view's holds of live calls are keyed by this and the call's id


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        block_ms: int = 1000,
        breach_every_s: float = 2.0,
        sweep_every_s: float = 5.0,
        sla_warning_s: float = 300.0,
        sends: Collection[str] = (),
    ) -> None:
        self._store = store
        self._sends = frozenset(sends)  # the channels a reply can leave on (out-of-hours replies)
        self._config = config
        self._inbox = inbox
        self._lease = lease
        self._bus = bus
        self._metrics = metrics
        self._consumer = consumer
        self._clock = clock
        self._block_ms = block_ms
        self._breach_every_s = breach_every_s
        self._sweep_every_s = sweep_every_s
        self._sla_warning = timedelta(seconds=sla_warning_s)
        self._stopping = asyncio.Event()
        self._bad = BadRows(log)  # rows skipped until they read well again
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
            view = await self._rebuild(token)
            self.view, self.active = view, True
            self._metrics.router_active.set(1)
            log.info("router active", extra={"token": token, "waiting": len(view.line)})
            next_breach_check = 0.0
            next_sweep = time.monotonic() + self._sweep_every_s
            while not self._stopping.is_set():
                if keeper.done():
                    raise LeaseLost(f"lease {token} was not renewed in time")
                if view.rules is not self._config.rules:  # a new version, or new tiers
                    self._set_rules(view)
                await self._step(view, token)
                if time.monotonic() >= next_breach_check:
                    await self._record_breaches(token)
                    next_breach_check = time.monotonic() + self._breach_every_s
                if time.monotonic() >= next_sweep:  # conversations and calls whose hint got lost
                    async with self._store.read() as conn:
                        await self._count_calls(view, conn, None)
                    # (skipped conversations too: set_rules may have left one out unmarked)
                    retry = self._bad.ids("conversation")
                    await self._refresh(view, token, await self._marked() | retry, set())
                    next_sweep = time.monotonic() + self._sweep_every_s
                entries = await self._next_hints(view)
                if entries:
                    conv_ids, agent_ids = read_hints(entries)
                    await self._refresh(view, token, conv_ids, agent_ids)
                    await self._inbox.ack([e.id for e in entries])
            await self._lease.release(token)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _next_hints(self, view: DispatchView) -> list[Claimed]:
        """The inbox's next hints; none as soon as the router is told to stop, so that a
        shutdown does not wait out the blocking read. A hint claimed but not read then is
        taken over by the next active router; the sweep finds its conversation anyway."""
        claim = asyncio.ensure_future(self._inbox.claim(self._consumer, 500, self._wait_ms(view)))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({claim, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if claim.done():
            return claim.result()
        claim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        return []

    async def _keep(self, token: int) -> None:
        """Renew the lease; return (and so end the leadership) once it cannot be kept."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self._lease.ttl_s / 3)
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

    # --- the view from the store ------------------------------------------------
    async def _rebuild(self, token: int) -> DispatchView:
        view = DispatchView(self._config.rules)
        async with self._store.read() as conn:
            for row in await conn.execute(AGENT_QUERY.where(agents.c.active.is_(True))):
                view.set_agent(self._agent(row))
            await self._count_calls(view, conn, None)
            rows = (await conn.execute(conversation_query().where(conversations.c.status == "open"))).all()
        await self._take_in(view, token, rows)
        return view

    async def _refresh(self, view: DispatchView, token: int, conv_ids: set[str], agent_ids: set[str]) -> None:
        async with self._store.read() as conn:
            if agent_ids:
                for row in await conn.execute(
                    AGENT_QUERY.where(any_of(conn, agents.c.id, sorted(agent_ids)))
                ):
                    view.set_agent(self._agent(row))
                await self._count_calls(view, conn, agent_ids)
            rows = []
            if conv_ids:
                query = conversation_query().where(any_of(conn, conversations.c.id, sorted(conv_ids)))
                rows = (await conn.execute(query)).all()
        await self._take_in(view, token, rows)

    def _agent(self, row: Any) -> AgentState:
        """The agent's routing state; an agent whose row cannot be read is offline (and
        logged once) until it is fixed, so that everyone else is still routed."""
        try:
            state = checked_agent_state(row)
        except ROW_ERRORS as exc:
            self._bad.skipped("agent", row.id, exc)
            return AgentState(id=row.id)
        self._bad.read("agent", row.id)
        return state

    async def _count_calls(
        self, view: DispatchView, conn: AsyncConnection, agent_ids: set[str] | None
    ) -> None:
        """Hold the lines of live calls (of these agents, or all) as the store has them:
        a call put through to an agent counts against their capacity like a conversation."""
        now = self._clock()
        query = sa.select(call_holds).where(call_holds.c.expires_at > now)
        if agent_ids is not None:
            query = query.where(any_of(conn, call_holds.c.agent_id, sorted(agent_ids)))
        live = {CALL + r.call_id: Hold(r.agent_id, r.channel) for r in await conn.execute(query)}
        for hold_id, held in list(view.holds.items()):
            gone = hold_id not in live and (agent_ids is None or held.agent_id in agent_ids)
            if hold_id.startswith(CALL) and gone:
                view.release(hold_id, now)
        for hold_id, held in live.items():
            if view.holds.get(hold_id) != held:
                view.hold(hold_id, held.agent_id, held.channel)

    async def _marked(self) -> set[str]:
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(conversations.c.id).where(conversations.c.needs_routing.is_(True))
            )
            return {r.id for r in rows}

    async def _take_in(self, view: DispatchView, token: int, rows: Sequence[Any]) -> None:
        """Bring the view in line with these conversation rows; route newcomers."""
        now = self._clock()
        if view.rules is not self._config.rules:  # saved while this step waited for work
            self._set_rules(view)
        rules = view.rules
        fresh = [
            r
            for r in rows
            if r.status == "open" and r.assignee_id is None and r.offered_to is None and r.id not in view.line
        ]
        facts = await self._first_messages([r.id for r in fresh if r.route is None])
        last_agents = (
            await self._last_agents({r.customer_id for r in fresh}) if rules.prefer_last_agent else {}
        )
        updates: list[dict[str, Any]] = []
        for row in rows:
            try:
                update = self._take_in_one(view, row, now, facts, last_agents)
            except ROW_ERRORS as exc:  # skipped (left marked, so it is tried again)
                self._bad.skipped("conversation", row.id, exc)
                continue
            self._bad.read("conversation", row.id)
            if update or row.needs_routing:
                updates.append({"id": row.id, "needs_routing": False, **update})
        if updates:
            async with self._store.write() as conn:
                await fence(conn, token)
                await lock_conversations(conn, [u["id"] for u in updates])
                await _update_each(conn, sorted(updates, key=lambda u: str(u["id"])))

    def _take_in_one(
        self, view: DispatchView, row: Any, now: datetime, facts: dict[str, Any], last_agents: dict[str, str]
    ) -> dict[str, Any]:
        """One conversation row into the view; the changes to write are returned."""
        if row.status != "open":
            view.forget(row.id, now)
        elif row.assignee_id is not None:
            view.hold(row.id, row.assignee_id, row.channel)
            if row.needs_routing:  # a new message on an assigned conversation
                return self._next_due(view, row)
        elif row.offered_to is not None:
            view.hold(row.id, row.offered_to, row.channel, utc_or_none(row.offer_expires_at))
        elif row.id not in view.line and (row.route is not None or row.needs_routing):
            # (a conversation of call events only, never routed, is no work for anyone)
            return self._admit(view, row, facts.get(row.id), last_agents.get(row.customer_id))
        return {}

    def _set_rules(self, view: DispatchView) -> None:
        """File the waiting conversations again under the rules now in force."""
        for conv_id, exc in view.set_rules(self._config.rules):
            self._bad.skipped("conversation", conv_id, exc)

    @staticmethod
    def _admit(view: DispatchView, row: Any, first: Any, last_agent: str | None) -> dict[str, Any]:
        """A conversation waits. A newcomer gets its route (facts, rule actions), its
        queue and its first-response due time; the changes to write are returned."""
        rules = view.rules
        fresh = row.route is None
        route = dict(row.route) if not fresh else Router._new_route(row, first)
        conv = waiting_conversation(row, route, last_agent)
        rule, _index, target = routed(conv, rules)
        if fresh and "set_department" in rule.actions:
            route["department"] = rule.actions["set_department"]
            conv = replace(conv, department=route["department"])
        if fresh and "tag" in rule.actions:
            route["tags"] = [rule.actions["tag"]]
        update: dict[str, Any] = {}
        if fresh and "set_priority" in rule.actions:
            update["priority"] = PRIORITIES[rule.actions["set_priority"]]
            conv = replace(conv, priority=rule.actions["set_priority"])
        view.admit(conv)
        if fresh:
            update |= {"route": route, "queue": target.queue}
        if row.first_response_due is None and row.first_response_at is None:
            seconds = rules.first_response_s(row.tier, row.channel)
            update["first_response_due"] = _due(rules.queues[target.queue].hours, utc(row.opened_at), seconds)
        return update

    def _next_due(self, view: DispatchView, row: Any) -> dict[str, Any]:
        """A customer wrote again after an agent answered: the next response falls due."""
        if row.first_response_at is None or row.next_response_due is not None or not row.queue:
            return {}
        queue = view.rules.queues.get(row.queue)
        if queue is None:
            return {}
        seconds = view.rules.next_response_s(row.tier, row.channel)
        return {"next_response_due": _due(queue.hours, utc(row.last_message_at), seconds)}

    @staticmethod
    def _new_route(row: Any, first: Any) -> dict[str, Any]:
        opened = iso(row.opened_at)
        return {
            **message_facts(
                subject=getattr(first, "subject", None),
                text=getattr(first, "text", None),
                recipient=getattr(first, "recipient", None),
                meta=getattr(first, "meta", None) or {},
                customer_language=row.customer_language,
            ),
            "waiting_since": opened,
            "target_index": 0,
            "target_since": opened,
            "rejected_by": [],
        }

    async def _first_messages(self, conv_ids: Sequence[str]) -> dict[str, Any]:
        """The first inbound message of each conversation: what its rules read."""
        if not conv_ids:
            return {}
        first: dict[str, Any] = {}
        async with self._store.read() as conn:
            for start in range(0, len(conv_ids), 5000):
                chunk = conv_ids[start : start + 5000]
                rows = await conn.execute(
                    sa.select(
                        messages.c.conversation_id,
                        messages.c.subject,
                        sa.func.substr(messages.c.text, 1, RULE_TEXT_CHARS).label("text"),
                        messages.c.recipient,
                        messages.c.meta,
                    )
                    .where(any_of(conn, messages.c.conversation_id, chunk), messages.c.direction == "in")
                    .order_by(messages.c.received_at.desc())
                )
                first.update({r.conversation_id: r for r in rows})  # the oldest is written last
        return first

    async def _last_agents(self, customer_ids: set[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        last: dict[str, str] = {}
        ids = sorted(customer_ids)
        async with self._store.read() as conn:
            for start in range(0, len(ids), 5000):
                rows = await conn.execute(
                    sa.select(conversations.c.customer_id, conversations.c.assignee_id)
                    .where(
                        any_of(conn, conversations.c.customer_id, ids[start : start + 5000]),
                        conversations.c.assignee_id.is_not(None),
                    )
                    .order_by(conversations.c.assigned_at)
                )
                last.update({r.customer_id: r.assignee_id for r in rows})
        return last

    # --- deciding and persisting ------------------------------------------------
    async def _step(self, view: DispatchView, token: int) -> None:
        now = self._clock()
        lapsed = view.expired_offers(now)
        if lapsed:
            await self._lapse(view, token, lapsed, now)
        outcomes = view.dispatch(now)
        if not outcomes:
            return
        published: list[tuple[str, dict[str, Any]]] = []
        lost: list[str] = []
        async with self._store.write() as conn:
            await fence(conn, token)
            await lock_conversations(conn, [o.conversation.id for o in outcomes])
            rows: list[dict[str, Any]] = []
            for outcome in outcomes:
                if not await self._apply(conn, outcome, now, token, rows, published):
                    lost.append(outcome.conversation.id)
            if rows:
                await conn.execute(sa.insert(events), rows)
        for outcome in outcomes:
            self._metrics.routing_decisions.labels(type(outcome.decision).__name__.lower()).inc()
        for topic, data in published:
            self._bus.publish(topic, data)
        if lost:  # changed under us (closed, accepted elsewhere): look again
            await self._refresh(view, token, set(lost), set())

    async def _apply(
        self,
        conn: AsyncConnection,
        outcome: Outcome,
        now: datetime,
        token: int,
        rows: list[dict[str, Any]],
        published: list[tuple[str, dict[str, Any]]],
    ) -> bool:
        conv, decision = outcome.conversation, outcome.decision
        event = {"at": now, "actor": ACTOR, "subject_type": "conversation", "subject_id": conv.id}
        event |= {"customer_id": None, "reason": None}
        if isinstance(decision, Offer):
            values: dict[str, Any] = {"queue": decision.queue}
            if outcome.auto_accept:
                values |= {"assignee_id": decision.agent_id, "assigned_at": now}
            else:
                until = now + timedelta(seconds=decision.reservation_timeout_s)
                values |= {"offered_to": decision.agent_id, "offer_expires_at": until}
            result = await conn.execute(
                sa.update(conversations)
                .where(
                    conversations.c.id == conv.id,
                    conversations.c.status == "open",
                    conversations.c.assignee_id.is_(None),
                    conversations.c.offered_to.is_(None),
                )
                .values(**values)
                .returning(conversations.c.customer_id)
            )
            customer_id = result.scalar_one_or_none()
            if customer_id is None:
                return False
            event["customer_id"] = customer_id  # so the customer's timeline shows it
            action = "conversation.assigned" if outcome.auto_accept else "conversation.offered"
            data: dict[str, Any] = {"agent_id": decision.agent_id, "queue": decision.queue}
            data |= {"rule": decision.rule, "why": decision.why, "router_token": token}
            if not outcome.auto_accept:
                data["expires_at"] = iso(values["offer_expires_at"])
            rows.append({**event, "action": action, "data": data})
            published.append((action, {"conversation_id": conv.id, **data}))
        elif isinstance(decision, Escalate):
            route = await _route_of(conn, conv.id)
            route |= {"target_index": decision.next_target, "target_since": iso(now)}
            await conn.execute(
                sa.update(conversations).where(conversations.c.id == conv.id).values(route=route)
            )
            rows.append({**event, "action": "routing.escalated", "data": {"target": decision.next_target}})
        elif isinstance(decision, OutOfHours):
            route = await _route_of(conn, conv.id)
            if not route.get("out_of_hours_at"):  # once per conversation
                route["out_of_hours_at"] = iso(now)
                await conn.execute(
                    sa.update(conversations).where(conversations.c.id == conv.id).values(route=route)
                )
                event["customer_id"] = await conn.scalar(  # so the customer's timeline shows it
                    sa.select(conversations.c.customer_id).where(conversations.c.id == conv.id)
                )
                told: dict[str, Any] = {"queue": decision.queue, "reply": decision.reply}
                if decision.reply:
                    sent = await queue_out_of_hours_reply(conn, conv.id, decision.reply, self._sends, now)
                    told["reply_id" if sent.message_id else "reply_skipped"] = sent.message_id or sent.skipped
                rows.append({**event, "action": "routing.out_of_hours", "data": told})
                published.append(("routing.out_of_hours", {"conversation_id": conv.id, **told}))
        return True

    async def _lapse(
        self, view: DispatchView, token: int, lapsed: list[tuple[str, str]], now: datetime
    ) -> None:
        """Offers nobody answered: back to waiting (not to that agent), count the miss."""
        changed: set[str] = set()
        away: list[str] = []
        async with self._store.write() as conn:
            await fence(conn, token)
            await lock_conversations(conn, [conv_id for conv_id, _ in lapsed])
            for conv_id, agent_id in lapsed:
                route = await _route_of(conn, conv_id)
                route["rejected_by"] = sorted({*route.get("rejected_by", ()), agent_id})
                result = await conn.execute(
                    sa.update(conversations)
                    .where(
                        conversations.c.id == conv_id,
                        conversations.c.offered_to == agent_id,
                        conversations.c.assignee_id.is_(None),
                    )
                    .values(offered_to=None, offer_expires_at=None, route=route)
                )
                changed.add(conv_id)
                if result.rowcount != 1:
                    continue  # accepted or closed meanwhile; the refresh below sees it
                missed = await conn.scalar(
                    sa.update(agents)
                    .where(agents.c.id == agent_id)
                    .values(missed_offers=agents.c.missed_offers + 1)
                    .returning(agents.c.missed_offers)
                )
                await conn.execute(
                    sa.insert(events).values(
                        at=now,
                        actor=ACTOR,
                        action="conversation.offer_lapsed",
                        subject_type="conversation",
                        subject_id=conv_id,
                        data={"agent_id": agent_id, "missed_in_a_row": missed},
                    )
                )
                if missed is not None and missed >= view.rules.max_missed_offers:
                    await conn.execute(
                        sa.update(agents)
                        .where(agents.c.id == agent_id)
                        .values(presence="away", missed_offers=0)
                    )
                    await conn.execute(
                        sa.insert(events).values(
                            at=now,
                            actor=ACTOR,
                            action="agent.set_away",
                            subject_type="agent",
                            subject_id=agent_id,
                            reason=f"{missed} offers in a row lapsed",
                            data={},
                        )
                    )
                    away.append(agent_id)
        for conv_id in changed:
            view.release(conv_id, now)
        for agent_id in away:
            self._bus.publish("agent.presence", {"agent_id": agent_id, "presence": "away"})
        await self._refresh(view, token, changed, set(away))

    async def _record_breaches(self, token: int) -> None:
        """Due times that passed without a response: recorded once, and announced."""
        now = self._clock()
        c = conversations.c
        found = []
        async with self._store.write() as conn:
            await fence(conn, token)
            for kind, due, done in _due_times():
                rows = await conn.execute(
                    sa.update(conversations)
                    .where(c.id.in_(_locked(c.status == "open", c.breached.is_(None), due < now, done)))
                    .values(breached=kind, breached_at=now)
                    .returning(c.id, c.customer_id, c.queue, c.assignee_id, due.label("due"))
                )
                found += [(kind, r) for r in rows]
            if found:
                await conn.execute(
                    sa.insert(events),
                    [
                        {
                            "at": now,
                            "actor": ACTOR,
                            "action": "sla.breached",
                            "subject_type": "conversation",
                            "subject_id": r.id,
                            "customer_id": r.customer_id,
                            "reason": None,
                            "data": {
                                "kind": kind,
                                "due": iso(r.due),
                                "queue": r.queue,
                                "agent_id": r.assignee_id,
                            },
                        }
                        for kind, r in found
                    ],
                )
        if self._sla_warning:
            await self._warn(token, now)
        for kind, r in found:
            self._metrics.sla_breaches.labels(kind).inc()
            self._bus.publish(
                "sla.breached",
                {
                    "conversation_id": r.id,
                    "kind": kind,
                    "due": iso(r.due),
                    "queue": r.queue,
                    "agent_id": r.assignee_id,
                },
            )

    async def _warn(self, token: int, now: datetime) -> None:
        """Due times close ahead: each announced once (``sla.warning``), not recorded."""
        c = conversations.c
        soon = now + self._sla_warning
        found = []
        async with self._store.write() as conn:
            await fence(conn, token)
            for kind, due, done in _due_times():
                rows = await conn.execute(
                    sa.update(conversations)
                    .where(
                        c.id.in_(
                            _locked(
                                c.status == "open",
                                c.breached.is_(None),
                                due >= now,
                                due < soon,
                                done,
                                sa.or_(c.sla_warned_due.is_(None), c.sla_warned_due != due),
                            )
                        )
                    )
                    .values(sla_warned_due=due)
                    .returning(c.id, c.queue, c.assignee_id, c.offered_to, due.label("due"))
                )
                found += [(kind, r) for r in rows]
        for kind, r in found:
            self._bus.publish(
                "sla.warning",
                {
                    "conversation_id": r.id,
                    "kind": kind,
                    "due": iso(r.due),
                    "queue": r.queue,
                    "agent_id": r.assignee_id or r.offered_to,
                },
            )


def _due_times() -> tuple[tuple[str, Any, Any], ...]:
    """Each SLA due time: its kind, its column, and what says it is still open."""
    c = conversations.c
    return (
        ("first_response", c.first_response_due, c.first_response_at.is_(None)),
        ("next_response", c.next_response_due, sa.true()),
    )


async def lock_conversations(conn: AsyncConnection, ids: Sequence[str]) -> None:
    """Lock these conversation rows in id order before changing any (PostgreSQL; SQLite has
    one writer). Ingest updates the conversations of a batch in id order too, and two
    transactions that take their row locks in one order cannot deadlock. ``NO KEY UPDATE``
    does not wait for the key-share locks that inserting a message takes on its row."""
    if ids and is_pg(conn):
        await conn.execute(
            sa.select(conversations.c.id)
            .where(any_of(conn, conversations.c.id, sorted(set(ids))))
            .order_by(conversations.c.id.collate("C"))  # byte order: Python's sorted() of ids
            .with_for_update(key_share=True)
        )


def _locked(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """The ids of the conversations matching ``where``, locked in id order; rows another
    transaction holds are left for the next pass (they are found again in seconds)."""
    return (
        sa.select(conversations.c.id)
        .where(*where)
        .order_by(conversations.c.id)  # any one order among the router's own transactions
        .with_for_update(key_share=True, skip_locked=True)
        .scalar_subquery()
    )


async def _update_each(conn: AsyncConnection, updates: Sequence[dict[str, Any]]) -> None:
    """Update conversations by id, one executemany per set of changed columns."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for update in updates:
        shapes.setdefault(tuple(sorted(update)), []).append({f"v_{k}": v for k, v in update.items()})
    for columns, rows in shapes.items():
        values = {k: sa.bindparam(f"v_{k}", type_=conversations.c[k].type) for k in columns if k != "id"}
        stmt = sa.update(conversations).where(conversations.c.id == sa.bindparam("v_id")).values(values)
        await conn.execute(stmt, rows)


async def _route_of(conn: AsyncConnection, conv_id: str) -> dict[str, Any]:
    route = await conn.scalar(sa.select(conversations.c.route).where(conversations.c.id == conv_id))
    return dict(route or {})


def _due(hours: BusinessHours, start: datetime, seconds: float) -> datetime | None:
    try:
        return hours.add_open_time(start, seconds)
    except ValueError:  # hours that never open: no due time rather than a wrong one
        return None
