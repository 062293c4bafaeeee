"""The health rules in force: the newest version saved in the admin pages (table
``health_rules``), else the built-in ones (``hub.customers.health.DEFAULT_HEALTH``).
Several hub processes adopt a version another one saved within ``routing.reload_seconds``
(the one mechanism of ``hub.versioned_config``). Saving recomputes no score by itself:
the next full run does, or ``contacthub health recompute``."""

from __future__ import annotations

import logging

from hub.customers.health import DEFAULT_HEALTH, DEFAULT_RULES, HealthRules, parse_health_rules
from hub.errors import ConfigError
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import health_rules
from hub.versioned_config import InvalidRules, VersionedConfig

log = logging.getLogger("contacthub.health")


class HealthConfig(VersionedConfig[HealthRules]):
    def __init__(self, store: Store) -> None:
        super().__init__(ConfigVersions(store, health_rules), "health rules", log, DEFAULT_HEALTH)
        self.rules = DEFAULT_RULES

    def check(self, text: str) -> HealthRules:
        try:
            return parse_health_rules(text, "health rules")
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

    def adopt(self, value: HealthRules) -> None:
        self.rules = value


async def rules_in_force(store: Store) -> HealthRules:
    """For the commands: the newest saved version, else the built-in rules."""
    text = await ConfigVersions(store, health_rules).latest_text()
    return parse_health_rules(text, "health rules (saved)") if text else DEFAULT_RULES
