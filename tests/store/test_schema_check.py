"""Opening the database never migrates it: a missing or old schema is a one-line error naming
`swx db upgrade`, and `swx db upgrade` (or the main job) is what creates and migrates it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from swx import cli
from swx.config import get_settings
from swx.errors import SchemaError
from swx.store.db import current_revision, downgrade, engine_from_settings, head_revision, open_database
from tests.helpers import run_cli_main as _main

runner = CliRunner()


def test_a_missing_database_is_not_created_behind_the_users_back(monkeypatch, capsys):
    settings = get_settings()
    db = settings.data_dir / "swx.sqlite"
    db.unlink()
    with pytest.raises(SchemaError, match="run `swx db upgrade` to create it"):
        open_database(settings)
    assert not db.exists()
    code, text = _main(monkeypatch, capsys, ["db", "current"])
    assert code == 0 and "no database at" in text and not db.exists()
    code, text = _main(monkeypatch, capsys, ["status"])  # monitoring gets a verdict: unhealthy, exit 1
    said = " ".join(text.split())
    assert code == 1 and "Traceback" not in text
    assert "unhealthy: no swx database to judge: no database at " in said and db.name in said, text
    assert said.endswith(": run `swx db upgrade` to create it (the main job does)"), text
    assert not db.exists()
    r = runner.invoke(cli.app, ["db", "upgrade"])
    assert r.exit_code == 0, r.output
    assert current_revision(open_database(settings)) == head_revision()


def test_an_old_schema_names_both_revisions(monkeypatch, capsys):
    settings = get_settings()
    engine = engine_from_settings(settings)
    downgrade(engine, "-1")
    old = current_revision(engine)
    assert old != head_revision()
    with pytest.raises(SchemaError, match=f"is at revision {old}, this swx needs {head_revision()}: run `swx db upgrade`"):
        open_database(settings)
    code, text = _main(monkeypatch, capsys, ["ingest", "kp", "--source", "bundled"])  # refused before any work
    assert code == 2 and "Traceback" not in text and "run `swx db upgrade`" in text
    assert not settings.archive_dir.exists()
    assert current_revision(engine) == old  # still not migrated by anyone but the user


def test_the_main_jobs_first_stage_creates_the_database():
    from swx.pipeline.database import migrate_database_stage

    settings = get_settings()
    (settings.data_dir / "swx.sqlite").unlink()
    assert "at revision " + head_revision() in migrate_database_stage(settings)
    assert current_revision(open_database(settings)) == head_revision()


def test_a_database_newer_than_this_swx_says_so(monkeypatch, capsys):
    from sqlalchemy import text

    settings = get_settings()
    engine = engine_from_settings(settings)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    downgrade_hint = "newer than this swx"
    with pytest.raises(SchemaError, match=downgrade_hint):
        open_database(settings)
    # migrating it cannot be right either: one line, not alembic's two chained tracebacks
    from tests.helpers import run_cli_main

    for args in (["db", "upgrade"], ["db", "downgrade", "base"]):
        code, out = run_cli_main(monkeypatch, capsys, args)
        assert code == 2 and "at revision 9999, newer than this swx" in out and "Traceback" not in out, out
        assert len(out.strip().splitlines()) == 1, out


def test_postgresql_without_tables_names_swx_db_upgrade(monkeypatch):
    from tests.helpers import fresh_postgres_database

    with fresh_postgres_database(monkeypatch, "swx_schema", migrate=False):
        with pytest.raises(SchemaError, match="has no swx tables: run `swx db upgrade`"):
            open_database(get_settings())


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_without_a_revision_is_described_and_never_migrated_into(backend, monkeypatch, capsys, tmp_path):
    """Another application's database is not swx's to fill (it was migrated into, or failed "table
    already exists"); swx's tables without their revision record are named as such; an empty database
    says so (`db current` said "at revision None")."""
    import contextlib

    from sqlalchemy import inspect, text

    from swx.store.db import make_engine
    from tests.helpers import fresh_postgres_database, run_cli_main

    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            stack.enter_context(fresh_postgres_database(monkeypatch, "swx_norev", migrate=False))
        else:
            (tmp_path / "other.sqlite").touch()  # an empty SQLite file: an empty database
            monkeypatch.setenv("SWX_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite'}")
            get_settings.cache_clear()
        engine = make_engine(get_settings().resolved_database_url)
        code, out = run_cli_main(monkeypatch, capsys, ["db", "current"])
        assert code == 0 and out.strip().endswith(": empty: no swx tables yet (`swx db upgrade` creates them)"), out
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE users (id INTEGER)"))
            conn.execute(text("CREATE TABLE orders (id INTEGER)"))
        for args in (["db", "current"], ["db", "upgrade"], ["status"]):
            code, out = run_cli_main(monkeypatch, capsys, args)
            said = " ".join(out.split())
            assert "holds 2 table(s) of another application (orders, users) and no swx tables" in said, (args, out)
            assert "Traceback" not in out
            if args == ["status"]:  # monitoring gets a verdict: unhealthy, exit 1
                assert code == 1 and "unhealthy: no swx database to judge: the database" in said, out
            else:
                assert len(out.strip().splitlines()) == 1, out
                assert code == (0 if args == ["db", "current"] else 2), (args, code)
        assert set(inspect(engine).get_table_names()) == {"users", "orders"}  # nothing created in it
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE users"))
            conn.execute(text("DROP TABLE orders"))
        assert run_cli_main(monkeypatch, capsys, ["db", "upgrade"])[0] == 0
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        for args in (["db", "upgrade"], ["status"]):
            code, out = run_cli_main(monkeypatch, capsys, args)
            assert code == (1 if args == ["status"] else 2), out  # status: an unhealthy verdict
            said = " ".join(out.split())
            assert "holds swx tables (" in said and "alembic_version table is gone" in said, out
            assert "already exists" not in out and "Traceback" not in out, out
        # an eighth round: another application's Alembic revision was called a newer swx's
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('9f3c2a1b7d')"))
        for args in (["db", "current"], ["db", "upgrade"], ["status"]):
            code, out = run_cli_main(monkeypatch, capsys, args)
            assert code == (1 if args == ["status"] else 2), (args, out)
            assert "at revision '9f3c2a1b7d', which no swx has" in " ".join(out.split()), (args, out)
            assert "newer than this swx" not in out and "Traceback" not in out, out
        engine.dispose()
