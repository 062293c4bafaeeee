"""The repository of versioned admin configuration: one append-only table per kind
(``routing_rules``, ``tier_rules``), each row a whole text with its author; the newest
version is the one in force. Loading, checking and watching are ``hub.versioned_config``'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.errors import ConfigError, Conflict
from hub.store.engine import Store
from hub.store.times import utc
from hub.transient import is_transient


@dataclass(frozen=True, slots=True)
class ConfigVersion:
    version: int
    author: str
    comment: str | None
    created_at: datetime


class ConfigVersions:
    def __init__(self, store: Store, table: sa.Table) -> None:
        self._store = store
        self._table = table

    @property
    def name(self) -> str:
        return self._table.name

    async def newer_than(self, version: int) -> tuple[int | None, list[tuple[int, str]]]:
        """The newest saved version (None: nothing saved yet) and, newest first, the versions
        after ``version`` with their texts. Raises ConfigError on a database left unmigrated."""
        t = self._table.c
        try:
            async with self._store.read() as conn:
                latest: int | None = await conn.scalar(sa.select(sa.func.max(t.version)))
                if latest is None or latest <= version:
                    return latest, []
                rows = await conn.execute(
                    sa.select(t.version, t.text).where(t.version > version).order_by(t.version.desc())
                )
                return latest, [(r.version, r.text) for r in rows]
        except DBAPIError as exc:
            if is_transient(exc):  # down or starting up: not a database left unmigrated
                raise
            raise ConfigError(
                f"the database has no {self.name} table; run `contacthub migrate` first ({exc.orig})"
            ) from exc

    async def append(
        self, text: str, author: str, comment: str | None, now: datetime, *, first: bool = False
    ) -> int:
        """Save ``text`` as the next version (``first``: as version 1) and return it;
        Conflict when another process took that version meanwhile (the primary key refuses it)."""
        t = self._table.c
        try:
            async with self._store.write() as conn:
                version = 1 if first else (await conn.scalar(sa.select(sa.func.max(t.version))) or 0) + 1
                await conn.execute(
                    sa.insert(self._table).values(
                        version=version, text=text, author=author, comment=comment, created_at=now
                    )
                )
        except IntegrityError as exc:
            what = self.name.replace("_", " ")
            raise Conflict(
                f"another {what} version was saved at the same moment; look at it and save again"
            ) from exc
        return version

    async def listing(self) -> list[ConfigVersion]:
        """Every version, newest first, without its text."""
        t = self._table.c
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(t.version, t.author, t.comment, t.created_at).order_by(t.version.desc())
            )
            return [ConfigVersion(r.version, r.author, r.comment, utc(r.created_at)) for r in rows]

    async def texts(self, versions: Iterable[int]) -> dict[int, str]:
        t = self._table.c
        async with self._store.read() as conn:
            rows = await conn.execute(sa.select(t.version, t.text).where(t.version.in_(list(versions))))
            return {r.version: r.text for r in rows}

    async def latest_text(self) -> str | None:
        t = self._table.c
        async with self._store.read() as conn:
            text: str | None = await conn.scalar(sa.select(t.text).order_by(t.version.desc()).limit(1))
            return text
