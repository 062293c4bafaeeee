"""The live routing rules: every saved version is kept, the newest is in force.

Rules come from ``PUT /api/v1/routing/rules`` or from the rules file, which is watched
and re-read when it changes. Text that does not validate is refused and the running
rules stay in force. Several hub processes pick up a new version from the database.
The versions, the checks and the watch loop are the one mechanism of ``hub.versioned_config``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hub.customers.tiers import TierRules
from hub.errors import ConfigError, Conflict, InputError
from hub.routing.rules import RuleSet, parse_rules
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import routing_rules
from hub.versioned_config import InvalidRules, VersionedConfig, WatchedFile

log = logging.getLogger("contacthub.routing")

DEFAULT_RULES = """\
queues:
  service: {hours: always}
rules:
  - name: everyone
    targets:
      - {queue: service}
"""


class RoutingConfig(VersionedConfig[RuleSet]):
    def __init__(self, store: Store, tiers: TierRules, file: Path) -> None:
        super().__init__(ConfigVersions(store, routing_rules), "routing rules", log, DEFAULT_RULES)
        self._tier_priority = {t.name: t.priority for t in tiers.tiers}
        self._file = WatchedFile(file, self, log)
        self.rules: RuleSet = self.parse(DEFAULT_RULES)

    def parse(self, text: str, source: str = "rules") -> RuleSet:
        """Validate; raise InputError (422) with the rule, field and position."""
        try:
            return parse_rules(text, self._tier_priority, source)
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

    def check(self, text: str) -> RuleSet:
        return self.parse(text)

    def adopt(self, value: RuleSet) -> None:
        self.rules = value

    def parse_with(self, tiers: TierRules) -> RuleSet:
        """The rules in force as they read with other tiers (priorities, SLA names)."""
        try:
            return parse_rules(self.text, {t.name: t.priority for t in tiers.tiers}, "rules in force")
        except ConfigError as exc:
            raise InputError(exc.detail, field="rules") from exc

    def adopt_tiers(self, tiers: TierRules, rules: RuleSet) -> None:
        """New tiers are in force: ``rules`` is ``parse_with(tiers)``; later saves check against them."""
        self._tier_priority = {t.name: t.priority for t in tiers.tiers}
        self.rules = rules

    async def load(self) -> None:
        """The newest saved version; on a fresh database, the file (or the defaults).
        Raises ConfigError on a database that was not migrated."""
        if await self.refresh():
            return
        text, author = self._file.read(), self._file.author
        if text is None:
            text, author = DEFAULT_RULES, "system:defaults"
        try:
            await self.save(text, author, "initial rules", first=True)
        except Conflict:  # processes starting together: another one saved the first version
            await self.refresh()
        except InputError as exc:
            raise ConfigError(f"{self._file.path}: {exc.detail}") from exc

    async def poll(self) -> None:
        """Re-read the file when it changes, and adopt versions other processes saved."""
        await self._file.check()
        await self.refresh()
