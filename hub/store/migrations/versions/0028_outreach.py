"""outbound contacts: the contact policy's versions and every contact the hub started

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_policy",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_contact_policy")),
    )
    op.create_table(
        "outbound_contacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overridden", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_contacts")),
    )
    op.create_index(
        op.f("ix_outbound_contacts_customer_id_at"), "outbound_contacts", ["customer_id", "at"], unique=False
    )
    op.create_index(
        op.f("ix_outbound_contacts_conversation_id"), "outbound_contacts", ["conversation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_contacts_conversation_id"), table_name="outbound_contacts")
    op.drop_index(op.f("ix_outbound_contacts_customer_id_at"), table_name="outbound_contacts")
    op.drop_table("outbound_contacts")
    op.drop_table("contact_policy")
