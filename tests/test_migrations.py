"""Alembic migrations produce exactly the schema the code queries, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.settings import Settings
from hub.store.engine import Store
from hub.store.tables import metadata


@pytest.mark.unmigrated
async def test_migrated_schema_matches_the_tables(settings: Settings) -> None:
    store = Store(settings.database)
    try:
        await store.migrate()
        await store.migrate()  # idempotent
        async with store.read() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await store.close()
    assert diff == []
