"""The router's decisions, written: offers and assignments, escalations, out-of-hours
replies, and offers nobody answered.

Each is written with a condition (the conversation is still open and unheld) inside a
fenced transaction that first locks its rows in id order, so a stale router or a racing
agent action can never double-assign; a decision that lost such a race is read again.
Events go out on the bus only after the commit.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.dispatch.lease import fence
from hub.dispatch.view import DispatchView, Outcome
from hub.dispatch.view_loader import ViewLoader
from hub.metrics import Metrics
from hub.outbox.system_reply import queue_hub_reply
from hub.realtime.bus import InProcessBus
from hub.routing.types import Escalate, Offer, OutOfHours
from hub.store.engine import Store
from hub.store.repos import routing as repo
from hub.store.times import iso

ACTOR = "system:router"
Published = list[tuple[str, dict[str, Any]]]


class DecisionWriter:
    def __init__(
        self,
        *,
        store: Store,
        loader: ViewLoader,
        bus: InProcessBus,
        metrics: Metrics,
        clock: Clock,
        sends: Collection[str],
    ) -> None:
        self._store = store
        self._loader = loader
        self._bus = bus
        self._metrics = metrics
        self._clock = clock
        self._sends = frozenset(sends)  # the channels a reply can leave on (out-of-hours replies)

    async def step(self, view: DispatchView, token: int) -> None:
        """Lapse the offers past their time, then write every decision the view makes now."""
        now = self._clock()
        lapsed = view.expired_offers(now)
        if lapsed:
            await self._lapse(view, token, lapsed, now)
        outcomes = view.dispatch(now)
        if not outcomes:
            return
        published: Published = []
        lost: list[str] = []
        async with self._store.write() as conn:
            await fence(conn, token)
            await repo.lock_conversations(conn, [o.conversation.id for o in outcomes])
            rows: list[dict[str, Any]] = []
            for outcome in outcomes:
                if not await self._apply(conn, outcome, now, token, rows, published):
                    lost.append(outcome.conversation.id)
            await repo.add_events(conn, rows)
        for outcome in outcomes:
            self._metrics.routing_decisions.labels(type(outcome.decision).__name__.lower()).inc()
        for topic, data in published:
            self._bus.publish(topic, data)
        if lost:  # changed under us (closed, accepted elsewhere): look again
            await self._loader.refresh(view, token, set(lost), set())

    async def _apply(
        self,
        conn: AsyncConnection,
        outcome: Outcome,
        now: datetime,
        token: int,
        rows: list[dict[str, Any]],
        published: Published,
    ) -> bool:
        """One decision; False if the conversation changed under it (not written)."""
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
            customer_id = await repo.take_if_waiting(conn, conv.id, values)
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
            route = await repo.route_of(conn, conv.id)
            route |= {"target_index": decision.next_target, "target_since": iso(now)}
            await repo.set_route(conn, conv.id, route)
            rows.append({**event, "action": "routing.escalated", "data": {"target": decision.next_target}})
        elif isinstance(decision, OutOfHours):
            await self._out_of_hours(conn, conv.id, decision, now, event, rows, published)
        return True

    async def _out_of_hours(
        self,
        conn: AsyncConnection,
        conv_id: str,
        decision: OutOfHours,
        now: datetime,
        event: dict[str, Any],
        rows: list[dict[str, Any]],
        published: Published,
    ) -> None:
        """The queue is closed: said once per conversation, with the reply if there is one."""
        route = await repo.route_of(conn, conv_id)
        if route.get("out_of_hours_at"):
            return
        route["out_of_hours_at"] = iso(now)
        await repo.set_route(conn, conv_id, route)
        event["customer_id"] = await repo.customer_of(conn, conv_id)  # so the customer's timeline shows it
        told: dict[str, Any] = {"queue": decision.queue, "reply": decision.reply}
        if decision.reply:
            sent = await queue_hub_reply(conn, conv_id, decision.reply, self._sends, now)
            told["reply_id" if sent.message_id else "reply_skipped"] = sent.message_id or sent.skipped
        rows.append({**event, "action": "routing.out_of_hours", "data": told})
        published.append(("routing.out_of_hours", {"conversation_id": conv_id, **told}))

    async def _lapse(
        self, view: DispatchView, token: int, lapsed: list[tuple[str, str]], now: datetime
    ) -> None:
        """Offers nobody answered: back to waiting (not to that agent), count the miss."""
        changed: set[str] = set()
        away: list[str] = []
        async with self._store.write() as conn:
            await fence(conn, token)
            await repo.lock_conversations(conn, [conv_id for conv_id, _ in lapsed])
            for conv_id, agent_id in lapsed:
                route = await repo.route_of(conn, conv_id)
                route["rejected_by"] = sorted({*route.get("rejected_by", ()), agent_id})
                changed.add(conv_id)
                if not await repo.withdraw_offer(conn, conv_id, agent_id, route):
                    continue  # accepted or closed meanwhile; the refresh below sees it
                missed = await repo.count_missed_offer(conn, agent_id)
                event = {"at": now, "actor": ACTOR, "customer_id": None, "reason": None}
                await repo.add_events(
                    conn,
                    [
                        {
                            **event,
                            "action": "conversation.offer_lapsed",
                            "subject_type": "conversation",
                            "subject_id": conv_id,
                            "data": {"agent_id": agent_id, "missed_in_a_row": missed},
                        }
                    ],
                )
                if missed is not None and missed >= view.rules.max_missed_offers:
                    await repo.set_away(conn, agent_id)
                    reason = f"{missed} offers in a row lapsed"
                    await repo.add_events(
                        conn,
                        [
                            {
                                **event,
                                "action": "agent.set_away",
                                "subject_type": "agent",
                                "subject_id": agent_id,
                                "reason": reason,
                                "data": {},
                            }
                        ],
                    )
                    away.append(agent_id)
        for conv_id in changed:
            view.release(conv_id, now)
        for agent_id in away:
            self._bus.publish("agent.presence", {"agent_id": agent_id, "presence": "away"})
        await self._loader.refresh(view, token, changed, set(away))
