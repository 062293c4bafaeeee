"""search terms by customer and term

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_terms_customer_id"))
        batch_op.create_index(
            batch_op.f("ix_search_terms_customer_id_term"), ["customer_id", "term"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("search_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_terms_customer_id_term"))
        batch_op.create_index(batch_op.f("ix_search_terms_customer_id"), ["customer_id"], unique=False)
