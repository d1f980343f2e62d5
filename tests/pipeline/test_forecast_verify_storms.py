"""The operational day on a simulated archive, on SQLite and on the live PostgreSQL: station forecasts
-> global map -> ΔTEC -> products -> database; verification of the maps; storm events; a rerun
changes nothing; a missing GIM gives a degraded run that still publishes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from swx.cli import app
from swx.io.ionex import read_ionex
from swx.ml.registry import ModelRegistry
from swx.pipeline.forecast import forecast
from swx.pipeline.storms import storms
from swx.pipeline.verify import verify_maps, verify_station_forecasts
from swx.provenance import code_version
from swx.science.series import series_from_archive
from swx.store import queries as q
from swx.store.writes import write_storm_events
from tests.helpers import cnn_trained_to_10_march


@pytest.fixture
def trained(database, monkeypatch):
    monkeypatch.setenv("SWX_EXTENSION_COMPARE", '["idw"]')
    return cnn_trained_to_10_march(monkeypatch)


def test_daily_forecast_verification_storms_and_rerun(trained):
    ctx = trained
    r = forecast(ctx, dt.date(2015, 3, 16))
    assert r.target_day == dt.date(2015, 3, 17) and r.methods == ["residual", "idw"]
    # the first run: published, but its blend has nothing verified to learn from, and it says so
    assert r.degraded and r.reason.startswith("no forecast has been verified yet: the blend's weights are equal")
    engine = ctx.engine
    counts = q.counts(engine)
    assert counts["station_forecasts"] == 18 * 12 * 2 and counts["global_forecasts"] == 2 * 13  # cnn + blend
    assert counts["dtec"] > 0 and q.latest_run(engine)["status"] == "degraded"
    assert counts["observations"] > 18 * 12 * 30  # the station history the forecasts start from, for the dashboard

    # provenance: the 18 CNN versions used, every archived map of the window with the archive's checksum,
    # the index files; the code version and the settings hash on the run
    prov = q.run_provenance(engine, r.run_id)
    assert len(prov["models"]) == 18 and set(prov["models"].architecture) == {"cnn"}
    gims = prov["inputs"][prov["inputs"].kind == "GIM"]
    assert gims.day.min() == dt.date(2015, 2, 10) and gims.day.max() == dt.date(2015, 3, 16) and len(gims) == 35
    first = ctx.archive.gim_path("sim", dt.date(2015, 3, 16))
    assert gims.set_index("day").loc[dt.date(2015, 3, 16), "sha256"] == ctx.archive.recorded_sha256(first)
    assert "kp_f107_history.csv.gz" in set(prov["inputs"].name)
    assert prov["run"]["code_version"] == code_version()
    assert len(prov["run"]["settings_hash"]) == 16

    nc, ionex = r.products["residual"]
    back = read_ionex(ionex)
    with xr.open_dataset(nc) as f:
        np.testing.assert_allclose(back["tec"].values, f["tec"].values, atol=0.051)
        assert str(f["time"].values[0])[:16] == "2015-03-17T00:00" and f.sizes["time"] == 13
        assert f.attrs["simulated"] == 1 and np.isfinite(f["dtec"].values).all()

    fdtec = q.global_dtec(engine, dt.datetime(2015, 3, 17, tzinfo=dt.UTC), dt.datetime(2015, 3, 18, tzinfo=dt.UTC),
                          "forecast")
    assert len(fdtec) == 12 and (fdtec.n_stations == 18).all()

    v = verify_maps(ctx, dt.date(2015, 3, 17))
    glob = v[(v.station_code == "global")].set_index("model")
    assert {"map:residual", "map:idw", "map:persistence"} <= set(glob.index)
    assert {"lat_band:low", "surface:ocean"} <= set(v.station_code)
    prods = q.global_products(engine, r.run_id)
    assert prods.global_rmse.notna().all()

    events = storms(ctx, dt.date(2015, 3, 1), dt.date(2015, 3, 18))
    big = max(events, key=lambda e: e.max_kp)
    assert big.g_class == 4 and big.peak_neg_dtec is not None and len(big.stations) == 5
    assert len(q.storms(engine)) == len(events)
    # every archived day of the window has its observed ΔTEC, forecast or not (5 March had no forecast)
    quiet = q.global_dtec(engine, dt.datetime(2015, 3, 5, tzinfo=dt.UTC), dt.datetime(2015, 3, 6, tzinfo=dt.UTC))
    assert len(quiet) == 12 and (quiet.n_stations == 18).all()
    # a later window that opens inside the G4 storm (the daily flow's 7-day window) finds it from its
    # true start: one event, not a second one cut short
    later = storms(ctx, dt.date(2015, 3, 18), dt.date(2015, 3, 20))
    assert big.start in {e.start for e in later}
    stored = q.storms(engine)
    assert (stored.g_class == 4).sum() == 1 and not ((stored.start > big.start) & (stored.start <= big.end)).any()
    # events an older run stored cut short (they start inside the storm) are replaced; a distinct storm
    # after it is kept
    cut = [dict(start=big.start + pd.Timedelta(hours=h), end=big.end, max_kp=6.0, g_class=2, stations=[])
           for h in (21, 30)]
    write_storm_events(engine, [{**c, "start": c["start"].to_pydatetime(), "end": c["end"].to_pydatetime()}
                                for c in cut])
    assert len(q.storms(engine)) == len(stored) + 2
    storms(ctx, dt.date(2015, 3, 18), dt.date(2015, 3, 20))
    assert len(q.storms(engine)) == len(stored) and set(q.storms(engine).start) == set(stored.start)

    # a rerun of the same day updates the same rows: nothing is duplicated; the scores it had were of
    # the earlier attempt's forecasts, so they go until the day is verified again
    before = q.counts(engine)
    r2 = forecast(ctx, dt.date(2015, 3, 16))
    storms(ctx, dt.date(2015, 3, 1), dt.date(2015, 3, 18))
    assert r2.run_id == r.run_id and q.counts(engine)["verification"] == before["verification"] - len(
        v.drop_duplicates(["model", "station_code"]))
    verify_maps(ctx, dt.date(2015, 3, 17))
    assert q.counts(engine) == before

    # a rerun with another extension method only: the run publishes what the rerun made, the earlier
    # method's products are withdrawn (files and checksum records), not left listed beside it
    residual = [*r.products["residual"]]
    assert all(p.with_name(p.name + ".sha256").is_file() for p in residual)
    figure = residual[0].with_suffix(".png")  # the main job's map figure beside the netCDF
    figure.write_bytes(b"\x89PNG")
    residual.append(figure)
    r3 = forecast(ctx, dt.date(2015, 3, 16), methods=["idw"])
    assert r3.run_id == r.run_id and set(q.global_products(engine, r.run_id).method) == {"idw"}
    assert not any(p.exists() or p.with_name(p.name + ".sha256").exists() for p in residual)  # a fourteenth round: the PNG too
    assert all(p.is_file() for p in r3.products["idw"])
    assert set(verify_maps(ctx, dt.date(2015, 3, 17)).model) >= {"map:idw"}
    r4 = forecast(ctx, dt.date(2015, 3, 16))  # and back: both methods again
    assert set(q.global_products(engine, r4.run_id).method) == {"residual", "idw"} and residual[0].is_file()
    verify_maps(ctx, dt.date(2015, 3, 17))
    # a rerun that fails keeps the scores: they are of what users had
    scored = q.counts(engine)["verification"]
    import swx.pipeline.forecast as fmod

    def broken(*args, **kwargs):
        raise OSError("no space left on device")

    real = fmod.write_dtec
    fmod.write_dtec = broken
    try:
        with pytest.raises(OSError):
            forecast(ctx, dt.date(2015, 3, 16))
    finally:
        fmod.write_dtec = real
    assert q.counts(engine)["verification"] == scored and q.latest_run(engine, None)["status"] == "failed"
    # a fourteenth round: `swx status` listed the products as the failed run's own
    from swx.pipeline.status import run_status, summary_lines

    doc, healthy = run_status(ctx.settings, max_age_h=1e6)
    assert not healthy and doc["run_id"] == r.run_id and doc["global_from_earlier_attempt"]
    assert any(line.startswith("  product (residual, left on disk by this run before it failed: not verified, ")
               for line in summary_lines(doc)), summary_lines(doc)
    forecast(ctx, dt.date(2015, 3, 16))
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert doc["run_id"] == r.run_id and not doc["global_from_earlier_attempt"]

    # the GIM of the issue day is missing: degraded, said why, still published
    d = forecast(ctx, dt.date(2015, 3, 19))
    assert d.degraded and "no sim GIM for 2015-03-19" in d.reason and d.target_day == dt.date(2015, 3, 20)
    assert d.products["residual"][1].is_file()
    run = q.latest_run(engine)
    assert run["status"] == "degraded" and "2015-03-18" in run["reason"]


def test_the_published_blend_learns_from_verified_forecasts_only(trained):
    """Day after day the blend's weights are fitted on the forecasts already published and verified
    (none on the first day: equal weights); they sum to 1 per station and lead; the published blend
    is the weighted sum of the stored members and the baselines at issue time; the map extends it."""
    ctx = trained
    engine = ctx.engine
    runs = [forecast(ctx, dt.date(2015, 3, d)) for d in (12, 13, 14)]
    for k, r in enumerate(runs):
        w = q.blend_weights(engine, r.run_id)
        assert set(w.member) == {"cnn", "persistence", "median27"} and (w.n_samples == k).all()
        sums = w.groupby(["station", "lead_h"]).weight.sum()
        assert len(sums) == 18 * 12 and np.allclose(sums, 1.0)
        if k == 0:
            assert np.allclose(w.weight, 1 / 3)
    last = runs[-1]
    fc = last.station_forecasts
    code = "E000N20"  # recompute one station's blend from what is stored
    w = q.blend_weights(engine, last.run_id)
    w = w[w.station == code].pivot(index="lead_h", columns="member", values="weight")
    mine = fc[fc.station == code].pivot(index="lead_h", columns="architecture", values="mean")
    obs = q.station_series(engine, code, dt.datetime(2015, 2, 10, tzinfo=dt.UTC), dt.datetime(2015, 3, 16, tzinfo=dt.UTC))
    valid = fc[(fc.station == code) & (fc.architecture == "blend")].set_index("lead_h").valid_time
    vtec = obs.set_index("time")["vtec"]
    day = pd.Timedelta(days=1)
    members = {"cnn": mine["cnn"].to_numpy(), "persistence": vtec.reindex(valid - day).to_numpy(),
               "median27": np.array([np.median(vtec.reindex([t - k * day for k in range(1, 28)]).dropna())
                                     for t in valid])}
    expected = sum(w[m].to_numpy() * members[m] for m in members)
    np.testing.assert_allclose(mine["blend"].to_numpy(), expected, atol=1e-6)
    assert (fc[fc.architecture == "blend"].sigma > 0).all()
    with xr.open_dataset(last.products["residual"][0]) as f:
        assert "blend" in f.attrs["source"]

    # what was published is what is verified: the stored rows of each model, beside the baselines
    v = verify_station_forecasts(ctx, dt.date(2015, 3, 15))
    one = v[(v.station_code == code) & (v.kp_class == "all")].set_index("model")
    assert set(one.index) == {"cnn", "blend", "persistence", "median27"} and (one.n == 12).all()
    long, _ = series_from_archive(ctx.archive, "sim", [s for s in ctx.stations if s.code == code],
                                  dt.date(2015, 3, 15), dt.date(2015, 3, 16))
    truth = long.set_index("time")["vtec"].reindex(valid).to_numpy()
    assert np.isfinite(truth).all()
    assert one.loc["blend", "rmse"] == pytest.approx(np.sqrt(np.mean((mine["blend"].to_numpy() - truth) ** 2)))
    assert one.loc["persistence", "rmse"] == pytest.approx(np.sqrt(np.mean((members["persistence"] - truth) ** 2)))
    stored = q.skill_table(engine)
    assert {"blend", "cnn"} <= set(stored.model)


def test_a_degraded_run_is_verified_with_the_baselines_it_knew(trained):
    """The issue day's maps are missing: the run forecasts from the day before, carried forward. Once
    the target day's maps are in, it is verified like any other — against persistence and the 27-day
    median as known at its own (older) issue time, carried forward the same way."""
    ctx = trained
    path = ctx.archive.gim_path("sim", dt.date(2015, 3, 16))
    path.rename(path.with_suffix(".away"))  # the 16th never arrived
    r = forecast(ctx, dt.date(2015, 3, 16))
    assert r.degraded and r.latest_day == dt.date(2015, 3, 15)
    v = verify_station_forecasts(ctx, dt.date(2015, 3, 17))
    code = "E000N50"
    one = v[(v.station_code == code) & (v.kp_class == "all")].set_index("model")
    assert set(one.index) == {"cnn", "blend", "persistence", "median27"} and (one.n == 12).all()
    long, _ = series_from_archive(ctx.archive, "sim", [s for s in ctx.stations if s.code == code],
                                  dt.date(2015, 3, 14), dt.date(2015, 3, 17))
    obs = long.set_index("time")["vtec"]
    fc = r.station_forecasts
    valid = pd.DatetimeIndex(fc[(fc.station == code) & (fc.architecture == "blend")].valid_time)
    assert (valid.normalize() == pd.Timestamp("2015-03-17", tz="UTC")).all()  # carried to the target day
    carried = obs.reindex(valid - pd.Timedelta(days=2)).to_numpy()  # the 15th's values, the newest it had
    truth = obs.reindex(valid).to_numpy()
    assert one.loc["persistence", "rmse"] == pytest.approx(np.sqrt(np.mean((carried - truth) ** 2)))


@pytest.mark.parametrize("damage", ["missing", "wrong"])
def test_a_day_without_a_valid_checksum_record_degrades_the_run_like_a_missing_day(trained, damage):
    """Issue 18: a missing or wrong checksum record on the newest archived day (what a SIGKILL can leave)
    crashed the forecast (TypeError) after writing its station forecasts."""
    ctx = trained
    side = ctx.archive.gim_path("sim", dt.date(2015, 3, 16)).with_name("sim_20150316.nc.sha256")
    if damage == "missing":
        side.unlink()
    else:
        side.write_text("0" * 64 + "  sim_20150316.nc\n")
    r = forecast(ctx, dt.date(2015, 3, 16))
    assert r.degraded and r.latest_day == dt.date(2015, 3, 15)
    # named for what it is, not as a day never archived (a seventh round)
    assert r.reason.startswith("the sim GIM for 2015-03-16 fails its checksum or has no checksum record"), r.reason
    assert "`swx ingest gims --force`" in r.reason and "no sim GIM" not in r.reason
    run = q.latest_run(ctx.engine)
    assert run["status"] == "degraded" and run["id"] == r.run_id


def test_a_run_a_day_further_from_its_maps_uses_the_second_days_models(trained):
    """The newest maps a day old: the run forecasts the day after the next from them. Where an
    architecture has second-day models (hours 26-48) they forecast it, instead of the first day's
    forecast carried forward; the run records its lead day, 2."""
    from swx.pipeline.train import train

    ctx = trained
    for lead_day in (1, 2):
        train(ctx, ["ridge"], train_end=dt.date(2015, 3, 10), lead_day=lead_day)
    held = ctx.archive.gim_path("sim", dt.date(2015, 3, 16))
    held.rename(held.with_name("aside.nc"))  # the issue day's maps missing
    r = forecast(ctx, dt.date(2015, 3, 16))
    assert r.degraded and r.latest_day == dt.date(2015, 3, 15)
    assert "forecast from the maps of 2015-03-15 (1 day(s) old) by the second day's models (ridge), the others " \
           "carried forward" in r.reason, r.reason
    run = q.latest_run(ctx.engine)
    assert run["id"] == r.run_id and run["lead_day"] == 2
    second = {v.id for v in _active_versions(ctx, "ridge@d2")}
    ridge = r.station_forecasts[r.station_forecasts.architecture == "ridge"]
    assert len(ridge) == 18 * 12 and set(ridge.model_version_id.astype(int)) <= second
    assert ridge.lead_h.min() == 26 and ridge.lead_h.max() == 48  # hours 26-48 after the cutoff
    cnn = r.station_forecasts[r.station_forecasts.architecture == "cnn"]
    assert len(cnn) == 18 * 12  # no second-day CNN: the first day's forecast carried forward
    # a tenth round: the next day's run for 17 March overwrote these products: they have names of their own
    nc, ionex = r.products["residual"]
    assert nc.name == "swx_forecast_20150317_residual_d2.nc", nc
    assert ionex.name == "SWX2OPSPRD_20150760000_01D_02H_GIM.INX", ionex  # the lead in the name, as c2pg
    assert "vTEC FORECAST of hours 26-48 after" in " ".join(ionex.read_text().split())
    from swx.pipeline.status import completed_days

    # a tenth round: a backfill counted the carried-forward run as the day done, and never redid it
    assert completed_days(ctx.settings, dt.date(2015, 3, 16), dt.date(2015, 3, 16)) == set()
    held.with_name("aside.nc").rename(held)
    again = forecast(ctx, dt.date(2015, 3, 16))  # the maps arrived: the next day's run, lead day 1
    assert completed_days(ctx.settings, dt.date(2015, 3, 16), dt.date(2015, 3, 16)) == {dt.date(2015, 3, 16)}
    assert again.run_id != r.run_id and not again.products["residual"][0].name.endswith("_d2.nc")
    assert nc.is_file() and ionex.is_file()


def test_tomorrows_run_is_made_from_the_same_maps_learns_from_its_own_lead_and_is_verified_by_lead(trained):
    """The daily run's second forecast: from the issue day's maps, for the day after the next (hours
    26-48 after the cutoff), by the second day's models. Not degraded for being a day ahead; its
    blend learns only from the verified runs of its own lead, with the baselines those runs knew; its
    map and stations are verified as lead day 2, beside persistence at the same lead (the maps of two
    days before), never mixed with the next day's runs."""
    from swx.pipeline.train import train
    from swx.pipeline.verify import verify_days

    ctx = trained
    engine = ctx.engine
    for lead_day in (1, 2):
        train(ctx, ["ridge"], train_end=dt.date(2015, 3, 10), lead_day=lead_day)
    firsts, aheads = [], []
    for d in range(11, 16):
        firsts.append(forecast(ctx, dt.date(2015, 3, d)))
        aheads.append(forecast(ctx, dt.date(2015, 3, d), lead_day=2))
    r = aheads[-1]
    assert r.target_day == dt.date(2015, 3, 17) and r.latest_day == dt.date(2015, 3, 15) and r.lead_day == 2
    assert "GIM" not in r.reason and "old" not in r.reason, r.reason  # a day ahead by design, no map missing
    assert not r.degraded, r.reason
    fc = r.station_forecasts
    assert fc.lead_h.min() == 26 and fc.lead_h.max() == 48
    ridge = fc[fc.architecture == "ridge"]
    assert set(ridge.model_version_id.astype(int)) <= {v.id for v in _active_versions(ctx, "ridge@d2")}
    # the blend: weights per lead from cutoff, learnt from the lead-2 runs verified by the issue time (the
    # ones for the 13th .. 15th: made on the 11th .. 13th), not from the next day's runs
    w = q.blend_weights(engine, r.run_id)
    assert w.lead_h.min() == 26 and w.lead_h.max() == 48
    w1 = q.blend_weights(engine, firsts[-1].run_id)
    assert 0 < w.n_samples.max() < w1.n_samples.max(), (w.n_samples.max(), w1.n_samples.max())
    nc, ionex = r.products["residual"]
    assert nc.name.endswith("_d2.nc") and ionex.name.startswith("SWX2OPSPRD_2015076")
    with xr.open_dataset(nc) as f:
        assert int(f.attrs["lead_day"]) == 2 and f["time"].values[0] == np.datetime64("2015-03-17T00:00")

    # verified by lead: the 16th had a run of each lead (made from the 15th's and the 14th's maps)
    [summary] = verify_days(ctx, [dt.date(2015, 3, 16)])
    assert summary["maps"] and summary["stations"]
    later = summary["later_leads"]["2"]
    assert set(later["stations"]) >= {"blend", "ridge", "persistence", "median27"}
    assert later["maps"]["map:residual"] != summary["maps"]["map:residual"]
    rows = q.skill_table(engine, published=True, lead_day=2)
    st = rows[(rows.scope == "station") & (rows.kp_class == "all") & (rows.station_code == "E000N50")]
    one = st.set_index("model")
    # persistence at lead 2: the 14th's values, the newest the run had
    long, _ = series_from_archive(ctx.archive, "sim", [s for s in ctx.stations if s.code == "E000N50"],
                                  dt.date(2015, 3, 14), dt.date(2015, 3, 17))
    obs = long.set_index("time")["vtec"]
    made = aheads[-2].station_forecasts  # the run for the 16th, from the 14th's maps
    valid = pd.DatetimeIndex(made[(made.station == "E000N50") & (made.architecture == "blend")].valid_time)
    assert (valid.normalize() == pd.Timestamp("2015-03-16", tz="UTC")).all()
    truth, carried = obs.reindex(valid).to_numpy(), obs.reindex(valid - pd.Timedelta(days=2)).to_numpy()
    assert one.loc["persistence", "rmse"] == pytest.approx(np.sqrt(np.mean((carried - truth) ** 2)))
    maps = rows[(rows.scope == "global") & (rows.station_code == "global")].set_index("model")
    truth16 = ctx.archive.open_gim_tec("sim", dt.date(2015, 3, 16))["tec"]
    then = ctx.archive.open_gim_tec("sim", dt.date(2015, 3, 14))["tec"]
    err = then.values - truth16.values  # the map two days before, epoch by epoch
    assert maps.loc["map:persistence", "rmse"] == pytest.approx(float(np.sqrt(np.nanmean(err ** 2))), rel=1e-4)

    # the daily run makes both in one chunk (history, windows, members, verified past shared): the same
    # forecasts as one at a time; its tomorrow run failing never stops the next day's
    from swx.pipeline.forecast import daily_forecasts_stage, forecast_days

    again = forecast_days(ctx, [dt.date(2015, 3, 15)], aheads=(1, 2))
    for a, b in zip([firsts[-1], aheads[-1]], again):
        assert (a.run_id, a.target_day, a.lead_day, a.reason) == (b.run_id, b.target_day, b.lead_day, b.reason)
        key = ["station", "architecture", "valid_time"]
        fa, fb = a.station_forecasts.sort_values(key), b.station_forecasts.sort_values(key)
        np.testing.assert_array_equal(fa[key].to_numpy(), fb[key].to_numpy())
        np.testing.assert_allclose(fa[["mean", "sigma"]].to_numpy(float), fb[["mean", "sigma"]].to_numpy(float),
                                   rtol=1e-6, atol=1e-6)
    nc.unlink()
    nc.mkdir()  # tomorrow's product cannot be written
    both = daily_forecasts_stage(ctx.settings, dt.date(2015, 3, 15))
    assert both["ahead"] is None and "swx_forecast_20150317_residual_d2.nc" in both["ahead_error"]
    assert both["forecast"]["target_day"] == "2015-03-16" and not both["forecast"]["degraded"]
    assert all(Path(p).is_file() for p in both["forecast"]["products"]["residual"])
    failed = q.runs(engine).set_index("id").loc[r.run_id]
    assert failed.status == "failed" and "_d2.nc" in failed.reason


def _active_versions(ctx, family: str):
    from swx.ml.registry import ModelRegistry

    registry = ModelRegistry(ctx.settings.models_dir, ctx.engine)
    return [registry.active(st.code, family) for st in ctx.stations]


def test_recorded_paths_are_relative_to_the_data_folder_which_can_move(trained, tmp_path, monkeypatch):
    """Issue 18: paths were stored relative to the working directory (`var/models/...`): run from
    another directory, or with the data folder mounted elsewhere, the forecast failed with "checkpoint
    missing". Recorded relative to the data folder, they survive moving the folder."""
    import shutil

    from sqlalchemy import select

    from swx.config import get_settings
    from swx.pipeline.context import context
    from swx.pipeline.status import completed_days
    from swx.store import orm as m

    ctx = trained
    r = forecast(ctx, dt.date(2015, 3, 15))
    with ctx.engine.connect() as conn:
        recorded = [*conn.execute(select(m.ModelVersion.checkpoint_path)).scalars(),
                    *conn.execute(select(m.GlobalForecast.product_path)).scalars(),
                    *conn.execute(select(m.InputFile.path)).scalars(),
                    *conn.execute(select(m.RunInput.path).where(m.RunInput.kind == "GIM")).scalars()]
    assert recorded and all(not p.startswith("/") and p.split("/")[0] in ("models", "products", "archive")
                            for p in recorded), recorded[:5]
    old = ctx.settings.data_dir
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    ctx.engine.dispose()
    shutil.move(old, moved)
    monkeypatch.setenv("SWX_DATA_DIR", str(moved))
    monkeypatch.chdir(tmp_path / "elsewhere")  # another working directory too
    get_settings.cache_clear()
    ctx2 = context(get_settings())
    again = forecast(ctx2, dt.date(2015, 3, 16))  # loads the checkpoints from the moved folder
    assert again.architectures == ["cnn"] and not again.degraded
    assert dt.date(2015, 3, 15) in completed_days(ctx2.settings, dt.date(2015, 3, 15), dt.date(2015, 3, 16))
    assert not verify_maps(ctx2, dt.date(2015, 3, 16)).empty  # the products are found where they are now
    assert r.run_id != again.run_id


def test_a_backfilled_day_never_uses_a_model_that_saw_it(trained):
    """Point in time: the CNNs were trained on windows whose targets end by 10 March 22:00. Forecasts
    issued on 5 and 9 March (at 22:00, for the next day) must not use them: they stand on the baselines
    and say so; the one issued on 10 March, when all the models' data existed, uses them."""
    ctx, engine = trained, trained.engine
    registry = ModelRegistry(ctx.settings.models_dir, engine)
    code = ctx.stations[0].code
    v1 = registry.active(code, "cnn")
    assert v1.train_end == dt.datetime(2015, 3, 11, tzinfo=dt.UTC)  # exclusive: nothing from the 11th on
    assert registry.usable_at(code, "cnn", dt.datetime(2015, 3, 9, 22, tzinfo=dt.UTC)) is None
    assert registry.usable_at(code, "cnn", dt.datetime(2015, 3, 10, 22, tzinfo=dt.UTC)) == v1

    for day in (dt.date(2015, 3, 5), dt.date(2015, 3, 9)):
        r = forecast(ctx, day)
        assert r.architectures == [] and r.degraded
        assert f"up to {day} 22:00 UTC only" in r.reason and "27-day median only" in r.reason
        assert set(r.station_forecasts.architecture) == {"blend"}
        assert r.station_forecasts["mean"].notna().all()  # the baselines still give every station a forecast
        assert r.station_forecasts["lead_h"].dtype.kind == "f"  # typed columns, not objects
        assert r.products["residual"][0].is_file()  # and a map
        prov = q.run_provenance(engine, r.run_id)
        assert prov["models"].empty and prov["run"]["status"] == "degraded"
        weights = q.blend_weights(engine, r.run_id)
        assert set(weights.member) == {"persistence", "median27"}

    r = forecast(ctx, dt.date(2015, 3, 10))
    assert r.architectures == ["cnn"] and not r.degraded
    used = q.run_provenance(engine, r.run_id)["models"]
    assert len(used) == 18 and set(used.version) == {v1.version}


def test_cli_forecast_and_verify(trained, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["forecast", "--day", "2015-03-14", "--plot", str(tmp_path / "f.png")])
    assert res.exit_code == 3, res.output  # published, degraded: nothing verified yet for the blend to learn from
    assert "forecast for 2015-03-15" in res.output and ".INX" in res.output
    assert "- no forecast has been verified yet" in res.output
    assert (tmp_path / "f.png").stat().st_size > 10_000
    res = runner.invoke(app, ["verify-maps", "--day", "2015-03-15", "--format", "json", "--plot",
                              str(tmp_path / "v.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "v.png").stat().st_size > 20_000
    assert "map:residual" in res.output
    res = runner.invoke(app, ["verify", "--day", "2015-03-15", "--json"])  # the daily flow's verification
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["maps"]["map:residual"] > 0 and {"blend", "cnn", "persistence", "median27"} <= set(summary["stations"])
    res = runner.invoke(app, ["storms", "--start", "2015-03-15", "--end", "2015-03-18"])
    assert res.exit_code == 0 and "7.67" in res.output
    # an archived day nothing was published for: both halves say so (the maps said nothing)
    res = runner.invoke(app, ["verify", "--day", "2015-03-10"])
    assert res.exit_code == 1, res.output
    assert "maps skipped: no global forecast published for 2015-03-10" in res.output
    assert "stations skipped: no station forecasts published for 2015-03-10" in res.output


def test_a_chunk_of_days_publishes_what_the_days_one_at_a_time_publish(trained):
    """A backfill chunk (history, input windows, models, verified past and baselines prepared once) is
    the daily run repeated: the same forecasts, blends and weights as the days one at a time, also
    across the models' training end (9 March stands on the baselines, 10 March on the models) and
    for a day whose map is missing (carried forward). A self-contained chunk (`recompute_from`, as
    backfill chunks run side by side) publishes the same before the days it fits its blends on are
    published at all."""
    from swx.pipeline.forecast import forecast_days

    ctx, engine = trained, trained.engine
    missing = ctx.archive.gim_path("sim", dt.date(2015, 3, 12))
    days = [dt.date(2015, 3, 9) + dt.timedelta(days=k) for k in range(5)]  # 9..13 March, the 12th missing
    saved = missing.read_bytes()
    missing.unlink()
    try:
        alone = forecast_days(ctx, days[2:], recompute_from=days[0])  # nothing published before it
        one_by_one = [forecast(ctx, d) for d in days]
        done = []
        chunk = forecast_days(ctx, days, on_day=done.append)
    finally:
        missing.write_bytes(saved)
    assert done == days
    assert [r.degraded for r in chunk] == [True, False, False, True, False]
    assert "no sim GIM for 2015-03-12" in chunk[3].reason and chunk[3].latest_day == dt.date(2015, 3, 11)
    assert chunk[0].architectures == [] and chunk[1].architectures == ["cnn"]
    for a, b in [*zip(one_by_one, chunk), *zip(one_by_one[2:], alone)]:
        assert (a.target_day, a.latest_day, a.issue_time, a.reason) == (b.target_day, b.latest_day, b.issue_time,
                                                                        b.reason)
        key = ["station", "architecture", "valid_time"]
        fa, fb = a.station_forecasts.sort_values(key), b.station_forecasts.sort_values(key)
        assert len(fa) == len(fb) and set(fb.architecture) == set(fa.architecture)
        np.testing.assert_array_equal(fa[key].to_numpy(), fb[key].to_numpy())
        np.testing.assert_allclose(fa[["mean", "sigma"]].to_numpy(float), fb[["mean", "sigma"]].to_numpy(float),
                                   rtol=1e-5, atol=1e-5)
        wa = q.blend_weights(engine, a.run_id)
        wb = q.blend_weights(engine, b.run_id)
        np.testing.assert_allclose(wa["weight"], wb["weight"], atol=1e-5)
        assert (wa["n_samples"] == wb["n_samples"]).all()
    assert (q.blend_weights(engine, chunk[-1].run_id)["n_samples"] > 0).any()  # fitted on the chunk's own runs


def test_a_second_source_at_a_station_never_breaks_or_enters_the_forecast(trained, tmp_path):
    """A receiver's series imported on a catalog station (the documented use) and another centre's
    values at the same station and times: the runs go on, and what the blend is fitted on is this
    centre's maps alone, each source's baselines its own."""
    from swx.config import IMPORTED_CENTRE
    from swx.pipeline.forecast import VerifiedPast
    from swx.pipeline.ingest import import_series_stage
    from swx.science.blend import BlendConfig
    from swx.store.writes import write_observations

    ctx = trained
    first = forecast(ctx, dt.date(2015, 3, 12))
    code = "E000N50"
    window = (dt.datetime(2015, 2, 10, tzinfo=dt.UTC), dt.datetime(2015, 3, 15, tzinfo=dt.UTC))
    t = pd.date_range("2015-02-10", "2015-03-13 22:00", freq="2h", tz="UTC")
    receiver = tmp_path / "receiver.csv"
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "vtec": 99.0}).to_csv(receiver, index=False)
    assert import_series_stage(ctx.settings, receiver, code).values == len(t)
    write_observations(ctx.engine, pd.DataFrame({"station": code, "time": t, "vtec": 55.0, "centre": "cod"}))
    both = q.station_series(ctx.engine, code, *window)
    assert set(both.centre) == {"sim", IMPORTED_CENTRE, "cod"} and both.time.duplicated().any()

    runs = [forecast(ctx, dt.date(2015, 3, d)) for d in (13, 14)]
    assert not any(r.degraded for r in runs), [r.reason for r in runs]
    assert q.latest_run(ctx.engine)["status"] == "ok"
    assert (q.blend_weights(ctx.engine, runs[-1].run_id).n_samples == 2).all()
    past = VerifiedPast.read(ctx, dt.date(2015, 3, 15), dt.date(2015, 3, 15), BlendConfig())
    mine = q.station_series(ctx.engine, code, *window, centre="sim").set_index("time")["vtec"]
    seen = past.observed["vtec"][code].dropna()
    assert len(seen) > 12 * 20 and seen.max() < 55.0
    np.testing.assert_allclose(seen.to_numpy(), mine.reindex(seen.index.tz_localize("UTC")).to_numpy())
    assert first.degraded and first.reason.startswith("no forecast has been verified yet")  # the first run


def test_a_run_that_fails_before_publishing_is_recorded_failed(trained, monkeypatch):
    """What a chunk's runs share (the history, the members, the verified past) fails: no forecast is
    published, and each day's run is recorded failed with the reason, so monitoring stops saying OK."""
    from swx.pipeline import forecast as stage
    from swx.pipeline.status import run_status

    ctx = trained
    forecast(ctx, dt.date(2015, 3, 12))

    def broken(*args, **kwargs):
        raise ValueError("Length mismatch: Expected 372 rows, received array of length 1116")

    monkeypatch.setattr(stage.VerifiedPast, "read", broken)
    with pytest.raises(ValueError, match="Length mismatch"):
        stage.forecast_days(ctx, [dt.date(2015, 3, 13), dt.date(2015, 3, 14)])
    runs = q.runs(ctx.engine).set_index("target_day")
    for day in (dt.date(2015, 3, 14), dt.date(2015, 3, 15)):
        assert runs.loc[day, "status"] == "failed" and "Length mismatch" in runs.loc[day, "reason"]
    assert runs.loc[dt.date(2015, 3, 13), "status"] == "degraded"  # the first run, published (nothing verified)
    doc, healthy = run_status(ctx.settings, max_age_h=1e6)
    assert not healthy and "the latest run failed: " in doc["problem"] and "Length mismatch" in doc["problem"]


def test_maps_days_old_are_no_forecast_for_tomorrow(trained):
    """The newest maps are a week old: no run is published (it would stand as the latest in
    monitoring); up to MAX_CARRY_DAYS the run carries them forward, marked degraded."""
    from swx.errors import NotFoundError
    from swx.pipeline.forecast import MAX_CARRY_DAYS

    ctx = trained  # maps up to 18 March 2015
    with pytest.raises(NotFoundError, match="are of 2015-03-18, 7 days old: a run carries maps forward 3 days at most"):
        forecast(ctx, dt.date(2015, 3, 25))
    assert q.latest_run(ctx.engine) is None
    r = forecast(ctx, dt.date(2015, 3, 18) + dt.timedelta(days=MAX_CARRY_DAYS))
    assert r.degraded and r.latest_day == dt.date(2015, 3, 18) and "3 day(s) old" in r.reason


def test_a_forecast_from_real_maps_with_models_of_simulated_data_is_not_ok(trained, ionex_dir, monkeypatch):
    """Real CODE maps of 8-9 January 2020, models trained on the simulated archive, 2 of the 27 days the
    median needs: the run was published "ok", `swx status` said healthy, and the blend gave the 27-day
    median (which cannot exist) an equal weight. Now the run is degraded and says why, the forecast and
    status commands exit 3, and the median carries no weight."""
    from swx.config import get_settings

    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "gims", "--source", "local", "--dir", str(ionex_dir), "--centre", "cod",
                              "--start", "2020-01-08", "--end", "2020-01-09"])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("SWX_GIM_CENTRE", "cod")
    monkeypatch.setenv("SWX_GIM_SOURCE", "local")
    get_settings.cache_clear()
    res = runner.invoke(app, ["forecast", "--day", "2020-01-09"])
    assert res.exit_code == 3, res.output
    text = " ".join(res.output.split())
    assert "DEGRADED — not to be trusted as it stands" in text
    assert "the models of 18 station(s) learnt from sim data, not the cod maps they forecast from" in text
    assert "the 27-day median rests on 2 of the 27 days up to 2020-01-09 (at least 14 needed)" in text
    engine = trained.engine
    run = q.latest_run(engine)
    assert run["status"] == "degraded" and run["data_source"] == "cod" and run["target_day"] == dt.date(2020, 1, 10)
    weights = q.blend_weights(engine, run["id"])
    assert (weights[weights.member == "median27"].weight == 0).all()
    per = weights.groupby(["station", "lead_h"]).weight.sum()
    assert np.allclose(per, 1.0)  # the weights stored are the ones used
    res = runner.invoke(app, ["status", "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"): res.stdout.rindex("}") + 1])
    assert doc["verdict"] == "degraded" and not doc["simulated"]
    assert any("learnt from sim data" in r for r in doc["reasons"])
    assert any("27-day median rests on 2" in r for r in doc["reasons"])


def test_a_member_forecasting_what_no_ionosphere_holds_degrades_the_run():
    """A fresh round: a ridge trained on three days forecast 816 TECU, and the run's reasons did not say."""
    from types import SimpleNamespace

    from swx.pipeline.forecast import MemberForecasts, PublishedBlend, trust_reasons

    table = pd.DataFrame({"station": ["E000N50", "E000N20"], "architecture": "ridge", "mean": [12.0, 816.6]})
    members = MemberForecasts(table, pd.Timestamp("2015-03-12 22:00", tz="UTC"), pd.DatetimeIndex([]),
                              {"E000N50": {"sim"}, "E000N20": {"sim"}})
    ctx = SimpleNamespace(centre="sim", source_of=lambda code: "sim",
                          archive=SimpleNamespace(has_gim=lambda centre, day: True))
    blend = PublishedBlend(pd.DataFrame(), pd.DataFrame(), {}, {"E000N50": 30, "E000N20": 30})
    [why] = trust_reasons(ctx, dt.date(2015, 3, 12), members, blend)
    assert why.startswith("the ridge forecast reaches 817 TECU at E000N20, above the 400 TECU")


def test_a_run_stopped_by_ctrl_c_or_sigterm_is_recorded_failed_not_left_running(trained, monkeypatch):
    """A sixth round: Ctrl-C or SIGTERM (a scheduler stopping the job) in the middle of a forecast left its
    run "running" for good; it is recorded failed, saying it was interrupted."""
    from swx.pipeline import forecast as stage

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "write_dtec", stopped)  # late in the run, after its row and products
    with pytest.raises(KeyboardInterrupt):
        forecast(trained, dt.date(2015, 3, 12))
    run = q.latest_run(trained.engine)
    assert run["status"] == "failed" and run["reason"] == stage.INTERRUPTED
    # and a failed run publishes nothing: the products it had written are removed (a sixth round found a
    # netCDF left beside a failed IONEX write)
    from swx.products import product_dir

    folder = product_dir(trained.settings.data_dir, dt.date(2015, 3, 13))
    assert not [p for p in folder.glob("*") if p.suffix in (".nc", ".INX")], list(folder.glob("*"))


def test_an_architecture_asked_for_without_its_model_is_among_the_runs_reasons(trained, monkeypatch):
    """A seventh round: SWX_FORECAST_ARCHITECTURE=lstm with only a CNN trained published the blend,
    saying so only in the log; the run is degraded and its reason names the setting."""
    from swx.config import get_settings

    monkeypatch.setenv("SWX_FORECAST_ARCHITECTURE", "lstm")
    get_settings.cache_clear()
    trained.settings = get_settings()
    r = forecast(trained, dt.date(2015, 3, 12))
    run = q.latest_run(trained.engine)
    assert run["status"] == "degraded" and r.run_id == run["id"]
    assert "SWX_FORECAST_ARCHITECTURE=lstm, but no lstm model forecast this run" in run["reason"]
    assert "the blend forecasts are published" in run["reason"]


def test_a_published_product_deleted_afterwards_is_said_by_status(trained):
    """A sixth round: with the latest run's netCDF deleted, `swx status` still printed its path as the
    product and kept its verdict."""
    from swx.pipeline.status import run_status

    r = forecast(trained, dt.date(2015, 3, 12))
    doc, _ = run_status(trained.settings, max_age_h=1e6)
    assert not any("missing" in why for why in doc["reasons"])
    nc, _ = r.products["residual"]
    Path(nc).unlink()
    doc, _ = run_status(trained.settings, max_age_h=1e6)
    assert doc["verdict"] == "degraded"
    assert any(why.startswith("1 published product file(s) missing") and Path(nc).name in why for why in doc["reasons"])


def test_a_published_product_changed_afterwards_degrades_status_and_is_named_by_verify(trained):
    """An eleventh round: the netCDF product emptied and the IONEX overwritten with garbage left `swx
    status` at "ok"; `swx verify` on the emptied product ended in xarray's traceback. Each product has
    its .sha256 beside it (what `sha256sum -c` reads)."""
    import hashlib

    from swx.errors import DataFormatError
    from swx.pipeline.status import run_status

    r = forecast(trained, dt.date(2015, 3, 14))
    nc, ionex = r.products["residual"]
    for path in (nc, ionex):
        digest, name = Path(f"{path}.sha256").read_text().split()
        assert name == Path(path).name and digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    doc, _ = run_status(trained.settings, max_age_h=1e6)
    assert not any("changed since" in why for why in doc["reasons"])
    Path(nc).write_bytes(b"")
    Path(ionex).write_bytes(b"garbage" * 100)
    doc, _ = run_status(trained.settings, max_age_h=1e6)
    assert doc["verdict"] == "degraded"
    assert any(why.startswith("1 published product file(s) changed since they were published") for why in doc["reasons"])
    assert any(why.startswith("1 published product file(s) emptied") for why in doc["reasons"])
    with pytest.raises(DataFormatError) as err:
        verify_maps(trained, dt.date(2015, 3, 15))
    assert str(nc) in str(err.value) and "run its forecast again" in str(err.value)


def test_another_days_product_copied_with_a_fresh_checksum_record_is_called_changed(trained):
    """A fourteenth round: yesterday's products copied over today's, each with a `.sha256` made again
    (`sha256sum f > f.sha256`), passed `swx status` as ok and were skipped by a resumed backfill; the
    database keeps each file's checksum as published, which a copy cannot match."""
    import hashlib

    from swx.archive import record_checksum
    from swx.pipeline.status import completed_days, run_status

    ctx = trained
    old = forecast(ctx, dt.date(2015, 3, 13))
    new = forecast(ctx, dt.date(2015, 3, 14))
    assert dt.date(2015, 3, 14) in completed_days(ctx.settings, dt.date(2015, 3, 14), dt.date(2015, 3, 14))
    for before, after in zip(old.products["residual"], new.products["residual"], strict=True):
        Path(after).write_bytes(Path(before).read_bytes())
        record_checksum(Path(after))  # the record beside it agrees with the copy
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert doc["verdict"] == "degraded" and doc["run_id"] == new.run_id
    assert any(why.startswith("2 published product file(s) changed since they were published (they no longer "
                              "match the checksum recorded at publication)") for why in doc["reasons"]), doc["reasons"]
    assert dt.date(2015, 3, 14) not in completed_days(ctx.settings, dt.date(2015, 3, 14), dt.date(2015, 3, 14))

    # a fifteenth round: one row of the run without a checksum hid the others'; with none at all (rows
    # from before checksums were kept) the copy passed: its first valid time is another day's
    from sqlalchemy import text

    def checksums(value: str | None, only_one: bool = False) -> None:
        with ctx.engine.begin() as conn:
            first = conn.execute(text("SELECT min(valid_time) FROM global_forecasts WHERE run_id = :r"),
                                 {"r": new.run_id}).scalar_one()
            conn.execute(text("UPDATE global_forecasts SET product_sha256 = :v, ionex_sha256 = :v WHERE run_id = :r"
                              + (" AND valid_time = :t" if only_one else "")), {"v": value, "r": new.run_id, "t": first})

    def reasons() -> list[str]:
        return [why for why in run_status(ctx.settings, max_age_h=1e6)[0]["reasons"] if "product file" in why]

    checksums(None, only_one=True)
    assert any(why.startswith("2 published product file(s) changed since") for why in reasons()), reasons()
    checksums(None)
    assert any(why.startswith("2 published product file(s) holding another day's forecast") for why in reasons())
    assert dt.date(2015, 3, 14) not in completed_days(ctx.settings, dt.date(2015, 3, 14), dt.date(2015, 3, 14))
    forecast(ctx, dt.date(2015, 3, 14))  # made again: as published
    assert reasons() == []
    checksums(None)  # a sixteenth round: rows without checksums passed whatever their files held
    assert any(why.startswith("4 published product file(s) published before the database kept products' checksums")
               for why in reasons()), reasons()
    assert dt.date(2015, 3, 14) not in completed_days(ctx.settings, dt.date(2015, 3, 14), dt.date(2015, 3, 14))
    forecast(ctx, dt.date(2015, 3, 14))
    assert reasons() == []
    nc = Path(new.products["residual"][0])
    recorded = hashlib.sha256(nc.read_bytes()).hexdigest()

    def swap(old: str, value: str) -> None:
        with ctx.engine.begin() as conn:
            conn.execute(text("UPDATE global_forecasts SET product_sha256 = :v WHERE product_sha256 = :o"),
                         {"v": value, "o": old})

    swap(recorded, recorded.upper())  # the same digest in capitals: the same checksum
    assert reasons() == []
    swap(recorded.upper(), "garbage!!")  # not a checksum at all: said as such, not blamed on the file
    assert any(why.startswith("1 published product file(s) whose checksum in the database is not a sha256")
               for why in reasons()), reasons()
    swap("garbage!!", recorded)
    assert reasons() == []
    side = nc.with_name(nc.name + ".sha256")  # a second, conflicting line: `sha256sum -c` fails on it
    side.write_text(side.read_text() + f"{'0' * 64}  {nc.name}\n")
    assert any(why.startswith("1 published product file(s) whose .sha256 is not one record of the file")
               for why in reasons()), reasons()


def test_an_archived_day_changed_afterwards_is_named_not_called_missing(trained, caplog):
    """A sixth round: an archived map edited after ingest was "no GIM ... yet" to `swx verify` and one
    of the "day(s) missing" (at INFO) to the forecast; it is named as changed, with what repairs it."""
    import logging

    from swx.errors import NotFoundError
    from swx.pipeline.verify import verify_maps

    ctx = trained
    day = dt.date(2015, 3, 10)
    path = ctx.archive.gim_path(ctx.centre, day)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(NotFoundError, match=r"the archived sim GIM for 2015-03-10 changed since it was archived "
                                            r"\(checksum mismatch\): archive it again"):
        verify_maps(ctx, day)
    from swx.pipeline.verify import verify_stage

    assert verify_stage(ctx.settings, day)["skipped"].startswith("the archived sim GIM for 2015-03-10 changed")
    with caplog.at_level(logging.WARNING):
        forecast(ctx, dt.date(2015, 3, 12))
    assert "1 archived day(s) changed since they were archived (checksum mismatch), left out: 2015-03-10" in caplog.text


def test_a_predicted_kp_never_makes_a_storm(trained):
    """An eleventh round: CelesTrak's DAILY_PREDICTED Kp (8 all day) stored beside the observed values
    made `swx storms` list a G4 event that had not happened."""
    from swx.sources.indices.tables import IndexTables, empty_daily, empty_kp

    ctx = trained
    day = dt.date(2026, 1, 10)  # after the bundled history: no observed Kp beside it
    times = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=8, freq="3h", name="time")
    predicted = pd.concat([empty_kp(), pd.DataFrame({"kp": 8.0, "ap": 300.0, "status": "predicted",
                                                     "source": "celestrak"}, index=times)])
    ctx.archive.store_indices(IndexTables(predicted, empty_daily()))
    assert ctx.archive.load_indices().kp.loc[times, "status"].eq("predicted").all()
    events = storms(ctx, day, day)
    assert not [e for e in events if e.start.date() == day], events


def test_tomorrows_damaged_product_degrades_status_and_a_lead_2_run_by_hand_is_not_tomorrows(trained):
    """A thirteenth round: tomorrow's product changed after publication left the overall verdict "ok"
    (only tomorrow's block said so); a product emptied with its .sha256 deleted, or a .sha256 deleted,
    passed as ok; a lead-2 forecast made by hand for a later issue day was judged as the daily run's
    tomorrow ("no forecast of the day after from this daily run", though it had one)."""
    from swx.pipeline.forecast import forecast_days
    from swx.pipeline.status import run_status
    from swx.pipeline.train import train

    ctx = trained
    for lead_day in (1, 2):
        train(ctx, ["ridge"], train_end=dt.date(2015, 3, 10), lead_day=lead_day)
    first, ahead = forecast_days(ctx, [dt.date(2015, 3, 14)], aheads=(1, 2))
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert not any("published product file" in why for why in doc["reasons"]), doc["reasons"]
    assert doc["tomorrow"]["run_id"] == ahead.run_id

    # made by hand: tomorrow's forecast of a later issue day; the daily run judged keeps its own
    later = forecast(ctx, dt.date(2015, 3, 15), lead_day=2)
    assert later.run_id != ahead.run_id and later.lead_day == 2
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert doc["run_id"] == first.run_id and doc["tomorrow"]["run_id"] == ahead.run_id
    assert not any("day after" in why for why in doc["reasons"]), doc["reasons"]
    assert q.latest_verdict(2)["run"]["id"] == ahead.run_id

    # tomorrow's IONEX changed: the overall verdict says so, not only tomorrow's block
    nc2, ionex2 = ahead.products["residual"]
    ionex2.write_text(ionex2.read_text().replace("SWX", "SWY", 1))
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert doc["verdict"] == "degraded"
    assert any(why.startswith(f"tomorrow's forecast (run {ahead.run_id}, for 2015-03-16): 1 published product "
                              "file(s) changed since they were published") for why in doc["reasons"]), doc["reasons"]

    # the next day's netCDF emptied and its .sha256 deleted; the IONEX's .sha256 deleted
    nc, ionex = first.products["residual"]
    nc.write_bytes(b"")
    for path in (nc, ionex):
        path.with_name(path.name + ".sha256").unlink()
    doc, _ = run_status(ctx.settings, max_age_h=1e6)
    assert any(why.startswith("1 published product file(s) emptied") and nc.name in why for why in doc["reasons"])
    assert any(why.startswith("1 published product file(s) without their checksum record")
               and ionex.name in why for why in doc["reasons"]), doc["reasons"]


def test_a_failure_the_database_refuses_to_record_is_not_said_recorded(trained, monkeypatch, caplog):
    """A thirteenth round: under a file-size limit the database refused the failed run's record, yet the
    log said "its run is recorded as failed, with the reason". The database's refusal is injected here
    (a disk I/O error), at the run's last writes and at its first."""
    import logging

    from sqlalchemy.exc import OperationalError

    import swx.pipeline.forecast as fmod

    def refuse(*args, **kwargs):
        raise OperationalError("UPDATE forecast_runs ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(fmod, "write_dtec", refuse)
    monkeypatch.setattr(fmod, "finish_run", refuse)
    with caplog.at_level(logging.WARNING), pytest.raises(fmod.RunNotRecordedError) as err:
        forecast(trained, dt.date(2015, 3, 12))
    assert "disk I/O error" in str(err.value) and "its failure could not be recorded in the database" in str(err.value)
    assert "recorded as failed" not in caplog.text and "not recorded (the database refused the write)" in caplog.text
    assert q.latest_run(trained.engine)["status"] == "running"  # what the row holds: said as "not finished"
    monkeypatch.setattr(fmod, "start_run", refuse)
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(fmod.RunNotRecordedError) as err:
        forecast(trained, dt.date(2015, 3, 13))
    assert "the run could not be recorded in the database" in str(err.value)
    assert "recorded as failed" not in caplog.text and "not recorded (the database refused the write)" in caplog.text
