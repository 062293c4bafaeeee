"""Versioned admin configuration: ONE mechanism for every text an admin edits and the hub
runs (routing rules, tier rules; later automations, contact policy, health weights).

Every saved version is kept (``hub.store.config_versions``); the newest one that checks is
in force. A text that does not check is refused and the running version stays. Several hub
processes adopt a version another one saved in their ``watch`` loop; a saved version that no
longer checks (a check added since, or other configuration it must fit) is passed over for
the newest one that does, and said once. A kind of configuration says how to check a text
(``check``) and what adopting it changes (``adopt``).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from hub.errors import ConfigError, InputError, NotFound
from hub.store.config_versions import ConfigVersions
from hub.store.times import iso
from hub.transient import OutageNotice


class InvalidRules(InputError):
    """422 naming where an editor can mark the error: the path in the document
    (``rules[2].when``) and, in an expression, the character offset."""

    def __init__(self, cause: ConfigError) -> None:
        super().__init__(cause.detail, field="rules")
        self.errors = [{"field": cause.field, "position": cause.position, "message": cause.detail}]


T = TypeVar("T")


class VersionedConfig(ABC, Generic[T]):
    """``version`` and ``text`` are the ones in force (version 0: none saved yet)."""

    def __init__(self, versions: ConfigVersions, what: str, log: logging.Logger, text: str) -> None:
        self._versions = versions
        self._what = what  # "routing rules": how log lines and errors name it
        self._log = log
        self._passed_over: dict[int, str] = {}  # version -> why, said once
        self.version = 0
        self.text = text

    @abstractmethod
    def check(self, text: str) -> T:
        """The text as it would run; raise InputError (422, with where) if it cannot."""

    @abstractmethod
    def adopt(self, value: T) -> None:
        """Put a checked text in force."""

    def _in_force(self, value: T, version: int, text: str) -> None:
        self.adopt(value)
        self.version, self.text = version, text

    async def refresh(self) -> bool:
        """Adopt the newest version that checks, if it is newer than the one in force
        (another process's, or one saved at start-up); True if any version is saved."""
        latest, newer = await self._versions.newer_than(self.version)
        for version, text in newer:
            # only a newer one: a save in this process may have landed while this read
            # waited, and adopting the older row would silently undo it (a rollback came back)
            if version <= self.version:
                break
            try:
                value = self.check(text)
            except InputError as exc:
                if self._passed_over.get(version) != exc.detail:
                    self._passed_over[version] = exc.detail
                    self._log.error(
                        "%s version %d is not valid and is passed over: %s", self._what, version, exc.detail
                    )
                continue
            self._in_force(value, version, text)
            break
        return latest is not None

    async def save(self, text: str, author: str, comment: str | None = None, *, first: bool = False) -> int:
        """Check and save ``text`` as the next version (``first``: as version 1, which
        is a Conflict once any process saved one); it is in force here at once."""
        value = self.check(text)
        version = await self._versions.append(text, author, comment, datetime.now(UTC), first=first)
        self._in_force(value, version, text)
        self._log.info("%s version %d in force", self._what, version, extra={"author": author})
        return version

    async def versions(self) -> list[dict[str, Any]]:
        return [
            {
                "version": v.version,
                "author": v.author,
                "comment": v.comment,
                "created_at": iso(v.created_at),
                "live": v.version == self.version,
            }
            for v in await self._versions.listing()
        ]

    async def version_texts(self, version: int) -> tuple[str | None, str | None]:
        """The text of ``version`` and of the version before it (None where there is none)."""
        texts = await self._versions.texts((version, version - 1))
        return texts.get(version), texts.get(version - 1)

    async def rollback(self, version: int, author: str) -> int:
        text = (await self._versions.texts((version,))).get(version)
        if text is None:
            raise NotFound(f"no {self._what} version {version}")
        return await self.save(text, author, f"rollback to version {version}")

    async def poll(self) -> None:
        """One round of the watch loop."""
        await self.refresh()

    async def watch(self, every_s: float) -> None:
        """Poll every ``every_s`` seconds; an outage is said when it starts and ends."""
        outage = OutageNotice(self._log, f"{self._what} reload")
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.poll()
                outage.succeeded()
            except Exception as exc:  # the watcher must outlive a bad file or a database hiccup
                if not outage.failed(exc):
                    self._log.exception("%s reload failed; the version in force stays", self._what)


class WatchedFile:
    """A configuration file that is saved as a new version of ``config`` when it changes
    (author ``file:NAME``). One that does not check is refused and said; the version in
    force stays."""

    def __init__(self, path: Path, config: VersionedConfig[Any], log: logging.Logger) -> None:
        self.path = path
        self.author = f"file:{path.name}"
        self._config = config
        self._log = log
        self._mtime: float | None = None

    def read(self) -> str | None:
        """The text (None if there is no file), noting which change of it was read."""
        if not self.path.exists():
            return None
        self._mtime = self.path.stat().st_mtime
        return self.path.read_text(encoding="utf-8")

    async def check(self) -> None:
        if not self.path.exists() or self.path.stat().st_mtime == self._mtime:
            return
        text = self.read()
        if text is None or text == self._config.text:
            return
        try:
            await self._config.save(text, self.author, "file changed")
        except InputError as exc:
            self._log.error("%s refused, the version in force stays: %s", self.path, exc.detail)
