"""Waiting conversations in priority order, at a cost that does not grow with their number.

Priority is the tier's base plus a target offset, aged linearly by waiting time over the
SLA target. Within one lane of equal base, offset and SLA target, the oldest is therefore
always the highest; so each lane is a FIFO ordered by arrival, and the best conversation
overall is the best of the lane heads. Picking costs O(lanes) — a few dozen — whatever
the number waiting. A lane also names the queue, channel and agent expression its
conversations wait for, so a caller can pass over a whole lane that no agent can serve
now (no ready agent, queue closed) without looking at its conversations. Pure: ``now``
is passed in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from hub.routing.priority import effective_priority
from hub.routing.types import WaitingConversation


@dataclass(frozen=True, slots=True)
class Group:
    base: float
    offset: float
    first_response_s: float
    queue: str = ""
    channel: str = ""
    agents: str | None = None  # the target's agent expression


@dataclass
class _Lane:
    group: Group
    items: list[tuple[float, str]] = field(default_factory=list)  # (arrived ts, conversation id)


def _never(_: str) -> bool:
    return False


def _always(_: Group) -> bool:
    return True


class WaitingLine:
    def __init__(self, group_of: Callable[[WaitingConversation], Group]) -> None:
        self._group_of = group_of
        self._lanes: dict[Group, _Lane] = {}
        self._where: dict[str, tuple[Group, float]] = {}
        self.conversations: dict[str, WaitingConversation] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, conv_id: object) -> bool:
        return conv_id in self._where

    def add(self, conv: WaitingConversation) -> None:
        self.remove(conv.id)
        group = self._group_of(conv)
        lane = self._lanes.get(group)
        if lane is None:
            lane = self._lanes[group] = _Lane(group)
        ts = conv.arrived_at.timestamp()
        bisect.insort(lane.items, (ts, conv.id))
        self._where[conv.id] = (group, ts)
        self.conversations[conv.id] = conv

    def remove(self, conv_id: str) -> WaitingConversation | None:
        where = self._where.pop(conv_id, None)
        if where is None:
            return None
        group, ts = where
        lane = self._lanes[group]
        del lane.items[bisect.bisect_left(lane.items, (ts, conv_id))]
        if not lane.items:
            del self._lanes[group]
        return self.conversations.pop(conv_id)

    def lanes(self) -> Iterator[tuple[Group, int]]:
        """Each lane and how many wait in it."""
        for group, lane in self._lanes.items():
            yield group, len(lane.items)

    def best(
        self,
        now: datetime,
        skip: Callable[[str], bool] = _never,
        lane_open: Callable[[Group], bool] = _always,
    ) -> WaitingConversation | None:
        """The highest-priority conversation among open lanes, passing over skipped ones."""
        top: tuple[float, str] | None = None
        for group, lane in self._lanes.items():
            if not lane_open(group):
                continue
            for _ts, conv_id in lane.items:
                if skip(conv_id):
                    continue
                score = effective_priority(
                    base=group.base,
                    offset=group.offset,
                    arrived_at=self.conversations[conv_id].arrived_at,
                    first_response_s=group.first_response_s,
                    now=now,
                )
                if top is None or score > top[0]:
                    top = (score, conv_id)
                break
        return self.conversations[top[1]] if top else None
