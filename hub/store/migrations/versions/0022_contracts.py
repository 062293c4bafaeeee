"""contracts as records (hub/customers/contracts.py), from the names the customers'
attributes held; API tokens carry several scopes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_customers = sa.table("customers", sa.column("id", sa.String), sa.column("attributes", JSON))
_contracts = sa.table(
    "contracts",
    sa.column("id", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("name", sa.Text),
    sa.column("status", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _with_names() -> sa.ColumnElement[bool]:
    """Customers whose attributes hold contract names (the form before this revision)."""
    if op.get_bind().dialect.name == "postgresql":
        return _customers.c.attributes.op("?")("contracts")
    return sa.func.json_extract(_customers.c.attributes, "$.contracts").is_not(None)


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("notice_days", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("billing_interval", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_contracts_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_contracts_external_ref")),
    )
    op.create_index(op.f("ix_contracts_customer_id"), "contracts", ["customer_id"], unique=False)
    op.create_index(op.f("ix_contracts_ends_on"), "contracts", ["ends_on"], unique=False)
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scope", type_=sa.String(length=200), existing_nullable=False)

    conn = op.get_bind()
    now = datetime.now(UTC)
    for row in conn.execute(sa.select(_customers.c.id, _customers.c.attributes).where(_with_names())).all():
        attributes = dict(row.attributes or {})
        names = attributes.pop("contracts", None) or []
        names = names if isinstance(names, list) else [names]
        for name in dict.fromkeys(str(n).strip() for n in names if str(n).strip()):
            conn.execute(
                sa.insert(_contracts).values(
                    id=str(uuid.uuid4()),
                    customer_id=row.id,
                    name=name,
                    status="active",
                    created_at=now,
                    updated_at=now,
                )
            )
        conn.execute(sa.update(_customers).where(_customers.c.id == row.id).values(attributes=attributes))


def downgrade() -> None:
    conn = op.get_bind()
    names: dict[str, list[str]] = {}
    for row in conn.execute(
        sa.select(_contracts.c.customer_id, _contracts.c.name).order_by(_contracts.c.created_at)
    ):
        names.setdefault(row.customer_id, []).append(row.name)
    for customer_id, held in names.items():
        attributes = conn.execute(
            sa.select(_customers.c.attributes).where(_customers.c.id == customer_id)
        ).scalar_one()
        conn.execute(
            sa.update(_customers)
            .where(_customers.c.id == customer_id)
            .values(attributes={**(attributes or {}), "contracts": held})
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scope", type_=sa.String(length=40), existing_nullable=False)
    op.drop_index(op.f("ix_contracts_ends_on"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_customer_id"), table_name="contracts")
    op.drop_table("contracts")
