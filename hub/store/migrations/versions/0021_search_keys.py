"""search index on SQLite: documents are found by customer, conversation and source
through the FTS5 table (a ``keys`` column) instead of three B-tree indexes

A B-tree over random ids (customer, conversation, message) costs a page written per
document at every commit: with the three, 200,000 of bench/search.py's documents cost
144 µs each to index, without them 49 µs. FTS5 writes its index in sorted segments, so
the same keys cost it about 2 µs each. ``keys`` is a generated column: nothing more is stored in
search_docs. New rows reach search_fts from ``search_index.put`` in one statement per
batch, not by a trigger: SQLite's trigger cost 11 µs per row, five times what the FTS5
insert itself costs. Deletes and updates (erasure, merges, refreshes) keep their
triggers. PostgreSQL is unchanged (its B-trees cost less than its GIN would).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

COLUMNS = "id, source, kind, customer_id, conversation_id, message_id, channel, at, raw, de, en"
OLD_TRIGGERS = ("search_docs_ai", "search_docs_ad", "search_docs_au")
FTS_COLUMNS = "raw, de, en"


def _rebuild(keys: bool) -> None:
    """search_docs and search_fts afresh, with or without ``keys`` (rowids kept)."""
    for trigger in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE search_fts")
    generated = (
        ", keys TEXT GENERATED ALWAYS AS ('customer:' || customer_id || ' doc:' || source"
        " || coalesce(' conversation:' || conversation_id, '')) VIRTUAL"
        if keys
        else ""
    )
    op.execute(
        "CREATE TABLE search_docs_new (id INTEGER NOT NULL, source VARCHAR(60) NOT NULL,"
        " kind VARCHAR(12) NOT NULL, customer_id VARCHAR(36) NOT NULL, conversation_id VARCHAR(36),"
        " message_id VARCHAR(36), channel VARCHAR(16), at DATETIME NOT NULL, raw TEXT, de TEXT, en TEXT"
        f"{generated}, CONSTRAINT pk_search_docs PRIMARY KEY (id)"
        + ("" if keys else ", CONSTRAINT uq_search_docs_source UNIQUE (source)")
        + ")"
    )
    op.execute(f"INSERT INTO search_docs_new ({COLUMNS}) SELECT {COLUMNS} FROM search_docs")
    op.execute("DROP TABLE search_docs")
    op.execute("ALTER TABLE search_docs_new RENAME TO search_docs")
    op.execute("CREATE INDEX ix_search_docs_at ON search_docs (at)")
    if not keys:
        op.execute("CREATE INDEX ix_search_docs_customer_id ON search_docs (customer_id)")
        op.execute("CREATE INDEX ix_search_docs_conversation_id ON search_docs (conversation_id)")
    columns = f"{FTS_COLUMNS}, keys" if keys else FTS_COLUMNS
    new = ", ".join(f"new.{col.strip()}" for col in columns.split(","))
    old = ", ".join(f"old.{col.strip()}" for col in columns.split(","))
    # ':' and '-' are parts of a key token ("customer:<uuid>"); the text columns hold
    # words joined by spaces (hub/text/index_terms.py), which have neither
    tokenchars = " tokenchars ':-'" if keys else ""
    op.execute(
        f"CREATE VIRTUAL TABLE search_fts USING fts5({columns}, content='search_docs',"
        f" content_rowid='id', tokenize=\"unicode61 remove_diacritics 0{tokenchars}\")"
    )
    if not keys:
        op.execute(
            "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN"
            f" INSERT INTO search_fts(rowid, {columns}) VALUES (new.id, {new}); END"
        )
    op.execute(
        "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN"
        f" INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        "CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN"
        f" INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.id, {old});"
        f" INSERT INTO search_fts(rowid, {columns}) VALUES (new.id, {new}); END"
    )
    op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rebuild(keys=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rebuild(keys=False)
