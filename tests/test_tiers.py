"""Tier rules: plain table tests, no event loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.customers.tiers import DEFAULT_TIERS, load_tier_rules, parse_tier_rules
from hub.errors import ConfigError, InputError

RULES = parse_tier_rules(DEFAULT_TIERS)


def inputs(key_account: bool = False, revenue: float | None = None, currency: str = "EUR") -> dict:
    attrs = {"revenue": {"revenue_12m": {"amount": revenue, "currency": currency}}} if revenue else {}
    return RULES.inputs(key_account=key_account, attributes=attrs, organisation=None, language=None)


@pytest.mark.parametrize(
    ("key_account", "revenue", "tier"),
    [
        (False, None, "standard"),
        (False, 9_999.99, "standard"),
        (False, 10_000, "gold"),
        (False, 99_999, "gold"),
        (False, 100_000, "platinum"),
        (True, None, "platinum"),
    ],
)
def test_first_matching_tier_wins(key_account: bool, revenue: float | None, tier: str) -> None:
    assert RULES.decide(inputs(key_account, revenue)).tier == tier


def test_the_reason_names_the_rule_and_values() -> None:
    decision = RULES.decide(inputs(revenue=42_000))
    assert decision.reason == {
        "rule": "gold",
        "when": "revenue_12m >= 10000",
        "values": {"key_account": False, "revenue_12m": 42_000.0},
        "currency": "EUR",
    }


def test_revenue_in_another_currency_is_converted_with_the_admins_rate() -> None:
    rules = parse_tier_rules(
        "currency: EUR\nrates: {GBP: 1.2}\n"
        "tiers:\n - name: gold\n   when: revenue_12m >= 45000\n - name: standard\n"
    )
    gbp = {"revenue": {"revenue_12m": {"amount": 42_000, "currency": "GBP"}}}
    eur = {"revenue": {"revenue_12m": {"amount": 42_000, "currency": "EUR"}}}
    given: dict[str, Any] = {"key_account": False, "organisation": None, "language": None}
    assert rules.decide(rules.inputs(attributes=gbp, **given)).tier == "gold"  # 50,400 EUR
    assert rules.decide(rules.inputs(attributes=eur, **given)).tier == "standard"


def test_revenue_in_a_currency_without_a_rate_is_refused_naming_the_figure() -> None:
    with pytest.raises(InputError) as err:
        inputs(revenue=5_000_000, currency="JPY")
    assert err.value.field == "revenue.revenue_12m"
    assert "no exchange rate for JPY" in err.value.detail and "EUR" in err.value.detail


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("tiers:\n - name: a\n   when: revenue_12m >= = 5\n - name: b\n", "position 15"),
        ("tiers:\n - name: a\n   when: revnue >= 5\n - name: b\n", "revnue"),
        ("tiers:\n - name: a\n   when: revenue_12m >= 'x'\n - name: b\n", "tier 'a'"),
        ("tiers:\n - name: a\n   when: key_account\n", "last tier must have no 'when'"),
        ("tiers:\n - name: a\n - name: b\n", "only the last tier"),
        ("tiers:\n - name: a\n   colour: red\n", "unknown field 'colour'"),
        ("tiers:\n - name: a\n   when: key_account\n - name: a\n", "used twice"),
        ("tiers: [", "not valid YAML"),
        ("nothing: here\n", "non-empty list"),
        ("currency: euro\ntiers:\n - name: a\n", "'currency' must be a code"),
        ("rates: {GBP: 0}\ntiers:\n - name: a\n", "rates.GBP: a positive number"),
        ("rates: {GBP: .nan}\ntiers:\n - name: a\n", "rates.GBP: a positive number"),
        ("rates: {pound: 1.2}\ntiers:\n - name: a\n", "a currency code like GBP"),
        ("rates: [1]\ntiers:\n - name: a\n", "'rates' must map"),
        ("colours: red\ntiers:\n - name: a\n", "unknown field 'colours'"),
    ],
)
def test_invalid_rules_are_refused_with_where(yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_tier_rules(yaml_text)
    assert message in err.value.detail


def test_the_example_file_is_valid_and_missing_file_uses_defaults(tmp_path: Path) -> None:
    example = load_tier_rules(Path(__file__).parents[1] / "config" / "tiers.example.yaml")
    assert example.names == ["platinum", "gold", "standard"]
    assert load_tier_rules(tmp_path / "absent.yaml").names == example.names
