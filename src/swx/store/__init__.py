"""The results database (SQLAlchemy 2 + Alembic): SQLite by default, PostgreSQL in operations."""
