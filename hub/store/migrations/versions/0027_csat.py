"""satisfaction surveys: their settings' versions and the surveys with their answers

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csat_settings",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_csat_settings")),
    )
    op.create_table(
        "csat_surveys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("queue", sa.String(length=60), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_csat_surveys_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csat_surveys")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_csat_surveys_token_hash")),
    )
    op.create_index(
        op.f("ix_csat_surveys_conversation_id"), "csat_surveys", ["conversation_id"], unique=False
    )
    op.create_index(
        op.f("ix_csat_surveys_customer_id_sent_at"), "csat_surveys", ["customer_id", "sent_at"], unique=False
    )
    op.create_index(op.f("ix_csat_surveys_sent_at"), "csat_surveys", ["sent_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_csat_surveys_sent_at"), table_name="csat_surveys")
    op.drop_index(op.f("ix_csat_surveys_customer_id_sent_at"), table_name="csat_surveys")
    op.drop_index(op.f("ix_csat_surveys_conversation_id"), table_name="csat_surveys")
    op.drop_table("csat_surveys")
    op.drop_table("csat_settings")
