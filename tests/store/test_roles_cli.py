"""The dashboard's read-only role on PostgreSQL, and the `swx db` commands."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from typer.testing import CliRunner

from swx.cli import app
from swx.store import queries as q
from swx.store.db import grant_read_only, make_engine
from swx.store.writes import upsert_stations
from tests.helpers import run_cli_main
from tests.store.conftest import PG_URL
from tests.store.test_writes_queries import STATIONS


def test_read_only_role_can_read_but_not_write(engine, db_url, dialect):
    if dialect != "postgresql":
        pytest.skip("roles are a PostgreSQL feature")
    url, schema = db_url
    upsert_stations(engine, STATIONS)
    role = f"swx_reader_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    try:
        grant_read_only(engine, role, schema)
        reader = make_engine(url, schema=schema)
        with reader.connect() as conn:
            conn.execute(text(f'SET ROLE "{role}"'))
            assert conn.execute(text("SELECT count(*) FROM stations")).scalar_one() == 2
            with pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text("INSERT INTO stations (code, name, lat, lon, sector, lat_band, surface, origin) "
                                  "VALUES ('X', 'x', 0, 0, '', 'low', 'land', 'catalog')"))
            conn.rollback()
        reader.dispose()
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_grant_read_only_refuses_names_that_are_not_plain_sql_names(engine, dialect, monkeypatch, capsys):
    """Issue 18: the role and schema were pasted into SQL; a crafted role ran its own statement."""
    if dialect != "postgresql":
        pytest.skip("roles are a PostgreSQL feature")
    evil = 'postgres"; CREATE TABLE pwned(x int); --'
    for role, schema, match in ((evil, "public", "role name"), ("reader", 'public"; DROP TABLE stations; --',
                                                                "schema name"),
                                ("x" * 64, "public", "at most 63"), ("9lives", "public", "role name"), ("Dashboard", "public", "lower-case"),
                                (f"swx_absent_{uuid.uuid4().hex[:8]}", "public", "does not exist")):
        with pytest.raises(ValueError, match=match):
            grant_read_only(engine, role, schema)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('pwned')")).scalar_one() is None
        assert conn.execute(text("SELECT count(*) FROM stations")).scalar_one() >= 0
    monkeypatch.setenv("SWX_DATABASE_URL", PG_URL)
    code, out = run_cli_main(monkeypatch, capsys, ["db", "grant-read-only", evil])
    assert code != 0 and "role name" in out and "Traceback" not in out and len(out.strip().splitlines()) == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('pwned')")).scalar_one() is None


def test_grant_read_only_refuses_sqlite(engine, dialect):
    if dialect != "sqlite":
        pytest.skip("SQLite only")
    with pytest.raises(ValueError, match="PostgreSQL"):
        grant_read_only(engine, "reader")


def test_db_commands_on_the_embedded_default():
    runner = CliRunner()
    r = runner.invoke(app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    from alembic.script import ScriptDirectory

    from swx.store.db import alembic_config, make_engine

    head = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()
    assert "sqlite:///" in r.output and f"at revision {head}" in r.output
    assert f"at revision {head}" in runner.invoke(app, ["db", "current"]).output
    assert "empty: no swx tables yet" in runner.invoke(app, ["db", "downgrade", "base"]).output


def test_embedded_sqlite_uses_wal(engine, dialect):
    if dialect != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert q.counts(engine)["stations"] == 0


def test_grant_read_only_refuses_a_role_that_can_write_anyway(engine, db_url, dialect):
    """Twelfth round: `swx db grant-read-only postgres` said "postgres can now read the swx tables" for
    a superuser owning every table: a false assurance that the dashboard's role is read-only."""
    if dialect != "postgresql":
        pytest.skip("roles are a PostgreSQL feature")
    _, schema = db_url
    upsert_stations(engine, STATIONS)
    with pytest.raises(ValueError, match="'postgres' is a superuser"):
        grant_read_only(engine, "postgres", schema)
    role = f"swx_writer_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        conn.execute(text(f'GRANT INSERT ON stations TO "{role}"'))
    try:
        with pytest.raises(ValueError, match=f"'{role}' owns or can write tables of schema .* \\(stations\\)"):
            grant_read_only(engine, role, schema)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
