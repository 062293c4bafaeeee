"""login_attempts: the sign-in throttle counts each attempt with one atomic upsert
(it replaces login_failures, whose read-then-insert let parallel attempts through)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None
# a contract step: it removes what an older release still uses
CONTRACT = "login_failures: the release before 0016 reads it; drop only after every process runs 0016 or later (README: Rolling upgrades)"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_attempts_window_start"), ["window_start"], unique=False)
    op.drop_table("login_failures")  # its indexes go with it


def downgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failures_email_at"), ["email", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_ip_at"), ["ip", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_login_failures_at"), ["at"], unique=False)
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_window_start"))
    op.drop_table("login_attempts")
