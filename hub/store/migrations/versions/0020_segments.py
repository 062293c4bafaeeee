"""segments: saved customer filters by name, private or shared with one team
(hub/store/repos/segments.py)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-09
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("filters", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agents.id"], name=op.f("fk_segments_owner_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
    )
    op.create_index(op.f("ix_segments_owner_id"), "segments", ["owner_id"], unique=False)
    op.create_index(op.f("ix_segments_team"), "segments", ["team"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_segments_team"), table_name="segments")
    op.drop_index(op.f("ix_segments_owner_id"), table_name="segments")
    op.drop_table("segments")
