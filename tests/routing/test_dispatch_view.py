"""The Router's in-memory view as plain tables: holds, capacity, timers. No event loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
import rule_engine

from hub.dispatch.view import DispatchView
from hub.routing.rules import parse_rules
from hub.routing.types import Escalate, Offer, OutOfHours
from tests.routing.test_decide import MONDAY_10, RULES, SUNDAY, TIERS, agent, conv

AUTO = parse_rules(
    """
queues:
  phones: {auto_accept: true}
rules:
  - name: all
    targets: [{queue: phones}]
""",
    TIERS,
)


def offers(view: DispatchView, now=MONDAY_10) -> list[tuple[str, str]]:
    return [
        (o.conversation.id, o.decision.agent_id) for o in view.dispatch(now) if isinstance(o.decision, Offer)
    ]


def test_a_voice_call_blocks_a_second_call_while_chats_go_up_to_three() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("a"))
    for n in range(2):
        view.admit(conv(id=f"v{n}", channel="voice", arrived_at=MONDAY_10 - timedelta(seconds=n)))
    for n in range(4):
        view.admit(conv(id=f"c{n}", channel="chat", arrived_at=MONDAY_10 - timedelta(seconds=n)))
    got = offers(view)
    assert sorted(c for c, _ in got) == ["c1", "c2", "c3", "v1"]  # the oldest of each
    assert len(view.line) == 2 and offers(view) == []
    view.release("v1", MONDAY_10)  # the call ends: the second call goes out at once
    assert offers(view) == [("v0", "a")]


def test_the_best_conversation_goes_first_across_tiers_and_ageing() -> None:
    view = DispatchView(RULES)
    view.admit(conv(id="standard-old", arrived_at=MONDAY_10 - timedelta(seconds=0.9 * 3600)))
    view.admit(conv(id="gold-new", tier="gold"))
    view.admit(conv(id="standard-new"))
    view.set_agent(agent("a", capacity={"chat": 1}))
    assert offers(view) == [("standard-old", "a")]
    view.release("standard-old")
    assert offers(view) == [("gold-new", "a")]


def test_an_agent_who_turned_it_down_is_not_offered_it_again() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("a", idle_since=MONDAY_10 - timedelta(hours=1)))
    view.set_agent(agent("b"))
    view.admit(conv(id="c"))
    assert offers(view) == [("c", "a")]  # idle the longest
    view.admit(conv(id="c", rejected_by=frozenset({"a"})))  # a rejected: back to waiting
    assert offers(view) == [("c", "b")]
    view.admit(conv(id="c", rejected_by=frozenset({"a", "b"})))
    assert offers(view) == [] and "c" in view.line


def test_offers_lapse_and_auto_accept_queues_hold_no_timer() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("a"))
    view.admit(conv(id="c"))
    assert offers(view) == [("c", "a")]
    assert view.expired_offers(MONDAY_10 + timedelta(seconds=29)) == []
    assert view.expired_offers(MONDAY_10 + timedelta(seconds=30)) == [("c", "a")]
    auto = DispatchView(AUTO)
    auto.set_agent(agent("a"))
    auto.admit(conv(id="c"))
    [outcome] = auto.dispatch(MONDAY_10)
    assert outcome.auto_accept and auto.holds["c"].offered_until is None and auto.next_timer() is None


def test_a_ring_times_out_to_the_next_even_when_nobody_is_free() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("kam", teams=("key_accounts",), presence="away"))
    view.admit(conv(id="vip", customer={"key_account": True}, tier="platinum"))
    assert view.dispatch(MONDAY_10) == [] and view.next_timer() == MONDAY_10 + timedelta(seconds=60)
    [moved] = view.dispatch(MONDAY_10 + timedelta(seconds=60))
    assert moved.decision == Escalate(1, "key accounts")
    view.set_agent(agent("de", languages=("de",)))
    assert offers(view, MONDAY_10 + timedelta(seconds=61)) == [("vip", "de")]


def test_the_key_account_manager_is_preferred_when_free() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("idle", teams=("key_accounts",), idle_since=MONDAY_10 - timedelta(hours=2)))
    view.set_agent(agent("kam", teams=("key_accounts",)))
    view.admit(conv(id="vip", customer={"key_account": True}, key_account_manager_id="kam"))
    assert offers(view) == [("vip", "kam")]


@pytest.mark.parametrize("presence", ["away", "offline"])
def test_nobody_available_leaves_everyone_waiting(presence: str) -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("a", presence=presence))
    for n in range(50):
        view.admit(conv(id=f"c{n}"))
    assert offers(view) == [] and len(view.line) == 50
    view.set_agent(agent("a"))  # comes back: three chats go out at once
    assert len(offers(view)) == 3


def test_a_closed_queue_is_told_once_and_keeps_its_conversations() -> None:
    view = DispatchView(RULES)
    view.set_agent(agent("a"))
    view.admit(conv(id="c"))
    [told] = view.dispatch(SUNDAY)
    assert isinstance(told.decision, OutOfHours) and (told.decision.reply or "").startswith("Wir sind")
    assert view.dispatch(SUNDAY) == [] and "c" in view.line
    assert offers(view, MONDAY_10 + timedelta(days=1)) == [("c", "a")]


def test_new_rules_file_every_waiting_conversation_again() -> None:
    view = DispatchView(RULES)
    view.admit(conv(id="c"))
    view.set_rules(AUTO)
    view.set_agent(agent("a"))
    [outcome] = view.dispatch(MONDAY_10)
    assert isinstance(outcome.decision, Offer)
    assert outcome.decision.queue == "phones" and outcome.auto_accept


def test_new_rules_that_cannot_read_one_conversation_leave_it_out_and_keep_the_rest() -> None:
    """Issue 22, defect 6: one bad row must not stop routing. The rules raise on a
    conversation whose customer lacks what they read; the others are filed again."""
    picky = parse_rules(
        """
queues:
  vip: {}
  service: {}
rules:
  - name: vip
    when: 'customer.vip == "yes"'
    targets: [{queue: vip}]
  - name: everyone
    targets: [{queue: service}]
""",
        TIERS,
    )
    view = DispatchView(RULES)
    view.admit(conv(id="fine", customer={"vip": "no"}))
    view.admit(conv(id="bad", customer={}))
    [(conv_id, error)] = view.set_rules(picky)
    assert conv_id == "bad" and "vip" in str(error)
    assert "fine" in view.line and "bad" not in view.line
    view.set_agent(agent("a"))
    assert offers(view) == [("fine", "a")]
    with pytest.raises(rule_engine.errors.EngineError, match="vip"):  # admit() raises, view unchanged
        view.admit(conv(id="bad", customer={}))
    assert "bad" not in view.line
