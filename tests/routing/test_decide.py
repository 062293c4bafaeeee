"""The routing core as plain tables: no event loop, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.errors import ConfigError
from hub.routing.decide import decide, priority
from hub.routing.floor import Floor
from hub.routing.rules import parse_rules
from hub.routing.types import AgentState, Escalate, Offer, OutOfHours, Wait, WaitingConversation

TIERS = {"platinum": 100, "gold": 50, "standard": 10}
RULES_YAML = """
queues:
  key_accounts: {reservation_timeout: 20}
  service:
    hours:
      timezone: Europe/Berlin
      country: DE
      subdivision: BY
      open: {mon-fri: ["08:00-18:00"], sat: ["09:00-13:00"]}
    out_of_hours_reply: Wir sind ab Montag 8 Uhr wieder da.
sla:
  platinum: {default: 60}
  gold: {default: 300}
  standard: {default: 3600, email: 86400}
rules:
  - name: key accounts
    when: customer.key_account
    targets:
      - {queue: key_accounts, agents: '"key_accounts" in teams', timeout: 60, priority: 20}
      - {queue: service, agents: '"de" in languages and "service" in departments', timeout: 120}
      - {queue: service}
  - name: german
    when: language == "de"
    targets:
      - {queue: service, agents: '"de" in languages'}
  - name: everyone else
    targets:
      - {queue: service}
"""
RULES = parse_rules(RULES_YAML, TIERS)
MONDAY_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)  # a Friday, a public holiday


def agent(id: str, **kw) -> AgentState:
    defaults = {
        "presence": "available",
        "languages": ("de", "en"),
        "departments": ("service",),
        "capacity": {"voice": 1, "chat": 3, "email": 8},
        "idle_since": MONDAY_10 - timedelta(minutes=5),
    }
    return AgentState(id=id, **{**defaults, **kw})


def conv(**kw) -> WaitingConversation:
    defaults = {"id": "c1", "channel": "chat", "tier": "standard", "arrived_at": MONDAY_10, "language": "de"}
    return WaitingConversation(**{**defaults, **kw})


def test_gold_just_arrived_overtakes_standard_just_arrived() -> None:
    gold, standard = conv(tier="gold"), conv(tier="standard")
    assert priority(gold, RULES, MONDAY_10) > priority(standard, RULES, MONDAY_10)


def test_standard_at_90_percent_of_its_target_overtakes_gold_just_arrived() -> None:
    standard = conv(tier="standard", arrived_at=MONDAY_10 - timedelta(seconds=0.9 * 3600))
    gold = conv(tier="gold", arrived_at=MONDAY_10)
    assert priority(standard, RULES, MONDAY_10) > priority(gold, RULES, MONDAY_10)
    assert priority(
        conv(tier="standard", arrived_at=MONDAY_10 - timedelta(seconds=0.3 * 3600)), RULES, MONDAY_10
    ) < priority(gold, RULES, MONDAY_10)


def test_sla_targets_are_per_channel() -> None:
    waited = MONDAY_10 - timedelta(hours=2)
    assert priority(conv(channel="chat", arrived_at=waited), RULES, MONDAY_10) > priority(
        conv(channel="email", arrived_at=waited), RULES, MONDAY_10
    )


@pytest.mark.parametrize(
    ("agents", "conversation", "expected"),
    [
        # skills and language: the English-only agent is not eligible for a German rule
        ([agent("en", languages=("en",)), agent("de")], conv(), "de"),
        ([agent("en", languages=("en",))], conv(language="en"), "en"),
        # presence
        ([agent("away", presence="away"), agent("on")], conv(), "on"),
        # capacity per channel: a voice call blocks a second call...
        ([agent("busy", load={"voice": 1}), agent("free")], conv(channel="voice"), "free"),
        # ...while chats go up to 3
        ([agent("two", load={"chat": 2}, idle_since=MONDAY_10 - timedelta(hours=1))], conv(), "two"),
        # lowest load ratio, then longest idle
        ([agent("loaded", load={"chat": 2}), agent("light", load={"chat": 1})], conv(), "light"),
        (
            [agent("recent", idle_since=MONDAY_10), agent("idle", idle_since=MONDAY_10 - timedelta(hours=1))],
            conv(),
            "idle",
        ),
        # the last agent on this customer, even if busier
        ([agent("last", load={"chat": 2}), agent("light")], conv(last_agent_id="last"), "last"),
        # an agent who turned it down is skipped
        (
            [agent("rejecter"), agent("other", load={"chat": 2})],
            conv(rejected_by=frozenset({"rejecter"})),
            "other",
        ),
    ],
)
def test_eligibility_and_preference(agents, conversation, expected: str) -> None:
    decision = decide(conversation, Floor(agents), RULES, MONDAY_10)
    assert isinstance(decision, Offer), decision
    assert decision.agent_id == expected


def test_the_key_account_manager_comes_first() -> None:
    kam = agent("kam", teams=("key_accounts",), load={"chat": 2})
    other = agent("other", teams=("key_accounts",))
    c = conv(customer={"key_account": True}, key_account_manager_id="kam", last_agent_id="other")
    decision = decide(c, Floor([kam, other]), RULES, MONDAY_10)
    assert isinstance(decision, Offer)
    assert (decision.agent_id, decision.why, decision.queue, decision.reservation_timeout_s) == (
        "kam",
        "key account manager",
        "key_accounts",
        20,
    )


def test_last_agent_preference_can_be_switched_off() -> None:
    rules = parse_rules(RULES_YAML + "prefer_last_agent: false\n", TIERS)
    decision = decide(
        conv(last_agent_id="last"), Floor([agent("last", load={"chat": 2}), agent("light")]), rules, MONDAY_10
    )
    assert isinstance(decision, Offer) and decision.agent_id == "light"


def test_escalation_moves_through_the_rings_after_each_timeout() -> None:
    c = conv(customer={"key_account": True}, arrived_at=MONDAY_10, target_since=MONDAY_10)
    floor = Floor([agent("de-service")])  # nobody in the key-account team
    assert isinstance(decide(c, floor, RULES, MONDAY_10 + timedelta(seconds=30)), Wait)
    assert decide(c, floor, RULES, MONDAY_10 + timedelta(seconds=60)) == Escalate(1, "key accounts")
    ring2 = conv(
        customer={"key_account": True}, target_index=1, target_since=MONDAY_10 + timedelta(seconds=60)
    )
    decision = decide(ring2, floor, RULES, MONDAY_10 + timedelta(seconds=61))
    assert isinstance(decision, Offer) and decision.agent_id == "de-service" and decision.queue == "service"
    english = Floor([agent("en", languages=("en",))])
    assert decide(ring2, english, RULES, MONDAY_10 + timedelta(seconds=180)) == Escalate(2, "key accounts")
    ring3 = conv(customer={"key_account": True}, target_index=2)
    assert decide(ring3, english, RULES, MONDAY_10 + timedelta(seconds=181)).agent_id == "en"  # type: ignore[union-attr]


@pytest.mark.parametrize("when", [SUNDAY, CHRISTMAS, MONDAY_10 - timedelta(hours=3)])
def test_out_of_hours(when: datetime) -> None:
    decision = decide(conv(), Floor([agent("a")]), RULES, when)
    assert decision == OutOfHours("Wir sind ab Montag 8 Uhr wieder da.", "service", "german")


def test_saturday_morning_is_open() -> None:
    saturday_10 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    assert isinstance(decide(conv(), Floor([agent("a")]), RULES, saturday_10), Offer)


def test_no_eligible_agent_waits_with_the_reasons() -> None:
    floor = Floor(
        [agent("away", presence="away"), agent("full", load={"chat": 3}), agent("en", languages=("en",))]
    )
    decision = decide(conv(), floor, RULES, MONDAY_10)
    assert isinstance(decision, Wait)
    assert decision.reason == (
        "no eligible agent: 1 not available (away), 1 no free chat capacity, "
        "1 does not match the target's agents expression"
    )
    assert decide(conv(), Floor([]), RULES, MONDAY_10) == Wait("no agents are signed in", "service", "german")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (('when: language == "de"', 'when: language === "de"'), "rule 'german': when"),
        (
            ("agents: '\"de\" in languages'}", "agents: '\"de\" in langs'}"),
            "rule 'german': targets[1].agents",
        ),
        (("{queue: service, agents: '\"de\" in languages'}", "{queue: nowhere}"), "unknown queue 'nowhere'"),
        (
            (
                "  - name: everyone else\n    targets",
                '  - name: everyone else\n    when: channel == "x"\n    targets',
            ),
            "last rule must have no 'when'",
        ),
        (("subdivision: BY", "subdivision: XX"), "queue 'service'.hours"),
        (('sat: ["09:00-13:00"]', 'sat: ["13:00-09:00"]'), "closes before it opens"),
        (("  gold: {default: 300}", "  diamond: {default: 300}"), "unknown tier 'diamond'"),
    ],
)
def test_invalid_rules_name_the_rule_field_and_position(patch: tuple[str, str], message: str) -> None:
    old, new = patch
    assert old in RULES_YAML
    with pytest.raises(ConfigError) as err:
        parse_rules(RULES_YAML.replace(old, new), TIERS)
    assert message in err.value.detail


def test_a_syntax_error_reports_its_position() -> None:
    with pytest.raises(ConfigError) as err:
        parse_rules(RULES_YAML.replace('when: language == "de"', 'when: language == == "de"'), TIERS)
    assert "position 12" in err.value.detail


def test_the_example_file_is_valid() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "config" / "routing.example.yaml").read_text()
    rules = parse_rules(text, TIERS)
    assert [r.name for r in rules.rules][-1] == "everyone else"
    order = conv(language="en", subject="Meine Bestellung 4711 fehlt")
    decision = decide(order, Floor([agent("seller", departments=("sales",))]), rules, MONDAY_10)
    assert isinstance(decision, Offer) and decision.queue == "sales" and decision.rule == "orders go to sales"


def test_floor_updates_move_agents_between_indexes() -> None:
    from dataclasses import replace

    a, b = agent("a"), agent("b", load={"chat": 1})
    floor = Floor([a, b])
    assert decide(conv(), floor, RULES, MONDAY_10).agent_id == "a"  # type: ignore[union-attr]
    floor.update(replace(a, load={"chat": 3}))  # full now
    assert decide(conv(), floor, RULES, MONDAY_10).agent_id == "b"  # type: ignore[union-attr]
    floor.update(replace(b, presence="away"))
    assert isinstance(decide(conv(), floor, RULES, MONDAY_10), Wait)
    floor.update(replace(a, load={"chat": 0}, languages=("fr",)))  # free, but no German any more
    assert isinstance(decide(conv(), floor, RULES, MONDAY_10), Wait)
    floor.update(replace(a, load={"chat": 0}, languages=("de",)))
    assert decide(conv(), floor, RULES, MONDAY_10).agent_id == "a"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        # Monday 10:00 Berlin + 1 h of opening time
        (MONDAY_10, 3600, datetime(2026, 11, 30, 10, 0, tzinfo=UTC)),
        # Friday 17:30 Berlin + 1 h: 30 min on Friday, 30 min on Saturday from 09:00
        (datetime(2026, 12, 4, 16, 30, tzinfo=UTC), 3600, datetime(2026, 12, 5, 8, 30, tzinfo=UTC)),
        # Saturday 12:30 + 1 h: 30 min on Saturday, then Monday 08:30 (Sunday closed)
        (datetime(2026, 12, 5, 11, 30, tzinfo=UTC), 3600, datetime(2026, 12, 7, 7, 30, tzinfo=UTC)),
        # Thursday 24 Dec 17:00 + 2 h: 1 h that day, Christmas (25th, 26th) closed, Sunday closed,
        # Monday 28th 09:00 Berlin
        (datetime(2026, 12, 24, 16, 0, tzinfo=UTC), 7200, datetime(2026, 12, 28, 8, 0, tzinfo=UTC)),
        # Sunday night: the clock starts on Monday morning
        (SUNDAY, 60, datetime(2026, 11, 30, 7, 1, tzinfo=UTC)),
    ],
)
def test_sla_due_times_count_business_hours_only(start: datetime, seconds: int, due: datetime) -> None:
    assert RULES.queues["service"].hours.add_open_time(start, seconds) == due


def test_always_open_counts_plain_time() -> None:
    assert RULES.queues["key_accounts"].hours.add_open_time(SUNDAY, 90) == SUNDAY + timedelta(seconds=90)


def test_the_wait_reason_counts_agree_with_each_agents_verdict() -> None:
    """The reason comes from the floor's counters; it must match asking every agent."""
    import random
    from collections import Counter

    from hub.routing.decide import exclusion, routed

    rnd = random.Random(5)
    checked = 0
    for _ in range(300):
        floor = Floor(
            agent(
                f"a{i}",
                presence=rnd.choice(["available", "available", "away", "offline"]),
                languages=tuple(rnd.sample(["de", "en"], rnd.randint(1, 2))),
                load={"chat": rnd.randint(0, 3)},
            )
            for i in range(rnd.randint(1, 8))
        )
        c = conv(language=rnd.choice(["de", "en"]), rejected_by=frozenset(rnd.sample(list(floor.agents), 1)))
        decision = decide(c, floor, RULES, MONDAY_10)
        if not isinstance(decision, Wait):
            continue
        _rule, _index, target = routed(c, RULES)
        verdicts = Counter(exclusion(a, c, target, floor) for a in floor.agents.values())
        expected = ", ".join(f"{n} {why}" for why, n in sorted(verdicts.items(), key=lambda kv: -kv[1]))
        assert sorted(decision.reason.removeprefix("no eligible agent: ").split(", ")) == sorted(
            expected.split(", ")
        )
        checked += 1
    assert checked > 50
