"""Alembic environment for swx: runs against the engine handed over by `swx.store.db`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from swx.store.orm import Base

#: the PostgreSQL advisory lock a migration holds for its transaction (a constant: "swx" in ASCII)
MIGRATION_LOCK = 0x737778

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        # transactional_ddl: set by swx.store.db for SQLite, whose DDL it runs in one transaction
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                          transactional_ddl=config.attributes.get("transactional_ddl"))
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # one upgrade at a time (SQLite's is serialised by its write lock): a second started meanwhile
                # waits here, then finds the database at its revision (it failed on a duplicate type name)
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()


run_migrations_online()
