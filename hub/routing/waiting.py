"""Waiting conversations in priority order, at a cost that does not grow with their number.

Priority is the tier's base plus a target offset, aged linearly by waiting time over the
SLA target. Within one group of equal base, offset and SLA target (tier × channel ×
target), the oldest is therefore always the highest; so each group is a FIFO ordered by
arrival, and the best conversation overall is the best of the group heads. Picking costs
O(groups) — a handful — whatever the number waiting. Pure: ``now`` is passed in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hub.routing.priority import effective_priority
from hub.routing.types import WaitingConversation


@dataclass(frozen=True, slots=True)
class Group:
    base: float
    offset: float
    first_response_s: float


@dataclass
class _Lane:
    group: Group
    items: list[tuple[float, str]] = field(default_factory=list)  # (arrived ts, conversation id)


class WaitingLine:
    def __init__(self, group_of: Callable[[WaitingConversation], Group]) -> None:
        self._group_of = group_of
        self._lanes: dict[Group, _Lane] = {}
        self._where: dict[str, tuple[Group, float]] = {}
        self.conversations: dict[str, WaitingConversation] = {}

    def __len__(self) -> int:
        return len(self._where)

    def add(self, conv: WaitingConversation) -> None:
        self.remove(conv.id)
        group = self._group_of(conv)
        lane = self._lanes.setdefault(group, _Lane(group))
        ts = conv.arrived_at.timestamp()
        bisect.insort(lane.items, (ts, conv.id))
        self._where[conv.id] = (group, ts)
        self.conversations[conv.id] = conv

    def remove(self, conv_id: str) -> None:
        where = self._where.pop(conv_id, None)
        if where is None:
            return
        group, ts = where
        lane = self._lanes[group]
        i = bisect.bisect_left(lane.items, (ts, conv_id))
        del lane.items[i]
        del self.conversations[conv_id]

    def best(
        self, now: datetime, skip: Callable[[str], bool] = lambda _: False
    ) -> WaitingConversation | None:
        """The highest-priority conversation whose head-of-lane is not skipped."""
        top: tuple[float, str] | None = None
        for lane in self._lanes.values():
            for _ts, conv_id in lane.items:
                if skip(conv_id):
                    continue
                conv = self.conversations[conv_id]
                score = effective_priority(
                    base=lane.group.base,
                    offset=lane.group.offset,
                    arrived_at=conv.arrived_at,
                    first_response_s=lane.group.first_response_s,
                    now=now,
                )
                if top is None or score > top[0]:
                    top = (score, conv_id)
                break
        return self.conversations[top[1]] if top else None
