"""Automations (admin pages, versioned like the routing rules): each has a trigger, a
condition and actions. Pure: parsing and checking only; ``hub.automation.runner`` runs
them on events, ``hub.automation.dry_run`` on stored history.

```yaml
automations:
  - name: Invoices to billing
    trigger: message_received
    channel: email                     # some triggers take an option
    when: 'message.text =~~ "(?i)rechnung|invoice" and customer.tier != "gold"'
    actions:
      - tag: billing
      - set_department: billing
      - reply: invoice-received        # a shared canned response, by its shortcut
```

An error names the path in the document (``automations[2].when``) and, in an
expression, the position, as the routing rules' do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import rule_engine
import yaml
from rule_engine.ast import GetAttributeExpression, SymbolExpression

from hub.errors import ConfigError
from hub.expressions import compile_expression, nodes

# trigger -> the options it takes
TRIGGERS: Mapping[str, frozenset[str]] = {
    "message_received": frozenset({"channel"}),
    "conversation_opened": frozenset({"channel"}),
    "assigned": frozenset(),
    "closed": frozenset(),
    "reopened": frozenset(),
    "tag_added": frozenset({"tag"}),
    "tag_removed": frozenset({"tag"}),
    "waiting_on_customer": frozenset({"hours"}),
    "waiting_on_us": frozenset({"minutes"}),
    "sla_warning": frozenset(),
    "sla_breached": frozenset(),
    "csat_received": frozenset(),
    "health_changed": frozenset({"level"}),
    "schedule": frozenset({"at"}),
}
CHANNELS = ("email", "sms", "voice", "fax", "chat", "api", "whatsapp")
HEALTH_LEVELS = ("good", "watch", "at_risk")
PRIORITIES = ("high", "normal", "low")
NOTIFY_TO = re.compile(r"^(assignee|kam|supervisors|agent:[^\s@]+@[^\s@]+|team:.+)$")

_S = rule_engine.DataType.STRING
CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(
        {
            "event": _S,  # the trigger, e.g. "message_received"
            "conversation": rule_engine.DataType.MAPPING(_S),
            "message": rule_engine.DataType.MAPPING(_S),
            "customer": rule_engine.DataType.MAPPING(_S),
            "csat": rule_engine.DataType.MAPPING(_S),  # score and comment, for csat_received
            "business_hours": rule_engine.DataType.BOOLEAN,
            "hour": rule_engine.DataType.FLOAT,  # 0-23, in the hub's time zone
            "weekday": _S,  # mon ... sun
        }
    )
)
# what a condition may read of each mapping (checked when saved: a typo is an error then,
# not a failure at every event)
FIELDS: Mapping[str, frozenset[str]] = {
    "conversation": frozenset(
        {"id", "channel", "queue", "tags", "status", "priority", "department", "assignee", "waiting_hours"}
    ),
    "message": frozenset({"text", "subject", "sender", "attachments", "language", "channel", "automatic"}),
    "customer": frozenset(
        {
            "id",
            "name",
            "organisation",
            "tier",
            "key_account",
            "language",
            "revenue",
            "revenue_trend",
            "health",
            "health_score",
            "consent",
            "segments",
        }
    ),
    "csat": frozenset({"score", "comment"}),
}
# action -> what its value is: text, a choice, a flag (true), or a mapping
ACTIONS = (
    "reply",
    "tag",
    "untag",
    "set_priority",
    "set_queue",
    "set_department",
    "assign",
    "unassign",
    "note",
    "notify",
    "snooze",
    "close",
    "csat",
    "webhook",
    "feedback",
)
MAX_AUTOMATIONS = 200
MAX_ACTIONS = 20
MAX_NAME = 60


@dataclass(frozen=True, slots=True)
class Action:
    kind: str
    value: Any  # the text, or for notify {"to", "text"}, for snooze hours, for flags True


@dataclass(frozen=True)
class Automation:
    name: str
    trigger: str
    when: str | None
    condition: rule_engine.Rule | None
    actions: tuple[Action, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # channel, tag, hours, minutes, level, at
    enabled: bool = True
    reads_segments: bool = False  # customer.segments is worked out only for those that read it

    def matches(self, facts: Mapping[str, Any]) -> bool:
        return self.condition is None or bool(self.condition.matches(facts))


@dataclass(frozen=True)
class Automations:
    items: tuple[Automation, ...] = ()

    def on(self, trigger: str) -> list[Automation]:
        return [a for a in self.items if a.enabled and a.trigger == trigger]

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(a.trigger for a in self.items if a.enabled)


DEFAULT_AUTOMATIONS = """\
# Automations: each runs its actions when its trigger happens and its condition holds.
# See the README ("Automations") for every trigger, condition field and action.
automations: []
"""
NONE = Automations()


def parse_automations(text: str, source: str = "automations") -> Automations:
    """Parse and check; raise ConfigError naming the path (and, in an expression, the
    position) of what is wrong."""
    try:
        return _parse(text, source)
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
        raise ConfigError(f"{source}: a value has the wrong type or form: {exc}") from exc


def _parse(text: str, source: str) -> Automations:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", field="automations") from exc
    if doc is None:
        return NONE
    if not isinstance(doc, dict) or set(doc) - {"automations"}:
        raise ConfigError(f"{source}: a mapping with one key, automations", field="automations")
    raw = doc.get("automations") or []
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: automations is a list", field="automations")
    if len(raw) > MAX_AUTOMATIONS:
        raise ConfigError(f"{source}: at most {MAX_AUTOMATIONS} automations", field="automations")
    items: list[Automation] = []
    names: set[str] = set()
    for n, item in enumerate(raw):
        parsed = _automation(item, f"automations[{n}]", source)
        if parsed.name in names:
            raise ConfigError(
                f"{source}: two automations are named {parsed.name!r}", field=f"automations[{n}].name"
            )
        names.add(parsed.name)
        items.append(parsed)
    return Automations(tuple(items))


def _automation(item: Any, path: str, source: str) -> Automation:
    if not isinstance(item, dict):
        raise ConfigError(f"{source}: {path}: a mapping with name, trigger and actions", field=path)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ConfigError(
            f"{source}: {path}.name: a name of 1 to {MAX_NAME} characters", field=f"{path}.name"
        )
    where = f"{source}: automation {name!r}"
    trigger = item.get("trigger")
    if not isinstance(trigger, str) or trigger not in TRIGGERS:
        raise ConfigError(
            f"{where}: trigger: one of {', '.join(TRIGGERS)}; not {trigger!r}", field=f"{path}.trigger"
        )
    allowed = {"name", "trigger", "when", "actions", "enabled", *TRIGGERS[trigger]}
    if unknown := sorted(set(item) - allowed, key=str):
        raise ConfigError(
            f"{where}: unknown field {unknown[0]!r} (the trigger {trigger} takes "
            f"{', '.join(sorted(TRIGGERS[trigger])) or 'no options'})",
            field=f"{path}.{unknown[0]}",
        )
    options = _options(trigger, item, path, where)
    when = item.get("when")
    condition = None
    reads_segments = False
    if when is not None:
        if not isinstance(when, str) or not when.strip():
            raise ConfigError(f"{where}: when: an expression, or leave it out", field=f"{path}.when")
        condition = compile_expression(when, CONTEXT, f"{where}: when", f"{path}.when")
        reads_segments = _check_fields(condition, f"{where}: when", f"{path}.when")
    actions = _actions(item.get("actions"), path, where)
    marks = [n for n, a in enumerate(actions) if a.kind == "feedback"]
    if marks and trigger != "message_received":  # it marks the message that arrived
        raise ConfigError(
            f"{where}: actions[{marks[0]}].feedback: only with the trigger message_received",
            field=f"{path}.actions[{marks[0]}].feedback",
        )
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: enabled: true or false", field=f"{path}.enabled")
    return Automation(name.strip(), trigger, when, condition, actions, options, enabled, reads_segments)


def _options(trigger: str, item: Mapping[str, Any], path: str, where: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "channel" in item:
        if item["channel"] not in CHANNELS:
            raise ConfigError(f"{where}: channel: one of {', '.join(CHANNELS)}", field=f"{path}.channel")
        options["channel"] = item["channel"]
    if "tag" in item:
        if not isinstance(item["tag"], str) or not item["tag"].strip():
            raise ConfigError(f"{where}: tag: the tag's text", field=f"{path}.tag")
        options["tag"] = item["tag"].strip()
    if "level" in item:
        if item["level"] not in HEALTH_LEVELS:
            raise ConfigError(f"{where}: level: one of {', '.join(HEALTH_LEVELS)}", field=f"{path}.level")
        options["level"] = item["level"]
    for unit, most in (("hours", 24 * 90), ("minutes", 60 * 24 * 7)):
        if trigger in ("waiting_on_customer", "waiting_on_us") and unit in TRIGGERS[trigger]:
            value = item.get(unit)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
                raise ConfigError(
                    f"{where}: {unit}: how many {unit} of waiting (more than 0, at most {most})",
                    field=f"{path}.{unit}",
                )
            options[unit] = float(value)
    if trigger == "schedule":
        options["at"] = _time_of_day(item.get("at"), f"{path}.at", where)
    return options


def _time_of_day(raw: Any, path: str, where: str) -> time:
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
        return time(raw // 60, raw % 60)  # YAML 1.1 reads 08:30 as a number of minutes
    if isinstance(raw, str) and re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", raw.strip()):
        hours, minutes = raw.strip().split(":")
        return time(int(hours), int(minutes))
    raise ConfigError(f"{where}: at: the time of day, HH:MM in the hub's time zone", field=path)


def _check_fields(condition: rule_engine.Rule, where: str, path: str) -> bool:
    """Every ``mapping.field`` the condition reads exists; whether it reads the segments."""
    segments = False
    for node in nodes(condition.statement):
        if isinstance(node, GetAttributeExpression) and isinstance(node.object, SymbolExpression):
            known = FIELDS.get(node.object.name)
            if known is not None and node.name not in known:
                raise ConfigError(
                    f"{where}: {node.object.name} has no field {node.name!r}; it has "
                    f"{', '.join(sorted(known))}",
                    field=path,
                )
            segments |= (node.object.name, node.name) == ("customer", "segments")
    return segments


def _actions(raw: Any, path: str, where: str) -> tuple[Action, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: actions: a list of at least one action", field=f"{path}.actions")
    if len(raw) > MAX_ACTIONS:
        raise ConfigError(f"{where}: actions: at most {MAX_ACTIONS}", field=f"{path}.actions")
    found = []
    for n, item in enumerate(raw):
        apath = f"{path}.actions[{n}]"
        if not isinstance(item, dict) or len(item) != 1:
            raise ConfigError(
                f"{where}: actions[{n}]: one action per item, e.g. '- tag: billing'", field=apath
            )
        ((kind, value),) = item.items()
        if kind not in ACTIONS:
            raise ConfigError(
                f"{where}: actions[{n}]: {kind!r} is not an action; actions are {', '.join(ACTIONS)}",
                field=apath,
            )
        found.append(
            Action(kind, _action_value(kind, value, f"{where}: actions[{n}].{kind}", f"{apath}.{kind}"))
        )
    return tuple(found)


def _text(value: Any, where: str, path: str, most: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        raise ConfigError(f"{where}: a text of 1 to {most} characters", field=path)
    return value.strip()


def _action_value(kind: str, value: Any, where: str, path: str) -> Any:
    if kind in ("unassign", "close", "csat"):
        if value is not True:
            raise ConfigError(f"{where}: write '{kind}: true'", field=path)
        return True
    if kind == "set_priority":
        if value not in PRIORITIES:
            raise ConfigError(f"{where}: one of {', '.join(PRIORITIES)}", field=path)
        return value
    if kind == "snooze":
        hours = value.get("hours") if isinstance(value, dict) and set(value) == {"hours"} else value
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 90:
            raise ConfigError(f"{where}: hours to snooze (more than 0, at most 2160)", field=path)
        return float(hours)
    if kind == "notify":
        if not isinstance(value, dict) or set(value) - {"to", "text"} or "to" not in value:
            raise ConfigError(
                f"{where}: a mapping with to (assignee, kam, supervisors, agent:EMAIL or team:NAME) and text",
                field=path,
            )
        to = value["to"]
        if not isinstance(to, str) or not NOTIFY_TO.match(to):
            raise ConfigError(
                f"{where}.to: assignee, kam, supervisors, agent:EMAIL or team:NAME; not {to!r}",
                field=f"{path}.to",
            )
        return {
            "to": to,
            "text": _text(value.get("text", "An automation asks for you"), where, f"{path}.text", 2000),
        }
    if kind == "feedback":
        if not isinstance(value, dict) or set(value) - {"product", "theme"} or "product" not in value:
            raise ConfigError(f"{where}: a mapping with product (and theme)", field=path)
        return {
            "product": _text(value["product"], where, f"{path}.product", 100),
            "theme": _text(value["theme"], where, f"{path}.theme", 100) if "theme" in value else "",
        }
    if kind == "assign":
        text = _text(value, where, path, 320)
        if "@" not in text:
            raise ConfigError(f"{where}: the agent's email address", field=path)
        return text.lower()
    most = {"note": 20_000, "tag": 40, "untag": 40}.get(kind, 200)
    return _text(value, where, path, most)


def references(automations: Automations) -> list[tuple[str, str, str]]:
    """What the automations name elsewhere, with where: ``(path, kind, value)`` for each
    canned response (``reply``: a shortcut), queue (``set_queue``), webhook (``webhook``:
    a name) and agent (``agent``: an email), for the check against the store when saved."""
    found = []
    for n, automation in enumerate(automations.items):
        for k, action in enumerate(automation.actions):
            path = f"automations[{n}].actions[{k}].{action.kind}"
            if action.kind in ("reply", "set_queue", "webhook"):
                found.append((path, action.kind, str(action.value)))
            elif action.kind == "assign":
                found.append((path, "agent", str(action.value)))
            elif action.kind == "notify" and action.value["to"].startswith("agent:"):
                found.append((f"{path}.to", "agent", action.value["to"].removeprefix("agent:").lower()))
    return found
