"""Agents: their record, presence, two-factor state and password, and their sessions.

``Agent`` (hub.model) never carries the password hash or the TOTP secret; the secret is
read only by ``totp_state`` for the code check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.model import Agent, Presence, Role
from hub.store.tables import agents, sessions
from hub.store.times import utc

a = agents.c
# what an admin may set through ``create`` and ``update`` (the API's field names)
WRITABLE = frozenset(
    {
        *("name", "role", "password_hash", "languages", "departments", "tags", "teams"),
        *("capacity", "active", "phone", "totp_required"),
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TotpState:
    secret: str | None
    enabled: bool


def agent_of(row: Any) -> Agent:
    return Agent(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        presence=Presence(row.presence),
        languages=tuple(row.languages or ()),
        departments=tuple(row.departments or ()),
        tags=tuple(row.tags or ()),
        teams=tuple(row.teams or ()),
        capacity=row.capacity or {},
        active=row.active,
        phone=row.phone,
        totp_enabled=row.totp_enabled,
        totp_required=row.totp_required,
        created_at=utc(row.created_at),
    )


def _writable(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - WRITABLE
    if unknown:
        raise ValueError(f"not an agent field one may set: {sorted(unknown)}")
    return dict(values)


async def all_agents(conn: AsyncConnection, *, active_only: bool = False) -> list[Agent]:
    """Every agent (or every active one), by name."""
    query = sa.select(agents).order_by(a.name)
    if active_only:
        query = query.where(a.active.is_(True))
    return [agent_of(r) for r in await conn.execute(query)]


async def get(conn: AsyncConnection, agent_id: str) -> Agent | None:
    row = (await conn.execute(sa.select(agents).where(a.id == agent_id))).one_or_none()
    return None if row is None else agent_of(row)


async def exists(conn: AsyncConnection, agent_id: str) -> bool:
    return await conn.scalar(sa.select(a.id).where(a.id == agent_id)) is not None


async def id_by_email(conn: AsyncConnection, email: str) -> str | None:
    """``email`` as stored: lower-cased."""
    found = await conn.scalar(sa.select(a.id).where(a.email == email))
    return str(found) if found is not None else None


async def email_taken(conn: AsyncConnection, email: str) -> bool:
    return await id_by_email(conn, email) is not None


async def create(
    conn: AsyncConnection, agent_id: str, email: str, values: Mapping[str, Any], now: datetime
) -> None:
    """A new active agent, offline; ``values`` (``WRITABLE`` fields) over empty skills."""
    await conn.execute(
        sa.insert(agents).values(
            **{
                "languages": [],
                "departments": [],
                "tags": [],
                "teams": [],
                "role": Role.AGENT,
                **_writable(values),
                "id": agent_id,
                "email": email,
                "presence": Presence.OFFLINE,
                "active": True,
                "created_at": now,
            }
        )
    )


async def role_of(conn: AsyncConnection, agent_id: str) -> Role | None:
    role = await conn.scalar(sa.select(a.role).where(a.id == agent_id))
    return None if role is None else Role(role)


async def update(conn: AsyncConnection, agent_id: str, values: Mapping[str, Any]) -> bool:
    """Set ``WRITABLE`` fields; False for an unknown agent."""
    result = await conn.execute(sa.update(agents).where(a.id == agent_id).values(**_writable(values)))
    return bool(result.rowcount)


async def set_presence(conn: AsyncConnection, agent_id: str, presence: Presence, now: datetime) -> None:
    """Available restarts the idle clock and forgives lapsed offers."""
    values: dict[str, Any] = {"presence": presence}
    if presence is Presence.AVAILABLE:
        values |= {"idle_since": now, "missed_offers": 0}
    await conn.execute(sa.update(agents).where(a.id == agent_id).values(**values))


async def phone_of(conn: AsyncConnection, agent_id: str) -> str | None:
    phone: str | None = await conn.scalar(sa.select(a.phone).where(a.id == agent_id))
    return phone


async def end_sessions(conn: AsyncConnection, agent_id: str) -> None:
    await conn.execute(sa.delete(sessions).where(sessions.c.agent_id == agent_id))


# --- two-factor ------------------------------------------------------------------


async def totp_state(conn: AsyncConnection, agent_id: str) -> TotpState | None:
    row = (await conn.execute(sa.select(a.totp_secret, a.totp_enabled).where(a.id == agent_id))).one_or_none()
    return None if row is None else TotpState(secret=row.totp_secret, enabled=row.totp_enabled)


async def enrol_totp(conn: AsyncConnection, agent_id: str, secret: str) -> bool:
    """Store a new, not yet confirmed secret; False if two-factor is on already."""
    result = await conn.execute(
        sa.update(agents).where(a.id == agent_id, a.totp_enabled.is_(False)).values(totp_secret=secret)
    )
    return bool(result.rowcount)


async def enable_totp(conn: AsyncConnection, agent_id: str) -> None:
    await conn.execute(sa.update(agents).where(a.id == agent_id).values(totp_enabled=True))


async def clear_totp(conn: AsyncConnection, agent_id: str) -> bool:
    """Two-factor off and the secret forgotten; False for an unknown agent."""
    result = await conn.execute(
        sa.update(agents).where(a.id == agent_id).values(totp_secret=None, totp_enabled=False)
    )
    return bool(result.rowcount)
