"""customer health: each customer's score, level and explanation, the health rules'
versions, and the health step's progress (hub/customers/health.py)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_health",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("lines", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("base_score", sa.Integer(), nullable=False),
        sa.Column("base_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_health_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_health")),
    )
    op.create_index(
        op.f("ix_customer_health_level_score"), "customer_health", ["level", "score"], unique=False
    )
    op.create_table(
        "health_rules",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_health_rules")),
    )
    op.create_table(
        "health_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_health_state")),
    )


def downgrade() -> None:
    op.drop_table("health_state")
    op.drop_table("health_rules")
    op.drop_index(op.f("ix_customer_health_level_score"), table_name="customer_health")
    op.drop_table("customer_health")
