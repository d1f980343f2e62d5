"""Benchmark: time to render each dashboard page on 10 years of 2-hourly data for the 18 stations in
PostgreSQL (target < 1 s a page), against the same pages on a 1-year database in the same run (the
ratio shows whether a page slows as the history grows).

The database is seeded with what ten years of daily operation leave (synthetic values, real Kp from the
bundled GFZ history): observations, three architectures' station forecasts per daily run, ΔTEC observed
and forecast, verification per station/model/Kp class and of the maps, a model version per station and
architecture per day with each run's provenance, storm events. Two timings per page:
  * script: the page's Streamlit script run (AppTest), query caches cleared first (cold) — the server
    work of a page view;
  * browser: a headless Chromium visit of the page until the script has finished and every chart is
    drawn, on a freshly started `streamlit run` (first visit of each page: its queries are cold).

    PYTHONPATH=. python benchmarks/bench_dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        [--years 10] [--json benchmarks/results/dashboard.json] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PAGES = {"now": ("", "Now", 1), "stations": ("stations", "Stations", 3), "global_map": ("global_map", "Global map", 0),
         "skill": ("skill", "Skill", 2), "storms": ("storms", "Storms", 3), "runs": ("runs", "Runs & models", 0)}
ARCHS = ("cnn", "gru", "lstm")
END = dt.date(2024, 12, 31)


def _copy(conn, table: str, df: pd.DataFrame) -> None:
    """COPY a frame into a table (CSV through psycopg): millions of rows in seconds."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S+00")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cols = ', '.join(f'"{c}"' for c in df.columns)
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as cp:
            cp.write(buf.getvalue())


def _product(data_dir: Path, target: dt.date) -> tuple[str, str]:
    """One real product pair (netCDF + IONEX) from swx's writers, for the global map page."""
    import xarray as xr

    from swx.io.ionex import IONEX_LAT, IONEX_LON
    from swx.products import forecast_dataset, write_products

    t = pd.date_range(pd.Timestamp(target), periods=13, freq="2h").values
    la = np.asarray(IONEX_LAT)[:, None]
    lo = np.asarray(IONEX_LON)[None, :]
    hours = (np.arange(13) * 2.0)[:, None, None]
    tec = 10 + 25 * np.cos(np.radians(la)) ** 2 * (1 + np.cos(np.radians(lo + 15 * hours - 210)))
    grid = xr.Dataset({"tec": (("time", "lat", "lon"), tec), "tec_sigma": (("time", "lat", "lon"), 0.1 * tec + 1)},
                      coords={"time": t, "lat": IONEX_LAT, "lon": IONEX_LON})
    ds = forecast_dataset(grid, reference=tec * 0.9, issue_time=dt.datetime.combine(target, dt.time(), dt.UTC),
                          method="residual", source="cod", run_id=0, architecture="cnn")
    nc, ionex = write_products(ds, data_dir, target, "residual")
    return str(nc), str(ionex)


def seed(url: str, years: int, data_dir: Path) -> dict[str, int]:
    """Ten (or `years`) years of daily operation, ending 31 Dec 2024, into the database at `url`."""
    from sqlalchemy import text

    from swx.archive import load_indices
    from swx.science.stations import load_catalog
    from swx.store.db import make_engine, upgrade
    from swx.store.writes import upsert_stations

    rng = np.random.default_rng(0)
    engine = make_engine(url)
    upgrade(engine)
    cat = load_catalog()
    upsert_stations(engine, [dict(code=s.code, name=s.name, lat=s.lat, lon=s.lon, sector=s.sector, lat_band=s.lat_band,
                                  surface=s.surface, origin="catalog") for s in cat])
    with engine.connect() as c:
        sid = dict(c.execute(text("SELECT code, id FROM stations")).all())
    codes = [s.code for s in cat]
    start = END - dt.timedelta(days=365 * years - 1)
    days = pd.date_range(start, END, freq="D")
    times = pd.date_range(start, END + dt.timedelta(days=1), freq="2h", inclusive="left", tz="UTC")
    n_days, n_t = len(days), len(times)

    # observations: a diurnal cycle by latitude, a solar-cycle trend, noise
    hours = times.hour.to_numpy() + times.minute.to_numpy() / 60
    cycle = 1 + 0.6 * np.cos(2 * np.pi * (np.arange(n_t) / (12 * 365 * 11)))
    obs = {}
    for s in cat:
        lt = (hours + s.lon / 15) % 24
        base = 8 + 30 * np.cos(np.radians(s.lat)) ** 2
        obs[s.code] = base * cycle * (0.4 + 0.6 * np.exp(-((lt - 14) / 4) ** 2)) + rng.normal(0, 1.5, n_t)
    kp = load_indices().kp["kp"]
    kp = kp[(kp.index >= times[0]) & (kp.index < times[-1] + pd.Timedelta(hours=2))]
    counts = {}
    with engine.begin() as conn:
        _copy(conn, "kp_values", pd.DataFrame({"time": kp.index, "kp": kp.values, "ap": np.nan, "status": "def",
                                               "source": "bundled"}))
        files = pd.DataFrame({"id": np.arange(1, n_days + 1), "kind": "GIM", "centre": "cod", "day": days.date,
                              "path": [f"/archive/gim/cod/{d:%Y}/cod_{d:%Y%m%d}.nc" for d in days],
                              "sha256": [f"{i:064x}" for i in range(n_days)], "maps": 13, "source_kind": "remote",
                              "ingested_at": days + pd.Timedelta(hours=3)})
        files["ingested_at"] = files["ingested_at"].dt.tz_localize("UTC")
        _copy(conn, "input_files", files)
        frames = []
        for code in codes:
            frames.append(pd.DataFrame({"station_id": sid[code], "time": times, "centre": "cod", "vtec": obs[code],
                                        "input_file_id": np.repeat(np.arange(1, n_days + 1), 12)}))
        o = pd.concat(frames)
        _copy(conn, "observations", o)
        counts["observations"] = len(o)

        # daily runs: issued at 22 UT (the last map of the day), forecast for the next day
        run_ids = np.arange(1, n_days)
        issue = days[:-1] + pd.Timedelta(hours=22)
        runs = pd.DataFrame({"id": run_ids, "issue_time": issue.tz_localize("UTC"), "target_day": days[1:].date,
                             "flow_run_id": [str(uuid.UUID(int=int(i))) for i in run_ids],
                             "code_version": "0.1.0+gbench", "settings_hash": "0123456789abcdef", "data_source": "cod",
                             "status": "ok", "degraded": False, "reason": "",
                             "created_at": (issue + pd.Timedelta(minutes=40)).tz_localize("UTC"),
                             "finished_at": (issue + pd.Timedelta(minutes=45)).tz_localize("UTC")})
        _copy(conn, "forecast_runs", runs)
        counts["forecast_runs"] = len(runs)

        # a model version per station and architecture per day (the daily update), the last one active
        mv = []
        vid = 0
        version_ids = {}
        for code in codes:
            for arch in ARCHS:
                n = n_days - 1
                ids = np.arange(vid + 1, vid + n + 1)
                vid += n
                version_ids[(code, arch)] = ids
                status = np.where(rng.random(n) < 0.1, "rejected", "retired").astype(object)
                status[-1] = "active"
                mv.append(pd.DataFrame({
                    "id": ids, "station_id": sid[code], "architecture": arch, "version": np.arange(1, n + 1),
                    "parent_id": np.r_[np.nan, ids[:-1]], "hyperparameters": '{"units": 50}',
                    "train_start": pd.Timestamp(start, tz="UTC"), "train_end": issue.tz_localize("UTC"),
                    "val_rmse": rng.uniform(1.0, 3.0, n), "checkpoint_path": [f"/models/{code}/{arch}/v{v}.pt"
                                                                              for v in range(1, n + 1)],
                    "checkpoint_sha256": "ab" * 32, "status": status,
                    "reason": np.where(status == "rejected", "worse than its parent on the last 7 days", ""),
                    "created_at": (issue + pd.Timedelta(minutes=20)).tz_localize("UTC")}))
        mvs = pd.concat(mv)
        mvs["parent_id"] = mvs["parent_id"].astype("Int64")
        _copy(conn, "model_versions", mvs)
        counts["model_versions"] = len(mvs)
        _copy(conn, "run_models", pd.concat([pd.DataFrame({"run_id": run_ids, "model_version_id": ids})
                                             for ids in version_ids.values()]))
        ri = pd.DataFrame({"run_id": np.repeat(run_ids, 41), "kind": "GIM"})
        back = np.tile(np.arange(40, -1, -1), len(run_ids))
        day_idx = np.repeat(np.arange(len(run_ids)), 41) - back
        ri = ri[day_idx >= 0].copy()
        day_idx = day_idx[day_idx >= 0]
        ri["name"] = [f"cod_{d:%Y%m%d}.nc" for d in days[day_idx]]
        ri["day"] = days[day_idx].date
        ri["path"] = files["path"].to_numpy()[day_idx]
        ri["sha256"] = files["sha256"].to_numpy()[day_idx]
        _copy(conn, "run_inputs", ri)

        # station forecasts: 12 valid times of the next day per run, station and architecture
        sf = []
        valid = times[12:]
        for code in codes:
            truth = obs[code][12:]
            for k, arch in enumerate(ARCHS):
                err = rng.normal(0, 1.6 + 0.2 * k, len(valid))
                sigma = np.full(len(valid), 1.8)
                mean = truth + err
                sf.append(pd.DataFrame({"run_id": np.repeat(run_ids, 12), "station_id": sid[code], "architecture": arch,
                                        "valid_time": valid, "lead_h": np.tile(np.arange(2, 25, 2.0), len(run_ids)),
                                        "mean": mean, "sigma": sigma, "q025": mean - 1.96 * sigma,
                                        "q16": mean - sigma, "q84": mean + sigma, "q975": mean + 1.96 * sigma}))
        sfs = pd.concat(sf)
        _copy(conn, "station_forecasts", sfs)
        counts["station_forecasts"] = len(sfs)

        # ΔTEC observed and forecast against a smooth reference
        dt_rows = []
        for code in codes:
            ref = pd.Series(obs[code]).rolling(12 * 27, min_periods=1).median().to_numpy()
            for kind, series in (("observed", obs[code]), ("forecast", obs[code] + rng.normal(0, 1.5, n_t))):
                d = series - ref
                dt_rows.append(pd.DataFrame({"station_id": sid[code], "time": times, "kind": kind,
                                             "reference": "median27", "dtec": d, "dtec_rel": 100 * d / ref}))
        dts = pd.concat(dt_rows)
        _copy(conn, "dtec", dts)
        counts["dtec"] = len(dts)

        # verification: per day, station, model (3 architectures + 2 baselines) and Kp class; maps per day
        storm_day = kp.resample("D").max().reindex(days.tz_localize("UTC")).fillna(0).to_numpy() >= 4.67
        models = list(ARCHS) + ["persistence", "median27"]
        rmse_of = {"cnn": 1.6, "gru": 1.8, "lstm": 2.0, "persistence": 2.1, "median27": 2.4}
        v = []
        for i, d in enumerate(days[1:], start=1):
            for cls in ("all", "quiet", "storm") if storm_day[i] else ("all", "quiet"):
                n = 12 if cls == "all" else (6 if storm_day[i] else 12)
                for code in codes:
                    for model in models:
                        r = rmse_of[model] * rng.uniform(0.8, 1.2)
                        v.append((d, code, model, cls, n, r))
        ver = pd.DataFrame(v, columns=["window_start", "station_code", "model", "kp_class", "n", "rmse"])
        ver["window_start"] = ver["window_start"].dt.tz_localize("UTC")
        ver["window_end"] = ver["window_start"] + pd.Timedelta(days=1)
        ver["scope"] = "station"
        ver["mae"] = ver["rmse"] * 0.8
        ver["bias"] = 0.0
        ver["skill_persistence"] = 1 - ver["rmse"] / 2.1
        ver["skill_median27"] = 1 - ver["rmse"] / 2.4
        ver["coverage68"] = 0.68
        ver["coverage95"] = 0.95
        maps = []
        for d in days[1:]:
            for region in ("global", "lat_band:low", "lat_band:mid", "lat_band:high", "surface:land", "surface:ocean"):
                for model, r in (("map:residual", 2.5), ("map:persistence", 2.8)):
                    maps.append((pd.Timestamp(d, tz="UTC"), region, model, "all", 2592 * 13, r))
        mp = pd.DataFrame(maps, columns=["window_start", "station_code", "model", "kp_class", "n", "rmse"])
        mp["window_end"] = mp["window_start"] + pd.Timedelta(days=1)
        mp["scope"] = "global"
        mp["mae"], mp["bias"] = mp["rmse"] * 0.8, 0.0
        ver = pd.concat([ver, mp], ignore_index=True)
        _copy(conn, "verification", ver)
        counts["verification"] = len(ver)

        # global products: the newest run has a real product pair; older ones point at their own (absent) files
        nc, ionex = _product(data_dir, days[-1].date())
        gf = pd.DataFrame({"run_id": np.repeat(run_ids, 13),
                           "valid_time": np.concatenate([pd.date_range(d, periods=13, freq="2h", tz="UTC")
                                                         for d in days[1:]]),
                           "method": "residual"})
        gf["product_path"] = [f"/products/{r}.nc" for r in gf["run_id"]]
        gf["ionex_path"] = [f"/products/{r}.INX" for r in gf["run_id"]]
        gf.loc[gf.run_id == run_ids[-1], ["product_path", "ionex_path"]] = [nc, ionex]
        gf["global_rmse"] = np.where(gf.run_id == run_ids[-1], np.nan, 2.5)
        _copy(conn, "global_forecasts", gf)

        # storm events: runs of Kp >= 5- (3-hourly), with Global ΔTEC peaks and top stations
        storm = (kp >= 4.67).to_numpy()
        edges = np.flatnonzero(np.diff(np.r_[0, storm.astype(int), 0]))
        events = []
        for a, b in zip(edges[::2], edges[1::2]):
            t0, t1 = kp.index[a], kp.index[b - 1] + pd.Timedelta(hours=3)
            if events and t0 - events[-1]["end"] < pd.Timedelta(hours=12):
                events[-1]["end"] = t1
                events[-1]["max_kp"] = max(events[-1]["max_kp"], float(kp.iloc[a:b].max()))
                continue
            events.append({"start": t0, "end": t1, "max_kp": float(kp.iloc[a:b].max())})
        ev = pd.DataFrame(events)
        ev["id"] = np.arange(1, len(ev) + 1)
        ev["g_class"] = np.clip(np.floor(ev["max_kp"] + 0.34).astype(int) - 4, 1, 5)
        ev["peak_pos_dtec"], ev["peak_pos_time"] = 6.0, ev["start"] + pd.Timedelta(hours=6)
        ev["peak_neg_dtec"], ev["peak_neg_time"] = -4.0, ev["start"] + pd.Timedelta(hours=30)
        ev["stations"] = json.dumps(codes[:5])
        _copy(conn, "storm_events", ev[["id", "start", "end", "max_kp", "g_class", "peak_pos_dtec", "peak_pos_time",
                                        "peak_neg_dtec", "peak_neg_time", "stations"]])
        counts["storm_events"] = len(ev)
        for table in ("forecast_runs", "model_versions", "storm_events", "input_files"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return counts


def script_times(repeats: int) -> dict[str, float]:
    """Median wall time of each page's script run with cold query caches (AppTest)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    app = str(REPO / "dashboards" / "app.py")
    out = {}
    for name, (path, _, _) in PAGES.items():
        times = []
        for _ in range(repeats):
            at = AppTest.from_file(app, default_timeout=120)
            at.run()  # the Now page (every session starts there)
            if path:
                st.cache_data.clear()
                t0 = time.perf_counter()
                at.switch_page(f"views/{name}.py")
                at.run()
            else:
                st.cache_data.clear()
                t0 = time.perf_counter()
                at.run()
            times.append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(f"{name}: {at.exception[0].value}")
        out[name] = statistics.median(times)
    return out


def browser_times(env: dict[str, str], repeats: int) -> dict[tuple[str, str], float]:
    """Time of each page in headless Chromium until its script has finished and its charts are drawn:
    ("nav", page) reached by a sidebar click on its first visit (its queries cold), ("load", page) a full
    load from its address. Medians of `repeats` rounds."""
    import shutil
    import socket
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboards" / "app.py"),
                             "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=REPO, env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    out = {}
    try:
        for _ in range(200):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        drawn = '[data-testid="stVegaLiteChart"] svg.marks'
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                  args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                        "--disable-component-update", "--disable-sync", "--disable-quic",
                                        "--no-first-run", "--disable-dev-shm-usage"])
            page = b.new_page(viewport={"width": 1400, "height": 2400})
            ready = '[data-testid="stApp"][data-test-script-state="notRunning"]'

            def finished(name: str, heading: str, charts: int) -> None:
                page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
                page.wait_for_selector(ready, timeout=120_000)
                if charts:
                    page.wait_for_function(f"document.querySelectorAll('{drawn}').length >= {charts}",
                                           timeout=60_000)
                if name == "global_map":
                    page.wait_for_function("[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                                           ".some(i => i.complete && i.naturalWidth > 0)", timeout=60_000)

            def nav(heading: str) -> None:
                page.locator('[data-testid="stSidebarNav"] a').filter(has_text=heading).first.click()

            def refresh(name: str, heading: str, charts: int) -> None:
                """The sidebar's Refresh data: every query cache cleared (the current page reruns)."""
                page.get_by_role("button", name="Refresh data").click()
                page.wait_for_timeout(300)
                finished(name, heading, charts)

            # warm-up: a running dashboard has its modules imported and the browser its chart bundle
            page.goto(url + "/runs")
            finished("runs", "Runs & models", 0)
            for name, (path, heading, charts) in PAGES.items():
                nav(heading)
                finished(name, heading, charts)
            samples: dict[tuple[str, str], list[float]] = {}
            for _ in range(repeats):
                # in-app navigation (a click in the sidebar, as a forecaster moves between pages) with every
                # query cache cleared just before: the page's database reads are all cold
                for name, (path, heading, charts) in PAGES.items():
                    other = "runs" if name != "runs" else "now"
                    nav(PAGES[other][1])
                    finished(other, *PAGES[other][1:])
                    refresh(other, *PAGES[other][1:])
                    t0 = time.perf_counter()
                    nav(heading)
                    finished(name, heading, charts)
                    samples.setdefault(("nav", name), []).append(time.perf_counter() - t0)
                # a full load from the address bar (a new session: the app's scripts, the page), caches cold
                current = list(PAGES)[-1]  # where the navigation loop ended
                for name, (path, heading, charts) in PAGES.items():
                    refresh(current, *PAGES[current][1:])
                    current = name
                    t0 = time.perf_counter()
                    page.goto(f"{url}/{path}")
                    finished(name, heading, charts)
                    samples.setdefault(("load", name), []).append(time.perf_counter() - t0)

            out.update({k: statistics.median(v) for k, v in samples.items()})
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--baseline-years", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the seeded databases (names printed)")
    ap.add_argument("--database-url", default=os.environ.get("SWX_TEST_DATABASE_URL"))
    args = ap.parse_args()
    if not args.database_url:
        ap.error("--database-url (a PostgreSQL server) is required")
    from sqlalchemy import create_engine, text

    from swx.config import get_settings

    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    results = {"what": __doc__.split("\n\n")[0].replace("\n", " "), "machine": f"{os.cpu_count()} cores",
               "date": dt.date.today().isoformat(), "runs": {}}
    made = []
    try:
        for years in (args.baseline_years, args.years):
            name = f"swx_bench_dash_{uuid.uuid4().hex[:8]}"
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            made.append(name)
            url = args.database_url.rsplit("/", 1)[0] + "/" + name
            data_dir = Path(tempfile.mkdtemp(prefix="swx-bench-dash-"))
            t0 = time.perf_counter()
            counts = seed(url, years, data_dir)
            seeded_s = time.perf_counter() - t0
            print(f"{years} years seeded in {seeded_s:.0f} s: {counts}", flush=True)
            env = {"SWX_DATABASE_URL": url, "SWX_DATA_DIR": str(data_dir)}
            os.environ.update(env)
            get_settings.cache_clear()
            import streamlit as st

            st.cache_resource.clear()
            script = script_times(args.repeats)
            browser = browser_times(env, args.repeats)
            results["runs"][f"{years}y"] = {
                "rows": counts, "seed_s": round(seeded_s, 1),
                "script_s": {k: round(v, 3) for k, v in script.items()},
                "browser_nav_s": {k: round(browser["nav", k], 3) for k in PAGES},
                "browser_load_s": {k: round(browser["load", k], 3) for k in PAGES}}
            for k in PAGES:
                print(f"  {years:>2} y  {k:<11} script {script[k]:6.3f} s   browser: sidebar click "
                      f"{browser['nav', k]:6.3f} s, full load {browser['load', k]:6.3f} s", flush=True)
    finally:
        if not args.keep:
            with admin.connect() as c:
                for name in made:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            print("kept:", made)
    big, small = results["runs"][f"{args.years}y"], results["runs"][f"{args.baseline_years}y"]
    kinds = ("script_s", "browser_nav_s", "browser_load_s")
    results["ratio_vs_baseline"] = {kind: {k: round(big[kind][k] / small[kind][k], 2) for k in PAGES} for kind in kinds}
    results["under_1s"] = {kind: all(v < 1.0 for v in big[kind].values()) for kind in kinds}
    print(json.dumps(results["ratio_vs_baseline"], indent=1), "\nevery page < 1 s:", results["under_1s"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, default=str))
        tmp.replace(args.json)


if __name__ == "__main__":
    main()
