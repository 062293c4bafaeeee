"""revenue per customer, month and currency (hub/customers/revenue.py)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revenue_periods",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("external_ref", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_revenue_periods_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_periods")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_revenue_periods_external_ref")),
    )
    op.create_index(
        op.f("ix_revenue_periods_customer_id_month"),
        "revenue_periods",
        ["customer_id", "month"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revenue_periods_customer_id_month"), table_name="revenue_periods")
    op.drop_table("revenue_periods")
