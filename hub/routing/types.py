"""What the routing core reads and returns. Frozen dataclasses; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentState:
    id: str
    presence: str = "offline"  # available | away | offline
    languages: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    capacity: Mapping[str, int] = field(default_factory=dict)  # per channel
    load: Mapping[str, int] = field(default_factory=dict)  # open assignments per channel
    idle_since: datetime | None = None

    def free_on(self, channel: str) -> int:
        return self.capacity.get(channel, 0) - self.load.get(channel, 0)

    def load_ratio(self, channel: str) -> float:
        cap = self.capacity.get(channel, 0)
        return self.load.get(channel, 0) / cap if cap else 1.0

    def overall_ratio(self) -> float:
        ratios = [self.load.get(c, 0) / cap for c, cap in self.capacity.items() if cap]
        return sum(ratios) / len(ratios) if ratios else 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitingConversation:
    id: str
    channel: str
    tier: str
    arrived_at: datetime
    customer: Mapping[str, object] = field(default_factory=dict)  # tier, key_account, attributes
    language: str = ""
    department: str = ""
    subject: str = ""
    text: str = ""  # the start of the first inbound message's text
    recipient: str = ""
    priority: str = "normal"  # high, normal or low: what the customer marked or a rule set
    key_account_manager_id: str | None = None
    last_agent_id: str | None = None
    target_index: int = 0  # which ring of the matched rule it waits on
    target_since: datetime | None = None  # when it started waiting on that ring
    rejected_by: frozenset[str] = frozenset()  # agents who rejected or let an offer lapse
    transfer_queue: str | None = None  # transferred to a queue: it waits there, on any agent
    transfer_agent_id: str | None = None  # and to this agent on it first (see RuleSet.route)


@dataclass(frozen=True, slots=True)
class Offer:
    agent_id: str
    reservation_timeout_s: int
    queue: str
    rule: str
    why: str  # which preference chose the agent


@dataclass(frozen=True, slots=True)
class Wait:
    reason: str
    queue: str
    rule: str


@dataclass(frozen=True, slots=True)
class Escalate:
    next_target: int
    rule: str


@dataclass(frozen=True, slots=True)
class OutOfHours:
    reply: str | None
    queue: str
    rule: str


Decision = Offer | Wait | Escalate | OutOfHours
