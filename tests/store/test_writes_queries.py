"""Writes are validated, idempotent upserts; queries give UTC-aware data; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import multiprocessing

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from swx.sources.indices.history import load_history
from swx.store import orm as m
from swx.store import queries as q
from swx.store.db import make_engine
from swx.store.writes import (
    StoreError,
    finish_run,
    record_input_file,
    register_station,
    start_run,
    upsert_indices,
    upsert_stations,
    write_observations,
    write_rows,
    write_station_forecasts,
)

UTC = dt.UTC
STATIONS = [dict(code="M00N40", name="0E 40N", lat=40.0, lon=0.0, sector="0", lat_band="mid", surface="land"),
            dict(code="M00N20", name="0E 20N", lat=20.0, lon=0.0, sector="0", lat_band="low", surface="land")]


def obs_frame(days: int = 30, station: str = "M00N40", start: str = "2015-03-01") -> pd.DataFrame:
    t = pd.date_range(start, periods=days * 12, freq="2h", tz="UTC")
    vtec = 20 + 10 * np.sin(2 * np.pi * np.arange(len(t)) / 12) + np.arange(len(t)) * 0.01
    return pd.DataFrame({"station": station, "time": t, "vtec": vtec, "centre": "cod"})


def test_stations_upsert_is_idempotent_and_updates_in_place(engine):
    upsert_stations(engine, STATIONS)
    upsert_stations(engine, STATIONS)
    assert q.counts(engine)["stations"] == 2
    upsert_stations(engine, [dict(STATIONS[0], name="renamed")])
    st = q.stations(engine)
    assert list(st.code) == ["M00N20", "M00N40"] and st.set_index("code").loc["M00N40", "name"] == "renamed"


def test_registering_a_station_never_overwrites_one_registered_under_its_code(engine):
    """Two imports at once for one new code: the second registration leaves the first as it is and
    returns it, for the caller to compare with what it gave."""
    first = register_station(engine, dict(STATIONS[0], origin="imported"))
    assert (first["code"], first["lat"], first["lon"]) == ("M00N40", 40.0, 0.0)
    again = register_station(engine, dict(STATIONS[0], lat=-40.0, name="other", origin="imported"))
    assert (again["lat"], again["name"]) == (40.0, STATIONS[0]["name"])
    assert q.stations(engine).set_index("code").loc["M00N40", "lat"] == 40.0 and q.counts(engine)["stations"] == 1


def test_observations_rerun_changes_nothing_and_corrections_update(engine):
    upsert_stations(engine, STATIONS)
    df = obs_frame()
    assert write_observations(engine, df) == 360
    write_observations(engine, df)
    assert q.counts(engine)["observations"] == 360
    fixed = df.copy()
    fixed.loc[5, "vtec"] = 99.5
    write_observations(engine, fixed)
    s = q.station_series(engine, "M00N40", dt.datetime(2015, 3, 1, tzinfo=UTC), dt.datetime(2015, 4, 1, tzinfo=UTC))
    assert len(s) == 360 and s.loc[s.time == df.time[5], "vtec"].item() == 99.5
    assert str(s.time.dt.tz) == "UTC"


def test_times_are_utc_aware_in_and_out(engine):
    upsert_stations(engine, STATIONS)
    t = pd.date_range("2015-03-01 02:00", periods=3, freq="2h", tz="Europe/Berlin")  # +01:00
    write_observations(engine, pd.DataFrame({"station": "M00N20", "time": t, "vtec": [1.0, 2.0, 3.0], "centre": "cod"}))
    s = q.station_series(engine, "M00N20", dt.datetime(2015, 3, 1, tzinfo=UTC), dt.datetime(2015, 3, 2, tzinfo=UTC))
    assert list(s.time) == list(t.tz_convert("UTC"))
    assert s.time.iloc[0] == pd.Timestamp("2015-03-01 01:00", tz="UTC")
    run = start_run(engine, issue_time=dt.datetime(2015, 3, 1, 6, tzinfo=UTC), target_day=dt.date(2015, 3, 2))
    latest = q.latest_run(engine)
    assert latest["id"] == run and latest["issue_time"] == dt.datetime(2015, 3, 1, 6, tzinfo=UTC)
    assert latest["issue_time"].tzinfo is not None and latest["created_at"].tzinfo is not None


def test_the_latest_run_of_each_lead_day_is_found_by_its_issue_day_however_many_runs_follow(engine):
    """The next day's run and tomorrow's of the newest daily run (by issue day, in SQL on both
    databases), also behind a hundred runs of older issue days made later (a backfill)."""
    t = dt.datetime(2015, 3, 10, 22, tzinfo=UTC)
    one = start_run(engine, issue_time=t, target_day=dt.date(2015, 3, 11), issue_day=dt.date(2015, 3, 10))
    two = start_run(engine, issue_time=t, target_day=dt.date(2015, 3, 12), lead_day=2, issue_day=dt.date(2015, 3, 10))
    for k in range(100):  # a later backfill of older days, each with its tomorrow run
        day = dt.date(2014, 1, 1) + dt.timedelta(days=k)
        at = dt.datetime.combine(day, dt.time(22), tzinfo=UTC)
        start_run(engine, issue_time=at, target_day=day + dt.timedelta(days=2), lead_day=2, issue_day=day)
    assert q.latest_run(engine)["id"] == one and q.latest_run(engine, lead_day=2)["id"] == two
    assert q.latest_run(engine, lead_day=None)["id"] in (one, two)


@pytest.mark.parametrize("bad,match", [
    ("nan", "not finite"), ("inf", "not finite"), ("naive", "naive times"), ("station", "unknown station code"),
])
def test_bad_input_is_refused_before_anything_is_written(engine, bad, match):
    upsert_stations(engine, STATIONS)
    df = obs_frame(2)
    if bad == "nan":
        df.loc[7, "vtec"] = np.nan
    elif bad == "inf":
        df.loc[3, "vtec"] = np.inf
    elif bad == "naive":
        df["time"] = df["time"].dt.tz_localize(None)
    else:
        df.loc[10, "station"] = "NOPE"
    with pytest.raises(StoreError, match=match):
        write_observations(engine, df)
    assert q.counts(engine)["observations"] == 0


def test_failed_batch_leaves_the_database_as_it_was(engine):
    upsert_stations(engine, STATIONS)
    bad = [dict(STATIONS[0], code="OK1"), dict(STATIONS[0], code="BAD", lat_band="polar")]  # check constraint
    with pytest.raises(Exception):
        upsert_stations(engine, bad)
    assert q.counts(engine)["stations"] == 2
    with pytest.raises(StoreError, match="naive datetime"):
        write_rows(engine, m.StormEvent, [dict(start=dt.datetime(2015, 3, 17), end=dt.datetime(2015, 3, 18),
                                               max_kp=7.667, g_class=4, stations=[])], ["start"])


def test_station_series_baselines(engine):
    upsert_stations(engine, STATIONS)
    df = obs_frame(40)
    write_observations(engine, df)
    start = dt.datetime(2015, 4, 1, tzinfo=UTC)
    s = q.station_series(engine, "M00N40", start, dt.datetime(2015, 4, 3, tzinfo=UTC)).set_index("time")
    series = df.set_index("time")["vtec"]
    t = pd.Timestamp("2015-04-02 10:00", tz="UTC")
    assert s.loc[t, "persistence"] == pytest.approx(series[t - pd.Timedelta(hours=24)])
    same_ut = [series[t - pd.Timedelta(days=k)] for k in range(1, 28)]
    assert s.loc[t, "median27"] == pytest.approx(float(np.median(same_ut)))
    assert s.index.min() >= start  # the history before start is used for baselines, not returned


def test_indices_input_files_runs_forecasts_and_skill(engine):
    h = load_history().between("2015-03-15", "2015-03-20")
    assert upsert_indices(engine, h) == 40
    upsert_indices(engine, h)
    assert q.counts(engine)["kp_values"] == 40 and q.counts(engine)["daily_indices"] == 5
    kp = q.kp_series(engine, dt.datetime(2015, 3, 17, tzinfo=UTC), dt.datetime(2015, 3, 18, tzinfo=UTC))
    assert kp.kp.max() == pytest.approx(7.667) and str(kp.time.dt.tz) == "UTC"
    assert kp.g_class.max() == 4 and kp.storm.dtype == bool  # the dashboard colours by these (Kp 8- is G4)
    assert (kp.storm == (kp.g_class >= 1)).all()

    fid = record_input_file(engine, kind="GIM", centre="sim", day=dt.date(2015, 3, 17), path="/a", sha256="0" * 64,
                            maps=25, source_kind="simulated")
    assert record_input_file(engine, kind="GIM", centre="sim", day=dt.date(2015, 3, 17), path="/b", sha256="1" * 64,
                             maps=25, source_kind="simulated") == fid
    upsert_stations(engine, STATIONS)
    run = start_run(engine, issue_time=dt.datetime(2015, 3, 17, 6, tzinfo=UTC), target_day=dt.date(2015, 3, 18),
                    data_source="sim")
    assert start_run(engine, issue_time=dt.datetime(2015, 3, 17, 6, tzinfo=UTC), target_day=dt.date(2015, 3, 18)) == run
    valid = pd.date_range("2015-03-18", periods=12, freq="2h", tz="UTC")
    fc = pd.DataFrame({"station": "M00N40", "architecture": "cnn", "valid_time": valid, "lead_h": np.arange(2, 26, 2),
                       "mean": np.linspace(10, 20, 12), "sigma": 1.5})
    assert write_station_forecasts(engine, run, fc) == 12
    write_station_forecasts(engine, run, fc)
    got = q.station_forecasts(engine, "M00N40", valid[0].to_pydatetime(), valid[-1].to_pydatetime() + dt.timedelta(hours=1))
    assert len(got) == 12 and got["sigma"].eq(1.5).all()
    finish_run(engine, run, status="degraded", degraded=True, reason="newest GIM missing")
    r = q.runs(engine)
    assert r.iloc[0]["status"] == "degraded" and r.iloc[0]["reason"] == "newest GIM missing"
    # a rerun is running again until it finishes (killed while it replaces the rows, it is not shown as done)
    assert start_run(engine, issue_time=dt.datetime(2015, 3, 17, 6, tzinfo=UTC), target_day=dt.date(2015, 3, 18)) == run
    again = q.runs(engine).iloc[0]
    assert again["status"] == "running" and not again["degraded"] and again["reason"] == ""
    assert pd.isna(again["finished_at"])
    finish_run(engine, run, status="degraded", degraded=True, reason="newest GIM missing")
    rows = [dict(scope="station", station_code="M00N40", model=model, window_start=dt.datetime(2015, 3, 1, tzinfo=UTC),
                 window_end=dt.datetime(2015, 3, 31, tzinfo=UTC), kp_class="all", n=360, rmse=rmse, mae=rmse * 0.8,
                 bias=0.1, skill_persistence=None if model == "persistence" else 1 - rmse / 2.0, lead_day=1)
            for model, rmse in (("persistence", 2.0), ("cnn", 1.5))]
    write_rows(engine, m.Verification, rows, m.VERIFICATION_KEY)
    write_rows(engine, m.Verification, rows, m.VERIFICATION_KEY)
    sk = q.skill_table(engine)
    assert len(sk) == 2 and sk.set_index("model").loc["cnn", "skill_persistence"] == pytest.approx(0.25)
    assert sk.lat_band.eq("mid").all()


def _writer(url: str, schema: str | None, barrier) -> None:  # runs in a child process
    engine = make_engine(url, schema=schema)
    df = obs_frame(10)
    barrier.wait()
    write_observations(engine, df)
    engine.dispose()


def test_two_processes_upserting_the_same_day_leave_one_copy(engine, db_url, dialect):
    if dialect != "postgresql":
        pytest.skip("concurrent writers are a PostgreSQL matter (SQLite serialises writers)")
    upsert_stations(engine, STATIONS)
    url, schema = db_url
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(url, schema, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert q.counts(engine)["observations"] == 120


def test_observations_keep_their_input_file(engine):
    upsert_stations(engine, STATIONS)
    fid = record_input_file(engine, kind="GIM", centre="cod", day=dt.date(2015, 3, 1), path="/x/codg0600.15i.Z",
                            sha256="a" * 64, maps=25, source_kind="local")
    df = obs_frame(1)
    df["input_file_id"] = [fid] * 6 + [None] * 6
    write_observations(engine, df)
    from sqlalchemy import select

    with engine.connect() as conn:
        got = conn.execute(select(m.Observation.input_file_id).order_by(m.Observation.time)).scalars().all()
    assert got == [fid] * 6 + [None] * 6


def test_global_map_storms_and_registry(engine):
    upsert_stations(engine, STATIONS)
    t = dt.datetime(2015, 3, 18, 12, tzinfo=UTC)
    runs = [start_run(engine, issue_time=dt.datetime(2015, 3, 17, h, tzinfo=UTC), target_day=dt.date(2015, 3, 18),
                      data_source="sim") for h in (6, 7)]
    for run in runs:
        write_rows(engine, m.GlobalForecast, [dict(run_id=run, valid_time=t, method="residual",
                                                   product_path=f"/p/{run}.nc", ionex_path=f"/p/{run}.inx")],
                   ["run_id", "valid_time", "method"])
    g = q.global_map(engine, t)
    assert g["run_id"] == runs[1] and g["product_path"] == f"/p/{runs[1]}.nc" and g["data_source"] == "sim"
    assert q.global_map(engine, t, method="nequick") is None
    write_rows(engine, m.StormEvent, [dict(start=dt.datetime(2015, 3, 17, 3, tzinfo=UTC),
                                           end=dt.datetime(2015, 3, 19, tzinfo=UTC), max_kp=7.667, g_class=4,
                                           peak_neg_dtec=-12.5, stations=["M00N40", "M00N20"])], ["start"])
    st = q.storms(engine)
    assert st.iloc[0]["g_class"] == 4 and st.iloc[0]["stations"] == ["M00N40", "M00N20"]
    assert str(st["start"].dt.tz) == "UTC"
    ids = {r["code"]: i for i, r in enumerate(STATIONS)}
    with engine.connect() as conn:
        sid = conn.exec_driver_sql("SELECT id FROM stations WHERE code = 'M00N40'").scalar_one()
    write_rows(engine, m.ModelVersion, [dict(station_id=sid, architecture="cnn", version=1, checkpoint_path="/m/1.pt",
                                             checkpoint_sha256="b" * 64, status="active", hyperparameters={"units": 20})],
               ["station_id", "architecture", "version"])
    reg = q.model_registry(engine)
    assert reg.iloc[0]["station"] == "M00N40" and reg.iloc[0]["status"] == "active" and ids
    write_rows(engine, m.ModelVersion, [dict(station_id=sid, architecture="cnn", version=v, checkpoint_path=f"/m/{v}.pt",
                                             checkpoint_sha256="c" * 64, status="rejected" if v % 2 else "retired")
                                        for v in range(2, 8)], ["station_id", "architecture", "version"])
    recent = q.model_registry(engine, recent=2)  # the active version and the two newest others
    assert list(recent.version) == [1, 6, 7] and recent.iloc[0]["status"] == "active"
    assert len(q.model_registry(engine)) == 7


def test_a_large_write_is_the_same_upsert_through_the_bulk_path(engine):
    """A run's forecasts (above COPY_MIN_ROWS: COPY on PostgreSQL) land as the row-by-row upsert leaves
    them: a rerun changes nothing, a corrected value is updated, a naive time is refused."""
    from sqlalchemy import select

    from swx.store.writes import COPY_MIN_ROWS, write_dtec

    upsert_stations(engine, STATIONS)
    run = start_run(engine, issue_time=dt.datetime(2015, 3, 17, 22, tzinfo=UTC), target_day=dt.date(2015, 3, 18))
    valid = pd.date_range("2015-03-18 00:00", periods=COPY_MIN_ROWS, freq="2h", tz="UTC")
    fc = pd.DataFrame({"station": "M00N40", "architecture": "cnn", "valid_time": valid,
                       "lead_h": 2.0 * np.arange(1, len(valid) + 1), "mean": np.linspace(10, 30, len(valid)),
                       "sigma": 2.0})
    assert write_station_forecasts(engine, run, fc) == len(valid)
    assert write_station_forecasts(engine, run, fc) == len(valid)  # a rerun: the same rows
    fc.loc[5, "mean"] = 99.0
    write_station_forecasts(engine, run, fc)
    got = q.station_forecasts(engine, "M00N40", valid[0].to_pydatetime(), valid[-1].to_pydatetime()
                              + dt.timedelta(hours=1))
    assert len(got) == len(valid) and got["mean"].iloc[5] == 99.0
    assert got["mean"].drop(index=5).to_numpy() == pytest.approx(np.delete(fc["mean"].to_numpy(), 5))
    assert str(got["valid_time"].dt.tz) == "UTC" and (got["valid_time"].to_numpy() == valid.to_numpy()).all()
    dtec = pd.DataFrame({"station": "M00N20", "time": valid, "dtec": 1.5, "dtec_rel": np.nan})
    assert write_dtec(engine, dtec, "observed") == len(valid)
    with engine.connect() as conn:
        rows = conn.execute(select(m.DeltaTec.dtec, m.DeltaTec.dtec_rel)).all()
    assert len(rows) == len(valid) and {r[0] for r in rows} == {1.5} and {r[1] for r in rows} == {None}
    naive = fc.assign(valid_time=valid.tz_localize(None))
    with pytest.raises((StoreError, ValueError)):
        write_station_forecasts(engine, run, naive)
    # a rerun replaces the run's forecasts whole: an architecture it no longer has does not linger
    both = pd.concat([fc, fc.assign(architecture="gru")], ignore_index=True)
    assert write_station_forecasts(engine, run, both) == 2 * len(valid)
    assert write_station_forecasts(engine, run, fc.iloc[:COPY_MIN_ROWS // 2]) == COPY_MIN_ROWS // 2
    with engine.connect() as conn:
        left = conn.execute(select(m.StationForecast.architecture, m.StationForecast.mean)
                            .order_by(m.StationForecast.valid_time)).all()
    assert {a for a, _ in left} == {"cnn"} and [v for _, v in left] == fc["mean"].iloc[:COPY_MIN_ROWS // 2].tolist()
    with pytest.raises(StoreError, match="sigma=inf"):
        write_station_forecasts(engine, run, fc.assign(sigma=np.inf))


def test_the_query_layer_refuses_odd_arguments_in_one_line(engine, tmp_path):
    """Twelfth round: the dashboard's query functions called with odd arguments raised ZeroDivisionError
    or matplotlib's and xarray's errors, or answered a typo with "no data" and a run that does not exist
    with an overview; each is now one domain error naming the argument or the file."""
    from swx.errors import DataFormatError, InputError

    for step in (0, -1, float("nan"), 1e9):
        with pytest.raises(InputError, match=r"coastline step|step_deg=nan: expected a finite number"):
            q.coastlines(step)
    assert len(q.coastlines(1.0)) > 1000
    text = tmp_path / "passwd"
    text.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for bad in (text, tmp_path / "missing.nc"):
        with pytest.raises(DataFormatError, match="not a readable swx product") as err:
            q.product_times(str(bad))
        assert str(bad) in str(err.value)
    t0, t1 = dt.datetime(2015, 3, 1, tzinfo=UTC), dt.datetime(2015, 3, 2, tzinfo=UTC)
    with pytest.raises(InputError, match="ΔTEC kind 'bogus': expected one of observed, forecast"):
        q.dtec_series(engine, t0, t1, kind="bogus")
    assert q.dtec_series(engine, t0, t1, kind="forecast").empty
    with pytest.raises(InputError, match="no time zone"):
        q.global_map(engine, dt.datetime(2015, 3, 1, 12))
    with pytest.raises(q.SwxError, match="no forecast run -1"):
        q.run_overview(engine, -1, t0)
    with pytest.raises(InputError, match="lead day 3: expected one of 1, 2"):
        q.latest_verdict(3)
    # thirteenth round: a list of lead days holding a text, a valid time the product does not hold or
    # that is no time were TypeError, KeyError and ValueError
    with pytest.raises(InputError, match=r"lead day\(s\) \[2, 'x'\]: expected whole numbers of days from 1"):
        q.issued_forecasts(engine, dt.date(2015, 3, 27), dt.date(2015, 3, 28), lead_day=[2, "x"])
    for lead in (0, True, [], 1.5):
        with pytest.raises(InputError, match="expected whole numbers of days"):
            q.issued_forecasts(engine, dt.date(2015, 3, 27), dt.date(2015, 3, 28), lead_day=lead)
    assert q.issued_forecasts(engine, dt.date(2015, 3, 27), dt.date(2015, 3, 28), lead_day=(1, 2)).empty
    from swx.errors import NotFoundError
    from swx.products import write_netcdf

    times = pd.date_range("2015-03-29", periods=13, freq="2h").to_numpy()
    grid = np.full((13, 3, 4), 10.0)
    product = write_netcdf(xr.Dataset({"tec": (("time", "lat", "lon"), grid), "tec_sigma": (("time", "lat", "lon"), grid)},
                                      coords={"time": times, "lat": [-2.5, 0.0, 2.5], "lon": [0.0, 5, 10, 15]}),
                           tmp_path / "p.nc")
    assert len(q.product_frame(str(product), None, "2015-03-29T02:00")) == 12
    for when, error, said in (("2015-03-29T01:00", NotFoundError, "no map at 2015-03-29T01:00 in this product: "
                                                                    "it holds 13 valid times, 2015-03-29T00:00 .. "
                                                                    "2015-03-30T00:00 UTC, every 120 min"),
                              ("2015-03-29T25:00", InputError, "valid time '2015-03-29T25:00': expected an ISO time"),
                              ("2016-01-01T00:00", NotFoundError, "no map at 2016-01-01T00:00")):
        with pytest.raises(error) as err:
            q.product_frame(str(product), None, when)
        assert said in str(err.value)
        with pytest.raises(error):
            q.product_figure(str(product), None, "residual", when, "sim")
    # fourteenth round: a damaged verifying map, lead day 0, no dates, an unknown run
    damaged = tmp_path / "sim_20150329.nc"
    damaged.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(DataFormatError, match="the archived map cannot be read") as err:
        q.product_frame(str(product), str(damaged), "2015-03-29T02:00")
    assert str(damaged) in str(err.value)
    with pytest.raises(InputError, match="lead day 0: expected a whole number of days from 1"):
        q.latest_run(engine, lead_day=0)
    with pytest.raises(InputError, match="first_target=None: expected a date"):
        q.unverified_days(engine, None, None)
    with pytest.raises(NotFoundError, match="no forecast run -1"):
        q.product_problems(engine, -1)


def test_every_query_checks_its_arguments_before_any_sql(engine, tmp_path):
    """A fifteenth round: query functions called from Python with a naive datetime, text or None for a
    date, a number beyond any column, NaN, a reversed range, an unknown run or station, or a partial
    run ended in TypeError, KeyError, OverflowError or SQLAlchemy's text with the SQL; an unknown run
    was an empty table and NaN hours a verdict of "ok". One gate checks them against the type hints."""
    from swx.archive import ARCHIVED_AT
    from swx.errors import DatabaseReadError, DataFormatError, InputError, NotFoundError
    from swx.products import write_netcdf
    from swx.store.db import database_error_line, make_engine

    utc = dt.UTC
    aware, naive = dt.datetime(2015, 3, 1, tzinfo=utc), dt.datetime(2015, 3, 2)
    refused = [
        (lambda: q.product_problems(engine, 10**30), InputError, "run_id=10000000"),
        (lambda: q.global_products(engine, 99999), NotFoundError, "no forecast run 99999"),
        (lambda: q.blend_weights(engine, -1), NotFoundError, "no forecast run -1"),
        (lambda: q.run_provenance(engine, -3), NotFoundError, "no forecast run -3"),
        (lambda: q.global_products(engine, 1, data_dir=123), InputError, "data_dir=123: expected a path or None"),
        (lambda: q.unverified_days(engine, dt.date(2015, 3, 28), dt.date(2015, 3, 1)), InputError,
         "first_target 2015-03-28 is after last_target 2015-03-01"),
        (lambda: q.runs(engine, limit="x"), InputError, "limit='x': expected a whole number"),
        (lambda: q.runs(engine, limit=-1), InputError, "expected a number of runs from 1"),
        (lambda: q.run_overview(engine, 1, naive), InputError, "(it has no time zone): expected a timezone-aware"),
        (lambda: q.station_series(engine, "NOPE", aware, aware), NotFoundError, "unknown station 'NOPE'"),
        (lambda: q.kp_series(engine, aware, naive), InputError, "end=datetime.datetime(2015, 3, 2, 0, 0)"),
        (lambda: q.kp_series(engine, None, None), InputError, "start=None: expected a timezone-aware"),
        (lambda: q.global_map(engine, "2015-03-28T00:00"), InputError, "valid_time='2015-03-28T00:00'"),
        (lambda: q.skill_table(engine, start=naive), InputError, "no time zone"),
        (lambda: q.last_verified(engine, "2015-03-28", "residual"), InputError, "before='2015-03-28': expected a date"),
        (lambda: q.truth_levels(engine, None, None), InputError, "first=None: expected a date"),
        (lambda: q.dtec_days(engine, "a", "b"), InputError, "first='a': expected a date"),
        (lambda: q.run_verdict(engine, {"id": 27}, now=aware, max_age_h=24, method="residual"), InputError,
         "the run has no created_at, data_source"),
    ]
    run = {"id": 1, "data_source": "sim", "created_at": aware, "status": "ok", "reason": "", "degraded": False,
           "target_day": dt.date(2015, 3, 2)}
    refused += [
        (lambda: q.run_verdict(engine, run, now=naive, max_age_h=24, method="residual"), InputError, "no time zone"),
        (lambda: q.run_verdict(engine, run, now=aware, max_age_h=float("nan"), method="residual"), InputError,
         "max_age_h=nan: expected a finite number"),
        (lambda: q.run_verdict(engine, run, now=aware, max_age_h=24, method="nosuch"), InputError,
         "method='nosuch': expected one of"),
    ]
    # a sixteenth round: a zone without an offset, the calendar's ends, a number beyond any float, a run
    # without its day; numpy's scalars read as Python's; an unknown method, kind or a negative count
    class NoOffset(dt.tzinfo):
        def utcoffset(self, when):
            return None

    refused += [
        (lambda: q.run_verdict(engine, run, now=dt.datetime(2015, 3, 2, tzinfo=NoOffset()), max_age_h=24,
                               method="residual"), InputError, "(it has no time zone)"),
        (lambda: q.station_series(engine, "A1", dt.datetime.min.replace(tzinfo=utc),
                                  dt.datetime.max.replace(tzinfo=utc)), InputError, "from 1900-01-01 to 2999-12-31"),
        (lambda: q.dtec_days(engine, dt.date(2015, 3, 1), dt.date(9999, 12, 31)), InputError,
         "last=datetime.date(9999, 12, 31): expected a date from 1900-01-01"),
        (lambda: q.run_verdict(engine, run, now=aware, max_age_h=10**400, method="residual"), InputError,
         "expected a finite number"),
        (lambda: q.run_verdict(engine, {**run, "target_day": None}, now=aware, max_age_h=24, method="residual"),
         InputError, "the run has no target_day"),
        (lambda: q.global_map(engine, aware, method=""), InputError, "method='': expected one of"),
        (lambda: q.model_registry(engine, recent=-1), InputError, "recent=-1: expected a number of versions"),
        (lambda: q.input_files(engine, kind="gim"), InputError, "kind='gim': expected one of GIM, KP"),
    ]
    for call, error, said in refused:
        with pytest.raises(error) as err:
            call()
        assert said in str(err.value), (said, str(err.value))
    # a seventeenth round: the pages' helpers given no verification rows, an unknown method or ΔTEC kind
    for call, said in ((lambda: q.map_skill(pd.DataFrame()), "map_skill: the rows have no column(s) scope"),
                       (lambda: q.skill_by(pd.DataFrame(), ["nosuch"]), "skill_by: the rows have no column(s) nosuch"),
                       (lambda: q.skill_trend(pd.DataFrame(), -1), "skill_trend: days=-1"),
                       (lambda: q.skill_trend(pd.DataFrame(), 7), "skill_trend: the rows have no column(s) model"),
                       (lambda: q.rival_labels(None), "rival_labels: models=None"),
                       (lambda: q.last_verified(engine, dt.date(2015, 3, 29), "nosuch"), "method='nosuch'"),
                       (lambda: q.global_dtec(engine, aware, aware + dt.timedelta(days=1), kind="OBSERVED"),
                        "ΔTEC kind 'OBSERVED'")):
        with pytest.raises(InputError) as err:
            call()
        assert said in str(err.value), (said, str(err.value))
    assert q.rival_labels(["map:c1p", "blend"]) == {"map:c1p": q.PREDICTED_LABELS["c1p"]}
    assert q.latest_run(engine, lead_day=np.int64(1)) is None and len(q.runs(engine, limit=np.uint64(3))) == 0
    assert len(q.coastlines(np.float32(1.0))) > 1000

    # products and verifying maps: an archived map is no product; a folder, a device, a file of maps
    # swx did not archive and another day's map are no truth
    times = pd.date_range("2015-03-29", periods=13, freq="2h").to_numpy()
    grid = (("time", "lat", "lon"), np.full((13, 3, 4), 10.0))
    coords = {"time": times, "lat": [-2.5, 0.0, 2.5], "lon": [0.0, 5, 10, 15]}
    product = write_netcdf(xr.Dataset({"tec": grid, "tec_sigma": grid}, coords=coords), tmp_path / "p.nc")
    truth = write_netcdf(xr.Dataset({"tec": grid}, coords=coords, attrs={ARCHIVED_AT: "2015-03-30T03:00:00+00:00"}),
                         tmp_path / "sim_20150329.nc")
    other = write_netcdf(xr.Dataset({"tec": grid}, coords={**coords, "time": times - np.timedelta64(28, "D")},
                                    attrs={ARCHIVED_AT: "2015-03-02T03:00:00+00:00"}), tmp_path / "sim_20150301.nc")
    unarchived = write_netcdf(xr.Dataset({"tec": grid}, coords=coords), tmp_path / "maps.nc")
    when = "2015-03-29T02:00"
    assert "truth" in q.product_frame(str(product), str(truth), when)
    with pytest.raises(DataFormatError) as err:  # an archived map given as the product
        q.product_frame(str(truth), str(truth), when)
    assert "not an swx product (no tec_sigma" in str(err.value)
    for path, error, said in ((tmp_path, DataFormatError, "a folder, not an archived map"),
                              ("/dev/zero", DataFormatError, "not a regular file, not an archived map"),
                              (unarchived, DataFormatError, "not a map swx archived"),
                              (other, NotFoundError, "holds none of the product's valid times (it holds "
                                                     "2015-03-01T00:00 .. 2015-03-02T00:00 UTC)")):
        with pytest.raises(error) as err:
            q.product_frame(str(product), str(path), when)
        assert said in str(err.value) and str(path) in str(err.value)
    with pytest.raises(InputError, match="method=None: expected text"):
        q.product_figure(str(product), str(truth), None, when, None)

    # the server down: one line, the driver's, as every command says it
    down = make_engine("postgresql+psycopg://swx:s3cret@127.0.0.1:1/swx")
    with pytest.raises(DatabaseReadError) as err:
        q.latest_run(down)
    assert str(err.value).startswith("database: ") and "s3cret" not in str(err.value)
    assert database_error_line(err.value) == str(err.value)
    down.dispose()
