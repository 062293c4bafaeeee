"""campaigns and their recipients

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=60), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("texts", JSON, nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_recipients_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_campaign_recipients_token_hash")),
    )
    op.create_index(
        op.f("ix_campaign_recipients_campaign_id_status_customer_id"),
        "campaign_recipients",
        ["campaign_id", "status", "customer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_campaign_recipients_message_id"), "campaign_recipients", ["message_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_campaign_recipients_message_id"), table_name="campaign_recipients")
    op.drop_index(
        op.f("ix_campaign_recipients_campaign_id_status_customer_id"), table_name="campaign_recipients"
    )
    op.drop_table("campaign_recipients")
    op.drop_table("campaigns")
