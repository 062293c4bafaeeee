"""``decide``: who gets a waiting conversation now, or why nobody does. Pure.

Eligible agents are available, have free capacity on the conversation's channel, have
not just turned this conversation down, and match the target's agent expression. Among
them the router prefers, in order: the customer's key account manager, the last agent on
this customer (if ``prefer_last_agent``), the lowest load ratio, the longest idle.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from hub.routing.floor import Floor
from hub.routing.priority import effective_priority
from hub.routing.rules import Rule, RuleSet, Target
from hub.routing.types import AgentState, Decision, Escalate, Offer, OutOfHours, Wait, WaitingConversation

CUSTOMER_DEFAULTS: dict[str, Any] = {
    "key_account": False,
    "revenue_12m": 0.0,
    "organisation": "",
    "language": "",
    "attributes": {},
}


def conversation_context(conv: WaitingConversation) -> dict[str, Any]:
    """What a rule's ``when`` sees. Every customer key is present, so a rule about a field
    that one customer lacks reads the default instead of failing."""
    return {
        "customer": {**CUSTOMER_DEFAULTS, **conv.customer, "tier": conv.tier},
        "channel": conv.channel,
        "language": conv.language,
        "department": conv.department,
        "subject": conv.subject,
        "text": conv.text,
        "recipient": conv.recipient,
        "priority": conv.priority,
    }


def routed(conv: WaitingConversation, rules: RuleSet) -> tuple[Rule, int, Target]:
    """The rule that matches, and the target (ring) the conversation waits on."""
    facts = (
        *(conv.tier, conv.channel, conv.language, conv.department, conv.subject, conv.text, conv.recipient),
        conv.priority,
    )
    try:  # a cheap cache key; a customer value that is a mapping or list cannot be hashed
        rule = rules.match(lambda: conversation_context(conv), (facts, frozenset(conv.customer.items())))
    except TypeError:
        rule = rules.match(conversation_context(conv))
    return rules.route(rule, conv.target_index, conv.transfer_queue, conv.transfer_agent_id)


def decide(conv: WaitingConversation, floor: Floor, rules: RuleSet, now: datetime) -> Decision:
    rule, index, target = routed(conv, rules)
    queue = rules.queues[target.queue]
    if not queue.hours.is_open(now):
        reply = rule.actions.get("out_of_hours_reply") or queue.out_of_hours_reply
        return OutOfHours(reply, queue.name, rule.name)
    chosen = _choose(conv, floor, target, rules.prefer_last_agent)
    if chosen is not None:
        agent, why = chosen
        return Offer(agent.id, queue.reservation_timeout_s, queue.name, rule.name, why)
    since = conv.target_since or conv.arrived_at
    timed_out = target.timeout_s is not None and (now - since).total_seconds() >= target.timeout_s
    if timed_out and index + 1 < len(rule.targets):
        return Escalate(index + 1, rule.name)
    return Wait(_why_nobody(conv, floor, target), queue.name, rule.name)


def explain(conv: WaitingConversation, floor: Floor, rules: RuleSet, now: datetime) -> dict[str, Any]:
    """The decision with its trace: the rule, the targets, and each agent's verdict."""
    rule, index, target = routed(conv, rules)
    decision = decide(conv, floor, rules, now)
    verdicts = {a.id: exclusion(a, conv, target, floor) for a in floor.agents.values()}
    return {
        "decision": {
            "type": type(decision).__name__,
            **{k: getattr(decision, k) for k in decision.__dataclass_fields__},
        },
        "rule": rule.name,
        "when": rule.when,
        "targets": [
            {"queue": t.queue, "agents": t.agents, "priority": t.priority, "timeout": t.timeout_s}
            for t in rule.targets
        ],
        "target_index": index,
        "queue_open": rules.queues[target.queue].hours.is_open(now),
        "priority": round(priority(conv, rules, now), 2),
        "eligible": sorted(a for a, why in verdicts.items() if why is None),
        "excluded": {a: why for a, why in sorted(verdicts.items()) if why is not None},
    }


def priority(conv: WaitingConversation, rules: RuleSet, now: datetime) -> float:
    """Where the conversation stands in its queue: the tier's base priority plus the
    target's offset, aged by the share of the first-response target already used."""
    _rule, _index, target = routed(conv, rules)
    return effective_priority(
        base=rules.tier_priority.get(conv.tier, 0),
        offset=target.priority,
        arrived_at=conv.arrived_at,
        first_response_s=rules.first_response_s(conv.tier, conv.channel),
        now=now,
    )


def exclusion(agent: AgentState, conv: WaitingConversation, target: Target, floor: Floor) -> str | None:
    """Why this agent cannot take the conversation on this target, or None if it can."""
    if agent.presence != "available":
        return f"not available ({agent.presence})"
    if agent.free_on(conv.channel) <= 0:
        return f"no free {conv.channel} capacity"
    if agent.id in conv.rejected_by:
        return "turned this conversation down"
    if not floor.matches(target, agent):
        return "does not match the target's agents expression"
    return None


def _choose(
    conv: WaitingConversation, floor: Floor, target: Target, prefer_last: bool
) -> tuple[AgentState, str] | None:
    for preferred, why in (
        (conv.key_account_manager_id, "key account manager"),
        (conv.last_agent_id if prefer_last else None, "last agent on this customer"),
    ):
        agent = floor.agents.get(preferred) if preferred else None
        if agent is not None and exclusion(agent, conv, target, floor) is None:
            return agent, why
    for agent in floor.ready(target, conv.channel):
        if agent.id not in conv.rejected_by:
            return agent, "lowest load, longest idle"
    return None


def _why_nobody(conv: WaitingConversation, floor: Floor, target: Target) -> str:
    """Counts of why agents were left out, from the floor's counters: O(turned down), not
    O(agents). Nobody is eligible, so every available agent with free capacity was
    either turned down or does not match the target."""
    if not floor.agents:
        return "no agents are signed in"
    excluded: Counter[str] = Counter()
    for presence, n in sorted(floor.presence.items()):
        if presence != "available" and n:
            excluded[f"not available ({presence})"] = n
    free = floor.free[conv.channel]
    excluded[f"no free {conv.channel} capacity"] = floor.presence["available"] - free
    turned_down = sum(
        1
        for a in conv.rejected_by
        if (agent := floor.agents.get(a)) is not None
        and agent.presence == "available"
        and agent.free_on(conv.channel) > 0
    )
    excluded["turned this conversation down"] = turned_down
    excluded["does not match the target's agents expression"] = free - turned_down
    parts = ", ".join(f"{n} {why}" for why, n in excluded.most_common() if n > 0)
    return f"no eligible agent: {parts}"
