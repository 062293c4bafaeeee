"""Canned responses: shared ones (no team) and per team; a shortcut is unique per team."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import canned_responses
from hub.store.times import utc

t = canned_responses.c
WRITABLE = frozenset({"title", "shortcut", "body", "team"})


@dataclass(frozen=True, slots=True, kw_only=True)
class CannedResponse:
    id: str
    title: str
    shortcut: str
    body: str
    team: str | None  # None: shared by everyone
    updated_at: datetime


def _canned(row: Any) -> CannedResponse:
    return CannedResponse(
        id=row.id,
        title=row.title,
        shortcut=row.shortcut,
        body=row.body,
        team=row.team,
        updated_at=utc(row.updated_at),
    )


async def list_canned(conn: AsyncConnection, teams: Collection[str] | None = None) -> list[CannedResponse]:
    """By shortcut; with ``teams``, only the shared ones and those of these teams."""
    query = sa.select(canned_responses).order_by(t.shortcut, t.team)
    if teams is not None:
        query = query.where(sa.or_(t.team.is_(None), t.team.in_(list(teams))))
    return [_canned(r) for r in await conn.execute(query)]


async def get(conn: AsyncConnection, canned_id: str) -> CannedResponse | None:
    row = (await conn.execute(sa.select(canned_responses).where(t.id == canned_id))).one_or_none()
    return None if row is None else _canned(row)


async def shortcut_taken(
    conn: AsyncConnection, shortcut: str, team: str | None, other_than: str | None = None
) -> bool:
    """Whether another response of the same team (or shared) has this shortcut."""
    query = sa.select(t.id).where(
        t.shortcut == shortcut, t.team.is_(None) if team is None else t.team == team
    )
    if other_than is not None:
        query = query.where(t.id != other_than)
    return await conn.scalar(query) is not None


async def create(
    conn: AsyncConnection,
    canned_id: str,
    *,
    title: str,
    shortcut: str,
    body: str,
    team: str | None,
    created_by: str,
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(canned_responses).values(
            id=canned_id,
            title=title,
            shortcut=shortcut,
            body=body,
            team=team,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
    )


async def update(conn: AsyncConnection, canned_id: str, values: Mapping[str, Any], now: datetime) -> None:
    unknown = set(values) - WRITABLE
    if unknown:
        raise ValueError(f"not a canned response field: {sorted(unknown)}")
    await conn.execute(sa.update(canned_responses).where(t.id == canned_id).values(**values, updated_at=now))


async def delete(conn: AsyncConnection, canned_id: str) -> bool:
    """False if there was none."""
    result = await conn.execute(sa.delete(canned_responses).where(t.id == canned_id))
    return bool(result.rowcount)
