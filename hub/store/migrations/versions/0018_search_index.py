"""search index: search_docs, with an FTS5 table (SQLite) or a tsvector column and its
GIN index (PostgreSQL); saved_views

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    # external content: the words live once, in search_docs; unicode61 splits exactly
    # where hub/text/index_terms.py does, and must not fold anything more
    "CREATE VIRTUAL TABLE search_fts USING fts5(raw, de, en, content='search_docs',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN"
    " INSERT INTO search_fts(rowid, raw, de, en) VALUES (new.id, new.raw, new.de, new.en); END",
    "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN"
    " INSERT INTO search_fts(search_fts, rowid, raw, de, en)"
    " VALUES ('delete', old.id, old.raw, old.de, old.en); END",
    "CREATE TRIGGER search_docs_au AFTER UPDATE OF raw, de, en ON search_docs BEGIN"
    " INSERT INTO search_fts(search_fts, rowid, raw, de, en)"
    " VALUES ('delete', old.id, old.raw, old.de, old.en);"
    " INSERT INTO search_fts(rowid, raw, de, en) VALUES (new.id, new.raw, new.de, new.en); END",
]


def upgrade() -> None:
    id_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "search_docs",
        sa.Column("id", id_type, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("de", sa.Text(), nullable=True),
        sa.Column("en", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_docs")),
        sa.UniqueConstraint("source", name=op.f("uq_search_docs_source")),
    )
    for column in ("customer_id", "conversation_id", "at"):
        op.create_index(op.f(f"ix_search_docs_{column}"), "search_docs", [column], unique=False)
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("q", sa.Text(), nullable=False),
        sa.Column("filters", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["agents.id"], name=op.f("fk_saved_views_owner_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    op.create_index(op.f("ix_saved_views_owner_id"), "saved_views", ["owner_id"], unique=False)
    op.create_index(op.f("ix_saved_views_team"), "saved_views", ["team"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE search_docs ADD COLUMN terms tsvector NOT NULL DEFAULT ''::tsvector")
        op.execute("CREATE INDEX search_docs_terms ON search_docs USING gin (terms)")
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE search_fts")
    op.drop_table("saved_views")
    op.drop_table("search_docs")
