"""Whom a live phone call goes to, decided now by the routing core, and the capacity the
call holds while it lasts.

A call cannot wait in the router's queues like a message: Twilio asks, during the call,
where to connect it. The same rules, floor and ``decide`` answer, over the agents who
have a phone number or SIP address in their profile. A call put through to an agent
holds a ``call_holds`` row: one unit of the agent's capacity on the call's channel from
the dial until ``end`` (the agent's leg is over, or the call's last status came), or
until ``MAX_CALL`` should no callback ever come. Live calls and the router both count
it, so neither offers the agent more than their voice capacity meanwhile; the router
hears of each hold and release through its inbox. Decisions run one at a time (the
store's write lock, or an advisory lock on PostgreSQL), so two calls never take the
same free line. An agent already on the phone answers busy and the caller reaches the
voicemail, which becomes routed work. A call that a PBX reports (generic CTI) holds the
line of the agent it names as answering, from that ``answer`` until its ``hangup``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.dispatch.facts import customer_facts, load_floor
from hub.dispatch.inbox import Inbox, notify
from hub.dispatch.rules_config import RoutingConfig
from hub.model import Address, CallTarget
from hub.routing.decide import decide, routed
from hub.routing.floor import Floor
from hub.routing.types import Offer, OutOfHours, WaitingConversation
from hub.store.engine import Store
from hub.store.tables import agents, call_holds, customers, identities, messages

log = logging.getLogger("contacthub.calls")
RING_TIMEOUT_S = 20
# Twilio ends a call after four hours unless told otherwise: a hold never outlives that.
MAX_CALL = timedelta(hours=4)
# pg_advisory_xact_lock key of call decisions (any fixed number no other lock uses)
DECISION_LOCK = 0x63616C6C


class CallTargets:
    def __init__(
        self, store: Store, config: RoutingConfig, inbox: Callable[[], Inbox | None] = lambda: None
    ) -> None:
        self._store = store
        self._config = config
        self._inbox = inbox  # opened after this service: looked up when a hold changes

    async def __call__(
        self, caller: Address, department: str, language: str, now: datetime, call_id: str
    ) -> CallTarget:
        """Where the call goes; an agent's line is held for it until ``end(call_id)``."""
        rules = self._config.rules
        held: str | None = None
        async with self._store.write() as conn:
            if self._store.dialect == "postgresql":
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(DECISION_LOCK)))
            # the call asks again (the menu once more): its earlier line is free meanwhile
            before = await _release(conn, call_id)
            customer = (
                await conn.execute(
                    sa.select(customers)
                    .join(identities, identities.c.customer_id == customers.c.id)
                    .where(identities.c.kind == caller.kind.value, identities.c.value == caller.value)
                )
            ).one_or_none()
            phones = {
                r.id: r.phone
                for r in await conn.execute(
                    sa.select(agents.c.id, agents.c.phone).where(agents.c.phone.is_not(None))
                )
            }
            floor = await load_floor(conn, now)
            reachable = Floor(a for a in floor.agents.values() if a.id in phones)
            facts = customer_facts(customer) if customer is not None else {}
            call = WaitingConversation(
                id="call",
                channel="voice",
                tier=customer.tier if customer is not None else "standard",
                arrived_at=now,
                customer=facts,
                language=language,
                department=department,
                key_account_manager_id=customer.key_account_manager_id if customer is not None else None,
            )
            decision = decide(call, reachable, rules, now)
            if isinstance(decision, Offer):
                held = decision.agent_id
                await conn.execute(
                    sa.insert(call_holds).values(
                        call_id=call_id,
                        agent_id=held,
                        channel="voice",
                        started_at=now,
                        expires_at=now + MAX_CALL,
                    )
                )
        await self._tell_router({a for a in (before, held) if a is not None})
        if isinstance(decision, Offer):
            return CallTarget("agent", phones[decision.agent_id], decision.agent_id, RING_TIMEOUT_S)
        if isinstance(decision, OutOfHours):
            return CallTarget("closed", None, None, 0)
        return CallTarget("busy", None, None, 0)

    async def hold_for_pbx(self, call_id: str, named: set[str], ended_by: str, now: datetime) -> str | None:
        """A PBX says who took a call (generic CTI ``answer``: the agent's phone, name or
        email): that agent's voice line is held until ``end(call_id)``, as for a call put
        through here. No hold when no single active agent matches, or when the message
        ``ended_by`` (the call's hangup) is stored already: two ingest workers may store
        the hangup first. The agent held, or None."""
        if not named:
            return None
        a = agents.c
        async with self._store.write() as conn:
            if await conn.scalar(
                sa.select(messages.c.id).where(
                    messages.c.channel == "voice", messages.c.external_id == ended_by
                )
            ):
                return None
            found = (
                await conn.scalars(
                    sa.select(a.id).where(
                        a.active, sa.or_(a.phone.in_(named), a.name.in_(named), a.email.in_(named))
                    )
                )
            ).all()
            if len(found) != 1:
                log.info("no hold for PBX call %s: %d agents match %s", call_id, len(found), sorted(named))
                return None
            before = await _release(conn, call_id)
            await conn.execute(
                sa.insert(call_holds).values(
                    call_id=call_id,
                    agent_id=found[0],
                    channel="voice",
                    started_at=now,
                    expires_at=now + MAX_CALL,
                )
            )
        await self._tell_router({x for x in (before, found[0]) if x is not None})
        return str(found[0])

    async def end(self, call_id: str) -> None:
        """The call no longer holds an agent's line (a no-op for a call that holds none)."""
        async with self._store.write() as conn:
            agent_id = await _release(conn, call_id)
        if agent_id is not None:
            await self._tell_router({agent_id})

    async def _tell_router(self, agent_ids: set[str]) -> None:
        """The router counts the agents' load again. A lost hint costs a few seconds: the
        router also reads every hold on its periodic sweep."""
        inbox = self._inbox()
        if inbox is None or not agent_ids:
            return
        try:
            await notify(inbox, agents=agent_ids)
        except Exception as exc:
            log.warning("router not told of a call's hold: %r", exc)

    async def queues_for(self, customer_id: str) -> list[str]:
        """The queues a call from this customer would wait on, ring by ring: whose agents a
        screen pop goes to."""
        async with self._store.read() as conn:
            customer = (await conn.execute(sa.select(customers).where(customers.c.id == customer_id))).one()
        call = WaitingConversation(
            id="call",
            channel="voice",
            tier=customer.tier,
            arrived_at=datetime.now(UTC),
            customer=customer_facts(customer),
            language=customer.language or "",
            key_account_manager_id=customer.key_account_manager_id,
        )
        rule, _, _ = routed(call, self._config.rules)
        return list(dict.fromkeys(t.queue for t in rule.targets))


async def _release(conn: AsyncConnection, call_id: str) -> str | None:
    """Delete the call's hold; the agent it held, if any."""
    agent_id = await conn.scalar(sa.select(call_holds.c.agent_id).where(call_holds.c.call_id == call_id))
    if agent_id is not None:
        await conn.execute(sa.delete(call_holds).where(call_holds.c.call_id == call_id))
    return agent_id
