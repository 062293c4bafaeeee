"""The contact policy: the "one voice" every department speaks with. Checked before every
message that starts a contact with a customer (an agent's new conversation, a campaign's
message to each recipient), never before a reply inside an open conversation.

An admin writes it as YAML (versioned like the routing rules). Each rule says whom it
applies to (``purposes``, ``departments``, ``channels``; absent: all) and one condition
that blocks:

- ``while_open``: a conversation of the customer is open (of the given departments or tags);
- ``after_closed``: such a conversation closed less than ``days`` ago;
- ``at_most``: the customer had ``contacts`` outbound contacts (of the rule's purposes, from
  any department) in the last ``days``;
- ``quiet_hours``: it is between ``from`` and ``to`` in the customer's time zone;
- ``key_accounts: manager``: the customer is a key account and the sender is not their
  manager, and the manager has not consented (an approval in force for the contact's
  department and purpose: hub/outreach/approvals.py).

``judge`` is pure: it gets what it needs (``Proposed``, ``Situation``) and answers every
rule that blocks, each with words a sender understands and the conversation it conflicts
with. Parsing is pure too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from hub.errors import ConfigError

PURPOSES = ("service", "marketing")  # as consent knows them (hub.customers.records)
CHANNELS = ("email", "sms", "whatsapp", "voice", "fax", "api")
DEFAULT_DEPARTMENT = "service"  # a conversation no rule gave a department is the customer's own: service

DEFAULT_POLICY = """\
# The contact policy: one voice towards the customer. It is checked before every message
# that starts a contact (a new conversation by an agent, a campaign's message), never
# before a reply inside an open conversation. Each rule applies to the purposes
# (service, marketing), departments and channels it names (absent: all) and blocks by one
# condition. A supervisor may send despite a block, with a reason (audited).
rules:
  - name: no marketing while service is talking
    purposes: [marketing]
    while_open: {departments: [service]}      # an open conversation of these departments
  - name: no marketing soon after a complaint
    purposes: [marketing]
    after_closed: {tags: [complaint], days: 14}
  - name: at most two marketing contacts a week
    purposes: [marketing]
    at_most: {contacts: 2, days: 7}           # counted across every department
  - name: no texts or calls at night
    channels: [sms, whatsapp, voice]
    quiet_hours: {from: "20:00", to: "08:00"}  # in the customer's time zone
  - name: key accounts through their manager
    purposes: [marketing]
    key_accounts: manager
"""

CONDITIONS = ("while_open", "after_closed", "at_most", "quiet_hours", "key_accounts")
SCOPES = ("purposes", "departments", "channels")


@dataclass(frozen=True, slots=True)
class Matching:
    """Which conversations a ``while_open``/``after_closed`` condition means (empty: any)."""

    departments: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def holds(self, conv: ConversationFact) -> bool:
        if self.departments and conv.department not in self.departments:
            return False
        return not self.tags or bool(self.tags & conv.tags)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    kind: str  # one of CONDITIONS
    purposes: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    matching: Matching = Matching()
    days: int = 0
    contacts: int = 0
    quiet_from: time = time(0)
    quiet_to: time = time(0)

    def applies(self, proposed: Proposed) -> bool:
        return (
            (not self.purposes or proposed.purpose in self.purposes)
            and (not self.departments or proposed.department in self.departments)
            and (not self.channels or proposed.channel in self.channels)
        )


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...] = ()

    def lookback_days(self) -> int:
        """How far back the judgement needs closed conversations and contacts."""
        return max((r.days for r in self.rules), default=0)


# --- the judgement --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConversationFact:
    id: str
    department: str
    tags: frozenset[str]
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Proposed:
    """A contact about to be made."""

    channel: str
    purpose: str
    department: str
    sender_id: str | None  # the agent; None for an automation or a campaign
    at: datetime  # aware


@dataclass(frozen=True, slots=True)
class Consented:
    """The key account manager's consent to contacts by others: of ``department`` for
    ``purpose`` (None: any), until ``until``."""

    department: str | None
    purpose: str | None
    until: datetime

    def covers(self, proposed: Proposed) -> bool:
        return (
            self.department in (None, proposed.department)
            and self.purpose in (None, proposed.purpose)
            and proposed.at < self.until
        )


@dataclass(frozen=True, slots=True)
class Situation:
    """What the judgement needs to know about the customer, read just before it."""

    zone: ZoneInfo
    key_account: bool = False
    manager_id: str | None = None
    manager_name: str | None = None
    open: Sequence[ConversationFact] = ()
    closed: Sequence[ConversationFact] = ()  # those closed within ``Policy.lookback_days``
    contacts: Sequence[tuple[datetime, str]] = ()  # (at, purpose) within the lookback
    consented: Sequence[Consented] = ()  # the key account manager's approvals in force


@dataclass(frozen=True, slots=True)
class Block:
    rule: str
    kind: str
    message: str
    conversation_id: str | None = None
    until: datetime | None = None  # when the block ends by itself, if it does
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "message": self.message}
        if self.conversation_id:
            found["conversation_id"] = self.conversation_id
        if self.until:
            found["until"] = self.until.isoformat()
        return found | self.extra


def judge(policy: Policy, proposed: Proposed, situation: Situation) -> list[Block]:
    """Every rule that blocks the contact, in the policy's order; empty: it may go."""
    blocks = []
    for rule in policy.rules:
        if rule.applies(proposed):
            block = _CHECKS[rule.kind](rule, proposed, situation)
            if block is not None:
                blocks.append(block)
    return blocks


def _ref(conv: ConversationFact) -> str:
    return f"#{conv.id[:8]}"


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _kind_of(conv: ConversationFact, matching: Matching) -> str:
    """How the block names the conversation: by the tag that made it count, else its department."""
    tag = sorted(matching.tags & conv.tags)
    return tag[0] if tag else conv.department


def _while_open(rule: Rule, proposed: Proposed, s: Situation) -> Block | None:
    found = sorted((c for c in s.open if rule.matching.holds(c)), key=lambda c: c.opened_at)
    if not found:
        return None
    conv = found[0]
    return Block(
        rule.name,
        rule.kind,
        f"blocked by “{rule.name}”: {_kind_of(conv, rule.matching)} conversation {_ref(conv)} is open "
        f"since {_when(conv.opened_at, s.zone)}",
        conversation_id=conv.id,
    )


def _after_closed(rule: Rule, proposed: Proposed, s: Situation) -> Block | None:
    since = proposed.at - timedelta(days=rule.days)
    found = [c for c in s.closed if c.closed_at and c.closed_at > since and rule.matching.holds(c)]
    if not found:
        return None
    conv = max(found, key=lambda c: c.closed_at or c.opened_at)
    assert conv.closed_at is not None
    until = conv.closed_at + timedelta(days=rule.days)
    return Block(
        rule.name,
        rule.kind,
        f"blocked by “{rule.name}”: {_kind_of(conv, rule.matching)} conversation {_ref(conv)} closed "
        f"on {_when(conv.closed_at, s.zone)}; no {proposed.purpose} contact until {_when(until, s.zone)}",
        conversation_id=conv.id,
        until=until,
    )


def _at_most(rule: Rule, proposed: Proposed, s: Situation) -> Block | None:
    since = proposed.at - timedelta(days=rule.days)
    counted = sorted(
        at for at, purpose in s.contacts if at > since and (not rule.purposes or purpose in rule.purposes)
    )
    if len(counted) < rule.contacts:
        return None
    # the oldest contact that must leave the window before one more fits
    until = counted[len(counted) - rule.contacts] + timedelta(days=rule.days)
    what = "/".join(sorted(rule.purposes)) + " " if rule.purposes else ""
    return Block(
        rule.name,
        rule.kind,
        f"blocked by “{rule.name}”: {len(counted)} {what}contacts in the last {rule.days} days (at most "
        f"{rule.contacts}); the next one is possible from {_when(until, s.zone)}",
        until=until,
        extra={"contacts": len(counted)},
    )


def _quiet_hours(rule: Rule, proposed: Proposed, s: Situation) -> Block | None:
    local = proposed.at.astimezone(s.zone)
    now = local.time().replace(tzinfo=None)
    start, end = rule.quiet_from, rule.quiet_to
    quiet = start <= now < end if start < end else now >= start or now < end
    if not quiet:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends = (local + timedelta(days=1)).replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    return Block(
        rule.name,
        rule.kind,
        f"blocked by “{rule.name}”: it is {local:%H:%M} for the customer ({s.zone.key}); "
        f"{proposed.channel} is quiet from {start:%H:%M} to {end:%H:%M}",
        until=ends.astimezone(UTC),  # stored and compared as UTC, like every time in the hub
    )


def _key_accounts(rule: Rule, proposed: Proposed, s: Situation) -> Block | None:
    if not s.key_account or (s.manager_id is not None and proposed.sender_id == s.manager_id):
        return None
    if any(c.covers(proposed) for c in s.consented):
        return None
    who = f" {s.manager_name}" if s.manager_name else ""
    return Block(
        rule.name,
        rule.kind,
        f"blocked by “{rule.name}”: a key account; only their manager{who} contacts them, or"
        f" others with their consent for {proposed.department} (ask them, or a supervisor may"
        " send it with a reason)",
        extra={"manager_id": s.manager_id} if s.manager_id else {},
    )


_CHECKS = {
    "while_open": _while_open,
    "after_closed": _after_closed,
    "at_most": _at_most,
    "quiet_hours": _quiet_hours,
    "key_accounts": _key_accounts,
}


# --- parsing ----------------------------------------------------------------------------


def parse_policy(text: str) -> Policy:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"contact policy: not valid YAML: {exc}", field="rules") from exc
    if doc is None:
        return Policy()
    if not isinstance(doc, dict) or set(doc) - {"rules"}:
        raise ConfigError("contact policy: a mapping with one key, rules (a list)", field="rules")
    raw = doc.get("rules") or []
    if not isinstance(raw, list):
        raise ConfigError("rules: a list of rules", field="rules")
    rules = [_rule(entry, f"rules[{n}]") for n, entry in enumerate(raw)]
    names = [r.name for r in rules]
    if dupe := next((n for n in names if names.count(n) > 1), None):
        raise ConfigError(
            f"rules: the name {dupe!r} is used twice; names say why a send was blocked", field="rules"
        )
    return Policy(tuple(rules))


def _rule(entry: Any, path: str) -> Rule:
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: a mapping with name, a condition and whom it applies to", field=path)
    known = {"name", *SCOPES, *CONDITIONS}
    if unknown := sorted((k for k in entry if k not in known), key=str):
        raise ConfigError(
            f"{path}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})",
            field=f"{path}.{unknown[0]}",
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ConfigError(f"{path}.name: a name of 1 to 100 characters", field=f"{path}.name")
    conditions = [k for k in CONDITIONS if k in entry]
    if len(conditions) != 1:
        raise ConfigError(f"{path}: exactly one condition of {', '.join(CONDITIONS)}", field=path)
    kind = conditions[0]
    purposes = _names(entry.get("purposes"), f"{path}.purposes", PURPOSES)
    base = Rule(
        name=name.strip(),
        kind=kind,
        purposes=purposes,
        departments=_names(entry.get("departments"), f"{path}.departments"),
        channels=_names(entry.get("channels"), f"{path}.channels", CHANNELS),
    )
    value, where = entry[kind], f"{path}.{kind}"
    if kind in ("while_open", "after_closed"):
        fields = {"departments", "tags"} | ({"days"} if kind == "after_closed" else set())
        body = _mapping(value, where, fields)
        matching = Matching(
            _names(body.get("departments"), f"{where}.departments"), _names(body.get("tags"), f"{where}.tags")
        )
        days = _whole(body.get("days"), f"{where}.days", 1, 365) if kind == "after_closed" else 0
        return replace(base, matching=matching, days=days)
    if kind == "at_most":
        body = _mapping(value, where, {"contacts", "days"})
        return replace(
            base,
            contacts=_whole(body.get("contacts"), f"{where}.contacts", 1, 1000),
            days=_whole(body.get("days"), f"{where}.days", 1, 365),
        )
    if kind == "quiet_hours":
        body = _mapping(value, where, {"from", "to"})
        start, end = _clock(body.get("from"), f"{where}.from"), _clock(body.get("to"), f"{where}.to")
        if start == end:
            raise ConfigError(f"{where}: from and to are the same time; quiet for no time", field=where)
        return replace(base, quiet_from=start, quiet_to=end)
    if value != "manager":
        raise ConfigError(f"{where}: manager (only the key account manager contacts them)", field=where)
    return base


def _mapping(value: Any, path: str, fields: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: a mapping of {', '.join(sorted(fields))}", field=path)
    if unknown := sorted((k for k in value if k not in fields), key=str):
        raise ConfigError(
            f"{path}: unknown field {unknown[0]!r} ({', '.join(sorted(fields))})",
            field=f"{path}.{unknown[0]}",
        )
    return value


def _names(raw: Any, path: str, allowed: Sequence[str] = ()) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        raise ConfigError(f"{path}: a list of names", field=path)
    found = frozenset(w.strip() for w in raw)
    if allowed and (bad := sorted(found - set(allowed))):
        raise ConfigError(f"{path}: {bad[0]!r} is not one of {', '.join(allowed)}", field=path)
    return found


def _whole(raw: Any, path: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ConfigError(f"{path}: a whole number from {low} to {high}", field=path)
    return raw


def _clock(raw: Any, path: str) -> time:
    found = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", raw) if isinstance(raw, str) else None
    if found is None:  # unquoted, YAML reads 20:00 as the number 1200
        raise ConfigError(f'{path}: a time of day in quotes, "HH:MM", e.g. "20:00"', field=path)
    return time(int(found[1]), int(found[2]))
