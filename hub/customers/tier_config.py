"""The tier rules in force: the newest version saved in the admin pages (table
``tier_rules``), else the tiers file, else the built-in ones.

A saved version must fit the routing rules in force (their SLA targets name tiers);
otherwise it is refused and nothing changes. Several hub processes adopt a version
another one saved within ``routing.reload_seconds``. Saving does not change any
customer's tier by itself: the caller re-tiers (``retier_all``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hub.customers.records import CustomerRecords
from hub.customers.retier import retier_all
from hub.customers.tiers import DEFAULT_TIERS, TierRules, parse_tier_rules
from hub.dispatch.rules_config import InvalidRules, RoutingConfig
from hub.errors import ConfigError, InputError
from hub.routing.rules import RuleSet
from hub.store.engine import Store
from hub.store.tables import tier_rules
from hub.transient import OutageNotice, is_transient

log = logging.getLogger("contacthub.tiers")


def tier_text(file: Path) -> str:
    return file.read_text(encoding="utf-8") if file.exists() else DEFAULT_TIERS


class TierConfig:
    """Load the tiers before the routing rules (those name tiers), then ``attach`` them."""

    def __init__(self, store: Store, file: Path, records: CustomerRecords) -> None:
        self._store = store
        self._records = records
        self._routing: RoutingConfig | None = None
        self.version = 0  # 0: the file's (or the built-in) rules, never saved here
        self.text = tier_text(file)
        self.retier: dict[str, object] = {"running": False, "changed": None, "error": None}
        self._retier_task: asyncio.Task[None] | None = None

    def attach(self, routing: RoutingConfig) -> None:
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

    async def load(self) -> None:
        """The newest saved version, if any, into the customer records (at start-up).
        Raises ConfigError on a database that was not migrated."""
        try:
            async with self._store.read() as conn:
                row = (
                    await conn.execute(sa.select(tier_rules).order_by(tier_rules.c.version.desc()).limit(1))
                ).one_or_none()
        except DBAPIError as exc:
            if is_transient(exc):  # down or starting up: not a database left unmigrated
                raise
            raise ConfigError(
                f"the database has no tier_rules table; run `contacthub migrate` first ({exc.orig})"
            ) from exc
        if row is not None:
            self._records.tiers = parse_tier_rules(row.text, f"tier rules version {row.version}")
            self.version, self.text = row.version, row.text

    async def refresh(self) -> None:
        """Adopt a newer saved version (another process's, or the one saved at start-up)."""
        async with self._store.read() as conn:
            row = (
                await conn.execute(sa.select(tier_rules).order_by(tier_rules.c.version.desc()).limit(1))
            ).one_or_none()
        if row is None or row.version <= self.version:
            return
        try:
            tiers, rules = self.check(row.text)
        except InputError as exc:  # saved before the routing rules changed: keep what runs
            log.error("tier rules version %d not adopted: %s", row.version, exc.detail)
            return
        self._apply(tiers, rules, row.version, row.text)

    async def save(self, text: str, author: str, comment: str | None = None) -> int:
        tiers, rules = self.check(text)
        async with self._store.write() as conn:
            latest = await conn.scalar(sa.select(sa.func.max(tier_rules.c.version))) or 0
            version = latest + 1  # the primary key refuses a version another process took
            await conn.execute(
                sa.insert(tier_rules).values(
                    version=version, text=text, author=author, comment=comment, created_at=datetime.now(UTC)
                )
            )
        self._apply(tiers, rules, version, text)
        log.info("tier rules version %d in force", version, extra={"author": author})
        return version

    def _apply(self, tiers: TierRules, rules: RuleSet, version: int, text: str) -> None:
        assert self._routing is not None
        self._records.tiers = tiers
        self._routing.adopt_tiers(tiers, rules)
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

    async def watch(self, every_s: float) -> None:
        outage = OutageNotice(log, "tier rules reload")
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.refresh()
                outage.succeeded()
            except Exception as exc:  # the watcher must outlive a database hiccup
                if not outage.failed(exc):
                    log.exception("tier rules reload failed; the running tiers stay in force")


async def tiers_in_force(store: Store, file: Path) -> TierRules:
    """For the commands (import, retier, demo): the newest saved version, else the file."""
    async with store.read() as conn:
        text = await conn.scalar(sa.select(tier_rules.c.text).order_by(tier_rules.c.version.desc()).limit(1))
    return parse_tier_rules(text, "tiers (saved)") if text else parse_tier_rules(tier_text(file), str(file))
