"""contact approvals: a key account manager's consent to others contacting their account

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_approvals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("granted_by", sa.String(length=36), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_approvals")),
    )
    op.create_index(
        op.f("ix_contact_approvals_customer_id_until"),
        "contact_approvals",
        ["customer_id", "until"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_approvals_customer_id_until"), table_name="contact_approvals")
    op.drop_table("contact_approvals")
