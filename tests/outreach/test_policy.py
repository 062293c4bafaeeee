"""The contact policy's judgement, pure: each condition, whom a rule applies to, quiet
hours across midnight in the customer's zone, and when a block ends by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.errors import ConfigError
from hub.outreach.policy import (
    DEFAULT_POLICY,
    Block,
    ConversationFact,
    Proposed,
    Situation,
    judge,
    parse_policy,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)  # 22:30 in Berlin
POLICY = parse_policy(DEFAULT_POLICY)


def proposed(**kw: object) -> Proposed:
    values: dict[str, object] = {
        "channel": "email",
        "purpose": "marketing",
        "department": "sales",
        "sender_id": "a1",
        "at": NOW,
    }
    return Proposed(**{**values, **kw})  # type: ignore[arg-type]


def conv(
    cid: str, department: str = "service", tags: tuple[str, ...] = (), closed_days: float | None = None
) -> ConversationFact:
    opened = NOW - timedelta(days=30)
    closed = NOW - timedelta(days=closed_days) if closed_days is not None else None
    return ConversationFact(cid, department, frozenset(tags), opened, closed)


def rules(found: list[Block]) -> list[str]:
    return [b.rule for b in found]


def test_nothing_blocks_a_customer_with_no_history() -> None:
    assert judge(POLICY, proposed(), Situation(zone=BERLIN)) == []


def test_an_open_conversation_blocks_only_the_purposes_and_departments_named() -> None:
    s = Situation(zone=BERLIN, open=[conv("sales-1", "sales"), conv("svc-1")])
    (block,) = judge(POLICY, proposed(), s)
    assert (
        block.conversation_id == "svc-1"
        and "service conversation #svc-1 is open since 2026-11-07" in block.message
    )
    assert judge(POLICY, proposed(purpose="service"), s) == []
    assert judge(POLICY, proposed(), Situation(zone=BERLIN, open=[conv("sales-1", "sales")])) == []


def test_a_complaint_blocks_for_its_days_after_it_closed() -> None:
    recent = Situation(zone=BERLIN, closed=[conv("c-1", tags=("complaint",), closed_days=3)])
    (block,) = judge(POLICY, proposed(), recent)
    assert block.until == NOW + timedelta(days=11)
    assert "complaint conversation #c-1 closed on" in block.message
    old = Situation(zone=BERLIN, closed=[conv("c-1", tags=("complaint",), closed_days=15)])
    assert judge(POLICY, proposed(), old) == []
    untagged = Situation(zone=BERLIN, closed=[conv("c-2", closed_days=1)])
    assert judge(POLICY, proposed(), untagged) == []


def test_a_cap_counts_the_purpose_across_departments_and_says_when_one_fits_again() -> None:
    contacts = [
        (NOW - timedelta(days=6), "marketing"),
        (NOW - timedelta(days=1), "marketing"),
        (NOW, "service"),
    ]
    (block,) = judge(POLICY, proposed(), Situation(zone=BERLIN, contacts=contacts))
    assert block.rule == "at most two marketing contacts a week"
    assert block.until == NOW + timedelta(days=1)  # the older of the two leaves the window
    assert judge(POLICY, proposed(), Situation(zone=BERLIN, contacts=contacts[1:])) == []


@pytest.mark.parametrize(
    ("utc_hour", "quiet"),
    [(18, False), (19, True), (23, True), (6, True), (7, False)],  # Berlin is UTC+1 in December
)
def test_quiet_hours_wrap_midnight_in_the_customers_zone(utc_hour: int, quiet: bool) -> None:
    at = datetime(2026, 12, 7, utc_hour, 0, tzinfo=UTC)
    found = judge(POLICY, proposed(channel="sms", purpose="service", at=at), Situation(zone=BERLIN))
    assert rules(found) == (["no texts or calls at night"] if quiet else [])
    if quiet:
        ends = found[0].until
        assert ends is not None and ends.astimezone(BERLIN).hour == 8 and ends > at


def test_key_accounts_only_through_their_manager() -> None:
    s = Situation(zone=BERLIN, key_account=True, manager_id="kam", manager_name="Maria")
    (block,) = judge(POLICY, proposed(), s)
    assert (
        "only their manager Maria contacts them" in block.message and block.as_dict()["manager_id"] == "kam"
    )
    assert judge(POLICY, proposed(sender_id="kam"), s) == []
    assert judge(POLICY, proposed(purpose="service"), s) == []


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rules: [{name: x}]", "rules[0]"),
        ("rules: [{name: x, at_most: {contacts: 0, days: 7}}]", "rules[0].at_most.contacts"),
        ("rules: [{name: x, purposes: [sales], while_open: {}}]", "rules[0].purposes"),
        ("rules: [{name: x, quiet_hours: {from: '25:00', to: '08:00'}}]", "rules[0].quiet_hours.from"),
        ("rules: [{name: x, quiet_hours: {from: '08:00', to: '08:00'}}]", "rules[0].quiet_hours"),
        ("rules: [{name: x, key_accounts: anyone}]", "rules[0].key_accounts"),
        ("rules: [{name: x, while_open: {}, colour: red}]", "rules[0].colour"),
        ("rules: [{name: x, while_open: {}}, {name: x, while_open: {}}]", "rules"),
    ],
)
def test_a_policy_that_does_not_check_is_refused_with_its_path(text: str, field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_policy(text)
    assert refused.value.field == field, refused.value.detail
