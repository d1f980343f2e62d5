"""The dashboard pages under `streamlit.testing.v1.AppTest`, against a database seeded by the real daily
stages on a simulated archive (SQLite and PostgreSQL): no exceptions, and the numbers shown are the
database's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from swx.config import get_settings
from swx.science.verify import pooled_skill
from swx.store import queries as q
from swx.store.db import engine_from_settings
from swx.store.orm import KpValue as KpValueRow
from swx.store.orm import StormEvent as StormEventRow
from swx.store.orm import Verification as VerificationRow
from swx.store.writes import write_storm_events, write_verification
from tests.helpers import NOTHING_VERIFIED, assert_ok_after_the_first

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PAGES = ["views/now.py", "views/stations.py", "views/global_map.py", "views/skill.py", "views/storms.py",
         "views/runs.py"]


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def _charts(at: AppTest) -> list:
    return at.get("vega_lite_chart")


def _datasets(chart) -> list[pd.DataFrame]:
    """The data sets a Vega-Lite chart element was sent with (Arrow IPC), as DataFrames."""
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


@pytest.mark.parametrize("missing", [False, True], ids=["empty", "missing"])
def test_empty_database_shows_the_run_command_not_a_traceback(missing):
    db = get_settings().data_dir / "swx.sqlite"
    if missing:  # before the first `make run`: the dashboard must not create the file either
        db.unlink()
    for page in [None, *PAGES]:
        at = _app(page)
        assert not at.exception, page
        assert any("make run" in i.value for i in at.info), page
    assert db.exists() != missing


def test_a_database_that_cannot_be_read_is_an_outage_not_an_empty_system(monkeypatch):
    """PostgreSQL down (nothing listens on its port): every page says the database cannot be read,
    why, and what to check — never "no forecast runs yet", which reads as an empty system — and no
    password."""
    import socket

    with socket.socket() as sock:  # a free port: nothing answers there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SWX_DATABASE_URL", f"postgresql+psycopg://swx:s3cret@127.0.0.1:{port}/swx")
    get_settings.cache_clear()
    for page in [None, *PAGES]:
        at = _app(page)
        assert not at.exception, page
        [error] = at.error
        assert "The database cannot be read" in error.value and "outage, not an empty system" in error.value
        assert "OperationalError" in error.value and "Check that the database server is up" in error.value
        assert "s3cret" not in error.value and f"127.0.0.1:{port}" in error.value
        assert not any("No forecast runs yet" in i.value for i in at.info), page


def test_a_database_to_migrate_is_named_as_such_not_as_an_outage(tmp_path, monkeypatch):
    """A fifteenth round: a database one revision behind was "an outage ... check that the database
    server is up" on every page, where `swx status` names `swx db upgrade`."""
    from swx.store.db import downgrade, make_engine, upgrade

    path = tmp_path / "swx.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    downgrade(engine, "-1")
    engine.dispose()
    monkeypatch.setenv("SWX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SWX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    for page in [None, *PAGES]:
        at = _app(page)
        assert not at.exception, page
        [error] = at.error
        assert "not swx's at this revision" in error.value and "run `swx db upgrade`" in error.value, error.value
        assert "outage" not in error.value.replace("not an outage", ""), error.value


def test_a_folder_where_the_sqlite_file_should_be_is_named_as_the_fault(tmp_path, monkeypatch):
    """`swx.sqlite` made a folder (a bad volume mount): the page says what it is, not "no runs yet"."""
    monkeypatch.setenv("SWX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SWX_DATABASE_URL", raising=False)
    (tmp_path / "swx.sqlite").mkdir()
    get_settings.cache_clear()
    at = _app()
    assert not at.exception
    [error] = at.error
    assert "The database cannot be read" in error.value and "swx.sqlite is a folder" in error.value
    assert not any("No forecast runs yet" in i.value for i in at.info)


def test_now_page(seeded):
    """The three questions on one screen: what is the forecast (its map and 1-sigma, the products),
    how good is it (the newest verified map and stations against persistence), can it be trusted (the
    verdict of `swx status`, each reason, SIMULATED said)."""
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app()
    assert not at.exception
    verdict = q.latest_verdict()
    shown = {"ok": at.success, "degraded": at.warning, "unhealthy": at.error}[verdict["verdict"]]
    banner = [w.value for w in shown if "forecast for **2015-03-18**" in w.value]
    assert len(banner) == 1 and verdict["verdict"].upper() in banner[0], verdict
    assert all(why in banner[0] for why in verdict["reasons"])
    # when its information ends and when it was published (a backfilled demo: long after the day)
    assert "data to 2015-03-17 22:00 UTC (information cutoff; leads 2 to 24 h after it); made " in banner[0]
    assert "(reprocessed: nobody had it in advance)" in banner[0]
    assert any("SIMULATED data" in w.value for w in at.warning)
    metrics = {m.label: m for m in at.metric}
    last = q.kp_series(engine, dt.datetime(2015, 3, 15, tzinfo=dt.UTC), dt.datetime(2015, 3, 19, tzinfo=dt.UTC))
    assert metrics["Latest Kp"].value == q.kp_label(last.dropna(subset=["kp"]).kp.iloc[-1])  # thirds: "5-"
    assert metrics["Expected Kp"].value == "—"  # the demo's Kp history holds no prediction: none invented
    verified = verdict["last_verified"]
    assert metrics["Last verified map, RMSE"].value == f"{verified['map_rmse']:.2f} TECU"
    assert metrics["Last verified stations, RMSE"].value == f"{verified['station_rmse']:.2f} TECU"
    assert f"vs persistence {verified['map_persistence_rmse']:.2f}" in metrics["Last verified map, RMSE"].delta
    assert len(_charts(at)) == 5  # today's map and its 1-sigma, tomorrow's, Global ΔTEC
    assert {d.label for d in at.get("download_button")} >= {"Download swx_forecast_20150318_residual.nc",
                                                            "Download swx_forecast_20150319_residual_d2.nc"}
    # tomorrow: the last daily run's forecast of the day after, from the same maps, with its own verdict
    assert any(h.value.startswith("Tomorrow: 2015-03-19") for h in at.header)
    ahead = q.latest_verdict(2)
    assert ahead["run"]["id"] == info["ahead"] and ahead["verdict"] == "degraded"  # nothing of its lead verified
    shown = [w.value for w in at.warning if "forecast for **2015-03-19**" in w.value]
    assert len(shown) == 1 and "data to 2015-03-17 22:00 UTC" in shown[0] and NOTHING_VERIFIED in shown[0]
    assert any("stations run mostly on the baselines" in c.value or "rests mostly on its models" in c.value
               for c in at.caption)


def test_a_product_that_cannot_be_read_is_named_and_the_rest_of_the_page_renders(seeded):
    """A thirteenth round: tomorrow's netCDF overwritten with garbage ended the Now and Global map pages
    in a DataFormatError traceback."""
    settings, info = seeded
    engine = engine_from_settings(settings)
    prods = q.global_products(engine, info["ahead"], settings.data_dir)
    nc = Path(prods.product_path.iloc[0])
    kept = nc.read_bytes()
    st.cache_data.clear()  # the pages cache the product's times: read it afresh
    try:
        nc.write_bytes(b"garbage\n")
        at = _app()
        assert not at.exception
        assert any("The product of this run cannot be read" in w.value and nc.name in w.value for w in at.warning)
        assert any(h.value.startswith("Tomorrow: 2015-03-19") for h in at.header)  # the rest is there
        assert len(_charts(at)) == 3  # today's map and its 1-sigma, Global ΔTEC
        at = _app("views/global_map.py")
        at.selectbox[0].set_value(info["ahead"]).run()
        assert not at.exception and any(nc.name in w.value for w in at.warning)
    finally:
        nc.write_bytes(kept)
        st.cache_data.clear()


def test_a_verifying_map_missing_or_a_forecast_is_named_and_the_forecast_still_drawn(seeded):
    """A fourteenth round: with the verifying map of a run's day deleted, the Global map page showed the
    forecast as "not verified yet" without a word; swx's own product given as the truth was compared with
    itself. Both are named and the forecast is drawn without a truth."""
    from swx.errors import DataFormatError, NotFoundError

    settings, info = seeded
    engine = engine_from_settings(settings)
    runs = q.runs(engine)
    verified = [(int(r.id), r.target_day, q.gim_file(engine, r.data_source, r.target_day, settings.data_dir))
                for r in runs.itertuples() if r.lead_day == 1]
    run_id, day, truth = next(x for x in verified if x[2] is not None and Path(x[2]).is_file())
    nc = q.global_products(engine, run_id, settings.data_dir).product_path.iloc[0]
    when = q.product_times(nc)[3]
    assert "truth" in q.product_frame(nc, truth, when)
    with pytest.raises(DataFormatError, match="a forecast product, not an archived map"):
        q.product_frame(nc, nc, when)
    with pytest.raises(DataFormatError, match="a forecast product, not an archived map"):
        q.product_figure(nc, nc, "residual", when, "sim")
    kept = Path(truth).read_bytes()
    st.cache_data.clear()
    try:
        Path(truth).unlink()
        with pytest.raises(NotFoundError, match="the verifying map is missing"):
            q.product_frame(nc, truth, when)
        at = _app("views/global_map.py")
        at.selectbox[0].set_value(run_id).run()
        assert not at.exception
        said = [w.value for w in at.warning if f"The verifying map of {day} cannot be used" in w.value]
        assert len(said) == 1 and Path(truth).name in said[0] and "shown without it" in said[0]
        assert len(_charts(at)) >= 1 and not any("not in yet" in c.value for c in at.caption)
    finally:
        Path(truth).write_bytes(kept)
        st.cache_data.clear()


def test_the_global_map_of_a_changed_product_says_so(seeded):
    """A seventeenth round: a byte appended to tomorrow's product: `swx status` and the Now page said
    it changed; the Global map page drew it and offered it for download without a word."""
    settings, info = seeded
    engine = engine_from_settings(settings)
    nc = Path(q.global_products(engine, info["ahead"], settings.data_dir).product_path.iloc[0])
    kept = nc.read_bytes()
    st.cache_data.clear()
    try:
        nc.write_bytes(kept + b"\0")
        at = _app("views/global_map.py")
        at.selectbox[0].set_value(info["ahead"]).run()
        assert not at.exception
        said = [w.value for w in at.warning if w.value.startswith("The products of this run are not as it published")]
        assert len(said) == 1 and "changed since they were published" in said[0] and nc.name in said[0], said
    finally:
        nc.write_bytes(kept)
        st.cache_data.clear()


def test_the_global_map_of_a_failed_run_says_so(seeded):
    """A sixteenth round: the Global map page opened on a failed run drew what it left on disk, with
    truth and scores, without a word (`swx status` calls it not to be trusted)."""
    settings, info = seeded
    if not settings.resolved_database_url.startswith("sqlite"):
        pytest.skip("marks a run failed in place: the dashboard's PostgreSQL role only reads")
    owner = sa.create_engine(settings.resolved_database_url)
    run_id = info["ahead"]
    with owner.begin() as conn:
        kept = conn.execute(sa.text("SELECT status, reason FROM forecast_runs WHERE id = :r"), {"r": run_id}).one()
        conn.execute(sa.text("UPDATE forecast_runs SET status = 'failed', reason = 'OSError: disk full' WHERE id = :r"),
                     {"r": run_id})
    st.cache_data.clear()
    try:
        at = _app("views/global_map.py")
        at.selectbox[0].set_value(run_id).run()
        assert not at.exception
        assert any(w.value.startswith("This run failed (OSError: disk full): the product below was left on disk")
                   for w in at.warning), [w.value for w in at.warning]
    finally:
        with owner.begin() as conn:
            conn.execute(sa.text("UPDATE forecast_runs SET status = :s, reason = :why WHERE id = :r"),
                         {"s": kept.status, "why": kept.reason, "r": run_id})
        owner.dispose()
        st.cache_data.clear()


def test_the_now_page_shows_the_expected_kp_when_a_prediction_is_held(seeded):
    """The storm level with the latest and the expected Kp: CelesTrak's predicted 3-hourly values, when
    the database holds them, are shown apart from the observed ones (the latest Kp stays observed)."""
    from swx.sources.indices import IndexTables
    from swx.store.writes import upsert_indices

    settings, _ = seeded
    if (settings.database_url or "").startswith("postgresql"):
        pytest.skip("the dashboard's role is read-only there; the SQLite case stores the rows")
    engine = engine_from_settings(settings)
    times = pd.date_range("2015-03-18 15:00", periods=3, freq="3h", tz="UTC")  # the target day's last intervals
    before = q.kp_series(engine, times[0].to_pydatetime(), (times[-1] + pd.Timedelta(hours=3)).to_pydatetime())
    predicted = pd.DataFrame({"kp": [4.333, 6.0, 5.667], "ap": [32.0, 80.0, 67.0], "status": "predicted",
                              "source": "celestrak"}, index=times)
    daily = pd.DataFrame(columns=["Ap", "sn", "f107_obs", "f107_adj", "status", "source"],
                         index=pd.DatetimeIndex([], tz="UTC"))
    upsert_indices(engine, IndexTables(predicted, daily))
    try:
        at = _app()
        assert not at.exception
        metrics = {m.label: m for m in at.metric}
        assert metrics["Expected Kp, highest"].value == "6o"
        assert "celestrak" in metrics["Expected Kp, highest"].help and "at 2015-03-18 18:00" in metrics[
            "Expected Kp, highest"].help
        assert "2015-03-18 12:00" in metrics["Latest Kp"].help  # the latest *observed* interval
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(KpValueRow).where(KpValueRow.time.in_([t.to_pydatetime() for t in times])))
        if len(before):
            upsert_indices(engine, IndexTables(before.set_index("time")[["kp", "ap", "status", "source"]], daily))


def test_stations_page_bands_and_map(seeded):
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/stations.py")
    assert not at.exception and at.selectbox[0].value == q.stations(engine).code.iloc[0]
    assert len(at.selectbox[0].options) == 18
    assert len(_charts(at)) == 3  # the station map, vTEC with the forecasts, Kp
    code = at.selectbox[0].value
    lo, hi = dt.datetime(2015, 3, 9, tzinfo=dt.UTC), dt.datetime(2015, 3, 19, tzinfo=dt.UTC)
    bands = q.station_forecast_bands(engine, code, lo, hi)
    # the freshest forecast per valid time: 12 per issue day, 13-17 March, of the CNN and the blend
    assert len(bands) == 2 * 5 * 12 and set(bands.architecture) == {"cnn", "blend"}
    assert (bands.lo95 <= bands.lo68).all() and (bands.hi68 < bands.hi95).all()
    assert (bands[["mean", "lo68", "lo95"]] >= 0).all().all()  # no forecast nor band below zero TEC
    inside = bands.lo68 > 0
    assert np.allclose((bands.hi68 - bands["mean"])[inside], (bands["mean"] - bands.lo68)[inside])
    # the panel draws the published blend's band only (six bands over each other were unreadable)
    drawn = next(d for d in _datasets(_charts(at)[1]) if "hi95" in d)
    cols = ["lo95", "lo68", "hi68", "hi95"]
    blend = bands[bands.architecture == "blend"]
    np.testing.assert_allclose(drawn.sort_values(["time", "lo95"])[cols].to_numpy(),
                               blend.sort_values(["valid_time", "lo95"])[cols].to_numpy())
    assert "CNN" not in set(next(d for d in _datasets(_charts(at)[1]) if "series" in d and "vtec" in d)["series"])
    at.multiselect[0].set_value(["cnn"]).run()  # the members on demand: lines, still one band
    lines = next(d for d in _datasets(_charts(at)[1]) if "series" in d and "vtec" in d)
    assert "CNN" in set(lines["series"]) and len(next(d for d in _datasets(_charts(at)[1]) if "hi95" in d)) == len(blend)
    # the blend's weights of the latest run for this station: every source, summing to one
    shown = at.dataframe[0].value
    assert set(shown["source"]) == {"cnn", "persistence", "median27"}
    assert shown["weight (mean over leads)"].sum() == pytest.approx(1.0)
    spec = json.loads(_charts(at)[1].proto.spec)
    domains = [lay["encoding"]["color"]["scale"]["domain"] for lay in spec["layer"]]
    assert domains[-1][:3] == ["observed", "BLEND", "CNN"]  # the legend: what happened, then the published blend
    kp_drawn = _datasets(_charts(at)[2])[0]
    assert len(kp_drawn) == 8 * 10  # Kp of the ten days shown, underneath
    at.selectbox[0].set_value("E120S20").run()  # pick another station
    assert not at.exception and "E120S20" in _charts(at)[1].proto.spec
    other = q.station_forecast_bands(engine, "E120S20", lo, hi)
    drawn = next(d for d in _datasets(_charts(at)[1]) if "hi95" in d)
    published = other[other.architecture == "blend"]
    np.testing.assert_allclose(np.sort(drawn["mean"].to_numpy()), np.sort(published["mean"].to_numpy()))


def test_global_map_page(seeded):
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/global_map.py")
    assert not at.exception and len(at.get("image")) == 1  # the static figure, in its expander
    # it opens on the newest next-day run; tomorrow's is among the runs, its lead said
    assert at.selectbox[0].value == info["runs"][-1] and at.selectbox[1].value == "residual"
    assert any(o.startswith(f"run {info['ahead']}: forecast for 2015-03-19, lead day 2") for o in at.selectbox[0].options)
    assert "not in yet" in at.caption[0].value  # the latest run is for 18 March: no GIM yet
    # the interactive map: every grid cell, with the values shown on hover
    cells = next(d for d in _datasets(_charts(at)[0]) if "vtec" in d)
    assert len(cells) == 71 * 73 and {"lat", "lon", "vtec", "sigma"} <= set(cells.columns)
    assert list(at.radio[0].options) == ["forecast vTEC (TECU)", "1-sigma (TECU)", "ΔTEC vs 27-day median (TECU)"]
    earlier = info["runs"][-2]
    at.selectbox[0].set_value(earlier).run()  # the run for 17 March: its GIM is in
    assert not at.exception and "Verifying GIM in" in at.caption[0].value
    assert "error: forecast − GIM (TECU)" in at.radio[0].options
    at.radio[0].set_value("error").run()
    cells = next(d for d in _datasets(_charts(at)[0]) if "error" in d)
    np.testing.assert_allclose(cells["error"], cells["vtec"] - cells["truth"], atol=1e-4)
    scores = q.run_map_scores(engine, earlier)
    mine = scores[(scores.model == "map:residual") & (scores.region == "global")].iloc[0]
    assert at.metric[0].value == f"{mine.rmse_area:.2f}"  # cos-latitude weighted, beside the persistence map's
    assert at.metric[1].value == f"{mine.coverage68:.0%}" and at.metric[3].value == f"{mine.crps:.2f}"
    assert any("persistence map scored" in c.value for c in at.caption)


def test_skill_page_groups_and_trend(seeded):
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/skill.py")
    assert not at.exception
    rows = q.skill_table(engine, published=True)  # the page shows what was published, nothing re-run
    stations = rows[(rows.scope == "station") & (rows.kp_class == "all")]
    assert len(stations) < len(q.skill_table(engine).query("scope == 'station' and kp_class == 'all'"))
    pooled = at.dataframe[0].value  # pooled over the stations first; one station's rows on request
    overall = pooled_skill(stations, []).set_index("model")
    assert list(pooled.index)[0] == "blend" and pooled.loc["blend", "RMSE (TECU)"] == round(overall.loc["blend", "rmse"], 3)
    at.radio(key="skill-per").set_value("station").run()
    expected = pooled_skill(stations, ["station_code"]).set_index(["station_code", "model"])
    table = at.dataframe[0].value
    assert ("E000N50", "cnn") in table.index and ("E000N50", "persistence") in table.index
    assert table.loc[("E000N50", "cnn"), "RMSE (TECU)"] == round(expected.loc[("E000N50", "cnn"), "rmse"], 3)
    assert list(table.columns) == ["forecasts", "RMSE (TECU)", "MAE (TECU)", "CRPS (TECU)", "skill vs persistence",
                                   "skill vs 27-day median"]
    assert table.loc[("E000N50", "blend"), "CRPS (TECU)"] > 0  # the blend has a sigma: a CRPS
    # the PIT histograms: the stored counts of every forecast with a sigma, summed per model
    pit = next(d for c in _charts(at) for d in _datasets(c) if "fraction" in d)
    blend = pit[pit.model == "blend"]
    stored = stations[(stations.model == "blend") & stations.pit_hist.notna()]
    assert len(blend) == 10 and blend["count"].sum() == sum(sum(h) for h in stored.pit_hist)
    assert list(table.loc["E000N50"].index)[0] == "blend"  # the published forecast first
    at.radio(key="skill-per").set_value("Kp class").run()
    classes = set(at.dataframe[0].value.index.get_level_values(0))
    assert not at.exception and {"all", "quiet"} <= classes
    at.radio(key="skill-per").set_value("latitude band").run()
    assert set(at.dataframe[0].value.index.get_level_values(0)) == {"low", "mid", "high"}
    assert len(_charts(at)) == 3  # the PIT histograms; the rolling-error trend: RMSE and skill
    assert len(at.dataframe) == 2  # with the global-map verification table
    # tomorrow's forecasts, scored apart: beside the baselines at their own lead
    ahead = q.skill_table(engine, published=True, lead_day=2)
    lead = at.radio(key="skill-lead")
    lead.set_value(lead.options[1]).run()
    assert not at.exception
    if ahead[ahead.scope == "station"].empty:
        assert any("No station verification of tomorrow" in i.value for i in at.info), [i.value for i in at.info]
    else:
        assert any("26-48 h after the cutoff" in h.value for h in at.subheader)


def test_the_map_figures_agree_on_the_skill_page_status_and_the_main_jobs_summary(seeded):
    """What the map scored is one figure wherever it is shown: the Skill page's map table, `swx status`
    (the published maps over the days before the latest run) and the main job's summary all pool the
    same stored rows by the one rule (`pooled_map_skill`) and print the same RMSE and skill."""
    import re

    from swx.pipeline.report import skill_summary
    from swx.pipeline.status import run_status, summary_lines

    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/skill.py")
    assert not at.exception
    page = next(d.value for d in at.dataframe if "persistence map RMSE" in d.value.columns)
    doc, _ = run_status(settings, max_age_h=1e9)
    status_lines = summary_lines(doc)
    recent = doc["map_skill_recent"]
    published = [m for m in recent if m != "map:persistence"]
    assert published, recent
    targets = q.runs(engine)["target_day"]
    summary = skill_summary(engine, min(targets), max(targets))
    globe = page.xs("global", level="region")
    for model in published:
        shown = globe.loc[model]
        assert round(float(shown["RMSE (TECU)"]), 3) == recent[model]["rmse"], (model, shown, recent)
        assert round(float(shown["skill vs persistence map"]), 3) == recent[model]["skill_vs_persistence"]
        line = next(ln for ln in summary.splitlines() if ln.strip().startswith(model.removeprefix("map:"))
                    or ln.strip().startswith(model))
        rmse, skill = f"{recent[model]['rmse']:.2f}", f"{recent[model]['skill_vs_persistence']:+.1%}"
        said = f"{rmse} ({skill})"
        assert re.search(rf"\b{re.escape(rmse)}\s+\({re.escape(skill)}\)", line), (line, said)  # a table cell
        assert f"{model} {said}" in "\n".join(status_lines)


def test_skill_page_names_the_rival_scored_beside_swx(seeded):
    """CODE's 1-day prediction, scored in a run's windows (here copied from the CNN's rows: the simulated
    demo has no rival), is shown beside swx's models and named."""
    settings, info = seeded
    if (settings.database_url or "").startswith("postgresql"):
        pytest.skip("the dashboard's role is read-only there; the SQLite case stores the rows")
    engine = engine_from_settings(settings)
    cnn = q.skill_table(engine, published=True).query("model == 'cnn'")
    keep = ["scope", "station_code", "window_start", "window_end", "kp_class", "n", "rmse", "mae", "bias"]
    rival = [{**{k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}, "model": "c1p"}
             for r in cnn[keep].to_dict("records")]
    write_verification(engine, rival, run_id=info["runs"][-1])
    try:
        at = _app("views/skill.py")
        assert not at.exception
        assert "c1p" in at.dataframe[0].value.index  # pooled beside swx's models
        assert any("**c1p** = CODE's 1-day prediction" in c.value for c in at.caption)
        at.radio(key="skill-per").set_value("station").run()
        assert ("E000N50", "c1p") in at.dataframe[0].value.index
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(VerificationRow).where(VerificationRow.model == "c1p"))


def test_storms_page_event_curves(seeded):
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/storms.py")
    assert not at.exception
    df = at.dataframe[0].value
    events = q.storms(engine)
    assert "G4" in set(df["G-scale"]) and len(df) == len(events)
    assert set(df["Kp status"]) == {"observed"}  # the bundled history: no nowcast to mark
    # read as people read it: Kp in thirds, UTC without an offset, ΔTEC to 0.1 TECU, "—" for a phase not seen
    assert set(df["max Kp"]) == {q.kp_label(k) for k in events.max_kp} and "8-" in set(df["max Kp"])
    assert not df["start (UTC)"].str.contains(r"\+00:00").any() and df["start (UTC)"].str.len().eq(16).all()
    peaks = df["negative phase: peak Global ΔTEC (TECU)"]
    assert all(p == "—" or (p[0] in "+-" and len(p.split(".")[1]) == 1) for p in peaks)
    assert "None" not in df.to_string()
    assert not any("nowcast" in c.value for c in at.caption)
    kp = next(d for c in _charts(at) for d in _datasets(c) if "kp" in d)  # the Kp bars: nowcasts drawn pale
    assert "nowcast" in kp and not kp["nowcast"].any() and set(kp["status"]) == {"observed"}
    first = events.iloc[0]
    assert at.metric[0].value == f"G{first.g_class}"
    # the forecast's storm response measured, not only drawn (the seeded site forecast these days)
    metrics = {m.label: m for m in at.metric}
    at_peak = next(m for label, m in metrics.items() if label.startswith("Forecast Global ΔTEC at the observed"))
    assert at_peak.value.endswith(" TECU") and "vs observed" in at_peak.delta
    assert "vs no response" in metrics["Forecast Global ΔTEC, RMSE over the event"].delta
    assert len(_charts(at)) == 3  # Kp, Global ΔTEC, the most affected stations' ΔTEC
    assert ", ".join(first.stations) in at.markdown[-1].value


def test_a_storm_without_dtec_says_so_instead_of_a_flat_line(seeded):
    """An event on days the archive has no maps for has no ΔTEC: the page says what is missing and draws
    Kp only (a storm of 1 February 2015, before the seeded archive, stored for this test)."""
    settings, info = seeded
    if (settings.database_url or "").startswith("postgresql"):
        pytest.skip("the dashboard's role is read-only there; the SQLite case stores the storm")
    engine = engine_from_settings(settings)
    lone = dict(start=dt.datetime(2015, 2, 1, 3, tzinfo=dt.UTC), end=dt.datetime(2015, 2, 1, 9, tzinfo=dt.UTC),
                max_kp=5.0, g_class=1, stations=[])
    write_storm_events(engine, [lone])
    try:
        events = q.storms(engine)
        at = _app("views/storms.py")
        at.selectbox[0].set_value(int(np.flatnonzero(events.start == pd.Timestamp(lone["start"]))[0])).run()
        assert not at.exception
        assert any("No Global ΔTEC" in i.value for i in at.info)
        assert len(_charts(at)) == 1  # Kp only: no empty ΔTEC series drawn as a zero line
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(StormEventRow).where(StormEventRow.start == lone["start"]))


def test_runs_page_provenance(seeded):
    settings, info = seeded
    engine = engine_from_settings(settings)
    at = _app("views/runs.py")
    assert not at.exception
    runs = at.dataframe[0].value
    assert len(runs) == 6 and sorted(runs.lead_day) == [1] * 5 + [2]
    assert_ok_after_the_first(q.runs(engine))  # the page shows the status the database holds
    assert list(runs.status) == list(q.runs(engine).status)
    prov = q.run_provenance(engine, int(at.selectbox[0].value))
    line = next(m.value for m in at.markdown if "Code version" in m.value)
    assert f"`{prov['run']['code_version']}`" in line and f"`{prov['run']['settings_hash']}`" in line
    models, inputs = at.dataframe[1].value, at.dataframe[2].value
    assert len(models) == 18 and set(models.architecture) == {"cnn"}
    assert (inputs.kind == "GIM").sum() > 30 and inputs.sha256.str.len().eq(64).all()
    # the seeded site runs on simulated maps: none of them is called a centre's "final"
    assert set(inputs.level[inputs.kind == "GIM"]) == {"simulated"}
    assert any("the maps are SIMULATED" in m.value for m in at.markdown)
    # the run table shows what an operator reads first; the provenance columns on request
    assert list(runs.columns) == ["id", "target_day", "lead_day", "issue_time", "finished_at", "status", "reason",
                                  "data_source"]
    at.toggle[0].set_value(True).run()
    assert {"code_version", "settings_hash", "created_at"} <= set(at.dataframe[0].value.columns)
    registry = at.dataframe[3].value
    assert len(registry) == len(q.model_registry(engine))


def test_on_postgresql_the_dashboard_reads_through_a_read_only_role(seeded):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    settings, _ = seeded
    if not (settings.database_url or "").startswith("postgresql"):
        pytest.skip("SQLite: read access is a matter of file permissions")
    assert "swx_ro_" in settings.database_url
    engine = engine_from_settings(settings)
    at = _app()
    assert not at.exception and at.success  # every read works...
    with pytest.raises(ProgrammingError, match="permission denied"):  # ...and writing does not
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM forecast_runs"))


def test_results_are_cached_until_refresh_data(seeded):
    """Queries are cached (a page view does not hit the database again), and the sidebar's Refresh data
    reads it again at once: a run that changed shows up after the click, not before."""
    import pytest

    from swx.store.writes import finish_run

    settings, info = seeded
    if (settings.database_url or "").startswith("postgresql"):
        pytest.skip("the dashboard's role is read-only there; the SQLite case changes a run")
    engine = engine_from_settings(settings)
    last = info["runs"][-1]
    def failed(app) -> bool:
        return any("UNHEALTHY" in e.value and "RuntimeError: test" in e.value for e in app.error)

    def published(app) -> bool:  # the verdict of the next day's published run: ok or degraded
        return any("forecast for **2015-03-18**" in m.value for m in [*app.success, *app.warning])

    at = _app()
    assert published(at) and not failed(at)
    try:
        finish_run(engine, last, status="failed", reason="RuntimeError: test")
        at.run()
        assert published(at) and not failed(at)  # still the cached run
        at.sidebar.button[0].click().run()
        assert not published(at) and failed(at)
    finally:
        finish_run(engine, last, status="ok")
