"""Routing rules (``config/routing.yaml``): queues, SLA targets, and ordered workflow rules.

The first rule whose ``when`` matches wins; the last rule has no ``when`` and catches
everything, so every conversation has a route. Each rule lists targets (bullseye rings):
a queue, an agent expression, a priority offset and a timeout after which the
conversation moves to the next target. Expressions are ``rule-engine``, type-checked at
load; an error names the rule, the field and the position. Pure: parsing only.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import rule_engine
import yaml

from hub.errors import ConfigError
from hub.expressions import compile_expression
from hub.routing.hours import ALWAYS_OPEN, BusinessHours, parse_windows

# Rules read ``customer.tier``: dot access into a mapping, which rule-engine 5 still
# supports but announces to drop in 6 (pinned below 6 in pyproject.toml).
warnings.filterwarnings("ignore", category=rule_engine.errors.MappingAttributeLookupDeprecation)

_S = rule_engine.DataType.STRING
CONVERSATION_CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {
            "customer": rule_engine.DataType.MAPPING(_S),
            "channel": _S,
            "language": _S,
            "department": _S,
            "subject": _S,
            "text": _S,
            "recipient": _S,
            "priority": _S,  # high, normal or low
        }
    )
)
AGENT_CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {
            "id": _S,
            "languages": rule_engine.DataType.ARRAY(_S),
            "departments": rule_engine.DataType.ARRAY(_S),
            "tags": rule_engine.DataType.ARRAY(_S),
            "teams": rule_engine.DataType.ARRAY(_S),
        }
    )
)
DEFAULT_CAPACITY = {"voice": 1, "chat": 3, "sms": 5, "whatsapp": 5, "email": 8, "fax": 4, "api": 8}
DEFAULT_FIRST_RESPONSE_S = 3600
RULE_ACTIONS = {"set_department", "tag", "out_of_hours_reply", "set_priority"}
PRIORITY_VALUES = ("high", "normal", "low")
MATCH_CACHE = 100_000


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Queue:
    name: str
    hours: BusinessHours = ALWAYS_OPEN
    reservation_timeout_s: int = 30
    auto_accept: bool = False
    out_of_hours_reply: str | None = None


@dataclass(frozen=True)
class Target:
    queue: str
    agents: str | None = None  # the expression's text; also its cache key on the floor
    agent_rule: rule_engine.Rule | None = None
    priority: int = 0
    timeout_s: int | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    when: str | None
    condition: rule_engine.Rule | None
    targets: tuple[Target, ...]
    actions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    queues: Mapping[str, Queue]
    sla_first_response_s: Mapping[str, Mapping[str, int]]  # tier -> channel|default -> seconds
    tier_priority: Mapping[str, int]
    default_capacity: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    prefer_last_agent: bool = True
    max_missed_offers: int = 3
    sla_next_response_s: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    # A waiting conversation is decided again whenever capacity frees up; its facts do not
    # change meanwhile, so the matched rule is remembered (bounded).
    _matched: dict[Any, Rule] = field(default_factory=dict, compare=False, repr=False)

    def match(self, context: Mapping[str, Any] | Callable[[], Mapping[str, Any]], key: Any = None) -> Rule:
        """The first rule whose ``when`` holds. ``key`` identifies the context for the
        cache if the caller has a cheaper one than freezing it; then ``context`` may be
        a function that builds it, called only when the cache misses."""
        if key is None:
            assert not callable(context)
            key = _freeze(context)
        rule = self._matched.get(key)
        if rule is None:
            facts = context() if callable(context) else context
            rule = next(r for r in self.rules if r.condition is None or r.condition.matches(facts))
            if len(self._matched) >= MATCH_CACHE:
                self._matched.clear()
            self._matched[key] = rule
        return rule

    def first_response_s(self, tier: str, channel: str) -> int:
        targets = self.sla_first_response_s.get(tier, {})
        return targets.get(channel, targets.get("default", DEFAULT_FIRST_RESPONSE_S))

    def next_response_s(self, tier: str, channel: str) -> int:
        """The next-response target; without one, the first-response target serves."""
        targets = self.sla_next_response_s.get(tier, {})
        return targets.get(channel, targets.get("default", self.first_response_s(tier, channel)))

    def route(
        self, rule: Rule, target_index: int, transfer_queue: str | None, transfer_agent: str | None
    ) -> tuple[Rule, int, Target]:
        """The rule and target a conversation waits on. A transfer replaces the matched rule:
        to a queue, one target there (any agent); to an agent, that agent first for
        ``TRANSFER_TIMEOUT_S``, then anyone on the queue."""
        if transfer_queue is not None and transfer_queue in self.queues:
            rule = transfer_rule(transfer_queue, transfer_agent)
        index = min(target_index, len(rule.targets) - 1)
        return rule, index, rule.targets[index]


TRANSFER_TIMEOUT_S = 120


@functools.lru_cache(maxsize=1024)
def transfer_rule(queue: str, agent_id: str | None) -> Rule:
    last = Target(queue=queue)
    if agent_id is None:
        return Rule(f"transfer to {queue}", None, None, (last,))
    expression = f"id == {json.dumps(agent_id)}"
    first = Target(
        queue=queue,
        agents=expression,
        agent_rule=rule_engine.Rule(expression, context=AGENT_CONTEXT),
        timeout_s=TRANSFER_TIMEOUT_S,
    )
    return Rule(f"transfer to agent {agent_id}", None, None, (first, last))


def _only(item: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r}")


def _queue(name: str, spec: Any, where: str) -> Queue:
    spec = spec or {}
    _only(spec, {"hours", "reservation_timeout", "auto_accept", "out_of_hours_reply"}, where)
    hours = ALWAYS_OPEN
    raw = spec.get("hours", "always")
    if raw != "always":
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}.hours: 'always' or a mapping with timezone and open")
        _only(raw, {"timezone", "country", "subdivision", "open"}, f"{where}.hours")
        try:
            hours = BusinessHours(
                timezone=raw.get("timezone", "UTC"),
                windows=parse_windows(raw.get("open") or {}, f"{where}.hours.open"),
                country=raw.get("country"),
                subdivision=raw.get("subdivision"),
            )
            _ = hours._zone, hours._holidays  # unknown zones, countries or regions fail here
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        except Exception as exc:  # unknown time zone, country or region
            raise ConfigError(f"{where}.hours: {exc}") from exc
    return Queue(
        name=name,
        hours=hours,
        reservation_timeout_s=int(spec.get("reservation_timeout", 30)),
        auto_accept=bool(spec.get("auto_accept", False)),
        out_of_hours_reply=spec.get("out_of_hours_reply"),
    )


def parse_rules(text: str, tier_priority: Mapping[str, int], source: str = "routing.yaml") -> RuleSet:
    """Parse and validate; raise ConfigError naming the rule, the field and the position."""
    try:
        return _parse_rules(text, tier_priority, source)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        # a value of another shape than the checks expect (a number for a mapping, a list
        # for a number): refused like any other invalid file, never a 500
        raise ConfigError(f"{source}: a value has the wrong type or form: {exc}") from exc


def _parse_rules(text: str, tier_priority: Mapping[str, int], source: str) -> RuleSet:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping with queues and rules")
    _only(doc, {"queues", "sla", "agents", "rules", "prefer_last_agent", "max_missed_offers"}, source)
    queues = {n: _queue(n, q, f"{source}: queue {n!r}") for n, q in (doc.get("queues") or {}).items()}
    if not queues:
        raise ConfigError(f"{source}: define at least one queue")
    sla, sla_next = _sla(doc.get("sla") or {}, tier_priority, source)
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(f"{source}: expected a non-empty list under 'rules'")
    rules: list[Rule] = []
    for n, item in enumerate(raw_rules, 1):
        path = f"rules[{n - 1}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ConfigError(f"{source}: rule {n}: each rule needs a 'name'", field=f"{path}.name")
        where = f"{source}: rule {item['name']!r}"
        _only(item, {"name", "when", "targets", "actions"}, where)
        when = item.get("when")
        condition = (
            compile_expression(str(when), CONVERSATION_CONTEXT, f"{where}: when", f"{path}.when")
            if when
            else None
        )
        if condition is None and n != len(raw_rules):
            raise ConfigError(f"{where}: only the last rule may have no 'when'", field=f"{path}.when")
        targets = []
        for t, target in enumerate(item.get("targets") or [], 1):
            twhere = f"{where}: targets[{t}]"
            tpath = f"{path}.targets[{t - 1}]"
            if not isinstance(target, dict):
                raise ConfigError(f"{twhere}: expected a mapping with a queue", field=tpath)
            _only(target, {"queue", "agents", "priority", "timeout"}, twhere)
            if target.get("queue") not in queues:
                raise ConfigError(
                    f"{twhere}.queue: unknown queue {target.get('queue')!r}", field=f"{tpath}.queue"
                )
            agents = target.get("agents")
            targets.append(
                Target(
                    queue=target["queue"],
                    agents=agents,
                    agent_rule=compile_expression(
                        str(agents), AGENT_CONTEXT, f"{twhere}.agents", f"{tpath}.agents"
                    )
                    if agents
                    else None,
                    priority=int(target.get("priority", 0)),
                    timeout_s=int(target["timeout"]) if target.get("timeout") is not None else None,
                )
            )
        if not targets:
            raise ConfigError(f"{where}: targets: give at least one target", field=f"{path}.targets")
        actions = item.get("actions") or {}
        if not isinstance(actions, dict):
            raise ConfigError(f"{where}: actions: expected a mapping")
        _only(actions, RULE_ACTIONS, f"{where}: actions")
        if "set_priority" in actions and actions["set_priority"] not in PRIORITY_VALUES:
            raise ConfigError(f"{where}: actions: set_priority: expected one of {', '.join(PRIORITY_VALUES)}")
        rules.append(
            Rule(item["name"], when, condition, tuple(targets), {k: str(v) for k, v in actions.items()})
        )
    if rules[-1].condition is not None:
        raise ConfigError(
            f"{source}: the last rule must have no 'when', so that it catches everything",
            field=f"rules[{len(rules) - 1}].when",
        )
    agents = doc.get("agents") or {}
    return RuleSet(
        rules=tuple(rules),
        queues=queues,
        sla_first_response_s=sla,
        sla_next_response_s=sla_next,
        tier_priority=dict(tier_priority),
        default_capacity={**DEFAULT_CAPACITY, **(agents.get("default_capacity") or {})},
        prefer_last_agent=bool(doc.get("prefer_last_agent", True)),
        max_missed_offers=int(doc.get("max_missed_offers", 3)),
    )


def _sla(
    doc: Mapping[str, Any], tier_priority: Mapping[str, int], source: str
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """``tier: {channel|default: seconds | {first_response: s, next_response: s}}``."""
    first: dict[str, dict[str, int]] = {}
    following: dict[str, dict[str, int]] = {}
    for tier, targets in doc.items():
        if tier not in tier_priority:
            raise ConfigError(f"{source}: sla: unknown tier {tier!r}; tiers are {', '.join(tier_priority)}")
        if not isinstance(targets, dict):
            raise ConfigError(f"{source}: sla.{tier}: expected a mapping of channel to seconds")
        for channel, value in targets.items():
            where = f"{source}: sla.{tier}.{channel}"
            try:
                if isinstance(value, dict):
                    _only(value, {"first_response", "next_response"}, where)
                    if "first_response" in value:
                        first.setdefault(tier, {})[channel] = int(value["first_response"])
                    if "next_response" in value:
                        following.setdefault(tier, {})[channel] = int(value["next_response"])
                else:
                    first.setdefault(tier, {})[channel] = int(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: expected seconds as a whole number") from exc
    return first, following
