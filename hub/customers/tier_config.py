"""The tier rules in force: the newest version saved in the admin pages (table
``tier_rules``), else the tiers file, else the built-in ones.

A saved version must fit the routing rules in force (their SLA targets name tiers);
otherwise it is refused and nothing changes. Several hub processes adopt a version
another one saved within ``routing.reload_seconds`` (the one mechanism of
``hub.versioned_config``). Saving does not change any customer's tier by itself: the
caller re-tiers (``retier_all``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from hub.customers.records import CustomerRecords
from hub.customers.retier import retier_all
from hub.customers.tiers import DEFAULT_TIERS, TierRules, parse_tier_rules
from hub.errors import ConfigError, InputError
from hub.routing.rules import RuleSet
from hub.store.config_versions import ConfigVersions
from hub.store.engine import Store
from hub.store.tables import tier_rules
from hub.versioned_config import InvalidRules, VersionedConfig

log = logging.getLogger("contacthub.tiers")


def tier_text(file: Path) -> str:
    return file.read_text(encoding="utf-8") if file.exists() else DEFAULT_TIERS


class NamesTiers(Protocol):
    """Configuration that names tiers and must fit them: the routing rules (their SLA
    targets and priorities). A protocol, so the customers need not know the dispatcher."""

    def parse_with(self, tiers: TierRules) -> RuleSet: ...

    def adopt_tiers(self, tiers: TierRules, rules: RuleSet) -> None: ...


class TierConfig(VersionedConfig[tuple[TierRules, RuleSet]]):
    """Load the tiers before the routing rules (those name tiers), then ``attach`` them."""

    def __init__(self, store: Store, file: Path, records: CustomerRecords) -> None:
        # version 0: the file's (or the built-in) rules, never saved here
        super().__init__(ConfigVersions(store, tier_rules), "tier rules", log, tier_text(file))
        self._store = store
        self._records = records
        self._routing: NamesTiers | None = None
        self.retier: dict[str, object] = {"running": False, "changed": None, "error": None}
        self._retier_task: asyncio.Task[None] | None = None

    def attach(self, routing: NamesTiers) -> None:
        self._routing = routing

    @property
    def tiers(self) -> TierRules:
        return self._records.tiers

    def check(self, text: str) -> tuple[TierRules, RuleSet]:
        """Validate; raise InvalidRules (422 with the path and position) or InputError
        when the routing rules in force name a tier these rules do not have."""
        try:
            tiers = parse_tier_rules(text, "tiers")
        except ConfigError as exc:
            raise InvalidRules(exc) from exc
        assert self._routing is not None, "attach the routing rules first"
        try:
            return tiers, self._routing.parse_with(tiers)
        except InputError as exc:
            raise InputError(
                f"the routing rules in force do not fit these tiers: {exc.detail}", field="tiers"
            ) from exc

    def adopt(self, value: tuple[TierRules, RuleSet]) -> None:
        assert self._routing is not None
        tiers, rules = value
        self._records.tiers = tiers
        self._routing.adopt_tiers(tiers, rules)

    async def load(self) -> None:
        """The newest saved version, if any, into the customer records (at start-up, before
        the routing rules: it is not checked against them). Raises ConfigError on a database
        that was not migrated, or on a saved version that is not valid."""
        _, saved = await self._versions.newer_than(0)
        if saved:
            version, text = saved[0]
            self._records.tiers = parse_tier_rules(text, f"tier rules version {version}")
            self.version, self.text = version, text

    def retier_in_background(self) -> None:
        """Recompute every unpinned tier with the rules now in force. A run still going
        with older rules is cancelled first, so that it cannot write them after this one."""
        if self._retier_task is not None:
            self._retier_task.cancel()
        tiers = self.tiers
        self.retier = {"running": True, "changed": None, "error": None}

        async def run() -> None:
            try:
                changed = await retier_all(self._store, tiers)
                self.retier = {"running": False, "changed": changed, "error": None}
                log.info("re-tiered after tier rules version %d: %d changed", self.version, changed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # said on the page; `contacthub retier` finishes the job
                log.exception("re-tiering failed")
                self.retier = {"running": False, "changed": None, "error": str(exc)}

        self._retier_task = asyncio.create_task(run(), name="retier")


async def tiers_in_force(store: Store, file: Path) -> TierRules:
    """For the commands (import, retier, demo): the newest saved version, else the file."""
    text = await ConfigVersions(store, tier_rules).latest_text()
    return parse_tier_rules(text, "tiers (saved)") if text else parse_tier_rules(tier_text(file), str(file))
