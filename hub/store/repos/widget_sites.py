"""The websites that embed the chat widget, and the files their visitors upload.

A site is never deleted, only disabled, so its visitors' history stays readable. The
secret is in the record: the handler decides when to show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.store.tables import widget_sites, widget_uploads
from hub.store.times import utc

t = widget_sites.c
WRITABLE = frozenset({"name", "allowed_origins", "settings", "active"})


@dataclass(frozen=True, slots=True, kw_only=True)
class WidgetSite:
    key: str
    name: str
    secret: str
    allowed_origins: tuple[str, ...]
    settings: Mapping[str, Any]  # hub.widget.sites.SiteSettings as JSON
    active: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WidgetUpload:
    """A file a visitor uploaded, already in the blob store, before it is sent."""

    id: str
    visitor_id: str
    sha256: str
    filename: str
    content_type: str
    size: int
    created_at: datetime


def _site(row: Any) -> WidgetSite:
    return WidgetSite(
        key=row.key,
        name=row.name,
        secret=row.secret,
        allowed_origins=tuple(row.allowed_origins),
        settings=row.settings,
        active=row.active,
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )


async def list_sites(conn: AsyncConnection) -> list[WidgetSite]:
    """Every site, by name."""
    return [_site(r) for r in await conn.execute(sa.select(widget_sites).order_by(t.name))]


async def get(conn: AsyncConnection, key: str, *, active_only: bool = False) -> WidgetSite | None:
    """The site with this key (only if active, with ``active_only``: what visitors may use)."""
    query = sa.select(widget_sites).where(t.key == key)
    if active_only:
        query = query.where(t.active.is_(True))
    row = (await conn.execute(query)).one_or_none()
    return None if row is None else _site(row)


async def key_taken(conn: AsyncConnection, key: str) -> bool:
    return await conn.scalar(sa.select(t.key).where(t.key == key)) is not None


async def create(
    conn: AsyncConnection,
    key: str,
    *,
    name: str,
    secret: str,
    allowed_origins: list[str],
    settings: Mapping[str, Any],
    active: bool,
    now: datetime,
) -> None:
    await conn.execute(
        sa.insert(widget_sites).values(
            key=key,
            name=name,
            secret=secret,
            allowed_origins=allowed_origins,
            settings=dict(settings),
            active=active,
            created_at=now,
            updated_at=now,
        )
    )


async def update(conn: AsyncConnection, key: str, values: Mapping[str, Any], now: datetime) -> None:
    """Set ``WRITABLE`` fields (as JSON values)."""
    unknown = set(values) - WRITABLE
    if unknown:
        raise ValueError(f"not a widget site field: {sorted(unknown)}")
    await conn.execute(sa.update(widget_sites).where(t.key == key).values(**values, updated_at=now))


async def set_secret(conn: AsyncConnection, key: str, secret: str, now: datetime) -> None:
    await conn.execute(sa.update(widget_sites).where(t.key == key).values(secret=secret, updated_at=now))


async def add_upload(conn: AsyncConnection, upload: WidgetUpload) -> None:
    await conn.execute(
        sa.insert(widget_uploads).values(
            id=upload.id,
            visitor_id=upload.visitor_id,
            sha256=upload.sha256,
            filename=upload.filename,
            content_type=upload.content_type,
            size=upload.size,
            created_at=upload.created_at,
        )
    )
