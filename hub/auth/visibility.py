"""Who may see what (ARCHITECTURE §6, STYLE §13): the one rule, for conversations and
for customers. Every route, search, export, timeline and socket event asks it here.

**Conversations.** An agent sees their own (offered or assigned), those waiting on the
queues they serve, and those their teammates hold; supervisors and admins see all. An
agent serves a queue when one of the routing targets on it takes any agent or has an
agent expression that holds for them. A conversation an agent may not see does not
exist for them: every route answers 404, with the same words as for an unknown id.

**Customers.** An agent sees a customer whose conversations include at least one they
may see, or whose key account manager they are; of that customer, the record's data
(name, identities, consent, tier) and, of the conversations, messages and the events
on the timeline, only those of conversations they may see, plus the customer-level
events (created, changed, identities, consent, merges) that carry no conversation's
content. Export and erasure are for supervisors and admins (the routes' roles).

**Product feedback.** Marking a customer's message as product feedback shares it on
purpose with the R&D view (``hub.outreach.feedback``): supervisors and admins read it, and
agents of a feedback department (``customers.feedback_departments``), whatever they may
see otherwise; nobody else. The link to the conversation opens only under the rules above.

``scope_of`` reads the agents; the rest is pure or builds SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth.sessions import Principal
from hub.errors import NotFound
from hub.model import Role
from hub.routing.rules import RuleSet
from hub.store.tables import agents, conversations, customers, events, messages

c = conversations.c


def hidden(conv_id: str) -> NotFound:
    """The answer for a conversation the caller may not see, or that does not exist:
    the same words either way, so a 404 tells nothing about other agents' work."""
    return NotFound(f"no conversation with id {conv_id} for you")


def no_customer(customer_id: str) -> NotFound:
    """The same words as for an unknown or erased customer (``records.load_customer``)."""
    return NotFound(f"no customer with id {customer_id}")


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
    """A caller's view: who they are, the queues they serve, and their teammates;
    ``everything`` for supervisors and admins."""

    agent_id: str
    queues: frozenset[str]
    teammates: frozenset[str]
    everything: bool = False

    # --- conversations -------------------------------------------------------
    def clause(self, table: sa.FromClause = conversations) -> sa.ColumnElement[bool]:
        """A WHERE clause on ``table`` (conversations, or an alias) for what this caller may see."""
        t = table.c
        if self.everything:
            return sa.true()
        own = sa.or_(t.assignee_id == self.agent_id, t.offered_to == self.agent_id)
        parts: list[sa.ColumnElement[bool]] = [own]
        if self.queues:
            parts.append(sa.and_(t.assignee_id.is_(None), t.queue.in_(sorted(self.queues))))
        if self.teammates:
            parts.append(t.assignee_id.in_(sorted(self.teammates)))
        return sa.or_(*parts)

    def allows(self, row: Any) -> bool:
        """The same test as ``clause`` for one conversation (anything with
        ``assignee_id``, ``offered_to`` and ``queue``)."""
        if self.everything or self.agent_id in (row.assignee_id, row.offered_to):
            return True
        if row.assignee_id is None:
            return row.queue in self.queues
        return row.assignee_id in self.teammates

    # --- customers -------------------------------------------------------------
    def shown_conversations(self, customer_id: Any) -> sa.Select[Any]:
        """The ids of ``customer_id``'s conversations this caller may see (a value or a column)."""
        seen = conversations.alias("seen")
        return sa.select(seen.c.id).where(seen.c.customer_id == customer_id, self.clause(seen))

    def customer_clause(self, customer_id: Any) -> sa.ColumnElement[bool]:
        """Whether this caller may see the customer ``customer_id`` (a column, e.g.
        ``identities.c.customer_id``, or a value): one of their conversations is
        visible, the caller is their key account manager, or the caller created them (an
        agent who records a caller's details goes on to work with that record)."""
        if self.everything:
            return sa.true()
        managed = customers.alias("managed")
        created = events.alias("created")
        return sa.or_(
            sa.exists(self.shown_conversations(customer_id)),
            sa.exists().where(managed.c.id == customer_id, managed.c.key_account_manager_id == self.agent_id),
            sa.exists().where(
                created.c.customer_id == customer_id,
                created.c.action == "customer.created",
                created.c.actor == f"agent:{self.agent_id}",
            ),
        )

    def message_clause(self, customer_id: str) -> sa.ColumnElement[bool]:
        """Which of a customer's messages this caller may read."""
        if self.everything:
            return sa.true()
        return messages.c.conversation_id.in_(self.shown_conversations(customer_id))

    def event_clause(self, customer_id: str) -> sa.ColumnElement[bool]:
        """Which of a customer's timeline events this caller may read: customer-level
        ones, and those of conversations they may see (notes are conversation events)."""
        if self.everything:
            return sa.true()
        return sa.or_(
            events.c.subject_type != "conversation",
            events.c.subject_id.in_(self.shown_conversations(customer_id)),
        )


def everything(agent_id: str) -> Scope:
    """A supervisor's or admin's scope."""
    return Scope(agent_id, frozenset(), frozenset(), everything=True)


def teammates_of(agent_id: str, teams: Iterable[str], others: Iterable[Any]) -> frozenset[str]:
    """The ids of other agents sharing at least one team with this one."""
    mine = set(teams)
    return frozenset(o.id for o in others if o.id != agent_id and mine & set(o.teams or ()))


async def scope_for(conn: AsyncConnection, agent_id: str, rules: RuleSet) -> Scope:
    """Read the agent and the other active agents' teams, and build the agent's Scope
    (as an agent, whatever their role: the routing view of them)."""
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


async def scope_of(conn: AsyncConnection, who: Principal, rules: RuleSet) -> Scope:
    """The caller's scope: everything for supervisors and admins, else ``scope_for``."""
    if who.role != Role.AGENT:
        return everything(who.agent_id)
    return await scope_for(conn, who.agent_id, rules)


async def may_see_customer(conn: AsyncConnection, scope: Scope, customer_id: str) -> None:
    """Raise NotFound (as for an unknown customer) unless ``scope`` may see the customer."""
    if scope.everything:
        return
    if not await conn.scalar(sa.select(scope.customer_clause(customer_id))):
        raise no_customer(customer_id)


def reads_feedback(who: Principal, departments: Iterable[str], feedback_departments: Iterable[str]) -> bool:
    """Whether ``who`` (of ``departments``) may read the product feedback view."""
    return who.role != Role.AGENT or bool(set(departments) & set(feedback_departments))
