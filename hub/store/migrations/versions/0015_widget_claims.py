"""widget_claims: emails and phone numbers a chat visitor merely typed stop being identities

Until now an address typed into the widget's pre-chat or offline form that nobody held
became an identity of the visitor's record, so a later verified sign-in, and mail or SMS
from that address, landed there (issue 22). The widget now keeps such an address as a
claim only. This removes the identities it added that way, audited: an email or phone
identity whose ``identity.added`` event is the widget's, and which no visitor verified
(a verified sign-in writes the value to ``widget_visitors.identified``). The typed
address stays in the visitor's ``contact``; an agent may confirm it again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

ACTOR = "system:migration-0015"
REASON = "typed into the chat widget, never verified: a claim, not an identity"

identities = sa.table(
    "identities",
    sa.column("id", sa.Integer),
    sa.column("customer_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("value", sa.String),
)
events = sa.table(
    "events",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.String),
    sa.column("customer_id", sa.String),
    sa.column("reason", sa.Text),
    sa.column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
)
visitors = sa.table("widget_visitors", sa.column("identified", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    added_by_widget = sa.select(events.c.subject_id).where(
        events.c.action == "identity.added",
        events.c.actor == "widget",
        events.c.subject_type == "identity",
    )
    claimed = conn.execute(
        sa.select(identities.c.id, identities.c.customer_id, identities.c.kind).where(
            identities.c.kind.in_(("email", "phone")),
            sa.cast(identities.c.id, sa.String).in_(added_by_widget),
            # not correlated: both databases build the set once (no index on identified)
            identities.c.value.not_in(
                sa.select(visitors.c.identified).where(visitors.c.identified.is_not(None))
            ),
        )
    ).all()
    now = datetime.now(UTC)
    for row in claimed:
        conn.execute(sa.delete(identities).where(identities.c.id == row.id))
        conn.execute(
            sa.insert(events).values(
                at=now,
                actor=ACTOR,
                action="identity.removed",
                subject_type="identity",
                subject_id=str(row.id),
                customer_id=row.customer_id,
                reason=REASON,
                data={"kind": row.kind},
            )
        )


def downgrade() -> None:
    pass  # the removed identities were never proven; nothing to put back
