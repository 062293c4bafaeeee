"""Migration 0015 removes the identities the widget made of merely typed addresses
(before 0015 a typed, unheld email or phone became one), and keeps every other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hub.settings import Settings
from hub.store.engine import MIGRATIONS, Store
from hub.store.tables import customers, events, identities, widget_sites, widget_visitors


async def upgrade_to(store: Store, revision: str) -> None:
    if store.dialect == "postgresql" and store.schema:
        async with store.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{store.schema}"'))

    def run(sync: sa.Connection) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = sync
        command.upgrade(cfg, revision)

    async with store.write() as conn:
        await conn.run_sync(run)


@pytest.mark.unmigrated
async def test_0015_removes_the_identities_only_a_typed_claim_made(settings: Settings) -> None:
    store = Store(settings.database)
    now = datetime.now(UTC)
    try:
        await upgrade_to(store, "0014")
        async with store.write() as conn:
            await conn.execute(
                sa.insert(widget_sites).values(
                    key="shop",
                    name="Shop",
                    secret="s" * 32,
                    allowed_origins=[],
                    settings={},
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            typist, signed, other = (str(uuid.uuid4()) for _ in range(3))
            for customer in (typist, signed, other):
                values = dict(id=customer, tier="standard", attributes={}, created_at=now, updated_at=now)
                await conn.execute(sa.insert(customers).values(**values))
            await conn.execute(
                sa.insert(widget_visitors).values(
                    id=str(uuid.uuid4()),
                    site_key="shop",
                    token_hash="0" * 64,
                    identified="verified@kunde.example",
                    contact={},
                    created_at=now,
                    last_seen_at=now,
                )
            )
            rows = [  # (customer, kind, value, who added it)
                (typist, "email", "greta@kunde.example", "widget"),  # typed: goes
                (typist, "phone", "+49401234567", "widget"),  # typed: goes
                (typist, "chat_visitor", str(uuid.uuid4()), "widget"),  # the visitor itself
                (signed, "email", "verified@kunde.example", "widget"),  # a verified sign-in
                (other, "email", "ida@kunde.example", "agent:1"),  # an agent's confirmation
            ]
            ids = {}
            for customer, kind, value, actor in rows:
                ident = (
                    await conn.execute(
                        sa.insert(identities)
                        .values(customer_id=customer, kind=kind, value=value, created_at=now)
                        .returning(identities.c.id)
                    )
                ).scalar_one()
                ids[value] = ident
                await conn.execute(
                    sa.insert(events).values(
                        at=now,
                        actor=actor,
                        action="identity.added",
                        subject_type="identity",
                        subject_id=str(ident),
                        customer_id=customer,
                        data={"kind": kind},
                    )
                )

        await store.migrate()

        async with store.read() as conn:
            left = set((await conn.execute(sa.select(identities.c.value))).scalars())
            removed = (
                await conn.execute(
                    sa.select(events.c.subject_id, events.c.customer_id, events.c.data).where(
                        events.c.action == "identity.removed"
                    )
                )
            ).all()
    finally:
        await store.close()
    assert "greta@kunde.example" not in left and "+49401234567" not in left
    assert {"verified@kunde.example", "ida@kunde.example"} <= left and len(left) == 3
    assert sorted((r.subject_id, r.customer_id, r.data["kind"]) for r in removed) == sorted(
        [
            (str(ids["greta@kunde.example"]), typist, "email"),
            (str(ids["+49401234567"]), typist, "phone"),
        ]
    )
