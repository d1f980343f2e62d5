"""The Prefect flows under `prefect_test_harness` (a temporary Prefect server; PREFECT_HOME is a temp
dir, see tests/conftest.py), on a simulated archive, on SQLite and on the live PostgreSQL: a daily run
writes every kind of row and a rerun changes nothing; a missing GIM gives a degraded run with the
reason and a failed update keeps the old model; a backfill killed half-way and resumed ends identical
to an uninterrupted one."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from prefect.testing.utilities import prefect_test_harness
from sqlalchemy import text

from swx.archive import Archive, load_indices
from swx.config import get_settings
from swx.io.gim_names import short_name
from swx.pipeline.days import daterange
from swx.pipeline.ingest import ingest_gims_stage
from swx.pipeline.status import completed_days
from swx.pipeline.train import ensure_models
from swx.sources.simulated import simulated_source
from swx.store import queries as q
from swx.store.db import open_database
from tests.helpers import assert_ok_after_the_first, fresh_postgres_database, simulated_archive

REPO = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("SWX_TEST_DATABASE_URL")


@pytest.fixture(scope="module")
def harness():
    with prefect_test_harness(server_startup_timeout=180):
        yield


def _prepare(monkeypatch, last: dt.date, *, local: Path | None = None, skip: dt.date | None = None):
    """A simulated archive (2-hourly maps) up to `last` and a trained CNN per station. With `local`, the
    maps are written as IONEX files there (minus `skip`) and the flows read them as a local source."""
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    settings = get_settings()
    archive = Archive(settings.archive_dir)
    src = simulated_source(settings, load_indices(archive))
    days = daterange(dt.date(2015, 2, 10), last)
    if local is None:
        simulated_archive(settings, days[0], last - dt.timedelta(days=3))
    else:
        local.mkdir(parents=True, exist_ok=True)
        for d in days:
            if d != skip:
                (local / short_name("sim", d, compressed=False)).write_text(src.simulator.ionex(d))
        monkeypatch.setenv("SWX_GIM_SOURCE", "local")
        monkeypatch.setenv("SWX_GIM_LOCAL_DIR", str(local))
        monkeypatch.setenv("SWX_GIM_CENTRE", "sim")
        get_settings.cache_clear()
        settings = get_settings()
        ingest_gims_stage(settings, [d for d in days if d < last - dt.timedelta(days=2)])
    # the CNN only, to keep the flow tests short (the main job trains all four; tests/pipeline/test_train.py trains each)
    trained = ensure_models(settings, dt.date(2015, 3, 10), architectures=("cnn",), second_day=("ridge",), epochs=3)
    assert trained["trained"] == ["cnn", "ridge@d2"]
    return settings


def test_daily_flow_writes_every_kind_of_row_and_a_rerun_changes_nothing(harness, database, monkeypatch):
    from flows.daily import daily

    settings = _prepare(monkeypatch, dt.date(2015, 3, 18))
    engine = open_database(settings)
    daily(issue_date=dt.date(2015, 3, 17), lookback_days=2)
    out = daily(issue_date=dt.date(2015, 3, 18), lookback_days=2)
    counts = q.counts(engine)
    assert all(counts[t] > 0 for t in ("input_files", "kp_values", "daily_indices", "station_forecasts",
                                       "global_forecasts", "dtec", "verification", "storm_events", "model_versions",
                                       "forecast_runs")), counts
    assert out["forecast"]["target_day"] == "2015-03-19" and not out["forecast"]["degraded"]
    assert out["verify"]["maps"]["map:residual"] > 0 and "map:persistence" in out["verify"]["maps"]
    # every station's model of each lead day: the next day's and tomorrow's
    assert out["update"]["ok"] and out["update"]["accepted"] + out["update"]["rejected"] == 36
    assert any(e["g_class"] == 4 for e in out["storms"]["events"])  # 17 March 2015
    nc, ionex = out["forecast"]["products"]["residual"]
    assert Path(nc).is_file() and Path(ionex).is_file() and Path(nc).with_suffix(".png").is_file()

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(
            any_=["swx-daily-summary", "swx-daily-skill", "swx-forecast-map"])))
    kinds = {a.key: a for a in arts}
    assert set(kinds) == {"swx-daily-summary", "swx-daily-skill", "swx-forecast-map"}
    summary = [str(a.data) for a in arts if a.key == "swx-daily-summary" and "issue day 2015-03-18" in str(a.data)]
    assert summary and "Forecast for **2015-03-19**" in summary[0]
    # tomorrow's forecast from the same maps, by the second day's models, its products beside
    ahead = out["forecast_ahead"]
    assert ahead["target_day"] == "2015-03-20" and ahead["lead_day"] == 2 and ahead["latest_day"] == "2015-03-18"
    assert "Tomorrow's forecast (26-48 h after the cutoff) for **2015-03-20**" in summary[0]
    assert all(Path(p).is_file() for p in ahead["products"]["residual"])
    # nothing was forecast two days ahead for the 18th (no run on the 16th): only the next day's is scored
    assert out["verify"]["day"] == "2015-03-18" and "later_leads" not in out["verify"]

    # the main job's closing table: published forecasts of the 18th (issued on the 17th) are verified
    from swx.pipeline.report import skill_summary

    table = skill_summary(engine, dt.date(2015, 3, 18), dt.date(2015, 3, 18)).splitlines()
    head = next(line for line in table if "all stations" in line)
    assert "CRPS" in head and "95% cover" in head
    blend_line = next(line for line in table if line.startswith("blend"))
    cells = blend_line.split()
    assert float(cells[1]) > 0 and cells[-1].endswith("%") and 0 < float(cells[-1][:-1]) <= 100
    assert next(line for line in table if line.startswith("persistence")).split()[-2:] == ["—", "—"]

    daily(issue_date=dt.date(2015, 3, 18), lookback_days=2)  # the same day again
    assert q.counts(engine) == counts
    doc, healthy = __import__("swx.pipeline.status", fromlist=["run_status"]).run_status(settings)
    assert healthy and doc["status"] == "ok" and doc["station_forecasts"] == {"cnn": 216, "blend": 216}
    assert doc["global"]["residual"]["ionex"] == ionex and doc["map_skill"] == {}  # the 19th is not verified yet


def test_train_flow_with_an_ensemble_then_the_daily_blend_uses_it(harness, database, monkeypatch):
    """The training flow's ensemble option: 2-member GRUs for every station, registered and active; the
    next daily run forecasts with them and blends them with the CNN and the baselines."""
    from flows.daily import daily
    from flows.train import train

    settings = _prepare(monkeypatch, dt.date(2015, 3, 16))
    out = train(architectures=["gru"], train_end=dt.date(2015, 3, 10), epochs=1, ensemble=2)
    assert set(out) == {"gru", "gru@d2"} and out["gru"]["gru"] > 0 and out["gru@d2"]["gru"] > 0  # both lead days
    engine = open_database(settings)
    reg = q.model_registry(engine)
    gru = reg[(reg.architecture == "gru") & (reg.status == "active")]
    assert len(gru) == 18
    run = daily(issue_date=dt.date(2015, 3, 15), update=False, lookback_days=1)
    assert set(run["forecast"]["architectures"]) == {"cnn", "gru"}
    weights = q.blend_weights(engine, run["forecast"]["run_id"])
    assert set(weights.member) == {"cnn", "gru", "persistence", "median27"}
    fc = q.station_forecasts(engine, "E000N50", dt.datetime(2015, 3, 16, tzinfo=dt.UTC),
                             dt.datetime(2015, 3, 17, tzinfo=dt.UTC))
    assert {"cnn", "gru", "blend"} <= set(fc.architecture) and (fc[fc.architecture == "gru"].sigma > 0).all()


def test_missing_gim_gives_a_degraded_run_and_failed_update_keeps_the_model(harness, database, monkeypatch, tmp_path):
    from flows.daily import daily

    settings = _prepare(monkeypatch, dt.date(2015, 3, 16), local=tmp_path / "gims", skip=dt.date(2015, 3, 16))
    engine = open_database(settings)
    before = q.model_registry(engine)
    out = daily(issue_date=dt.date(2015, 3, 16), lookback_days=3)
    assert out["gims"]["days"]["2015-03-16"]["status"] == "missing"
    assert "2015-03-16 missing" in out["gims"]["summary"]
    fc = out["forecast"]
    assert fc["degraded"] and "no sim GIM for 2015-03-16" in fc["reason"] and fc["target_day"] == "2015-03-17"
    assert Path(fc["products"]["residual"][1]).is_file()  # still published
    assert not out["update"]["ok"] and out["update"]["reason"]  # nothing to learn from: the update failed
    after = q.model_registry(engine)
    pd.testing.assert_frame_equal(before[before.status == "active"].reset_index(drop=True),
                                  after[after.status == "active"].reset_index(drop=True))
    run = q.latest_run(engine)
    assert run["status"] == "degraded" and run["degraded"] and "2015-03-15" in run["reason"]

    # tomorrow's run failing (its product cannot be written; from the 15th's maps it is lead day 3) fails
    # the flow run, after the next day's forecast, the verification and the artifacts are done
    blocked = settings.data_dir / "products" / "2015" / "077" / "swx_forecast_20150318_residual_d3.nc"
    blocked.unlink()
    blocked.mkdir()
    state = daily(issue_date=dt.date(2015, 3, 16), update=False, lookback_days=1, return_state=True)
    assert state.is_failed() and "tomorrow's forecast from the maps of 2015-03-16 failed" in state.message
    assert q.latest_run(engine, lead_day=1)["status"] == "degraded"  # published, late map and all
    assert q.latest_run(engine, lead_day=2)["status"] == "failed"  # tomorrow's, by its issue day


def _snapshot(settings) -> dict:
    engine = open_database(settings)
    with engine.connect() as c:
        sf = pd.read_sql(text("SELECT s.code, f.architecture, r.lead_day, f.valid_time, f.mean, f.sigma "
                              "FROM station_forecasts f JOIN stations s ON s.id = f.station_id "
                              "JOIN forecast_runs r ON r.id = f.run_id ORDER BY 1, 2, 3, 4"), c)
        runs = pd.read_sql(text("SELECT issue_time, target_day, lead_day, status, reason FROM forecast_runs "
                                "ORDER BY 1, 2"), c)
        dtec = pd.read_sql(text("SELECT station_id, time, kind, dtec FROM dtec ORDER BY 1, 2, 3"), c)
        ver = pd.read_sql(text("SELECT station_code, model, window_start, rmse FROM verification ORDER BY 1, 2, 3"), c)
    maps = {}
    for p in sorted((settings.data_dir / "products").rglob("*.nc")):
        with xr.open_dataset(p) as f:
            maps[p.name] = f["tec"].values.copy()
    return {"station_forecasts": sf, "runs": runs, "dtec": dtec, "verification": ver, "maps": maps}


def test_backfill_killed_half_way_resumes_identical(harness, monkeypatch, tmp_path):
    from flows.backfill import backfill

    settings = _prepare(monkeypatch, dt.date(2015, 3, 20))
    start, end = dt.date(2015, 3, 12), dt.date(2015, 3, 19)
    twin = tmp_path / "twin"
    # the same archive, models and database for the interrupted run (the SQLite file through its backup
    # API: a plain copy of a live WAL database is not a consistent snapshot)
    shutil.copytree(settings.data_dir, twin, ignore=shutil.ignore_patterns("swx.sqlite*"))
    with sqlite3.connect(settings.data_dir / "swx.sqlite") as src, sqlite3.connect(twin / "swx.sqlite") as dst:
        src.backup(dst)

    backfill(start=start, end=end, chunk_days=3)
    reference = _snapshot(settings)
    assert len(reference["runs"]) == 16  # each day's next-day run and tomorrow's
    assert_ok_after_the_first(reference["runs"])

    monkeypatch.setenv("SWX_DATA_DIR", str(twin))
    get_settings.cache_clear()
    twin_settings = get_settings()
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": str(REPO)}
    code = ("import datetime as dt; from flows.backfill import backfill; "
            f"backfill(start=dt.date({start:%Y, %-m, %-d}), end=dt.date({end:%Y, %-m, %-d}), chunk_days=1)")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            time.sleep(2)
            done = completed_days(twin_settings, start, end)
            if len(done) >= 2:
                break
            assert proc.poll() is None, "the backfill ended before it could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # killed half-way, as an operator's Ctrl-C or a lost node would
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = completed_days(twin_settings, start, end)
    assert 2 <= len(partial) < 8

    backfill(start=start, end=end, chunk_days=3)  # resumed: finished days are skipped
    resumed = _snapshot(twin_settings)
    assert set(completed_days(twin_settings, start, end)) == set(daterange(start, end))
    # identical up to the networks' float32 arithmetic: a model runs on all the windows of a chunk at
    # once, and chunks of 1 and 3 days batch them differently (~1e-6 TECU)
    for key in ("station_forecasts", "runs", "dtec"):
        pd.testing.assert_frame_equal(resumed[key], reference[key], check_exact=False, rtol=1e-5, atol=1e-4)
    assert resumed["maps"].keys() == reference["maps"].keys()
    for name, tec in reference["maps"].items():
        np.testing.assert_allclose(resumed["maps"][name], tec, rtol=1e-5, atol=1e-4)


def test_backfill_on_postgresql_runs_on_dask_workers_and_skips_finished_days(harness, monkeypatch):
    from flows.backfill import backfill

    with fresh_postgres_database(monkeypatch, "swx_backfill"):
        settings = _prepare(monkeypatch, dt.date(2015, 3, 16))
        out = backfill(start=dt.date(2015, 3, 12), end=dt.date(2015, 3, 15), chunk_days=4)
        assert out["parallel"] and out["runs"] == 8 and out["skipped"] == 0 and out["verified"] == 3
        assert out["revised"] == 0  # the ingest changed no map and no Kp: nothing to revise
        engine = open_database(settings)
        runs = q.runs(engine)
        assert len(runs) == 8 and sorted(runs.lead_day) == [1] * 4 + [2] * 4
        assert_ok_after_the_first(runs)
        counts = q.counts(engine)
        again = backfill(start=dt.date(2015, 3, 12), end=dt.date(2015, 3, 15), chunk_days=4)
        assert again["skipped"] == 4 and again["runs"] == 0 and q.counts(engine) == counts
        engine.dispose()
