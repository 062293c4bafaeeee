"""The Router's in-memory view: who waits, who holds what, and the next decisions. No I/O.

The view keeps the waiting conversations in lanes (``WaitingLine``), the agents on an
indexed ``Floor``, and every offer or assignment that counts against an agent's capacity
(a *hold*). ``dispatch(now)`` makes every decision the floor allows right now, in
priority order, applies it to the view and returns it, so the Router can persist it.
Lanes no agent can serve (no ready agent for their expression and channel, or their
queue is closed) are passed over whole, so a dispatch with nobody free costs O(lanes),
not O(waiting). Timers (ring escalations, offer expiries) are heaps.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from hub.dispatch.bad_rows import ROW_ERRORS
from hub.routing.decide import decide, routed
from hub.routing.floor import Floor
from hub.routing.rules import RuleSet, Target
from hub.routing.types import AgentState, Decision, Escalate, Offer, WaitingConversation
from hub.routing.waiting import Group, WaitingLine


@dataclass(frozen=True, slots=True)
class Hold:
    """An offer (``offered_until`` set), an assignment, or a live call put through to the
    agent (keyed ``call:<call id>``), counted against capacity."""

    agent_id: str
    channel: str
    offered_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    conversation: WaitingConversation
    decision: Decision
    auto_accept: bool = False


class DispatchView:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.floor = Floor()
        self.line = WaitingLine(self._group_of)
        self.holds: dict[str, Hold] = {}
        self._agents: dict[str, AgentState] = {}  # as given; load and idle are the view's
        self._load: dict[str, Counter[str]] = {}
        self._targets: dict[str | None, Target] = {}
        self._escalations: list[tuple[datetime, str, int]] = []
        self._expiries: list[tuple[datetime, str, str]] = []
        self._fresh: list[str] = []  # admitted since the last dispatch

    # --- agents -----------------------------------------------------------------
    def set_agent(self, agent: AgentState) -> None:
        """An agent's presence, skills or capacity changed (or the agent is new)."""
        self._agents[agent.id] = agent
        self._refile(agent.id)

    def _refile(self, agent_id: str, idle_since: datetime | None = None) -> None:
        agent = self._agents[agent_id]
        if idle_since is not None:
            agent = self._agents[agent_id] = replace(agent, idle_since=idle_since)
        self.floor.update(replace(agent, load=dict(self._load.get(agent_id, {}))))

    # --- holds ------------------------------------------------------------------
    def hold(self, conv_id: str, agent_id: str, channel: str, offered_until: datetime | None = None) -> None:
        """Count an offer or assignment against the agent (replacing an earlier hold)."""
        self.line.remove(conv_id)
        previous = self.holds.get(conv_id)
        if previous is not None and previous.agent_id == agent_id and previous.channel == channel:
            self.holds[conv_id] = Hold(agent_id, channel, offered_until)
        else:
            self.release(conv_id)
            self.holds[conv_id] = Hold(agent_id, channel, offered_until)
            self._load.setdefault(agent_id, Counter())[channel] += 1
            if agent_id in self._agents:
                self._refile(agent_id)
        if offered_until is not None:
            heapq.heappush(self._expiries, (offered_until, conv_id, agent_id))

    def release(self, conv_id: str, now: datetime | None = None) -> Hold | None:
        """The conversation no longer counts against its agent (closed, transferred, lapsed)."""
        held = self.holds.pop(conv_id, None)
        if held is None:
            return None
        load = self._load[held.agent_id]
        load[held.channel] -= 1
        if load[held.channel] <= 0:
            del load[held.channel]
        if held.agent_id in self._agents:
            self._refile(held.agent_id, idle_since=now if not load and now is not None else None)
        return held

    def expired_offers(self, now: datetime) -> list[tuple[str, str]]:
        """(conversation, agent) of offers past their time that are still outstanding."""
        lapsed = []
        while self._expiries and self._expiries[0][0] <= now:
            until, conv_id, agent_id = heapq.heappop(self._expiries)
            held = self.holds.get(conv_id)
            if held is not None and held.agent_id == agent_id and held.offered_until == until:
                lapsed.append((conv_id, agent_id))
        return lapsed

    # --- waiting ----------------------------------------------------------------
    def admit(self, conv: WaitingConversation) -> None:
        """A conversation waits (new, rejected, lapsed or transferred). Whatever its rules
        raise on its facts is raised before the view changes."""
        _rule, index, target = routed(conv, self.rules)
        self.release(conv.id)
        if conv.target_since is None:
            conv = replace(conv, target_since=conv.arrived_at)
        self.line.add(conv)
        self._fresh.append(conv.id)
        if target.timeout_s is not None and conv.target_since is not None:
            due = conv.target_since + timedelta(seconds=target.timeout_s)
            heapq.heappush(self._escalations, (due, conv.id, index))

    def forget(self, conv_id: str, now: datetime | None = None) -> None:
        """The conversation is gone from routing (closed, erased)."""
        self.line.remove(conv_id)
        self.release(conv_id, now)

    def set_rules(self, rules: RuleSet) -> list[tuple[str, Exception]]:
        """New rules: every waiting conversation is filed again under them. One that the
        rules cannot read (a value of a type they do not expect) is left out, and
        returned with the error, so that the others still wait."""
        waiting = list(self.line.conversations.values())
        self.rules = rules
        self.line = WaitingLine(self._group_of)
        self._targets.clear()
        self._escalations.clear()
        left_out: list[tuple[str, Exception]] = []
        for conv in waiting:
            try:
                self.admit(conv)
            except ROW_ERRORS as exc:
                left_out.append((conv.id, exc))
        return left_out

    def _group_of(self, conv: WaitingConversation) -> Group:
        _rule, _index, target = routed(conv, self.rules)
        self._targets.setdefault(target.agents, target)
        return Group(
            base=self.rules.tier_priority.get(conv.tier, 0),
            offset=target.priority,
            first_response_s=self.rules.first_response_s(conv.tier, conv.channel),
            queue=target.queue,
            channel=conv.channel,
            agents=target.agents,
        )

    # --- deciding ---------------------------------------------------------------
    def dispatch(self, now: datetime) -> list[Outcome]:
        """Every decision the floor allows now, best conversation first, applied here."""
        outcomes = self._escalate(now)
        fresh, self._fresh = self._fresh, []
        for conv_id in fresh:  # tell a newcomer on a closed queue so, once
            conv = self.line.conversations.get(conv_id)
            if conv is not None:
                _rule, _index, target = routed(conv, self.rules)
                if not self.rules.queues[target.queue].hours.is_open(now):
                    outcomes.append(Outcome(conv, decide(conv, self.floor, self.rules, now)))
        passed: set[str] = set()

        def lane_open(group: Group) -> bool:
            return self.rules.queues[group.queue].hours.is_open(now) and self.floor.any_ready(
                self._targets[group.agents], group.channel
            )

        while (conv := self.line.best(now, passed.__contains__, lane_open)) is not None:
            outcome = self._apply(conv, decide(conv, self.floor, self.rules, now), now, since=now)
            if outcome is not None:
                outcomes.append(outcome)
            else:  # Wait: everyone ready turned it down
                passed.add(conv.id)
        return outcomes

    def _apply(
        self, conv: WaitingConversation, decision: Decision, now: datetime, since: datetime
    ) -> Outcome | None:
        """An offer holds the agent; an escalation files the conversation on the next ring
        (waiting there ``since``); anything else changes nothing (None)."""
        if isinstance(decision, Offer):
            auto = self.rules.queues[decision.queue].auto_accept
            until = None if auto else now + timedelta(seconds=decision.reservation_timeout_s)
            self.hold(conv.id, decision.agent_id, conv.channel, until)
            return Outcome(conv, decision, auto_accept=auto)
        if isinstance(decision, Escalate):
            self.admit(replace(conv, target_index=decision.next_target, target_since=since))
            return Outcome(conv, decision)
        return None

    def _escalate(self, now: datetime) -> list[Outcome]:
        """Conversations whose ring timed out move on, unless someone takes them now."""
        outcomes: list[Outcome] = []
        while self._escalations and self._escalations[0][0] <= now:
            due, conv_id, index = heapq.heappop(self._escalations)
            conv = self.line.conversations.get(conv_id)
            if conv is None or conv.target_index != index:
                continue
            outcome = self._apply(conv, decide(conv, self.floor, self.rules, now), now, since=due)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def next_timer(self) -> datetime | None:
        """When the view next needs a dispatch even if nothing else happens."""
        heads = [h[0][0] for h in (self._escalations, self._expiries) if h]
        return min(heads) if heads else None
