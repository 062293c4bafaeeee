"""Customer health: a score from 0 to 100 with a level (good, watch, at risk), the sum of
weighted signals, each fading with its age; and the rules that weigh them (an admin
setting, versioned like the tier rules: ``hub.customers.health_config``). Pure: the
signals are read by ``hub.store.repos.health``, and scored here.

A customer starts at 100; each signal adds its points (negative: a risk), halved every
``half_life_days`` since it happened (none: it counts in full while it lasts), within
``window_days``. Every point has its line in the explanation: the signal, its points now,
when it happened, and what it links to (a conversation, a contract).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from hub.errors import ConfigError
from hub.store.repos.health import Signal  # what happened, as the store finds it

LEVELS = ("good", "watch", "at_risk")

DEFAULT_HEALTH = """\
# Customer health: each signal's points (negative: a risk), how fast they fade (halved
# every half_life_days) and how long they count (window_days). A score below watch is
# "watch", below at_risk "at risk".
levels: {watch: 70, at_risk: 40}
signals:
  complaint:             # a conversation tagged as a complaint
    points: -20
    half_life_days: 30
    window_days: 120
    tags: [complaint, beschwerde, reklamation]
  sla_breach:            # a promise to answer broken
    points: -8
    half_life_days: 14
    window_days: 60
  reopened:              # the customer wrote again after a conversation was closed
    points: -5
    half_life_days: 14
    window_days: 60
  waiting:               # a conversation open longer than after_days
    points: -10
    after_days: 3
  revenue_decline:       # the last 12 months against the 12 before fell below this share
    points: -25
    below: -0.2
  contract_cancelled:    # a contract cancelled
    points: -30
    half_life_days: 60
    window_days: 180
  notice_due:            # an active contract whose notice deadline is within within_days
    points: -10
    within_days: 45
  silence:               # no message either way for after_days (after earlier contact)
    points: -15
    after_days: 120
  low_csat:              # a satisfaction survey answered with at_most stars or fewer
    points: -10
    half_life_days: 30
    window_days: 90
    at_most: 2
"""

# what each signal may set beside ``points``
_FIELDS: Mapping[str, frozenset[str]] = {
    "complaint": frozenset({"half_life_days", "window_days", "tags"}),
    "sla_breach": frozenset({"half_life_days", "window_days"}),
    "reopened": frozenset({"half_life_days", "window_days"}),
    "waiting": frozenset({"after_days"}),
    "revenue_decline": frozenset({"below"}),
    "contract_cancelled": frozenset({"half_life_days", "window_days"}),
    "notice_due": frozenset({"within_days"}),
    "silence": frozenset({"after_days"}),
    "low_csat": frozenset({"half_life_days", "window_days", "at_most"}),
}
SIGNALS = tuple(_FIELDS)


@dataclass(frozen=True, slots=True)
class Weight:
    points: float
    half_life_days: float | None = None
    window_days: float | None = None
    after_days: float | None = None
    within_days: float | None = None
    below: float | None = None
    at_most: float | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HealthRules:
    watch: float
    at_risk: float
    weights: Mapping[str, Weight]

    def level(self, score: float) -> str:
        if score < self.at_risk:
            return "at_risk"
        return "watch" if score < self.watch else "good"


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    points: float
    at: datetime
    link: Mapping[str, str]
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Health:
    score: int
    level: str
    lines: list[Line]


def score(signals: Iterable[Signal], now: datetime, rules: HealthRules) -> Health:
    """The score of a customer's signals at ``now``; its lines, the heaviest first."""
    lines = []
    for signal in signals:
        weight = rules.weights.get(signal.kind)
        if weight is None or weight.points == 0:
            continue
        age_days = max((now - signal.at).total_seconds() / 86400, 0.0)
        if weight.window_days is not None and age_days > weight.window_days:
            continue
        fade = 0.5 ** (age_days / weight.half_life_days) if weight.half_life_days else 1.0
        points = round(weight.points * fade, 1)
        if points:
            lines.append(Line(signal.kind, points, signal.at, dict(signal.link), dict(signal.detail)))
    lines.sort(key=lambda line: (line.points, line.at))
    total = 100 + sum(line.points for line in lines)
    value = int(min(max(math.floor(total + 0.5), 0), 100))
    return Health(value, rules.level(value), lines)


def parse_health_rules(text: str, source: str) -> HealthRules:
    """The rules in ``text`` (YAML); ConfigError naming the path of what is wrong."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", field="health") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: a mapping with levels and signals", field="health")
    if unknown := sorted(set(doc) - {"levels", "signals"}):
        raise ConfigError(f"{source}: unknown field {unknown[0]!r} (levels, signals)", field=unknown[0])
    levels = doc.get("levels") or {}
    if not isinstance(levels, dict) or set(levels) - {"watch", "at_risk"}:
        raise ConfigError(f"{source}: levels has watch and at_risk only", field="levels")
    watch = _number(levels.get("watch", 70), "levels.watch", 0, 100)
    at_risk = _number(levels.get("at_risk", 40), "levels.at_risk", 0, 100)
    if at_risk > watch:
        raise ConfigError(f"{source}: levels.at_risk must not be above levels.watch", field="levels.at_risk")
    signals = doc.get("signals") or {}
    if not isinstance(signals, dict):
        raise ConfigError(f"{source}: signals maps a signal to its weight", field="signals")
    weights = {}
    for kind, raw in signals.items():
        if kind not in _FIELDS:
            raise ConfigError(
                f"signals.{kind}: not a signal; signals are {', '.join(SIGNALS)}", field=f"signals.{kind}"
            )
        weights[kind] = _weight(str(kind), raw)
    return HealthRules(watch, at_risk, weights)


def _weight(kind: str, raw: Any) -> Weight:
    path = f"signals.{kind}"
    if not isinstance(raw, dict) or "points" not in raw:
        raise ConfigError(f"{path}: a mapping with points", field=path)
    if unknown := sorted(set(raw) - {"points"} - _FIELDS[kind]):
        allowed = ", ".join(["points", *sorted(_FIELDS[kind])])
        raise ConfigError(
            f"{path}.{unknown[0]}: not a field of {kind} ({allowed})", field=f"{path}.{unknown[0]}"
        )
    values: dict[str, Any] = {"points": _number(raw["points"], f"{path}.points", -100, 100)}
    for name in ("half_life_days", "window_days", "after_days", "within_days"):
        if raw.get(name) is not None:
            values[name] = _number(raw[name], f"{path}.{name}", 0.01, 3650)
    if raw.get("below") is not None:
        values["below"] = _number(raw["below"], f"{path}.below", -1, 10)
    if raw.get("at_most") is not None:
        values["at_most"] = _number(raw["at_most"], f"{path}.at_most", 1, 5)
    if "tags" in raw:
        tags = raw["tags"]
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ConfigError(f"{path}.tags: a list of tags", field=f"{path}.tags")
        values["tags"] = tuple(t.strip().lower() for t in tags)
    return Weight(**values)


def _number(value: Any, path: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{path}: a number", field=path)
    if not low <= value <= high:
        raise ConfigError(f"{path}: from {low:g} to {high:g}", field=path)
    return float(value)


DEFAULT_RULES = parse_health_rules(DEFAULT_HEALTH, "built-in health rules")
