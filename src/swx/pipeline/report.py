"""What people read after a run: the archive's days, maps, Kp and storms; the skill of what was
published; the main job's summary and the daily Prefect artifact (markdown, a map PNG)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.archive import Archive, load_indices
from swx.config import LEAD_DAYS, lead_hours, lead_span
from swx.pipeline.status import run_status
from swx.plots import plot_maps
from swx.science.blend import MODEL_ORDER
from swx.science.extend import METHODS
from swx.science.map_blend import MEMBERS
from swx.science.storms import STORM_KP, at_least, g_class
from swx.science.verify import pooled_map_skill, pooled_skill
from swx.sources.indices.tables import kp_label
from swx.store.db import current_revision, open_database
from swx.store.queries import counts, skill_table


def archive_summary(archive: Archive, window: tuple[dt.date, dt.date] | None = None) -> str:
    """Days and maps per centre (simulated data labelled as such), then Kp over the window (or over
    the archived days) with its storm days (daily max Kp >= 5-, NOAA G-scale)."""
    lines = [f"Archive {archive.root}:"]
    all_days: set[dt.date] = set()
    for centre in archive.centres():
        days = archive.gim_days(centre)
        if window:
            days = [d for d in days if window[0] <= d <= window[1]]
        if not days:
            continue
        all_days.update(days)
        maps, kinds = 0, set()
        for d in days:
            with xr.open_dataset(archive.gim_path(centre, d), engine="netcdf4") as ds:
                maps += ds.sizes["time"]
                kinds.add(ds.attrs.get("source_kind", "?"))
        label = " — SIMULATED data, not observations" if "simulated" in kinds else ""
        lines.append(f"  {centre.upper()}: {len(days)} day(s), {maps} maps, {days[0]} .. {days[-1]}{label}")
    if not all_days:
        lines.append("  no GIM days archived" + (f" for {window[0]} .. {window[1]}" if window else ""))
        return "\n".join(lines)
    kp = load_indices(archive).kp
    if window:
        sel = kp[(kp.index >= pd.Timestamp(window[0], tz="UTC"))
                 & (kp.index < pd.Timestamp(window[1] + dt.timedelta(days=1), tz="UTC"))]
        where = f"{window[0]} .. {window[1]}"
    else:
        days_idx = pd.DatetimeIndex(sorted(all_days)).tz_localize("UTC")
        sel = kp[kp.index.normalize().isin(days_idx)]
        where = "the archived days"
    if sel.empty:
        lines.append(f"  Kp: none for {where}")
        return "\n".join(lines)
    lines.append(f"  Kp over {where}: {kp_label(sel.kp.min())} .. {kp_label(sel.kp.max())}")
    daily_max = sel.kp.groupby(sel.index.normalize()).max()
    storms = daily_max[at_least(daily_max, STORM_KP)]
    if storms.empty:
        lines.append("  storms (Kp >= 5-): none")
        return "\n".join(lines)
    strongest = storms.sort_values(ascending=False, kind="stable").iloc[:STORM_DAYS_LISTED].sort_index()
    lines.append(f"  storm days (Kp >= 5-): {len(storms)}" + (f"; the {len(strongest)} strongest (all: swx storms, "
                                                               "the Storms page)" if len(storms) > len(strongest) else ""))
    for t, v in strongest.items():
        lines.append(f"    {t:%Y-%m-%d}: max Kp {kp_label(v)} (G{g_class(v)})")
    return "\n".join(lines)


#: storm days a summary lists (the strongest; the rest are counted)
STORM_DAYS_LISTED = 8


# ------------------------------------------------------------------------------------ daily run

def _forecast_line(forecast: dict, what: str) -> str:
    state = f"**DEGRADED** — {forecast['reason']}" if forecast.get("degraded") else "ok"
    return (f"- {what} **{forecast['target_day']}** (run {forecast['run_id']}, from the maps of "
            f"{forecast['latest_day']}; {forecast.get('timing') or 'data to ' + forecast['issue_time']}): {state}")


def daily_markdown(issue_day: dt.date, forecast: dict, verify: dict, storms: dict, update: dict | None = None,
                   ahead: dict | None = None) -> str:
    """The markdown summary of one daily run (Prefect artifact, logs): the next day's forecast and,
    where it was made, the day after's (`ahead`, tomorrow's forecast)."""
    lines = [f"# swx daily run — issue day {issue_day}", "", _forecast_line(forecast, "Forecast for"),
             _forecast_line(ahead, f"Tomorrow's forecast ({lead_span(2)} h after the cutoff) for") if ahead
             else "- Tomorrow's forecast: **FAILED** (the flow run's error says why)",
             f"- Station models: {', '.join(forecast['architectures'])}, published as their blend with the baselines; "
             f"extension: {', '.join(forecast['methods'])}"]
    leaning = forecast.get("on_baselines") or {}
    if leaning:
        lines.append(f"- Running mostly on the baselines at {len(leaning)} station(s): "
                     + "; ".join(f"{code}: {why}" for code, why in sorted(leaning.items())))
    for made, what in ((forecast, "Products"), (ahead or {}, "Tomorrow's products")):
        for method, (nc, ionex) in made.get("products", {}).items():
            lines.append(f"- {what} ({method}): `{nc}`, `{ionex}`")
    if update is not None:
        lines.append(f"- Model update: {'ok' if update['ok'] else 'FAILED, previous models kept: ' + update['reason']}"
                     f" ({update.get('accepted', 0)} accepted, {update.get('rejected', 0)} rejected)")
    if verify.get("maps"):
        lines.append("- Global maps for " + verify["day"] + ": " + ", ".join(f"{k} {v:.2f} TECU"
                                                                           for k, v in verify["maps"].items()))
    elif verify.get("skipped") or verify.get("maps_skipped"):
        lines.append(f"- Verification: {verify.get('skipped') or verify.get('maps_skipped')}")
    for lead, scores in (verify.get("later_leads") or {}).items():
        if scores.get("maps"):
            lines.append(f"- Global maps for {verify['day']} forecast {lead} days after their maps: "
                         + ", ".join(f"{k} {v:.2f} TECU" for k, v in scores["maps"].items()))
    events = storms.get("events", [])
    lines.append("- Storms (last 7 days): " + (", ".join(f"G{e['g_class']} from {e['start'][:16]} (Kp {e['max_kp']:.2f})"
                                                          for e in events) if events else "none"))
    return "\n".join(lines) + "\n"


def skill_rows(verify: dict) -> list[dict]:
    """Today's verified RMSE per model and baseline (maps and stations) and lead day, as table rows."""
    leads = {"1": verify, **(verify.get("later_leads") or {})}
    rows = []
    for lead, scores in leads.items():
        rows += [{"what": "global map", "lead_day": int(lead), "model": k, "rmse_tecu": v}
                 for k, v in scores.get("maps", {}).items()]
        rows += [{"what": "stations (mean)", "lead_day": int(lead), "model": k, "rmse_tecu": v}
                 for k, v in scores.get("stations", {}).items()]
    return rows


def forecast_map_png(forecast: dict, path: Path | None = None) -> Path | None:
    """A PNG of the first method's forecast, uncertainty and ΔTEC at mid-day, next to its products
    (or at `path`). `forecast` is the summary of `swx.pipeline.forecast.forecast_stage`."""
    products = forecast.get("products") or {}
    if not products:
        return None
    method = forecast["methods"][0]
    nc = Path(products[method][0])
    with xr.open_dataset(nc) as f:
        t = f["time"].values[len(f["time"]) // 2]
        panels = {"forecast vTEC": f["tec"].sel(time=t).load(), "1-sigma": f["tec_sigma"].sel(time=t).load()}
        if "dtec" in f:
            panels["ΔTEC vs 27-day median"] = f["dtec"].sel(time=t).load()
        simulated = " — SIMULATED data" if int(f.attrs.get("simulated", 0)) else ""
        return plot_maps(panels, path or nc.with_suffix(".png"),
                         f"swx forecast valid {str(t)[:16].replace('T', ' ')} UTC ({method}){simulated}",
                         empty={"ΔTEC vs 27-day median": "no ΔTEC: the 27-day median needs\n14 of the 27 days "
                                                         "before the target day"})


#: how each lead day's skill is introduced
LEAD_TITLES = {1: f"the next day's forecasts (hours {lead_span(1)} after the cutoff)",
               2: f"tomorrow's forecasts, made a day earlier (hours {lead_span(2)} after the cutoff; persistence "
                  "and the 27-day median as known at the cutoff)"}


def skill_summary(engine, start: dt.date, end: dt.date) -> str:
    """The skill of what was published for target days start..end, walk-forward (each day's forecast
    issued before it), for each lead day verified: RMSE and skill vs persistence at the same lead per
    model, stations pooled and by latitude band, storm windows apart; then the global map against the
    persistence map."""
    lo = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    lines: list[str] = []
    for lead_day in LEAD_DAYS:
        rows = skill_table(engine, start=lo, end=hi, published=True, lead_day=lead_day)
        st = rows[rows.scope == "station"]
        if st.empty:
            continue
        lines += ([""] if lines else []) + [f"Skill of {LEAD_TITLES[lead_day]}:"]
        lines += station_skill_lines(st, "  published station forecasts")
        lines += map_skill_lines(rows)
    return "\n".join(lines) if lines else "skill: nothing verified yet"


def station_skill_lines(st: pd.DataFrame, what: str) -> list[str]:
    """Station verification rows (per station, model, window and Kp class, with the station's lat_band)
    as the headline table: RMSE and skill vs persistence per model, stations pooled and by latitude
    band, storm windows apart, CRPS and 95 % coverage. The one layout of the main job's summary and
    `swx evaluate`: the same rows give the same figures. Group rows (scope "group") are left out."""
    if "scope" in st:
        st = st[st.scope == "station"]
    cols: dict[str, pd.DataFrame] = {}
    cols["all stations"] = pooled_skill(st[st.kp_class == "all"], [])
    for band in ("low", "mid", "high"):
        sel = st[(st.kp_class == "all") & (st.lat_band == band)]
        if len(sel):
            cols[f"{band} lat"] = pooled_skill(sel, [])
    if (st.kp_class == "storm").any():
        cols["storm windows"] = pooled_skill(st[st.kp_class == "storm"], [])
    models = [m for m in MODEL_ORDER if m in set(st.model)] + sorted(set(st.model) - set(MODEL_ORDER))
    # the first value verified: 2 h after the first issue time, a day later for the second day's forecasts
    lead_day = int(st["lead_day"].max()) if "lead_day" in st and st["lead_day"].notna().any() else 1
    first = (pd.to_datetime(st.window_start, utc=True).min() + pd.Timedelta(hours=lead_hours(lead_day)[0])).date()
    last = pd.to_datetime(st.window_end, utc=True).max().date()
    # probabilistic: CRPS (TECU) and the share of truths inside the 95 % interval, stations pooled
    everything = st[(st.kp_class == "all") & st["coverage95"].notna()]
    covered = everything.assign(hits=everything["coverage95"] * everything["n"]).groupby("model")[["hits", "n"]].sum()
    cover95 = (covered["hits"] / covered["n"]).where(covered["n"] > 0)
    head = f"{'':13s}" + "".join(f"{c:>20s}" for c in cols) + f"{'CRPS':>8s}{'95% cover':>11s}"
    lines = [f"{what}, verified {first} .. {last} "
             "(RMSE in TECU, skill vs persistence; CRPS in TECU and 95 % interval coverage, stations pooled):", head]
    for model in models:
        cells = []
        for frame in cols.values():
            r = frame[frame.model == model]
            if r.empty:
                cells.append(f"{'—':>20s}")
                continue
            r = r.iloc[0]
            sk = "" if model == "persistence" or not np.isfinite(r.skill_persistence) else f" ({r.skill_persistence:+.0%})"
            cells.append(f"{r.rmse:>9.2f}{sk:>11s}")
        crps = cols["all stations"].set_index("model").get("crps", pd.Series(dtype=float)).get(model, np.nan)
        cover = cover95.get(model, np.nan)
        cells.append(f"{crps:>8.2f}" if np.isfinite(crps) else f"{'—':>8s}")
        cells.append(f"{cover:>10.1%} " if np.isfinite(cover) else f"{'—':>10s} ")
        lines.append(f"{model:13s}" + "".join(cells))
    return lines


def map_skill_lines(rows: pd.DataFrame) -> list[str]:
    """The global maps' pooled skill (published map, its members, the rivals, the persistence map) as
    table lines: cos-latitude weighted RMSE per region, skill vs the persistence map, days better,
    interval coverage and CRPS."""
    pooled = pooled_map_skill(rows[rows.scope == "global"])
    if pooled.empty:
        return []
    days = int(pooled["days"].max())
    regions = {"global": "globe", "lat_band:low": "low lat", "lat_band:mid": "mid lat", "lat_band:high": "high lat",
               "away_from_stations": "away from stns"}
    lines = [f"global maps, {days} verified day(s) (cos-latitude weighted RMSE in TECU over every epoch, skill vs the "
             "persistence map; interval coverage and CRPS of the published sigma):",
             f"{'':17s}" + "".join(f"{r:>18s}" for r in regions.values()) + f"{'days better':>13s}{'68%/95% cover':>16s}"
             f"{'CRPS':>7s}"]
    order = sorted(set(pooled.model), key=lambda m: (m == "map:persistence", m not in MAP_ORDER,
                                                       MAP_ORDER.index(m) if m in MAP_ORDER else 0, m))
    for model in order:
        mine = pooled[pooled.model == model].set_index("region")
        cells = []
        for region in regions:
            if region not in mine.index:
                cells.append(f"{'—':>18s}")
                continue
            r = mine.loc[region]
            sk = "" if model == "map:persistence" or not np.isfinite(r.skill_persistence) else \
                f" ({r.skill_persistence:+.1%})"
            cells.append(f"{r.rmse:>8.2f}{sk:>10s}")
        g = mine.loc["global"] if "global" in mine.index else None
        better = f"{g.days_better} of {g.days_compared}" if g is not None and model != "map:persistence" else "—"
        cover = (f"{g.coverage68:.0%} / {g.coverage95:.0%}" if g is not None and np.isfinite(g.coverage68) else "—")
        crps = f"{g.crps:.2f}" if g is not None and np.isfinite(g.crps) else "—"
        lines.append(f"{model:17s}" + "".join(cells) + f"{better:>13s}{cover:>16s}{crps:>7s}")
    return lines


#: the order the map table lists the maps in: the published methods, the members, the rivals after
MAP_ORDER = tuple(f"map:{m}" for m in (*METHODS, *(m for m in MEMBERS if m != "persistence")))


def main_job_summary(settings, out: dict, seconds: float) -> str:
    """What the main job did and where its results are."""
    engine = open_database(settings)
    lines = ["", f"swx main job done in {seconds:.0f} s (data: {settings.centre.upper()}"
             + (", SIMULATED demo maps" if settings.gim_source == "simulated" else "") + ")"]
    trained = out.get("trained") or {}
    if trained.get("trained"):
        lines.append(f"models trained on the spot: {', '.join(trained['trained'])}")
    nodes = trained.get("nodes") or {}
    if nodes.get("trained"):
        lines.append(f"node models of the global map trained on {nodes['n_days']} issue days before "
                     f"{nodes['train_end']}: out-of-fold skill against their prior {nodes['cv_skill']:+.1%}")
    elif nodes.get("reason") and nodes["reason"] != "node models exist":
        lines.append(f"node models of the global map NOT trained: {nodes['reason']} (the maps are the "
                     "stations-only map, marked degraded)")
    for r in out.get("runs", []):
        fc, ver, ahead = r["forecast"], r["verify"], r.get("forecast_ahead")
        maps = ", ".join(f"{k} {v:.2f}" for k, v in ver.get("maps", {}).items()) or "not verified yet"
        state = "DEGRADED: " + fc["reason"] if fc["degraded"] else "ok"
        tomorrow = ("" if "forecast_ahead" not in r else "; tomorrow's forecast FAILED" if ahead is None
                    else f"; tomorrow's {ahead['target_day']} (run {ahead['run_id']}, "
                         f"{'DEGRADED: ' + ahead['reason'] if ahead['degraded'] else 'ok'})")
        lines.append(f"  forecast {fc['target_day']} (run {fc['run_id']}, {state}){tomorrow}; maps of {ver['day']} RMSE "
                     f"(cos-lat): {maps}")
    if out.get("kept"):
        lines.append(f"  {len(out['kept'])} day(s) already published by an earlier run, kept as they were "
                     f"({out['kept'][0]} .. {out['kept'][-1]} issue days)")
    if out.get("target_days"):
        first, last_day = (dt.date.fromisoformat(d) for d in out["target_days"])
        lines.append(skill_summary(engine, first, last_day))
    doc, healthy = run_status(settings, max_age_h=1e9)
    c = counts(engine)
    lines.append("database " + settings.display_database_url + ": "
                 + ", ".join(f"{k} {v}" for k, v in c.items()))
    last = out["runs"][-1] if out.get("runs") else None
    if last:
        for what, made in (("products", last["forecast"]), ("tomorrow's", last.get("forecast_ahead") or {})):
            for method, (nc, ionex) in made.get("products", {}).items():
                lines.append(f"{what} ({method}): {nc}\n{' ' * (len(what) + len(method) + 5)}{ionex}")
    lines.append(f"latest run status: {doc['status']}{' (degraded)' if doc.get('degraded') else ''} — "
                 "`swx status --json` for monitoring")
    lines.append("dashboard: `make dashboard`, then open http://localhost:8501")
    return "\n".join(lines)


def main_archive_summary(settings, window: tuple[dt.date, dt.date] | None = None) -> str:
    """`archive_summary` of the settings' archive."""
    return archive_summary(Archive(settings.archive_dir), window=window)


def database_summary(settings, new_this_run: int) -> str:
    """The database in one line: where (password hidden), its revision and what it holds."""
    engine = open_database(settings)
    rows = counts(engine)
    return (f"Database {settings.display_database_url} (revision {current_revision(engine)}): "
            f"{rows['input_files']} input files ({new_this_run} new in this run), {rows['kp_values']} Kp values")

