"""Alembic environment. Runs on the connection handed over by ``hub.store.engine.migrate``
so that SQLite pragmas and the PostgreSQL schema apply exactly as at run time."""

from alembic import context

from hub.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
