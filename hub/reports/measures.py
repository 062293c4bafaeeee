"""What each measure is, and what the stored events and messages contribute to it. Pure:
the records are read by ``hub.store.repos.reports``; the README's "Reports" section says
the same in words, and must stay in step with this module.

Every contribution falls in the UTC hour its event was recorded (a message: the hour it
was stored), so an hour once past only changes when something is recorded late, and
the rollups can be kept by recomputing the last hours (``hub.reports.refresh``).

Base measures are stored: counts (``COUNTS``) and durations (``DURATIONS``, in seconds,
with their histogram). Ratios (``RATIOS``) are read as one stored count over others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hub.reports.bins import bin_of
from hub.store.repos.reports import MessageVolume, Milestone, ReportEvent, RollupRow


class Kind(StrEnum):
    COUNT = "count"
    DURATION = "duration"
    RATIO = "ratio"


COUNTS = (
    "conversations_opened",
    "messages_in",
    "messages_out",
    "conversations_closed",
    "reopens",
    "transfers",
    "offers",
    "offers_rejected",
    "offers_missed",
    "sla_met",
    "sla_missed",
    "sla_breaches",
)
DURATIONS = (
    "first_response_time",
    "next_response_time",
    "resolution_time",
    "handling_time",
    "wait_before_accept",
)
# ratio -> (numerator, the counts whose sum is the denominator)
RATIOS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "sla_attainment": ("sla_met", ("sla_met", "sla_missed")),
    "reopen_rate": ("reopens", ("conversations_closed",)),
    "transfers_per_conversation": ("transfers", ("conversations_closed",)),
}
MEASURES: Mapping[str, Kind] = {
    **{m: Kind.COUNT for m in COUNTS},
    **{m: Kind.DURATION for m in DURATIONS},
    **{m: Kind.RATIO for m in RATIOS},
}


def stored_measures(measure: str) -> tuple[str, ...]:
    """The base measures a measure is read from."""
    if measure in RATIOS:
        numerator, denominator = RATIOS[measure]
        return tuple(dict.fromkeys((numerator, *denominator)))
    return (measure,)


@dataclass(frozen=True, slots=True)
class _Key:
    measure: str
    hour: datetime
    channel: str
    tier: str
    queue: str
    department: str
    agent_id: str
    key_account: bool
    bin: int


class Rollup:
    """Contributions summed per hour, measure, dimensions and bin."""

    def __init__(self) -> None:
        self._sums: dict[_Key, list[float]] = {}

    def add(
        self,
        measure: str,
        event: ReportEvent,
        *,
        agent: str = "",
        queue: str | None = None,
        seconds: float | None = None,
    ) -> None:
        hour = event.at.replace(minute=0, second=0, microsecond=0)
        key = _Key(
            measure,
            hour,
            event.channel,
            event.tier,
            event.queue if queue is None else queue,
            event.department,
            agent,
            event.key_account,
            0 if seconds is None else bin_of(seconds),
        )
        self._count(key, 1, seconds)

    def add_volume(self, v: MessageVolume) -> None:
        measure = "messages_in" if v.direction == "in" else "messages_out"
        key = _Key(measure, v.hour, v.channel, v.tier, v.queue, v.department, v.agent_id, v.key_account, 0)
        self._count(key, v.n, None)

    def _count(self, key: _Key, n: int, seconds: float | None) -> None:
        value = max(seconds, 0.0) if seconds is not None else 0.0
        sums = self._sums.setdefault(key, [0, 0.0, 0.0])
        sums[0] += n
        sums[1] += value
        sums[2] = max(sums[2], value)

    def rows(self) -> list[RollupRow]:
        return [
            RollupRow(
                hour=k.hour,
                measure=k.measure,
                channel=k.channel,
                tier=k.tier,
                queue=k.queue,
                department=k.department,
                agent_id=k.agent_id,
                key_account=k.key_account,
                bin=k.bin,
                n=int(s[0]),
                total=s[1],
                peak=s[2],
            )
            for k, s in self._sums.items()
        ]


def _agent(value: object) -> str:
    return value if isinstance(value, str) else ""


def _agent_of_actor(actor: str) -> str:
    return actor.removeprefix("agent:") if actor.startswith("agent:") else ""


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


def needs_history(event: ReportEvent) -> bool:
    """Whether the event's contribution depends on the conversation's earlier steps."""
    return event.action in (
        "conversation.assigned",
        "conversation.closed",
        "message.replied",
        "conversation.called_back",
    )


def is_later_response(event: ReportEvent) -> bool:
    """A reply or call-back after the conversation's first response: its time counts
    from when the customer wrote again (``_responded``)."""
    return (
        event.action in ("message.replied", "conversation.called_back")
        and event.first_response_at is not None
        and event.first_response_at < event.at
    )


def contribute(
    rollup: Rollup,
    events: Iterable[ReportEvent],
    history: Mapping[str, Sequence[Milestone]],
    wrote: Mapping[str, Sequence[datetime]],
) -> None:
    """Add what each event counts for (``history``: each conversation's milestones,
    oldest first, including those after the event; ``wrote``: when the customer wrote
    in the conversations of later responses, oldest first)."""
    for event in events:
        steps = history.get(event.conversation_id, ())
        _contribute(rollup, event, steps, wrote.get(event.conversation_id, ()))


def _contribute(
    rollup: Rollup, e: ReportEvent, steps: Sequence[Milestone], wrote: Sequence[datetime]
) -> None:
    data = e.data
    if e.action == "conversation.opened":
        rollup.add("conversations_opened", e)
    elif e.action == "conversation.offered":
        rollup.add("offers", e, agent=_agent(data.get("agent_id")), queue=_queue(data, e))
    elif e.action == "conversation.rejected":
        rollup.add("offers_rejected", e, agent=_agent(data.get("agent_id")))
    elif e.action == "conversation.offer_lapsed":
        rollup.add("offers_missed", e, agent=_agent(data.get("agent_id")))
    elif e.action == "conversation.transferred":
        rollup.add("transfers", e, agent=_agent(data.get("from_agent")), queue=_queue(data, e))
    elif e.action == "conversation.reopened":
        rollup.add("reopens", e, agent=_agent(data.get("agent_id")))
    elif e.action == "sla.breached":
        rollup.add("sla_breaches", e, agent=_agent(data.get("agent_id")), queue=_queue(data, e))
    elif e.action == "conversation.assigned":
        _assigned(rollup, e, steps)
    elif e.action == "conversation.closed":
        _closed(rollup, e, steps)
    elif e.action in ("message.replied", "conversation.called_back"):
        _responded(rollup, e, steps, wrote)


def _queue(data: Mapping[str, object], e: ReportEvent) -> str:
    queue = data.get("queue")
    return queue if isinstance(queue, str) else e.queue


def _assigned(rollup: Rollup, e: ReportEvent, steps: Sequence[Milestone]) -> None:
    """Wait before accept: from when it last began to wait for an agent (opened,
    reopened by the customer, or transferred) to this assignment. An agent's taking a
    conversation by reopening it is no wait."""
    if e.data.get("via") == "reopen" or e.opened_at is None:
        return
    since = e.opened_at
    for step in steps:
        if step.at > e.at:
            break
        customer_reopened = step.action == "conversation.reopened" and step.actor == "system:ingest"
        if customer_reopened or step.action == "conversation.transferred":
            since = max(since, step.at)
    rollup.add(
        "wait_before_accept",
        e,
        agent=_agent(e.data.get("agent_id")),
        queue=_queue(e.data, e),
        seconds=_seconds(e.at, since),
    )


def _closed(rollup: Rollup, e: ReportEvent, steps: Sequence[Milestone]) -> None:
    agent = _agent(e.data.get("agent_id"))
    rollup.add("conversations_closed", e, agent=agent)
    if e.opened_at is not None:
        rollup.add("resolution_time", e, agent=agent, seconds=_seconds(e.at, e.opened_at))
    assigned = [s for s in steps if s.action == "conversation.assigned" and s.at <= e.at]
    if agent and assigned:
        rollup.add("handling_time", e, agent=agent, seconds=_seconds(e.at, assigned[-1].at))
    if _closed_unanswered_late(e, e.at):
        rollup.add("sla_missed", e, agent=agent)


def _closed_unanswered_late(e: ReportEvent, closed_at: datetime) -> bool:
    """Closed with no response yet, after the first-response due time passed."""
    answered = e.first_response_at is not None and e.first_response_at <= closed_at
    due = e.first_response_due
    return not answered and due is not None and due < closed_at


def _responded(rollup: Rollup, e: ReportEvent, steps: Sequence[Milestone], wrote: Sequence[datetime]) -> None:
    """The first response (the reply or call-back whose time is the conversation's first
    response time), and whether it kept the promise; a promise counted as missed when
    the conversation was closed unanswered is not counted again. A later response is a
    next response when the customer wrote after the one before it."""
    if is_later_response(e):
        _next_response(rollup, e, steps, wrote)
        return
    if e.first_response_at is None or e.first_response_at != e.at or e.opened_at is None:
        return
    agent = _agent_of_actor(e.actor)
    rollup.add("first_response_time", e, agent=agent, seconds=_seconds(e.at, e.opened_at))
    if e.first_response_due is None:
        return
    if any(
        s.action == "conversation.closed" and s.at < e.at and _closed_unanswered_late(e, s.at) for s in steps
    ):
        return
    rollup.add("sla_met" if e.at <= e.first_response_due else "sla_missed", e, agent=agent)


def _next_response(
    rollup: Rollup, e: ReportEvent, steps: Sequence[Milestone], wrote: Sequence[datetime]
) -> None:
    """From the customer's first message after the previous response (reply or
    call-back) to this one; nothing when the customer had not written since."""
    answered = [
        s.at for s in steps if s.action in ("message.replied", "conversation.called_back") and s.at < e.at
    ]
    previous = max([*answered, e.first_response_at or e.at])
    since = next((t for t in wrote if previous < t <= e.at), None)
    if since is not None:
        agent = _agent_of_actor(e.actor)
        rollup.add("next_response_time", e, agent=agent, seconds=_seconds(e.at, since))


def rollup_rows(
    events: Sequence[ReportEvent],
    history: Mapping[str, Sequence[Milestone]],
    volume: Iterable[MessageVolume],
    wrote: Mapping[str, Sequence[datetime]],
) -> list[RollupRow]:
    """The rollup rows of a span of hours: what its events and stored messages count."""
    rollup = Rollup()
    contribute(rollup, events, history, wrote)
    for v in volume:
        rollup.add_volume(v)
    return rollup.rows()
