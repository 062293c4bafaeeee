"""The console speaks German and English alike, and its timeline names every event the hub
records on a customer's timeline in words, never as the raw action (``identity.added``)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "widgets" / "console" / "js" / "i18n.js"
# events that never reach a customer's timeline: reads, and the admins' own records
NOT_ON_TIMELINES = (
    "audit.",
    "agent.",
    "channel.",
    "tiers.",
    "health.rules_",
    "customers.",
    "retention.",
    "routing.rules_saved",
    "automations.saved",
    "csat.settings_",
    "config.",
    "message.received",  # the message itself is on the timeline (hub/customers/timeline.py)
)
ACTION = re.compile(
    r"""(?:action\s*=\s*|"action":\s*|_event\(\s*(?:conn,\s*who|now),\s*)"([a-z_]+\.[a-z_.]+)\""""
    r"""(?:\s+if\s+[\w.]+\s+else\s+"([a-z_]+\.[a-z_.]+)")?"""
)


def _strings() -> dict[str, set[str]]:
    text = I18N.read_text()
    en, de = text.split("\n  de: {", 1)
    key = re.compile(r'"([\w.]+)":\s*"')
    return {"en": set(key.findall(en)), "de": set(key.findall(de))}


def _actions() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "hub").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for match in ACTION.finditer(path.read_text()):
            found |= {a for a in match.groups() if a}
    return {a for a in found if not a.startswith(NOT_ON_TIMELINES)}


def test_german_and_english_have_the_same_strings() -> None:
    strings = _strings()
    assert strings["en"] - strings["de"] == set(), "missing in German"
    assert strings["de"] - strings["en"] == set(), "missing in English"


def test_every_timeline_event_has_words_in_both_languages() -> None:
    actions = _actions()
    assert {"identity.added", "conversation.tagged", "tier.unpinned", "conversation.called_back"} <= actions
    strings = _strings()
    # consent.changed reads as granted or withdrawn
    named = {a for a in actions if f"event.{a}" in strings["en"] and f"event.{a}" in strings["de"]}
    named |= {"consent.changed"} & actions
    assert sorted(actions - named) == []
