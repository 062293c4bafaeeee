"""Whom a live phone call goes to, decided now by the routing core.

A call cannot wait in the router's queues like a message: Twilio asks, during the call,
where to connect it. The same rules, floor and ``decide`` answer, over the agents who
have a phone number or SIP address in their profile. The call does not hold capacity in
the router (it is not a conversation yet); an agent already on the phone answers busy
and the caller reaches the voicemail, which becomes routed work.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.base import CallTarget
from hub.dispatch.facts import customer_facts, load_floor
from hub.dispatch.rules_config import RoutingConfig
from hub.model import Address
from hub.routing.decide import decide, routed
from hub.routing.floor import Floor
from hub.routing.types import Offer, OutOfHours, WaitingConversation
from hub.store.engine import Store
from hub.store.tables import agents, customers, identities

RING_TIMEOUT_S = 20


class CallTargets:
    def __init__(self, store: Store, config: RoutingConfig) -> None:
        self._store = store
        self._config = config

    async def __call__(self, caller: Address, department: str, language: str, now: datetime) -> CallTarget:
        rules = self._config.rules
        async with self._store.read() as conn:
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
            floor = await load_floor(conn)
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
            return CallTarget("agent", phones[decision.agent_id], decision.agent_id, RING_TIMEOUT_S)
        if isinstance(decision, OutOfHours):
            return CallTarget("closed", None, None, 0)
        return CallTarget("busy", None, None, 0)

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
