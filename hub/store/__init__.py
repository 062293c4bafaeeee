"""Storage: SQLAlchemy 2 Core tables, the engine, Alembic migrations and repositories."""
