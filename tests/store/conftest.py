"""Every store test runs against SQLite and against the live PostgreSQL (SWX_TEST_DATABASE_URL), each
test in its own fresh schema (PostgreSQL) or file (SQLite), migrated with Alembic."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text

from swx.store.db import make_engine, upgrade

PG_URL = os.environ.get("SWX_TEST_DATABASE_URL")


def pg_available() -> bool:
    if not PG_URL:
        return False
    try:
        e = make_engine(PG_URL)
        with e.connect():
            pass
        e.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def dialect(request) -> str:
    if request.param == "postgresql" and not pg_available():
        pytest.skip("PostgreSQL not available: set SWX_TEST_DATABASE_URL "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    return request.param


@pytest.fixture
def db_url(dialect, tmp_path):
    """(url, schema) of an empty database for this test."""
    if dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'swx.sqlite'}", None
        return
    schema = f"swx_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield PG_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url):
    url, schema = db_url
    e = make_engine(url, schema=schema)
    upgrade(e)
    yield e
    e.dispose()
