"""Invitation links: only a SHA-256 of the token is stored, and a link is used once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import agent_invitations, agents
from hub.store.times import utc

i = agent_invitations.c


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenInvitation:
    """An unused link of an active agent (it may have expired)."""

    agent_id: str
    email: str
    expires_at: datetime


async def void_open(conn: AsyncConnection, agent_id: str, now: datetime) -> None:
    """The agent's unused links stop working."""
    await conn.execute(
        sa.update(agent_invitations).where(i.agent_id == agent_id, i.used_at.is_(None)).values(used_at=now)
    )


async def add(
    conn: AsyncConnection,
    token_hash: str,
    agent_id: str,
    created_by: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        sa.insert(agent_invitations).values(
            token_hash=token_hash,
            agent_id=agent_id,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def find_open(conn: AsyncConnection, token_hash: str) -> OpenInvitation | None:
    row = (
        await conn.execute(
            sa.select(i.agent_id, i.expires_at, agents.c.email)
            .join(agents, agents.c.id == i.agent_id)
            .where(i.token_hash == token_hash, i.used_at.is_(None), agents.c.active.is_(True))
        )
    ).one_or_none()
    if row is None:
        return None
    return OpenInvitation(agent_id=row.agent_id, email=row.email, expires_at=utc(row.expires_at))


async def mark_used(conn: AsyncConnection, token_hash: str, now: datetime) -> None:
    await conn.execute(sa.update(agent_invitations).where(i.token_hash == token_hash).values(used_at=now))
