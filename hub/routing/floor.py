"""The floor: every agent's state, indexed so that a decision does not scan all agents.

For each (agent expression, channel) the floor keeps the agents who match the expression,
are available and have free capacity on that channel, sorted by preference (lowest load
ratio on the channel, then overall, then longest idle). Picking the best agent is the
first entry not excluded for this conversation. An agent's change (``update``) moves it
in the few lists it belongs to. Expression verdicts are cached per agent, because
evaluating an expression costs far more than anything else here. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from hub.routing.rules import Target
from hub.routing.types import AgentState

Key = tuple[float, float, float, str]


def preference_key(agent: AgentState, channel: str) -> Key:
    idle = agent.idle_since.timestamp() if agent.idle_since else float("-inf")
    return (agent.load_ratio(channel), agent.overall_ratio(), idle, agent.id)


class Floor:
    def __init__(self, agents: Iterable[AgentState] = ()) -> None:
        self.agents: dict[str, AgentState] = {}
        self._matches: dict[tuple[str, str], bool] = {}
        self._expressions: dict[str, Target] = {}
        self._ready: dict[tuple[str, str], SortedList] = {}  # (expression, channel) -> keys
        # counts that explain a Wait without looking at every agent
        self.presence: Counter[str] = Counter()
        self.free: Counter[str] = Counter()  # available agents with free capacity, per channel
        for agent in agents:
            self.agents[agent.id] = agent
            self._count(agent, 1)

    def _count(self, agent: AgentState, sign: int) -> None:
        self.presence[agent.presence] += sign
        if agent.presence == "available":
            for channel in agent.capacity:
                if agent.free_on(channel) > 0:
                    self.free[channel] += sign

    def matches(self, target: Target, agent: AgentState) -> bool:
        if target.agent_rule is None or target.agents is None:
            return True
        key = (target.agents, agent.id)
        verdict = self._matches.get(key)
        if verdict is None:
            verdict = self._matches[key] = bool(target.agent_rule.matches(_agent_context(agent)))
        return verdict

    def ready(self, target: Target, channel: str) -> Iterator[AgentState]:
        """Available agents with free capacity on ``channel`` who match the target, best first."""
        expr = target.agents or ""
        index = self._ready.get((expr, channel))
        if index is None:
            self._expressions[expr] = target
            index = self._ready[(expr, channel)] = SortedList(
                preference_key(a, channel) for a in self.agents.values() if self._is_ready(a, target, channel)
            )
        for key in index:
            yield self.agents[key[3]]

    def any_ready(self, target: Target, channel: str) -> bool:
        """Whether anyone could take a conversation of this target and channel now."""
        return next(self.ready(target, channel), None) is not None

    def update(self, agent: AgentState) -> None:
        """Replace an agent's state (presence, load, skills) and re-file it in every index."""
        old = self.agents.get(agent.id)
        filed = {
            key: old is not None and self._is_ready(old, self._expressions[key[0]], key[1])
            for key in self._ready
        }
        if old is not None and (old.languages, old.departments, old.tags, old.teams) != (
            agent.languages,
            agent.departments,
            agent.tags,
            agent.teams,
        ):
            self._matches = {k: v for k, v in self._matches.items() if k[1] != agent.id}
        if old is not None:
            self._count(old, -1)
        self._count(agent, 1)
        self.agents[agent.id] = agent
        for (expr, channel), index in self._ready.items():
            if old is not None and filed[(expr, channel)]:
                index.discard(preference_key(old, channel))
            if self._is_ready(agent, self._expressions[expr], channel):
                index.add(preference_key(agent, channel))

    def _is_ready(self, agent: AgentState, target: Target, channel: str) -> bool:
        return agent.presence == "available" and agent.free_on(channel) > 0 and self.matches(target, agent)


def _agent_context(agent: AgentState) -> dict[str, Any]:
    return {
        "id": agent.id,
        "languages": list(agent.languages),
        "departments": list(agent.departments),
        "tags": list(agent.tags),
        "teams": list(agent.teams),
    }
