"""Customer tiers: ordered rules in ``config/tiers.yaml``, first match wins. Pure: no I/O
beyond ``load_tier_rules`` reading the file.

Each condition is a ``rule-engine`` expression over the customer's tier inputs
(``key_account``, ``revenue_12m``, ``revenue``, ``organisation``, ``language``,
``custom``). Conditions are type-checked when the file loads: a syntax error or an
unknown name is refused with the tier and the position. The last tier has no condition
and catches everyone else, so nobody is without a tier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rule_engine
import yaml

from hub.errors import ConfigError
from hub.expressions import compile_expression

_TYPES = rule_engine.type_resolver_from_dict(
    {
        "key_account": rule_engine.DataType.BOOLEAN,
        "revenue_12m": rule_engine.DataType.FLOAT,
        "revenue": rule_engine.DataType.MAPPING(rule_engine.DataType.STRING, rule_engine.DataType.FLOAT),
        "organisation": rule_engine.DataType.STRING,
        "language": rule_engine.DataType.STRING,
        "custom": rule_engine.DataType.MAPPING(rule_engine.DataType.STRING),
    }
)
_CONTEXT = rule_engine.Context(type_resolver=_TYPES)

DEFAULT_TIERS = """
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


def tier_inputs(
    *, key_account: bool, attributes: Mapping[str, Any], organisation: str | None, language: str | None
) -> dict[str, Any]:
    """The values a tier condition sees, from a customer's record."""
    revenue = {
        str(k): float(v["amount"]) if isinstance(v, Mapping) else float(v)
        for k, v in (attributes.get("revenue") or {}).items()
    }
    return {
        "key_account": bool(key_account),
        "revenue_12m": revenue.get("revenue_12m", 0.0),
        "revenue": revenue,
        "organisation": organisation or "",
        "language": language or "",
        "custom": {str(k): str(v) for k, v in (attributes.get("custom") or {}).items()},
    }


class TierRules:
    def __init__(self, tiers: list[TierRule]) -> None:
        self.tiers = tiers
        self.names = [t.name for t in tiers]

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
                return TierDecision(tier.name, {"rule": tier.name, "when": tier.when, "values": values})
        raise AssertionError("the last tier always matches")  # enforced by parse_tier_rules


def parse_tier_rules(text: str, source: str = "tiers.yaml") -> TierRules:
    """Parse and validate; raise ConfigError naming the tier, the field and the position."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("tiers"), list) or not doc["tiers"]:
        raise ConfigError(f"{source}: expected a non-empty list under 'tiers'")
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
    return TierRules(tiers)


def load_tier_rules(path: Path) -> TierRules:
    """The file's rules, or the built-in defaults when the file does not exist."""
    if not path.exists():
        return parse_tier_rules(DEFAULT_TIERS, "built-in tiers")
    return parse_tier_rules(path.read_text(encoding="utf-8"), str(path))
