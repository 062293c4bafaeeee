"""widget: sites, visitors, the widget feed and visitors' uploads

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "widget_sites",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("allowed_origins", JSON, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_widget_sites")),
    )
    op.create_table(
        "widget_visitors",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_key", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("identified", sa.String(length=320), nullable=True),
        sa.Column("contact", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["site_key"], ["widget_sites.key"], name=op.f("fk_widget_visitors_site_key_widget_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_visitors")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_widget_visitors_token_hash")),
    )
    op.create_table(
        "widget_feed",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("origin", sa.String(length=160), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_widget_feed")),
        sa.UniqueConstraint("origin", name=op.f("uq_widget_feed_origin")),
    )
    op.create_index(op.f("ix_widget_feed_customer_id_seq"), "widget_feed", ["customer_id", "seq"])
    op.create_table(
        "widget_uploads",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("visitor_id", sa.String(length=36), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_uploads")),
    )


def downgrade() -> None:
    op.drop_table("widget_uploads")
    op.drop_index(op.f("ix_widget_feed_customer_id_seq"), table_name="widget_feed")
    op.drop_table("widget_feed")
    op.drop_table("widget_visitors")
    op.drop_table("widget_sites")
