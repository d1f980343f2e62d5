"""`swx status`: the latest run as JSON for monitoring; non-zero exit when there is none, it failed,
or it is too old."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from typer.testing import CliRunner

from swx.cli import app
from swx.config import get_settings
from swx.pipeline.status import run_status
from swx.store.db import open_database
from swx.store.writes import finish_run, start_run

runner = CliRunner()


def _json(output: str) -> dict:
    return json.loads(output[output.index("{"): output.rindex("}") + 1])


def test_no_run_yet_is_unhealthy():
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 1
    assert _json(r.stdout)["status"] == "none" and "make run" in _json(r.stdout)["problem"]


def test_latest_run_document_and_exit_codes():
    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 17),
                    data_source="sim")
    finish_run(engine, rid, status="degraded", degraded=True,
               reason="no sim GIM for 2015-03-16; the 27-day median rests on 2 of the 27 days")
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 3, r.output  # alive, but not "ok": a monitor sees it
    doc = _json(r.stdout)
    assert doc["run_id"] == rid and doc["status"] == "degraded" and doc["degraded"] and doc["simulated"]
    assert doc["healthy"] and doc["verdict"] == "degraded" and doc["target_day"] == "2015-03-17"
    assert doc["reasons"] == ["no sim GIM for 2015-03-16", "the 27-day median rests on 2 of the 27 days"]
    assert {"station_forecasts", "active_models", "global", "map_skill", "station_skill", "storms"} <= set(doc)
    # without --json: a short summary people read, not a dump of Python dicts
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 3, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"run {rid}: forecast for 2015-03-17 — DEGRADED")
    # the information cutoff and the publication, never a nominal "issued" time (a backfill: made years later)
    assert lines[1].startswith("  data to 2015-03-16 22:00 UTC (information cutoff; leads 2 to 24 h after it); made ")
    assert lines[1].endswith("days after the day it forecasts (reprocessed: nobody had it in advance)")
    assert doc["information_cutoff"] == "2015-03-16T22:00:00+00:00" and doc["reprocessed"]
    assert doc["published_at"] is not None and doc["published_into_day_h"] > 48
    assert "SIMULATED" in lines[2] and not any("{" in line for line in lines)
    assert lines[-3:] == ["  DEGRADED: published, but not to be trusted as it stands — SIMULATED data:",
                          "    - no sim GIM for 2015-03-16", "    - the 27-day median rests on 2 of the 27 days"]
    # too old: a monitor must notice a scheduler that stopped
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=48)
    doc, healthy = run_status(settings, now=later)
    assert not healthy and "old" in doc["problem"] and doc["verdict"] == "unhealthy"
    time.sleep(0.5)
    r = runner.invoke(app, ["status", "--max-age-h", "0.0001"])  # 0.36 s
    assert r.exit_code == 1

    rid2 = start_run(engine, issue_time=dt.datetime(2015, 3, 17, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 18))
    finish_run(engine, rid2, status="failed", reason="FileNotFoundError: models")
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 1 and "failed" in _json(r.stdout)["problem"]


def test_rapid_maps_older_than_the_upgrade_window_are_named_with_the_command_that_upgrades_them():
    from swx.pipeline.status import summary_lines
    from swx.store.writes import record_input_files

    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2025, 10, 30, 22, tzinfo=dt.UTC), target_day=dt.date(2025, 10, 31),
                    data_source="cod")
    finish_run(engine, rid, status="ok")
    rows = [dict(kind="GIM", centre="cod", day=day, path=f"archive/gim/cod/2025/cod_{day:%Y%m%d}.nc", sha256="0" * 64,
                 maps=25, source_kind="remote", product=product, level=level)
            for day, product, level in [(dt.date(2025, 10, 1), "cor", "rapid"), (dt.date(2025, 10, 2), "cod", "final"),
                                        (dt.date(2025, 10, 25), "cor", "rapid")]]  # the last: inside the 14 days
    record_input_files(engine, rows)
    doc, healthy = run_status(settings, max_age_h=1e6)
    assert healthy and doc["rapid_days_past_upgrade"] == ["2025-10-01"]
    assert "  1 day(s) still on rapid maps, older than the daily run looks back (2025-10-01 .. 2025-10-01): swx " \
           "ingest gims --upgrade --start 2025-10-01 --end 2025-10-01" in summary_lines(doc)


def test_status_pools_skill_as_the_dashboard_and_the_summary_do():
    """`swx status` printed "blend 4.95 (+5 %) ... persistence 5.89": the mean of per-station skills
    beside the mean of RMSEs (1 - 4.95/5.89 is 16 %). Now one rule, `pooled_skill`: RMSE from the pooled
    squared errors, skill 1 - RMSE / persistence's RMSE on the same rows."""
    import numpy as np
    import pandas as pd

    from swx.pipeline.status import summary_lines
    from swx.science.verify import pooled_skill
    from swx.store.writes import write_verification

    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 17),
                    data_source="sim")
    finish_run(engine, rid, status="ok")
    start, end = dt.datetime(2015, 3, 17, tzinfo=dt.UTC), dt.datetime(2015, 3, 17, 22, tzinfo=dt.UTC)
    # a quiet station the blend barely beats and a stormy one it beats by far: the two averages differ
    scores = {("A", "blend"): 1.0, ("A", "persistence"): 1.05, ("B", "blend"): 6.0, ("B", "persistence"): 9.0}
    rows = [dict(scope="station", station_code=code, model=model, window_start=start, window_end=end, kp_class="all",
                 n=12, rmse=r, mae=r, bias=0.0, skill_persistence=1 - r / scores[(code, "persistence")])
            for (code, model), r in scores.items()]
    write_verification(engine, rows)
    # a ninth round: the second day's scores (hours 26-48, e.g. `swx train --lead-day 2`'s test windows)
    # were pooled into the skill monitoring reads for the next day
    write_verification(engine, [{**r, "rmse": 50.0, "mae": 50.0, "lead_day": 2} for r in rows])
    doc, _ = run_status(settings, max_age_h=1e6)
    want = pooled_skill(pd.DataFrame(rows), []).set_index("model")
    got = doc["station_skill"]["blend"]
    assert got["rmse"] == round(float(want.loc["blend", "rmse"]), 3)
    assert got["skill_vs_persistence"] == round(float(want.loc["blend", "skill_persistence"]), 3)
    assert np.isclose(got["skill_vs_persistence"], 1 - got["rmse"] / doc["station_skill"]["persistence"]["rmse"], atol=2e-3)
    [line] = [ln for ln in summary_lines(doc) if "station skill" in ln]
    assert f"blend {got['rmse']:.2f} ({got['skill_vs_persistence']:+.0%})" in line  # +33 %, not the mean of 5 % and 33 %


def test_ok_means_trustworthy_and_a_map_worse_than_persistence_is_not():
    """A run that published cleanly is "ok" (exit 0) while the newest verified map beat the persistence
    map; when it did worse, the status says so, degraded (exit 3), with both RMSEs."""
    from swx.pipeline.status import summary_lines
    from swx.store.writes import write_verification

    settings = get_settings()
    engine = open_database(settings)
    before = start_run(engine, issue_time=dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC),
                       target_day=dt.date(2015, 3, 17), data_source="sim")
    finish_run(engine, before, status="ok")
    rid = start_run(engine, issue_time=dt.datetime(2015, 3, 17, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 18),
                    data_source="sim")
    finish_run(engine, rid, status="ok")
    day = dt.datetime(2015, 3, 17, tzinfo=dt.UTC)

    def maps(published: float, persistence: float) -> None:
        write_verification(engine, [dict(scope="global", station_code="global", model=model, window_start=day,
                                         window_end=day + dt.timedelta(hours=22), kp_class="all", n=13 * 71 * 73,
                                         rmse=r, mae=r, bias=0.0, rmse_area=r)
                                    for model, r in ((f"map:{settings.extension_method}", published),
                                                     ("map:persistence", persistence))], run_id=before)

    maps(4.0, 5.0)
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 0, r.output
    assert "  last verified forecast (2015-03-17): map 4.00 vs persistence 5.00 TECU (+20%)" in r.stdout
    assert r.stdout.splitlines()[-1] == "  OK: healthy and trustworthy — SIMULATED data"
    maps(6.0, 5.0)
    doc, healthy = run_status(settings, max_age_h=1e6)
    assert healthy and doc["verdict"] == "degraded"
    assert doc["reasons"] == ["the newest verified map (2015-03-17) was worse than the persistence map "
                              "(6.00 vs 5.00 TECU)"]
    assert summary_lines(doc)[-1] == f"    - {doc['reasons'][0]}"
    assert runner.invoke(app, ["status"]).exit_code == 3


def test_a_run_stamped_in_the_future_is_unhealthy():
    """A fresh round: a run stamped 2099 (a clock set wrong) stayed "ok" for ever (-631746.8 h old)."""
    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 17),
                    data_source="sim")
    finish_run(engine, rid, status="ok")
    doc, healthy = run_status(settings, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=3))
    assert not healthy and doc["verdict"] == "unhealthy" and "in the future" in doc["problem"]


def _no_swx_tables(kind: str, tmp_path, monkeypatch):
    """A database without swx's tables, configured: an SQLite file of another application, or a new
    PostgreSQL database never migrated (a context manager with the engine of it)."""
    import contextlib
    import sqlite3

    from swx.store.db import make_engine
    from tests.helpers import fresh_postgres_database

    @contextlib.contextmanager
    def opened():
        if kind == "sqlite":
            path = tmp_path / "other.sqlite"
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("CREATE TABLE notes (body TEXT)")
            monkeypatch.setenv("SWX_DATABASE_URL", f"sqlite:///{path}")
            get_settings.cache_clear()
            yield make_engine(f"sqlite:///{path}")
        else:
            with fresh_postgres_database(monkeypatch, "swx_bare", migrate=False):
                yield make_engine(get_settings().resolved_database_url)
    return opened()



@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_without_swx_tables_is_an_unhealthy_verdict_and_a_one_line_query_error(kind, tmp_path,
                                                                                         monkeypatch):
    """A fourteenth round: `swx status --json` on a database without swx's tables gave monitoring no
    JSON (one error line, exit 2), and `tomorrows_run` on such an engine ended in SQLAlchemy's "no such
    table" traceback."""
    from swx.errors import SchemaError
    from swx.store import queries as q

    with _no_swx_tables(kind, tmp_path, monkeypatch) as engine:
        r = runner.invoke(app, ["status", "--json"])
        assert r.exit_code == 1, r.output
        doc = _json(r.stdout)
        assert doc["verdict"] == "unhealthy" and doc["status"] == "no-database"
        assert "no swx tables" in doc["problem"] and "SWX_DATABASE_URL" in doc["problem"] if kind == "sqlite" else \
            "has no swx tables: run `swx db upgrade`" in doc["problem"], doc
        r = runner.invoke(app, ["status"])
        assert r.exit_code == 1 and "no swx database to judge" in r.output and "Traceback" not in r.output, r.output
        [said] = [line for line in r.output.splitlines() if line.startswith("unhealthy: ")]  # one line, not wrapped
        assert said == f"unhealthy: {doc['problem']}", r.output
        for query, args in ((q.tomorrows_run, ()), (q.latest_run, ()), (q.runs, ()), (q.product_problems, (1,)),
                            (q.unverified_days, (dt.date(2015, 3, 1), dt.date(2015, 3, 2)))):
            with pytest.raises(SchemaError, match="no swx tables"):
                query(engine, *args)
        with pytest.raises(q.InputError, match="latest_run: engine='sqlite:///x': expected a database engine"):
            q.latest_run("sqlite:///x")
        engine.dispose()


def test_an_sqlite_database_that_cannot_be_read_says_where_and_why(tmp_path, monkeypatch):
    """A fourteenth round: a write-ahead-log SQLite file in a folder this user cannot write was "the
    database cannot be read ... check that it is reachable", as if a server were down: the verdict names
    the file's folder as the fault, as every command's error line does."""
    import os

    import swx.pipeline.database as dbmod

    path = tmp_path / "swx.sqlite"
    path.write_bytes(b"not a database" * 100)
    monkeypatch.setenv("SWX_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    real = os.access
    monkeypatch.setattr(dbmod.os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 1, r.output
    doc = _json(r.stdout)
    assert doc["status"] == "down" and "the database cannot be read (" in doc["problem"], doc
    assert f"(its folder {tmp_path} is not writable by this user: SQLite needs to write there even to read)" in \
        doc["problem"], doc
