"""Which conversations an agent may see (ARCHITECTURE §6): their own (offered or
assigned), those waiting on the queues they serve, and those their teammates hold.

An agent serves a queue when one of the routing targets on it takes any agent or has
an agent expression that holds for them. Supervisors and admins see everything. ``scope_for`` reads
the agents; the rest is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.routing.rules import RuleSet
from hub.store.tables import agents, conversations

c = conversations.c


def agent_facts(row: Any) -> dict[str, Any]:
    """What an agent expression sees of an agent row (the same names as the router's)."""
    return {
        "id": row.id,
        "languages": list(row.languages or ()),
        "departments": list(row.departments or ()),
        "tags": list(row.tags or ()),
        "teams": list(row.teams or ()),
    }


def served_queues(rules: RuleSet, facts: Mapping[str, Any]) -> set[str]:
    """The queues with a target this agent qualifies for."""
    queues: set[str] = set()
    for rule in rules.rules:
        for target in rule.targets:
            if target.queue in queues:
                continue
            if target.agent_rule is None or target.agent_rule.matches(dict(facts)):
                queues.add(target.queue)
    return queues


@dataclass(frozen=True, slots=True)
class Scope:
    """An agent's view: who they are, the queues they serve, and their teammates."""

    agent_id: str
    queues: frozenset[str]
    teammates: frozenset[str]

    def clause(self) -> sa.ColumnElement[bool]:
        """A WHERE clause on conversations for what this agent may see."""
        own = sa.or_(c.assignee_id == self.agent_id, c.offered_to == self.agent_id)
        parts: list[sa.ColumnElement[bool]] = [own]
        if self.queues:
            parts.append(sa.and_(c.assignee_id.is_(None), c.queue.in_(sorted(self.queues))))
        if self.teammates:
            parts.append(c.assignee_id.in_(sorted(self.teammates)))
        return sa.or_(*parts)

    def allows(self, row: Any) -> bool:
        """The same test as ``clause`` for one conversation row."""
        if self.agent_id in (row.assignee_id, row.offered_to):
            return True
        if row.assignee_id is None:
            return row.queue in self.queues
        return row.assignee_id in self.teammates


def teammates_of(agent_id: str, teams: Iterable[str], others: Iterable[Any]) -> frozenset[str]:
    """The ids of other agents sharing at least one team with this one."""
    mine = set(teams)
    return frozenset(o.id for o in others if o.id != agent_id and mine & set(o.teams or ()))


async def scope_for(conn: AsyncConnection, agent_id: str, rules: RuleSet) -> Scope:
    """Read the agent and the other active agents' teams, and build the agent's Scope."""
    rows = (
        await conn.execute(
            sa.select(
                agents.c.id, agents.c.languages, agents.c.departments, agents.c.tags, agents.c.teams
            ).where(agents.c.active.is_(True))
        )
    ).all()
    me = next((r for r in rows if r.id == agent_id), None)
    if me is None:
        return Scope(agent_id, frozenset(), frozenset())
    return Scope(
        agent_id,
        frozenset(served_queues(rules, agent_facts(me))),
        teammates_of(agent_id, me.teams or (), rows),
    )
