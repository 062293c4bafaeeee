"""Saved views (saved searches): the repository. A view is its owner's, or shared with
one team; an agent sees their own and their teams' views."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import agents, saved_views

v = saved_views.c
MAX_VIEWS = 200  # per agent: what one sidebar can show


@dataclass(frozen=True, slots=True)
class SavedView:
    id: str
    name: str
    owner_id: str
    team: str | None
    q: str
    filters: Mapping[str, Sequence[str]]
    created_at: datetime


def _record(row: sa.Row[tuple[object, ...]]) -> SavedView:
    m = row._mapping
    return SavedView(
        id=str(m["id"]),
        name=str(m["name"]),
        owner_id=str(m["owner_id"]),
        team=m["team"] if isinstance(m["team"], str) else None,
        q=str(m["q"]),
        filters=dict(m["filters"]) if isinstance(m["filters"], dict) else {},
        created_at=m["created_at"],
    )


async def visible_to(conn: AsyncConnection, agent_id: str, teams: Iterable[str]) -> list[SavedView]:
    """The agent's own views and those shared with their teams, by name."""
    mine = sorted(set(teams))
    where = v.owner_id == agent_id
    if mine:
        where = sa.or_(where, v.team.in_(mine))
    rows = await conn.execute(sa.select(saved_views).where(where).order_by(v.name, v.id).limit(MAX_VIEWS))
    return [_record(r) for r in rows]


async def count_owned(conn: AsyncConnection, agent_id: str) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).where(v.owner_id == agent_id)) or 0)


async def create(
    conn: AsyncConnection,
    *,
    name: str,
    owner_id: str,
    team: str | None,
    q: str,
    filters: Mapping[str, Sequence[str]],
    now: datetime,
) -> SavedView:
    view = SavedView(
        str(uuid.uuid4()), name, owner_id, team, q, {k: list(x) for k, x in filters.items()}, now
    )
    await conn.execute(
        sa.insert(saved_views).values(
            id=view.id,
            name=name,
            owner_id=owner_id,
            team=team,
            q=q,
            filters=dict(view.filters),
            created_at=now,
        )
    )
    return view


async def get(conn: AsyncConnection, view_id: str) -> SavedView | None:
    row = (await conn.execute(sa.select(saved_views).where(v.id == view_id))).one_or_none()
    return _record(row) if row is not None else None


async def update(
    conn: AsyncConnection,
    view: SavedView,
    *,
    name: str,
    q: str,
    filters: Mapping[str, Sequence[str]],
    team: str | None,
) -> SavedView:
    """Write the view's name, words, filters and team; the view as it is now."""
    kept = {k: list(x) for k, x in filters.items()}
    await conn.execute(
        sa.update(saved_views).where(v.id == view.id).values(name=name, q=q, filters=kept, team=team)
    )
    return replace(view, name=name, q=q, filters=kept, team=team)


async def get_for(conn: AsyncConnection, view_id: str, agent_id: str) -> SavedView | None:
    """The view if the agent may see it (their own, or shared with a team of theirs)."""
    view = await get(conn, view_id)
    if view is None or view.owner_id == agent_id or view.team in await teams_of(conn, agent_id):
        return view
    return None


async def delete(conn: AsyncConnection, view_id: str) -> None:
    await conn.execute(sa.delete(saved_views).where(v.id == view_id))


async def teams_of(conn: AsyncConnection, agent_id: str) -> list[str]:
    teams = await conn.scalar(sa.select(agents.c.teams).where(agents.c.id == agent_id))
    return [t for t in teams or () if isinstance(t, str)]
