"""product feedback: customers' messages marked with a product and a theme

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=False),
        sa.Column("theme", sa.String(length=100), nullable=False),
        sa.Column("marked_by", sa.String(length=200), nullable=False),
        sa.Column("message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_feedback_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_message_at"), "feedback", ["message_at"], unique=False)
    op.create_index(
        op.f("ix_feedback_product_message_at"), "feedback", ["product", "message_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_feedback_product_message_at"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_message_at"), table_name="feedback")
    op.drop_table("feedback")
