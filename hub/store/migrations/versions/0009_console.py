"""console: snoozed conversations, SLA warnings and canned responses

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("snoozed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sla_warned_due", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("shortcut", sa.String(length=60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint("shortcut", "team", name=op.f("uq_canned_responses_shortcut_team")),
    )


def downgrade() -> None:
    op.drop_table("canned_responses")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("sla_warned_due")
        batch_op.drop_column("snoozed_at")
        batch_op.drop_column("snoozed_until")
