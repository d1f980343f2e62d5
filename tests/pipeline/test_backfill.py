"""The backfill stage and `swx backfill`, on a simulated archive with CNNs trained to 10 March 2015:
point in time across the training end, resumable, the daily update replayed on request, storms for
every archived day, the plan of chunks and pending days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from swx.cli import app
from swx.errors import InputError
from swx.pipeline.backfill import backfill_stage, check_range, check_steps, pending_days, update_days
from swx.pipeline.days import chunked
from swx.store import queries as q
from tests.helpers import cnn_trained_to_10_march, run_cli_main


@pytest.fixture
def trained(database, monkeypatch):
    return cnn_trained_to_10_march(monkeypatch)


def _used_models(engine) -> pd.DataFrame:
    """Every model version a run used (its provenance) with the run's issue time and target day."""
    with engine.connect() as c:
        out = pd.read_sql(text("SELECT r.target_day, r.issue_time, mv.version, mv.train_end FROM run_models rm "
                               "JOIN forecast_runs r ON r.id = rm.run_id "
                               "JOIN model_versions mv ON mv.id = rm.model_version_id"), c)
    for col in ("issue_time", "train_end"):
        out[col] = pd.to_datetime(out[col], utc=True)
    out["target_day"] = pd.to_datetime(out["target_day"]).dt.date
    return out


def test_swx_backfill_is_point_in_time_resumable_and_says_what_it_did(trained):
    """Issue days 8-13 March, chunks of 4 days: the 8th and 9th (inside the CNNs' training period) stand on
    the baselines, the others use the CNNs; no stored forecast comes from a model that saw data after its
    issue time; the forecasts are verified; the storms of the period are looked for; a second run does
    nothing."""
    engine = trained.engine
    runner = CliRunner()
    res = runner.invoke(app, ["backfill", "--start", "2015-03-08", "--end", "2015-03-13", "--chunk-days", "4"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())  # the console wraps long lines
    # each issue day as the daily flow makes it: the next day's run and tomorrow's (no second day's
    # models here: carried forward a day, degraded and saying so)
    assert "6 day(s), 0 already done" in said and "runs 12 (8 degraded)" in said
    every = q.runs(engine)
    runs = every[every.lead_day == 1].sort_values("target_day")
    assert list(runs.target_day) == [dt.date(2015, 3, 9) + dt.timedelta(days=k) for k in range(6)]
    assert list(runs.degraded) == [True, True, False, False, False, False]
    assert "27-day median only" in runs.iloc[0].reason
    ahead = every[every.lead_day == 2].sort_values("target_day")
    assert list(ahead.target_day) == [dt.date(2015, 3, 10) + dt.timedelta(days=k) for k in range(6)]
    assert ahead.reason.str.contains("27-day median only").tolist() == [True, True, False, False, False, False]
    assert ahead.reason.str.contains("no second day's models").tolist() == [False, False, True, True, True, True]
    assert (pd.to_datetime(ahead.issue_time.to_numpy()) == pd.to_datetime(runs.issue_time.to_numpy())).all()
    used = _used_models(engine)
    assert set(used.target_day) == {dt.date(2015, 3, 11) + dt.timedelta(days=k) for k in range(5)}
    assert (used.train_end <= used.issue_time + pd.Timedelta(hours=2)).all()
    # the forecasts it made are verified (target days 9..14), and the storms of the period looked for
    assert q.unverified_days(engine, dt.date(2015, 3, 9), dt.date(2015, 3, 14)) == set()
    assert "days verified 6" in said and "storm events 0" in said
    counts = q.counts(engine)
    again = runner.invoke(app, ["backfill", "--start", "2015-03-08", "--end", "2015-03-13", "--step", "forecast",
                                "--step", "verify"])
    said = " ".join(again.output.split())
    assert again.exit_code == 0 and "6 already done" in said and "runs 0" in said
    assert q.counts(engine) == counts
    # a backfill stopped between a day's two runs resumes with the missing one only
    [nc] = {Path(nc) for _, nc, _, _, _ in q.finished_products(engine, dt.date(2015, 3, 15), dt.date(2015, 3, 15),
                                                          trained.settings.data_dir, lead_day=2)}
    nc.unlink()
    resumed = runner.invoke(app, ["backfill", "--start", "2015-03-08", "--end", "2015-03-13", "--step", "forecast"])
    said = " ".join(resumed.output.split())
    assert resumed.exit_code == 0 and "5 already done" in said and "runs 1 (1 degraded)" in said, said
    assert nc.is_file() and len(q.runs(engine)) == 12  # the 15th's tomorrow run again, in its own row
    # ... and one whose product was damaged since (truncated: not what the run wrote) is made again too
    [ionex] = {Path(ix) for _, _, ix, _, _ in q.finished_products(engine, dt.date(2015, 3, 15), dt.date(2015, 3, 15),
                                                             trained.settings.data_dir, lead_day=2)}
    ionex.write_bytes(ionex.read_bytes()[:5000])
    resumed = runner.invoke(app, ["backfill", "--start", "2015-03-08", "--end", "2015-03-13", "--step", "forecast"])
    said = " ".join(resumed.output.split())
    assert resumed.exit_code == 0 and "5 already done" in said and "runs 1 (1 degraded)" in said, said
    assert ionex.stat().st_size > 5000


def test_replayed_updates_serve_only_the_days_after_their_data(trained):
    """With the daily update replayed, each day's forecast uses the newest version whose data ended by its
    issue time: an update made for a day never forecasts that day."""
    ctx, engine = trained, trained.engine
    out = backfill_stage(ctx.settings, dt.date(2015, 3, 11), dt.date(2015, 3, 13), steps=["forecast"], replay=True)
    assert out["runs"] == 6 and not out["failed"]  # the next day's run and tomorrow's of each day
    registry = q.model_registry(engine)
    updated = registry[registry.version > 1]
    assert len(updated) == 18 * 3  # one candidate per station and replayed day (10, 11, 12 March)
    used = _used_models(engine)
    assert (used.train_end <= used.issue_time + pd.Timedelta(hours=2)).all()
    accepted = updated[updated.status.isin(["active", "retired"])]
    if len(accepted):  # an accepted update for day D serves the forecasts issued from D + 1 on
        first = accepted.train_end.min()
        later = used[used.issue_time + pd.Timedelta(hours=2) >= first]
        assert len(later) and (later.version > 1).any()


def test_the_plan_chunks_pending_days_and_refuses_bad_arguments(trained, monkeypatch, capsys):
    settings = trained.settings
    days = [dt.date(2015, 3, 1) + dt.timedelta(days=k) for k in range(7)]
    assert chunked(days, 3) == [days[:3], days[3:6], days[6:]]
    assert chunked(days[:2] + days[4:], 3) == [days[:2], days[4:]]  # a done day starts a new chunk
    assert update_days(days[:1]) == [dt.date(2015, 2, 28)]
    assert check_steps(["storms", "forecast"]) == ["forecast", "storms"]
    with pytest.raises(InputError, match="unknown backfill step"):
        check_steps(["forecast", "predict"])
    with pytest.raises(InputError, match="before it starts"):
        check_range(days[3], days[0], 10)
    assert pending_days(settings, days[0], days[-1], ["forecast", "verify"]) == days
    # days that cannot be forecast (no map on or before them) fail on their own, in chunks of one day too
    out = backfill_stage(settings, dt.date(2015, 2, 7), dt.date(2015, 2, 8), steps=["forecast", "verify"],
                         chunk_days=1)
    assert out["runs"] == 0 and sorted(out["failed"]) == ["2015-02-07", "2015-02-07 (lead day 2)", "2015-02-08",
                                                          "2015-02-08 (lead day 2)"]
    assert "no sim GIM on or before 2015-02-07" in out["failed"]["2015-02-07"]
    # a fourteenth round: verifying only, days whose forecasts failed were "already done"
    assert pending_days(settings, dt.date(2015, 2, 7), dt.date(2015, 2, 8), ["verify"]) == [
        dt.date(2015, 2, 7), dt.date(2015, 2, 8)]
    out = backfill_stage(settings, dt.date(2015, 2, 7), dt.date(2015, 2, 8), steps=["verify"])
    assert out["skipped"] == 0 and out["verified"] == 0
    assert out["unverified"] == {"2015-02-07": "no sim GIM for 2015-02-08 yet",
                                 "2015-02-08": "no sim GIM for 2015-02-09 yet"}
    # a fifteenth round: a day whose truth is in and whose forecast failed was verified "0" without a word
    import swx.pipeline.forecast as fmod
    from swx.pipeline.forecast import forecast

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    real = fmod.write_dtec
    monkeypatch.setattr(fmod, "write_dtec", broken)
    with pytest.raises(OSError):
        forecast(trained, dt.date(2015, 3, 12))
    monkeypatch.setattr(fmod, "write_dtec", real)
    out = backfill_stage(settings, dt.date(2015, 3, 12), dt.date(2015, 3, 12), steps=["verify"])
    why = out["unverified"]["2015-03-12"]
    assert why.startswith("the forecast for 2015-03-13 failed (run ") and "no space left on device" in why, why
    assert why.endswith("make it again (`swx forecast --day 2015-03-12`)"), why
    code, output = run_cli_main(monkeypatch, capsys, ["backfill", "--start", "2015-03-12", "--end", "2015-03-12",
                                                      "--step", "verify"])
    assert code == 0 and "not verified 2015-03-12: the forecast for 2015-03-13 failed" in output, output
    code, output = run_cli_main(monkeypatch, capsys, ["backfill", "--start", "2015-03-05", "--end", "2015-03-01"])
    assert code != 0 and "before it starts" in output and "Traceback" not in output


def _gfz_file(http_server, kp_at_peak: float, status: str) -> str:
    """GFZ's Kp file of 20-21 August 2025 (after the bundled history: the archive's Kp is the only Kp of
    those days) as served, made by swx's GFZ writer: quiet, one 3-hour value of `kp_at_peak` on the
    20th, every value `status`; its URL."""
    from swx.sources.indices.gfz import format_gfz_text
    from swx.sources.indices.tables import AP_OF_KP_THIRDS, IndexTables, three_hourly

    days = pd.DatetimeIndex(["2025-08-20", "2025-08-21"], tz="UTC")
    kp = pd.DataFrame({"kp": 2.0, "ap": 7.0, "status": status, "source": "GFZ"}, index=three_hourly(days))
    kp.iloc[3, 0] = kp_at_peak
    kp["ap"] = AP_OF_KP_THIRDS[(kp["kp"] * 3).round().astype(int)]  # as GFZ writes them: the ap of each Kp
    means = kp["ap"].groupby(kp.index.normalize()).mean().round().to_numpy()
    daily = pd.DataFrame({"Ap": means, "sn": 50.0, "f107_obs": 150.0, "f107_adj": 150.0, "status": status,
                          "source": "GFZ"}, index=days)
    return http_server.add("/Kp_ap_Ap_SN_F107_nowcast.txt", body=format_gfz_text(IndexTables(kp, daily)).encode())


def test_a_backfill_whose_ingest_brings_a_final_and_definitive_kp_revises_those_days(tmp_path, monkeypatch,
                                                                                    http_server):
    """Ad-hoc backfills ingest too, and bring in line what their ingest changed before anything is
    forecast over it (as the daily flow, `swx ingest gims --upgrade` and `swx ingest kp` do): the final
    of a day held as a rapid map replaces it and the day's observations are rewritten from it; GFZ's
    definitive Kp replacing a nowcast that differed measures the storm again. Then nothing is left
    to revise."""
    from swx.config import get_settings
    from swx.io.ionex import write_ionex
    from swx.pipeline.revise import revise_days
    from swx.store.db import open_database
    from tests.helpers import make_gim

    day = dt.date(2025, 9, 2)
    folder = tmp_path / "in"
    write_ionex(make_gim(day, seed=1), folder / "corg2450.25i")  # only the rapid map is out
    kp_url = _gfz_file(http_server, 17 / 3, "preliminary")  # the nowcast: 6- (G2) on 20 August
    start = dt.date(2025, 8, 20)  # the range: the storm's days, far enough from the map's day that only
    # the Kp revision measures the storm again (the map's revision re-measures the day before it)
    for key, value in {"SWX_GIM_SOURCE": "local", "SWX_GIM_LOCAL_DIR": str(folder), "SWX_KP_SOURCE": "gfz",
                       "SWX_KP_URL": kp_url, "SWX_KP_NOWCAST_URL": kp_url, "SWX_HTTP_RETRIES": "0"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    settings = get_settings()
    first = backfill_stage(settings, start, day, steps=["ingest", "storms"])
    assert first["revised"] == 0  # new maps and new Kp: nothing to revise
    engine = open_database(settings)
    [storm] = q.storms(engine).itertuples()
    assert (storm.g_class, storm.kp_status) == (2, "nowcast")
    # the day's station observations as a daily run leaves them, from the rapid map (here by the stage
    # that writes them from the archive: without models no forecast would run)
    revise_days(settings, [day])
    code = q.stations(engine).code.iloc[0]
    window = (dt.datetime(2025, 9, 2, tzinfo=dt.UTC), dt.datetime(2025, 9, 3, tzinfo=dt.UTC))
    rapid = q.observation_products(engine, code, *window)
    assert len(rapid) == 12 and set(rapid["product"]) == {"cor"} and set(rapid["level"]) == {"rapid"}
    on_rapid = q.station_series(engine, code, *window)["vtec"].to_numpy()

    write_ionex(make_gim(day, seed=2), folder / "codg2450.25i")  # the final comes out
    _gfz_file(http_server, 5.0, "definitive")  # and the definitive Kp: 5o (G1)
    again = backfill_stage(settings, start, day, steps=["ingest"])
    assert again["revised"] == 2  # 20 August (its Kp), 2 September (its map)
    [storm] = q.storms(engine).itertuples()
    assert (storm.g_class, storm.max_kp, storm.kp_status) == (1, 5.0, "definitive")
    final = q.observation_products(engine, code, *window)
    assert len(final) == 12 and set(final["product"]) == {"cod"} and set(final["level"]) == {"final"}
    # the values themselves are the final's (another map than the rapid one): rewriting the day from the
    # archive again changes nothing
    on_final = q.station_series(engine, code, *window)["vtec"].to_numpy()
    assert len(on_final) == 12 and (abs(on_final - on_rapid) > 0.05).any()
    revise_days(settings, [day])
    assert (q.station_series(engine, code, *window)["vtec"].to_numpy() == on_final).all()
    assert backfill_stage(settings, start, day, steps=["ingest"])["revised"] == 0
