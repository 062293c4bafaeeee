"""The live routing rules: every saved version is kept, the newest is in force.

Rules come from ``PUT /api/v1/routing/rules`` or from the rules file, which is watched
and re-read when it changes. Text that does not validate is refused and the running
rules stay in force. Several hub processes pick up a new version from the database.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from hub.customers.tiers import TierRules
from hub.errors import ConfigError, InputError, NotFound
from hub.routing.rules import RuleSet, parse_rules
from hub.store.engine import Store
from hub.store.tables import routing_rules
from hub.store.times import iso
from hub.transient import OutageNotice, is_transient

log = logging.getLogger("contacthub.routing")

DEFAULT_RULES = """\
queues:
  service: {hours: always}
rules:
  - name: everyone
    targets:
      - {queue: service}
"""


class InvalidRules(InputError):
    """422 naming where an editor can mark the error: the path in the document
    (``rules[2].when``) and, in an expression, the character offset."""

    def __init__(self, cause: ConfigError) -> None:
        super().__init__(cause.detail, field="rules")
        self.errors = [{"field": cause.field, "position": cause.position, "message": cause.detail}]


def errors_of(exc: InputError) -> list[dict[str, Any]]:
    """What an editor marks for an InputError: each error's field, position and message."""
    return getattr(exc, "errors", None) or [{"field": exc.field, "position": None, "message": exc.detail}]


class RoutingConfig:
    def __init__(self, store: Store, tiers: TierRules, file: Path) -> None:
        self._store = store
        self._tier_priority = {t.name: t.priority for t in tiers.tiers}
        self._file = file
        self._file_mtime: float | None = None
        self._refused: set[int] = set()  # saved versions that no longer validate
        self.version = 0
        self.text = DEFAULT_RULES
        self.rules: RuleSet = self.parse(DEFAULT_RULES)

    def parse(self, text: str, source: str = "rules") -> RuleSet:
        """Validate; raise InputError (422) with the rule, field and position."""
        try:
            return parse_rules(text, self._tier_priority, source)
        except ConfigError as exc:
            raise InvalidRules(exc) from exc

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
        """The newest saved version; on a fresh database, the file (or the defaults)."""
        try:
            if await self.refresh():
                return
        except DBAPIError as exc:
            if is_transient(exc):  # down or starting up: not a database left unmigrated
                raise
            raise ConfigError(
                f"the database has no routing_rules table; run `contacthub migrate` first ({exc.orig})"
            ) from exc
        text, author = DEFAULT_RULES, "system:defaults"
        if self._file.exists():
            text, author = self._file.read_text(encoding="utf-8"), f"file:{self._file.name}"
            self._file_mtime = self._file.stat().st_mtime
        try:
            await self.save(text, author, "initial rules")
        except InputError as exc:
            raise ConfigError(f"{self._file}: {exc.detail}") from exc

    async def refresh(self) -> bool:
        """Adopt a newer version saved by another process; True if one is in force.

        A saved version that no longer validates (a check added since it was saved, such
        as RE2-only patterns) is passed over, logged once, for the newest one that does:
        the hub still starts, and an admin saves a corrected version."""
        async with self._store.read() as conn:
            latest = await conn.scalar(sa.select(sa.func.max(routing_rules.c.version)))
            if latest is None:
                return False
            # only a newer one: a save in this process may have landed while this read waited,
            # and adopting the older row would silently undo it (a rollback came back)
            if latest <= self.version:
                return True
            rows = await conn.execute(
                sa.select(routing_rules.c.version, routing_rules.c.text)
                .where(routing_rules.c.version > self.version)
                .order_by(routing_rules.c.version.desc())
            )
            newer = [r for r in rows if r.version not in self._refused]
        for row in newer:
            try:
                rules = self.parse(row.text)
            except InvalidRules as exc:
                self._refused.add(row.version)
                log.error(
                    "routing rules version %d is not valid and is passed over: %s", row.version, exc.detail
                )
                continue
            self.rules, self.text, self.version = rules, row.text, row.version
            break
        return True

    async def save(self, text: str, author: str, comment: str | None = None) -> int:
        rules = self.parse(text)
        async with self._store.write() as conn:
            latest = await conn.scalar(sa.select(sa.func.max(routing_rules.c.version))) or 0
            version = latest + 1  # the primary key refuses a version another process took
            await conn.execute(
                sa.insert(routing_rules).values(
                    version=version, text=text, author=author, comment=comment, created_at=datetime.now(UTC)
                )
            )
        self.rules, self.text, self.version = rules, text, version
        log.info("routing rules version %d in force", version, extra={"author": author})
        return version

    async def versions(self) -> list[dict[str, Any]]:
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(
                    routing_rules.c.version,
                    routing_rules.c.author,
                    routing_rules.c.comment,
                    routing_rules.c.created_at,
                ).order_by(routing_rules.c.version.desc())
            )
            return [
                {
                    "version": r.version,
                    "author": r.author,
                    "comment": r.comment,
                    "created_at": iso(r.created_at),
                    "live": r.version == self.version,
                }
                for r in rows
            ]

    async def version_texts(self, version: int) -> tuple[str | None, str | None]:
        """The text of ``version`` and of the version before it (None where there is none)."""
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(routing_rules.c.version, routing_rules.c.text).where(
                    routing_rules.c.version.in_((version, version - 1))
                )
            )
            texts = {r.version: r.text for r in rows}
        return texts.get(version), texts.get(version - 1)

    async def rollback(self, version: int, author: str) -> int:
        async with self._store.read() as conn:
            text = await conn.scalar(
                sa.select(routing_rules.c.text).where(routing_rules.c.version == version)
            )
        if text is None:
            raise NotFound(f"no routing rules version {version}")
        return await self.save(text, author, f"rollback to version {version}")

    async def watch(self, every_s: float) -> None:
        """Re-read the file when it changes, and adopt versions other processes saved."""
        outage = OutageNotice(log, "routing rules reload")
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._check_file()
                await self.refresh()
                outage.succeeded()
            except Exception as exc:  # the watcher must outlive a bad file or a database hiccup
                if not outage.failed(exc):
                    log.exception("routing rules reload failed; the running rules stay in force")

    async def _check_file(self) -> None:
        if not self._file.exists():
            return
        mtime = self._file.stat().st_mtime
        if mtime == self._file_mtime:
            return
        self._file_mtime = mtime
        text = self._file.read_text(encoding="utf-8")
        if text == self.text:
            return
        try:
            await self.save(text, f"file:{self._file.name}", "file changed")
        except InputError as exc:
            log.error("%s refused, the running rules stay in force: %s", self._file, exc.detail)
