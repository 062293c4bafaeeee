"""automations: their versions and their runs; one progress table for the loops that
follow the events (health's moves there, its names prefixed ``health.``)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None
# a contract step: it removes what an older release still uses
CONTRACT = "health_state: the release before 0026 reads it; drop only after every process runs 0026 or later (README: Rolling upgrades)"

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _state_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("name", sa.String(length=100 if name == "progress" else 40), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f(f"pk_{name}")),
    )


def upgrade() -> None:
    _state_table("progress")
    op.execute(
        "INSERT INTO progress (name, event_id, at) SELECT 'health.' || name, event_id, at FROM health_state"
    )
    op.drop_table("health_state")
    op.create_table(
        "automations",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_automations")),
    )
    op.create_table(
        "automation_runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("automation", sa.String(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("actions", sa.Integer(), nullable=False),
        sa.Column("results", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_runs")),
        sa.UniqueConstraint(
            "automation", "chain", "subject_id", name=op.f("uq_automation_runs_automation_chain_subject_id")
        ),
    )
    op.create_index(
        op.f("ix_automation_runs_conversation_id_at"),
        "automation_runs",
        ["conversation_id", "at"],
        unique=False,
    )
    op.create_index(op.f("ix_automation_runs_customer_id"), "automation_runs", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_automation_runs_customer_id"), table_name="automation_runs")
    op.drop_index(op.f("ix_automation_runs_conversation_id_at"), table_name="automation_runs")
    op.drop_table("automation_runs")
    op.drop_table("automations")
    _state_table("health_state")
    op.execute(
        "INSERT INTO health_state (name, event_id, at) SELECT substr(name, 8), event_id, at FROM progress"
        " WHERE name LIKE 'health.%'"
    )
    op.drop_table("progress")
