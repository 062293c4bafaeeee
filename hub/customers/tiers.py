"""Customer tiers: ordered rules in ``config/tiers.yaml``, first match wins. Pure: no I/O
beyond ``load_tier_rules`` reading the file.

Each condition is a ``rule-engine`` expression over the customer's tier inputs
(``key_account``, ``revenue_12m``, ``revenue_trend``, ``revenue``, ``organisation``, ``language``,
``custom``). Conditions are type-checked when the file loads: a syntax error or an
unknown name is refused with the tier and the position. The last tier has no condition
and catches everyone else, so nobody is without a tier.

Revenue figures are compared in one currency (``currency``, default EUR): a figure in
another currency is converted with the rates the admin sets (``rates``: what one unit of
that currency is worth in ``currency``). A figure in a currency without a rate is
refused (InputError naming the figure), never compared as if it were the base currency.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rule_engine
import yaml

from hub.errors import ConfigError, InputError
from hub.expressions import compile_expression

_TYPES = rule_engine.type_resolver_from_dict(
    {
        "key_account": rule_engine.DataType.BOOLEAN,
        "revenue_12m": rule_engine.DataType.FLOAT,
        "revenue_trend": rule_engine.DataType.FLOAT,
        "revenue": rule_engine.DataType.MAPPING(rule_engine.DataType.STRING, rule_engine.DataType.FLOAT),
        "organisation": rule_engine.DataType.STRING,
        "language": rule_engine.DataType.STRING,
        "custom": rule_engine.DataType.MAPPING(rule_engine.DataType.STRING),
    }
)
_CONTEXT = rule_engine.Context(type_resolver=_TYPES)

BASE_CURRENCY = "EUR"
_CURRENCY = re.compile(r"^[A-Z]{3}$")

DEFAULT_TIERS = """
currency: EUR
# what one unit is worth in EUR: set your own (these are examples, from December 2026)
rates: {GBP: 1.17, USD: 0.92, CHF: 1.06}
tiers:
  - name: platinum
    when: key_account or revenue_12m >= 100000
    priority: 100
  - name: gold
    when: revenue_12m >= 10000
    priority: 50
  - name: standard
    priority: 10
"""


@dataclass(frozen=True, slots=True)
class TierRule:
    name: str
    priority: int
    when: str | None
    rule: rule_engine.Rule | None
    sla: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TierDecision:
    tier: str
    reason: dict[str, Any]


class TierRules:
    def __init__(
        self, tiers: list[TierRule], currency: str = BASE_CURRENCY, rates: Mapping[str, float] | None = None
    ) -> None:
        self.tiers = tiers
        self.names = [t.name for t in tiers]
        self.currency = currency
        self.rates = dict(rates or {})

    def inputs(
        self,
        *,
        key_account: bool,
        attributes: Mapping[str, Any],
        organisation: str | None,
        language: str | None,
    ) -> dict[str, Any]:
        """The values a tier condition sees, from a customer's record, with every revenue
        figure in ``currency``. Raises InputError for a figure in a currency with no rate."""
        revenue = {str(k): self.in_base(str(k), v) for k, v in (attributes.get("revenue") or {}).items()}
        return {
            "key_account": bool(key_account),
            "revenue_12m": revenue.get("revenue_12m", 0.0),
            # the last 12 months against the 12 before (hub/customers/revenue.py); 0 unknown
            "revenue_trend": float(attributes.get("revenue_trend") or 0.0),
            "revenue": revenue,
            "organisation": organisation or "",
            "language": language or "",
            "custom": {str(k): str(v) for k, v in (attributes.get("custom") or {}).items()},
        }

    def in_base(self, name: str, figure: Any) -> float:
        """One revenue figure (``{amount, currency}``, or a bare amount in ``currency``)."""
        if not isinstance(figure, Mapping):
            return float(figure)
        amount = float(figure["amount"])
        currency = str(figure.get("currency") or self.currency)
        if currency == self.currency:
            return amount
        rate = self.rates.get(currency)
        if rate is None:
            known = ", ".join([self.currency, *sorted(self.rates)])
            raise InputError(
                f"revenue.{name}: no exchange rate for {currency}; the tier rules count in"
                f" {self.currency} and convert {known}: add a rate for {currency} to the tier rules",
                field=f"revenue.{name}",
            )
        return amount * rate

    @property
    def default(self) -> str:
        return self.tiers[-1].name

    def priority(self, name: str) -> int:
        for tier in self.tiers:
            if tier.name == name:
                return tier.priority
        return self.tiers[-1].priority

    def decide(self, inputs: Mapping[str, Any]) -> TierDecision:
        for tier in self.tiers:
            if tier.rule is None or tier.rule.matches(inputs):
                values = {k: v for k, v in inputs.items() if k in ("key_account", "revenue_12m")}
                reason = {"rule": tier.name, "when": tier.when, "values": values, "currency": self.currency}
                return TierDecision(tier.name, reason)
        raise AssertionError("the last tier always matches")  # enforced by parse_tier_rules


def parse_tier_rules(text: str, source: str = "tiers.yaml") -> TierRules:
    """Parse and validate; raise ConfigError naming the tier, the field and the position."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tiers"), list) or not doc["tiers"]:
        raise ConfigError(f"{source}: expected a non-empty list under 'tiers'")
    if unknown_keys := sorted(set(doc) - {"tiers", "currency", "rates"}):
        raise ConfigError(f"{source}: unknown field {unknown_keys[0]!r} (tiers, currency, rates)")
    currency, rates = _currency_and_rates(doc, source)
    tiers: list[TierRule] = []
    for n, item in enumerate(doc["tiers"], 1):
        where = f"{source}: tier {n}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{where}: each tier needs a 'name'", field=f"tiers[{n - 1}].name")
        where = f"{source}: tier {item['name']!r}"
        unknown = set(item) - {"name", "when", "priority", "sla"}
        if unknown:
            raise ConfigError(f"{where}: unknown field {sorted(unknown)[0]!r}")
        if item["name"] in {t.name for t in tiers}:
            raise ConfigError(f"{where}: the name is used twice", field=f"tiers[{n - 1}].name")
        when = item.get("when")
        rule = None
        if when is not None:
            rule = compile_expression(str(when), _CONTEXT, f"{where}: 'when'", f"tiers[{n - 1}].when")
        elif n != len(doc["tiers"]):
            raise ConfigError(f"{where}: only the last tier may have no 'when'", field=f"tiers[{n - 1}].when")
        priority = item.get("priority", 0)
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise ConfigError(f"{where}: 'priority' must be a whole number", field=f"tiers[{n - 1}].priority")
        tiers.append(TierRule(item["name"], priority, when, rule, item.get("sla") or {}))
    if tiers[-1].rule is not None:
        raise ConfigError(
            f"{source}: the last tier must have no 'when', so that it catches everyone",
            field=f"tiers[{len(tiers) - 1}].when",
        )
    return TierRules(tiers, currency, rates)


def _currency_and_rates(doc: Mapping[str, Any], source: str) -> tuple[str, dict[str, float]]:
    currency = doc.get("currency", BASE_CURRENCY)
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ConfigError(f"{source}: 'currency' must be a code like EUR", field="currency")
    raw = doc.get("rates") or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: 'rates' must map currency codes to numbers", field="rates")
    rates: dict[str, float] = {}
    for code, rate in raw.items():
        where = f"rates.{code}"
        if not isinstance(code, str) or not _CURRENCY.match(code):
            raise ConfigError(f"{source}: {where}: a currency code like GBP", field=where)
        number = rate if isinstance(rate, int | float) and not isinstance(rate, bool) else None
        if number is None or not math.isfinite(number) or number <= 0:
            raise ConfigError(f"{source}: {where}: a positive number (one {code} in {currency})", field=where)
        rates[code] = float(number)
    return currency, rates


def load_tier_rules(path: Path) -> TierRules:
    """The file's rules, or the built-in defaults when the file does not exist."""
    if not path.exists():
        return parse_tier_rules(DEFAULT_TIERS, "built-in tiers")
    return parse_tier_rules(path.read_text(encoding="utf-8"), str(path))
