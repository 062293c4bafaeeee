"""Moving an embedded installation to PostgreSQL (the rows; the queue goes to Redis, see
``hub.queue.move``).

Every table of the schema is copied in primary-key order, a chunk per transaction, into
a PostgreSQL database migrated to the same schema; the search index is built afresh there
(its SQLite form, FTS5, has no PostgreSQL counterpart to copy), and the embedded queue's
tables stay behind (their entries go to Redis). Then each table is compared: its rows
counted and summed as SHA-256 digests of their canonical form on both sides (a sum, so
the two databases' different sort orders of text do not matter).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from hub.errors import InputError
from hub.store.engine import Store
from hub.store.tables import metadata, router_fence

CHUNK = 2000
NOT_COPIED = frozenset({"search_docs", "queue_entries", "dead_letters"})  # rebuilt; moved to Redis
MOD = 1 << 256


async def serving(store: Store, now: datetime) -> str | None:
    """Who holds the router lease of the embedded hub now (None: nobody, it is stopped)."""
    async with store.read() as conn:
        row = (
            await conn.execute(
                sa.select(router_fence.c.holder, router_fence.c.expires_at).where(
                    router_fence.c.expires_at.is_not(None)
                )
            )
        ).first()
    if row is None or row.expires_at is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    return f"{row.holder} until {expires:%H:%M:%S} UTC" if expires > now else None


def tables() -> list[sa.Table]:
    """The tables copied, parents before children."""
    return [t for t in metadata.sorted_tables if t.name not in NOT_COPIED]


async def _chunks(store: Store, table: sa.Table) -> Any:
    """The table's rows in primary-key order, a chunk at a time (keyset paging)."""
    key = list(table.primary_key.columns)
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table).order_by(*key).limit(CHUNK)
        if last is not None:
            query = query.where(sa.tuple_(*key) > sa.tuple_(*last))
        async with store.read() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(query)]
        if not rows:
            return
        yield rows
        last = tuple(rows[-1][c.name] for c in key)


async def copy_rows(source: Store, target: Store, progress: Callable[[str, int], None]) -> dict[str, int]:
    """Every table's rows from ``source`` into the empty, migrated ``target`` (whose rows
    the migrations seeded, such as the router's fence, give way to the source's)."""
    async with target.write() as conn:
        for table in reversed(tables()):
            await conn.execute(sa.delete(table))
    copied: dict[str, int] = {}
    for table in tables():
        count = 0
        async for rows in _chunks(source, table):
            async with target.write() as conn:
                await conn.execute(sa.insert(table), [_aware(row) for row in rows])
            count += len(rows)
            progress(table.name, count)
        copied[table.name] = count
    async with target.write() as conn:  # the sequences continue after the copied ids
        for table in tables():
            key = list(table.primary_key.columns)
            if len(key) == 1 and isinstance(key[0].type, sa.Integer):
                name = key[0].name
                await conn.execute(
                    sa.text(
                        f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(max("{name}"), 1),'
                        f' max("{name}") IS NOT NULL) FROM "{table.name}"'
                        " WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"
                    ),
                    {"t": table.name, "c": name},
                )
    return copied


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives a stored time back without its offset (UTC); PostgreSQL wants it said."""
    return {
        k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
        for k, v in row.items()
    }


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps UTC without its offset
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


async def fingerprint(store: Store, table: sa.Table) -> tuple[int, str]:
    """The table's row count and the sum of its rows' digests (independent of order)."""
    count = total = 0
    async for rows in _chunks(store, table):
        for row in rows:
            text = json.dumps(_canonical(row), sort_keys=True, ensure_ascii=False)
            total = (total + int.from_bytes(hashlib.sha256(text.encode()).digest())) % MOD
        count += len(rows)
    return count, f"{total:064x}"


async def compare(source: Store, target: Store) -> dict[str, int]:
    """Each copied table's rows on both sides; InputError naming any that differ."""
    counts: dict[str, int] = {}
    for table in tables():
        here, there = await fingerprint(source, table), await fingerprint(target, table)
        if here != there:
            raise InputError(
                f"table {table.name} differs after the copy: {here[0]} rows here, {there[0]} there"
                " (or their contents differ); the target is left as it is for a look"
            )
        counts[table.name] = here[0]
    return counts
