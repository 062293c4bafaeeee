"""call_holds: a live call put through to an agent holds their voice capacity

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_holds",
        sa.Column("call_id", sa.String(length=100), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_call_holds_agent_id_agents")),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_holds")),
    )
    with op.batch_alter_table("call_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_call_holds_agent_id"), ["agent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("call_holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_call_holds_agent_id"))
    op.drop_table("call_holds")
