"""Set-at-a-time helpers whose SQL text does not depend on how many rows there are.

On PostgreSQL, lists travel as array parameters (``= ANY(:ids)``, ``unnest``), so every
batch reuses one prepared statement instead of parsing a new statement with thousands
of placeholders. SQLite has no arrays; there the same calls fall back to expanding IN
lists and multi-row VALUES, which SQLite parses cheaply in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def _array_type(column: sa.Column[Any]) -> postgresql.ARRAY[Any]:
    return postgresql.ARRAY(column.type)


def is_pg(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def any_of(conn: AsyncConnection, column: sa.Column[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column IN values``."""
    if is_pg(conn):
        return column == sa.any_(sa.bindparam(None, list(values), type_=_array_type(column)))
    return column.in_(list(values))


def json_items(conn: AsyncConnection, column: Any, key: str) -> Any:
    """The text elements of the JSON array ``column[key]``, as a table (``value``)."""
    if is_pg(conn):
        return sa.func.jsonb_array_elements_text(column.op("->")(key)).table_valued("value")
    return sa.func.json_each(column, f"$.{key}").table_valued("value")


def holds_any(conn: AsyncConnection, column: Any, key: str, values: Sequence[str]) -> sa.ColumnElement[bool]:
    """Whether the JSON array ``column[key]`` holds one of ``values`` (e.g. a tag)."""
    items = json_items(conn, column, key)
    return sa.exists(sa.select(sa.literal(1)).select_from(items).where(items.c.value.in_(list(values))))


def pairs_in(
    conn: AsyncConnection, a: sa.Column[Any], b: sa.Column[Any], pairs: Sequence[tuple[Any, Any]]
) -> sa.ColumnElement[bool]:
    """``(a, b) IN pairs``."""
    if is_pg(conn):
        firsts = sa.bindparam(None, [p[0] for p in pairs], type_=_array_type(a))
        seconds = sa.bindparam(None, [p[1] for p in pairs], type_=_array_type(b))
        return sa.tuple_(a, b).in_(sa.select(sa.func.unnest(firsts), sa.func.unnest(seconds)))
    return sa.tuple_(a, b).in_(list(pairs))


async def insert_rows(
    conn: AsyncConnection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] | None = None,
    on_conflict: Callable[[Any], Any] | None = None,
    returning: Sequence[sa.Column[Any]] = (),
) -> list[sa.Row[Any]]:
    """Insert many rows in one statement; optionally skip rows that hit a unique key, or
    settle them by ``on_conflict`` (given the dialect's insert statement, it returns the
    statement with its ``on_conflict_do_update``), and return columns of the rows
    actually inserted."""
    if not rows:
        return []
    columns = list(rows[0])
    if is_pg(conn):
        arrays = [
            sa.func.unnest(sa.bindparam(None, [r[c] for r in rows], type_=_array_type(table.c[c])))
            for c in columns
        ]
        stmt: Any = postgresql.insert(table).from_select(columns, sa.select(*arrays))
        if skip_conflicts_on is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
        if on_conflict is not None:
            stmt = on_conflict(stmt)
        if returning:
            stmt = stmt.returning(*returning)
            return list(await conn.execute(stmt))
        await conn.execute(stmt)
        return []
    stmt = sqlite.insert(table)
    if skip_conflicts_on is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    if on_conflict is not None:
        stmt = on_conflict(stmt)
    if returning:
        return list(await conn.execute(stmt.returning(*returning), rows))
    await conn.execute(stmt, rows)
    return []
