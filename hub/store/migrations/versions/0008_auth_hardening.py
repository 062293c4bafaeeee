"""auth hardening: sign-in throttle, two-factor (TOTP) on agents, session scope

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
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
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enabled", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("totp_required", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=16), server_default="full", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("scope")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("totp_required")
        batch_op.drop_column("totp_enabled")
        batch_op.drop_column("totp_secret")
    op.drop_table("login_failures")
