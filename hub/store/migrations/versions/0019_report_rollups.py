"""reports: report_rollups (per UTC hour, measure and dimensions, with a duration
histogram), report_state (how far the rollups are complete), and an index on
messages.stored_at (message volume per hour without a scan)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_rollups",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=60), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("key_account", sa.Boolean(), nullable=False),
        sa.Column("bin", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "measure",
            "hour",
            "channel",
            "tier",
            "queue",
            "department",
            "agent_id",
            "key_account",
            "bin",
            name=op.f("pk_report_rollups"),
        ),
    )
    op.create_index(op.f("ix_report_rollups_hour"), "report_rollups", ["hour"], unique=False)
    op.create_table(
        "report_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("done_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_state")),
    )
    op.create_index(op.f("ix_messages_stored_at"), "messages", ["stored_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_stored_at"), table_name="messages")
    op.drop_table("report_state")
    op.drop_index(op.f("ix_report_rollups_hour"), table_name="report_rollups")
    op.drop_table("report_rollups")
