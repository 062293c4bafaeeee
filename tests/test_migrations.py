"""Alembic migrations produce exactly the schema the code queries, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.search_index import BACKEND_OBJECTS, PG_ONLY
from hub.store.tables import metadata


@pytest.mark.unmigrated
async def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = Store(settings.database)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.read() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(
                        sync,
                        opts={
                            "include_name": _not_backend_own,
                            "include_object": lambda _, name, *__: (
                                sync.dialect.name == "postgresql" or name not in PG_ONLY
                            ),
                        },
                    ),
                    metadata,
                )
            )
    finally:
        await store.close()
    assert diff == []


def _not_backend_own(name: str | None, kind: str, parent: object) -> bool:
    """What only one backend's search index has (SQLite's FTS5 table and its shadow
    tables and ``keys`` column, PostgreSQL's tsvector column and GIN index) is compared
    by tests/test_search.py, not against the shared tables; PG_ONLY's B-trees are not
    on SQLite (migration 0021)."""
    return not (name and any(name == o or name.startswith(f"{o}_") for o in BACKEND_OBJECTS))
