"""The automations in force: the newest version saved in the admin pages (table
``automations``), else none. Several hub processes adopt a version another one saved
within ``routing.reload_seconds`` (the one mechanism of ``hub.versioned_config``)."""

from __future__ import annotations

import logging

from hub.automation.rules import DEFAULT_AUTOMATIONS, NONE, Automations, parse_automations
from hub.errors import ConfigError
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import automations
from hub.versioned_config import InvalidRules, VersionedConfig

log = logging.getLogger("contacthub.automation")


class AutomationConfig(VersionedConfig[Automations]):
    def __init__(self, store: Store) -> None:
        super().__init__(ConfigVersions(store, automations), "automations", log, DEFAULT_AUTOMATIONS)
        self.automations = NONE

    def check(self, text: str) -> Automations:
        try:
            return parse_automations(text, "automations")
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

    def adopt(self, value: Automations) -> None:
        self.automations = value
