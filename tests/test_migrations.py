"""Alembic migrations produce exactly the schema the code queries, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.settings import Settings
from hub.store.engine import Store, alembic_step
from hub.store.search_index import BACKEND_OBJECTS, PG_ONLY
from hub.store.tables import contracts, customers, metadata


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


@pytest.mark.unmigrated
async def test_contract_names_become_records_and_come_back(settings: Settings) -> None:
    """0022: the names a customer's attributes held become active contracts (each once)
    and leave the attributes; a downgrade puts them back."""
    store = Store(settings.database)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    row = {"tier": "standard", "created_at": now, "updated_at": now}
    try:
        await store.migrate("0021")
        async with store.write() as conn:
            await conn.execute(
                sa.insert(customers),
                [
                    {
                        **row,
                        "id": "a",
                        "attributes": {"contracts": ["Strom", " Gas ", "Strom"], "custom": {"x": 1}},
                    },
                    {**row, "id": "b", "attributes": {"payment_terms": "14 Tage"}},
                ],
            )
        await store.migrate()
        async with store.read() as conn:
            held = (
                await conn.execute(sa.select(contracts.c.customer_id, contracts.c.name, contracts.c.status))
            ).all()
            attributes = dict((await conn.execute(sa.select(customers.c.id, customers.c.attributes))).all())
        assert sorted(map(tuple, held)) == [("a", "Gas", "active"), ("a", "Strom", "active")]
        assert attributes == {"a": {"custom": {"x": 1}}, "b": {"payment_terms": "14 Tage"}}
        async with store.write() as conn:
            await conn.run_sync(alembic_step, command.downgrade, "0021")
            restored = dict((await conn.execute(sa.select(customers.c.id, customers.c.attributes))).all())
        assert sorted(restored["a"].pop("contracts")) == ["Gas", "Strom"]
        assert restored == attributes
    finally:
        await store.close()
