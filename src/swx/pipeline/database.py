"""Stage: the database brought to this swx's schema — the main job's first step (a deployment runs
`swx db upgrade`; every other stage only checks the schema and refuses another one)."""

from __future__ import annotations

import os

from swx.config import Settings
from swx.io.atomic import file_size_limit, free_bytes_if_full
from swx.store.db import (
    current_revision,
    describe_revision,
    database_error_line,
    downgrade,
    engine_from_settings,
    grant_read_only,
    migrated_database,
    missing_sqlite_file,
    read_only_filesystem,
    sqlite_file,
    upgrade,
)


def migrate_database_stage(settings: Settings) -> str:
    """Create or migrate the configured database to this swx's schema (the main job's first step; a
    deployment runs `swx db upgrade`). Returns its URL, password hidden."""
    engine = migrated_database(settings)
    return f"{settings.display_database_url} at revision {current_revision(engine)}"


def upgrade_database(settings: Settings, revision: str = "head") -> str:
    """`swx db upgrade`: create or migrate the database to `revision`; returns where it now stands."""
    engine = engine_from_settings(settings)
    upgrade(engine, revision)
    return f"{settings.display_database_url}: {describe_revision(engine)}"


def downgrade_database(settings: Settings, revision: str) -> str:
    """`swx db downgrade`: migrate down (what newer revisions added is dropped)."""
    engine = engine_from_settings(settings)
    downgrade(engine, revision)
    return f"{settings.display_database_url}: {describe_revision(engine)}"


def database_revision(settings: Settings) -> str:
    """Where the database stands, without creating it."""
    engine = engine_from_settings(settings)
    if (missing := missing_sqlite_file(engine)) is not None:
        return f"no database at {missing} (`swx db upgrade` creates it)"
    return f"{settings.display_database_url}: {describe_revision(engine)}"


def grant_read_only_role(settings: Settings, role: str, schema: str = "public") -> str:
    """Let a PostgreSQL role read (only read) the swx tables."""
    grant_read_only(engine_from_settings(settings), role, schema)
    return f"{role} can now read the swx tables in schema {schema}"



def database_fault(exc: BaseException) -> str | None:
    """The one line the CLI prints for a database fault (server down, read-only, refused), or None."""
    return database_error_line(exc)


def database_place(settings: Settings) -> str:
    """Where the database of a fault is, for its one line: the URL (password hidden), and for an SQLite
    file, that its folder is read-only or its disk full (SQLite says "disk I/O error")."""
    where = f"database {settings.display_database_url}"
    if (path := sqlite_file(settings.resolved_database_url)) is None or not (folder := path.resolve().parent).is_dir():
        return where
    if read_only_filesystem(folder):
        where += f" (its folder {folder} is on a read-only file system)"
    elif not os.access(folder, os.W_OK):  # a write-ahead log's reader writes beside the file too
        where += f" (its folder {folder} is not writable by this user: SQLite needs to write there even to read)"
    elif (free := free_bytes_if_full(folder)) is not None:
        where += f" (its disk is full: {free} bytes free)"
    elif (limit := file_size_limit()) is not None:
        where += f" (this process may write files of at most {limit} bytes: a file-size limit, `ulimit -f`)"
    return where
