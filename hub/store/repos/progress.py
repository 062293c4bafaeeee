"""How far each loop that follows the events has come, by name (the ``progress`` table):
the last event id it read and when, or only when it last ran."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import progress
from hub.store.times import utc

p = progress.c


async def get(conn: AsyncConnection, name: str) -> tuple[int, datetime] | None:
    row = (await conn.execute(sa.select(progress).where(p.name == name))).one_or_none()
    return None if row is None else (int(row.event_id), utc(row.at))


async def put(conn: AsyncConnection, name: str, event_id: int, at: datetime) -> None:
    updated = await conn.execute(sa.update(progress).where(p.name == name).values(event_id=event_id, at=at))
    if not updated.rowcount:
        await conn.execute(sa.insert(progress).values(name=name, event_id=event_id, at=at))


async def clear(conn: AsyncConnection, name: str) -> None:
    await conn.execute(sa.delete(progress).where(p.name == name))
