"""routing state: offers, assignments, SLA due times, router fence

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column("offered_to", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("offer_expires_at", TS, nullable=True))
        batch_op.add_column(sa.Column("assignee_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", TS, nullable=True))
        batch_op.add_column(
            sa.Column(
                "route",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("first_response_due", TS, nullable=True))
        batch_op.add_column(sa.Column("first_response_at", TS, nullable=True))
        batch_op.add_column(sa.Column("next_response_due", TS, nullable=True))
        batch_op.add_column(sa.Column("breached", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("breached_at", TS, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_conversations_status_assignee_id"), ["status", "assignee_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conversations_offered_to"), ["offered_to"], unique=False)
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missed_offers", sa.Integer(), server_default="0", nullable=False))
    fence = op.create_table(
        "router_fence",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_router_fence")),
    )
    op.bulk_insert(fence, [{"name": "router", "token": 0}])


def downgrade() -> None:
    op.drop_table("router_fence")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("missed_offers")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_offered_to"))
        batch_op.drop_index(batch_op.f("ix_conversations_status_assignee_id"))
        for column in (
            "breached_at",
            "breached",
            "next_response_due",
            "first_response_at",
            "first_response_due",
            "route",
            "assigned_at",
            "assignee_id",
            "offer_expires_at",
            "offered_to",
            "queue",
        ):
            batch_op.drop_column(column)
