"""The satisfaction surveys' settings (admin pages, versioned like the automations): which
queues' closed conversations are surveyed, on which channels, how often a customer may be
asked, what a low score is, and the words per language. Parsing is pure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from hub.errors import ConfigError
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import csat_settings
from hub.versioned_config import InvalidRules, VersionedConfig

log = logging.getLogger("contacthub.csat")
CHANNELS = ("chat", "sms", "email")  # where a survey can be answered (stars, a reply, a link)
TEXTS = ("question", "sms", "email", "thanks", "comment")

DEFAULT_CSAT = """\
# Satisfaction surveys: one question after a conversation closes, on its channel (chat:
# stars in the widget; SMS: a reply 1 to 5; email: a one-use link to a page of the hub).
queues: []          # whose closed conversations are surveyed; [all] for every queue.
                    # An automation's `csat: true` action sends one whatever this says.
channels: [chat, sms, email]
quiet_days: 30      # at most one survey per customer in this many days
low_score: 2        # an answer at or below it notifies the key account manager (else the supervisors)
expires_days: 7     # after this, an unanswered survey is not taken any more
texts:
  de:
    question: Wie zufrieden waren Sie mit unserer Hilfe?
    sms: "Wie zufrieden waren Sie mit unserer Hilfe? Antworten Sie mit 1 (gar nicht) bis 5 (sehr)."
    email: "Wie zufrieden waren Sie mit unserer Hilfe? Ein Klick genügt: {link}"
    thanks: Danke für Ihre Bewertung!
    comment: Möchten Sie uns noch etwas sagen? (freiwillig)
  en:
    question: How satisfied were you with our help?
    sms: "How satisfied were you with our help? Reply with a number from 1 (not at all) to 5 (very)."
    email: "How satisfied were you with our help? One click is enough: {link}"
    thanks: Thank you for your rating!
    comment: Anything else you would like to tell us? (optional)
"""


@dataclass(frozen=True)
class CsatSettings:
    queues: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset(CHANNELS)
    quiet_days: int = 30
    low_score: int = 2
    expires_days: int = 7
    texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def on_close(self, queue: str | None) -> bool:
        """Whether a conversation closing on ``queue`` is surveyed by itself."""
        return "all" in self.queues or (queue is not None and queue in self.queues)

    def words(self, language: str) -> tuple[str, Mapping[str, str]]:
        """The language to ask in (the customer's, else the first one set) and its words."""
        chosen = language if language in self.texts else next(iter(self.texts))
        return chosen, self.texts[chosen]


def parse_csat(text: str, source: str = "csat") -> CsatSettings:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}", field="csat") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: a mapping with queues, channels, quiet_days and texts", field="csat")
    known = {"queues", "channels", "quiet_days", "low_score", "expires_days", "texts"}
    if unknown := sorted(set(doc) - known, key=str):
        raise ConfigError(
            f"{source}: unknown field {unknown[0]!r} ({', '.join(sorted(known))})", field=str(unknown[0])
        )
    queues = _words(doc.get("queues") or [], "queues")
    channels = _words(doc.get("channels", list(CHANNELS)) or [], "channels")
    if bad := sorted(set(channels) - set(CHANNELS)):
        raise ConfigError(
            f"channels: {bad[0]!r} cannot be surveyed; channels are {', '.join(CHANNELS)}", field="channels"
        )
    texts = doc.get("texts")
    if not isinstance(texts, dict) or not texts:
        raise ConfigError(
            "texts: the words per language (de, en ...), each with " + ", ".join(TEXTS), field="texts"
        )
    words: dict[str, dict[str, str]] = {}
    for language, entries in texts.items():
        path = f"texts.{language}"
        if not isinstance(language, str) or not 2 <= len(language) <= 8:
            raise ConfigError(f"{path}: a language code such as de or en", field=path)
        if not isinstance(entries, dict) or set(entries) != set(TEXTS):
            raise ConfigError(f"{path}: exactly {', '.join(TEXTS)}", field=path)
        for key, value in entries.items():
            if not isinstance(value, str) or not value.strip() or len(value) > 1000:
                raise ConfigError(f"{path}.{key}: a text of 1 to 1000 characters", field=f"{path}.{key}")
        if "{link}" not in entries["email"]:
            raise ConfigError(
                f"{path}.email: must hold {{link}}, where the survey's link goes", field=f"{path}.email"
            )
        words[language] = {k: v.strip() for k, v in entries.items()}
    return CsatSettings(
        queues=frozenset(queues),
        channels=frozenset(channels),
        quiet_days=_whole(doc.get("quiet_days", 30), "quiet_days", 0, 365),
        low_score=_whole(doc.get("low_score", 2), "low_score", 1, 5),
        expires_days=_whole(doc.get("expires_days", 7), "expires_days", 1, 90),
        texts=words,
    )


def _words(raw: Any, path: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(w, str) and w.strip() for w in raw):
        raise ConfigError(f"{path}: a list of names", field=path)
    return [w.strip() for w in raw]


def _whole(raw: Any, path: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise ConfigError(f"{path}: a whole number from {low} to {high}", field=path)
    return raw


DEFAULT_SETTINGS = parse_csat(DEFAULT_CSAT)


class CsatConfig(VersionedConfig[CsatSettings]):
    def __init__(self, store: Store) -> None:
        super().__init__(
            ConfigVersions(store, csat_settings), "satisfaction survey settings", log, DEFAULT_CSAT
        )
        self.settings = DEFAULT_SETTINGS

    def check(self, text: str) -> CsatSettings:
        try:
            return parse_csat(text)
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

    def adopt(self, value: CsatSettings) -> None:
        self.settings = value
