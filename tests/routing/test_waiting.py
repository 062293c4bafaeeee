"""The waiting line: best first, by tier and aging, at O(groups) per pick."""

from __future__ import annotations

from datetime import timedelta

from hub.routing.types import WaitingConversation
from hub.routing.waiting import Group, WaitingLine
from tests.routing.test_decide import MONDAY_10, RULES

GROUPS = {"gold": Group(50, 0, 300), "standard": Group(10, 0, 3600)}


def line() -> WaitingLine:
    return WaitingLine(lambda c: GROUPS[c.tier])


def wc(id: str, tier: str, waited_s: float) -> WaitingConversation:
    return WaitingConversation(
        id=id, channel="chat", tier=tier, arrived_at=MONDAY_10 - timedelta(seconds=waited_s)
    )


def test_best_follows_tier_then_aging() -> None:
    waiting = line()
    waiting.add(wc("std-new", "standard", 0))
    waiting.add(wc("gold-new", "gold", 0))
    assert waiting.best(MONDAY_10).id == "gold-new"  # type: ignore[union-attr]
    waiting.add(wc("std-old", "standard", 0.9 * 3600))
    assert waiting.best(MONDAY_10).id == "std-old"  # type: ignore[union-attr]
    waiting.remove("std-old")
    assert waiting.best(MONDAY_10).id == "gold-new"  # type: ignore[union-attr]
    assert waiting.best(MONDAY_10, skip=lambda cid: cid == "gold-new").id == "std-new"  # type: ignore[union-attr]
    waiting.remove("gold-new")
    waiting.remove("std-new")
    assert waiting.best(MONDAY_10) is None and len(waiting) == 0


def test_re_adding_moves_a_conversation() -> None:
    waiting = line()
    waiting.add(wc("c", "standard", 0))
    waiting.add(wc("c", "gold", 10))
    assert len(waiting) == 1 and waiting.conversations["c"].tier == "gold"
    assert RULES.tier_priority["gold"] == GROUPS["gold"].base
