"""Migrations and models agree; upgrade -> downgrade -> upgrade works; on both dialects."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from swx.store.db import current_revision, downgrade, head_revision, make_engine, upgrade
from swx.store.orm import Base


def test_autogenerate_finds_no_difference(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(db_url):
    url, schema = db_url
    e = make_engine(url, schema=schema)
    upgrade(e, "0001")
    assert current_revision(e) == "0001"
    assert "corr" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0002")
    assert current_revision(e) == "0002"
    assert "corr" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "run_inputs" not in inspect(e).get_table_names()
    upgrade(e, "0003")
    assert current_revision(e) == "0003"
    assert {"run_inputs", "run_models"} <= set(inspect(e).get_table_names())
    assert "blend_weights" not in inspect(e).get_table_names()
    upgrade(e, "0004")
    assert current_revision(e) == "0004"
    assert "blend_weights" in inspect(e).get_table_names()
    assert "crps" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0005")
    assert current_revision(e) == "0005"
    assert {"crps", "pit_hist"} <= {c["name"] for c in inspect(e).get_columns("verification")}
    assert "truth_level" not in {c["name"] for c in inspect(e).get_columns("verification")}
    upgrade(e, "0006")
    assert current_revision(e) == "0006"
    assert {"product", "level"} <= {c["name"] for c in inspect(e).get_columns("input_files")}
    assert "truth_level" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "map_blend_weights" not in inspect(e).get_table_names()
    upgrade(e, "0007")
    assert current_revision(e) == "0007"
    assert "map_blend_weights" in inspect(e).get_table_names()
    assert "rmse_area" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "data_source" not in {c["name"] for c in inspect(e).get_columns("model_versions")}
    upgrade(e, "0008")
    assert current_revision(e) == "0008"
    assert "data_source" in {c["name"] for c in inspect(e).get_columns("model_versions")}
    assert "lead_day" not in {c["name"] for c in inspect(e).get_columns("forecast_runs")}
    upgrade(e, "0010")
    assert current_revision(e) == "0010"
    assert "lead_day" in {c["name"] for c in inspect(e).get_columns("forecast_runs")}
    assert "lead_day" in {c["name"] for c in inspect(e).get_columns("verification")}
    assert "product_sha256" not in {c["name"] for c in inspect(e).get_columns("global_forecasts")}
    upgrade(e)
    assert current_revision(e) == head_revision()
    assert {"product_sha256", "ionex_sha256"} <= {c["name"] for c in inspect(e).get_columns("global_forecasts")}
    tables = set(inspect(e).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    downgrade(e, "base")
    assert current_revision(e) is None
    assert set(inspect(e).get_table_names()) <= {"alembic_version"}
    upgrade(e)
    assert current_revision(e) == head_revision()
    e.dispose()


def test_an_upgrade_that_fails_midway_leaves_the_database_as_it_was(db_url):
    """A fifth round: `swx db upgrade` killed on a new SQLite file left tables without a revision
    (pysqlite committed each CREATE TABLE), and no command recovered it. The whole upgrade is one
    transaction now, on SQLite as on PostgreSQL: a failure part way leaves no table behind."""
    import pytest
    from sqlalchemy import Engine, event

    url, schema = db_url
    e = make_engine(url, schema=schema)

    def fail_late(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("CREATE TABLE MAP_BLEND_WEIGHTS"):  # migration 0007
            raise RuntimeError("killed")

    event.listen(Engine, "before_cursor_execute", fail_late)
    try:
        with pytest.raises(RuntimeError, match="killed"):
            upgrade(e)
    finally:
        event.remove(Engine, "before_cursor_execute", fail_late)
    assert current_revision(e) is None
    assert set(inspect(e).get_table_names()) <= {"alembic_version"}
    upgrade(e)  # the rerun recovers
    assert current_revision(e) == head_revision()
    e.dispose()


def test_two_upgrades_of_a_new_sqlite_file_at_once_both_succeed(tmp_path):
    """A fifth round: two `swx db upgrade` started together on a new SQLite file: one failed "table
    daily_indices already exists". The upgrade holds SQLite's write lock from its first statement: the
    second waits, then finds the database at its revision."""
    import os
    import subprocess
    import sys

    for attempt in range(3):
        env = {**os.environ, "SWX_DATA_DIR": str(tmp_path / f"site{attempt}")}
        env.pop("SWX_DATABASE_URL", None)
        procs = [subprocess.Popen([sys.executable, "-m", "swx.cli", "db", "upgrade"], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all(f"at revision {head_revision()}" in o for o in outs), outs


def test_two_upgrades_of_a_new_postgresql_database_at_once_both_succeed(tmp_path, monkeypatch):
    """An eighth round: on PostgreSQL one of two simultaneous `swx db upgrade` failed on a duplicate type
    name (SQLite's case waited). The upgrade holds an advisory lock for its transaction."""
    import os
    import subprocess
    import sys

    from tests.helpers import fresh_postgres_database

    for attempt in range(2):
        with fresh_postgres_database(monkeypatch, "swx_race", migrate=False):
            env = {**os.environ, "SWX_DATA_DIR": str(tmp_path / f"site{attempt}")}
            procs = [subprocess.Popen([sys.executable, "-m", "swx.cli", "db", "upgrade"], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(2)]
            outs = [p.communicate(timeout=120)[0] for p in procs]
            assert [p.returncode for p in procs] == [0, 0], outs
            assert all(f"at revision {head_revision()}" in o for o in outs), outs


def test_every_migration_keeps_the_rows_that_were_there(db_url):
    """A ninth round: `swx db upgrade` 0008 -> 0009 on SQLite emptied every published forecast (the
    table copied and dropped by the alteration cascaded into the rows referring to it) while `swx
    status` still said OK; `db downgrade 0007` failed "FOREIGN KEY constraint failed". Each step up and
    down from the first revision with run rows keeps a run's forecasts, provenance and scores."""
    import datetime as dt

    from sqlalchemy import text

    url, schema = db_url
    e = make_engine(url, schema=schema)
    upgrade(e, "0004")  # runs, their forecasts, provenance and blend weights exist from here
    t = dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC)
    with e.begin() as conn:
        conn.execute(text("INSERT INTO stations (code, name, lat, lon, sector, lat_band, surface, origin) "
                          "VALUES ('A1', 'a', 10, 10, '10', 'low', 'land', 'catalog')"))
        sid = conn.execute(text("SELECT id FROM stations")).scalar_one()
        conn.execute(text("INSERT INTO forecast_runs (issue_time, target_day, flow_run_id, code_version, settings_hash, "
                          "data_source, status, degraded, reason, created_at) VALUES "
                          "(:t, '2015-03-17', '', '', '', 'sim', 'ok', false, '', :t)"), {"t": t})
        rid = conn.execute(text("SELECT id FROM forecast_runs")).scalar_one()
        conn.execute(text("INSERT INTO model_versions (station_id, architecture, version, hyperparameters, "
                          "checkpoint_path, checkpoint_sha256, status, reason, created_at) VALUES "
                          "(:s, 'cnn', 1, '{}', 'm.pt', 'x', 'active', '', :t)"), {"s": sid, "t": t})
        mid = conn.execute(text("SELECT id FROM model_versions")).scalar_one()
        conn.execute(text("INSERT INTO run_models (run_id, model_version_id) VALUES (:r, :m)"), {"r": rid, "m": mid})
        conn.execute(text("INSERT INTO station_forecasts (run_id, station_id, architecture, valid_time, lead_h, mean) "
                          "VALUES (:r, :s, 'cnn', :v, 2, 12.5)"), {"r": rid, "s": sid, "v": t + dt.timedelta(hours=2)})
        conn.execute(text("INSERT INTO global_forecasts (run_id, valid_time, method, product_path, ionex_path) "
                          "VALUES (:r, :v, 'idw', 'a.nc', 'A.INX')"), {"r": rid, "v": t + dt.timedelta(hours=2)})
        conn.execute(text("INSERT INTO verification (scope, station_code, model, window_start, window_end, kp_class, n, "
                          "rmse, mae, bias, run_id) VALUES ('station', 'A1', 'cnn', :t, :t, 'all', 1, 1, 1, 0, :r)"),
                     {"t": t, "r": rid})

    def counts() -> dict[str, int]:
        with e.connect() as conn:
            held = {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names
                    for table in ("forecast_runs", "station_forecasts", "run_models", "model_versions",
                                  "global_forecasts")}
            held["verification with its run"] = conn.execute(
                text("SELECT count(*) FROM verification WHERE run_id IS NOT NULL")).scalar_one()
        return held

    every = {"forecast_runs": 1, "station_forecasts": 1, "run_models": 1, "model_versions": 1,
             "global_forecasts": 1, "verification with its run": 1}
    for step in ("0005", "0006", "0007", "0008", "0009", "0010", "0011", "0010", "0009", "0008", "0007", "0004", "head"):
        (upgrade if step == "head" or step > (current_revision(e) or "") else downgrade)(e, step)
        assert counts() == every, step
    with e.connect() as conn:  # runs from before 0010 belong to the daily run the day before their target
        assert conn.execute(text("SELECT count(*) FROM forecast_runs WHERE issue_day IS NULL")).scalar_one() == 0
    # a tenth round: after one run a day further from its maps (lead day 2), no downgrade could pass the
    # reference check: the run was deleted, its rows left
    with e.begin() as conn:
        conn.execute(text("INSERT INTO forecast_runs (issue_time, target_day, flow_run_id, code_version, "
                          "settings_hash, data_source, status, degraded, reason, created_at, lead_day) VALUES "
                          "(:t, '2015-03-18', '', '', '', 'sim', 'ok', false, '', :t, 2)"), {"t": t})
        late = conn.execute(text("SELECT id FROM forecast_runs WHERE lead_day = 2")).scalar_one()
        conn.execute(text("INSERT INTO run_models (run_id, model_version_id) VALUES (:r, :m)"), {"r": late, "m": mid})
    downgrade(e, "0008")
    assert counts() == every  # the second day's run and its rows gone, the rest kept
    e.dispose()
