"""Stage: verification once a day's truth has arrived — the global maps (globally, by latitude band,
land/ocean, beside the persistence map) and the station forecasts that were published for the day
(every architecture and the blend, beside persistence and the 27-day median). What users got is what
is scored: no model is re-run."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd
import xarray as xr

from swx.archive import load_indices
from swx.config import Settings
from swx.errors import NotFoundError
from swx.pipeline.context import Context, archived_maps, context, rivals, station_history
from swx.plots import plot_forecast_maps
from swx.products import open_product
from swx.science.features import baselines_at
from swx.science.map_blend import MEMBERS
from swx.science.grid import away_from_points
from swx.science.storms import storm_days
from swx.science.verify import STEP, map_scores, score_rows, station_rmse_by_model
from swx.store.queries import failed_run_for_day, issued_forecasts, runs_for_day
from swx.store.writes import set_global_rmse, write_verification


#: the verification region of the grid nodes away from every station (`AWAY_FROM_STATIONS_KM`)
AWAY_REGION = "away_from_stations"


def _no_truth(ctx: Context, day: dt.date) -> str:
    """Why a day has no map to verify with: not archived yet, or archived and changed since."""
    if ctx.archive.changed_gim(ctx.centre, day):
        return (f"the archived {ctx.centre} GIM for {day} changed since it was archived (checksum mismatch): "
                f"archive it again (`swx ingest gims --start {day} --end {day} --force`)")
    return f"no {ctx.centre} GIM for {day} yet"


def _nothing_published(ctx: Context, target_day: dt.date, lead_day: int, what: str) -> str:
    """Why there is nothing of `what` to verify for the day: its forecast failed (named, with what
    makes it again), or none was made."""
    ahead = f" {lead_day} days ahead" if lead_day > 1 else ""
    failed = failed_run_for_day(ctx.engine, target_day, lead_day)
    if failed is None:
        return f"no {what} published for {target_day}{ahead}"
    issue = failed.get("issue_day") or target_day - dt.timedelta(days=lead_day)
    return (f"the forecast for {target_day}{ahead} failed (run {failed['id']}: {failed['reason'] or 'no reason'}): "
            f"nothing of it is published to verify; make it again (`swx forecast --day {issue}"
            + (f" --lead-day {lead_day}" if lead_day > 1 else "") + "`)")


def verify_maps(ctx: Context, target_day: dt.date, lead_day: int = 1) -> pd.DataFrame:
    """Score the global forecasts for `target_day` made `lead_day` days after their maps against its
    real GIM (when archived), beside the persistence map at the same lead (the maps of `lead_day` days
    before), globally, by latitude band and land/ocean; store the rows and each epoch's RMSE."""
    engine = ctx.engine
    held = ctx.archive.gim_product(ctx.centre, target_day)
    if held is None:
        raise NotFoundError(_no_truth(ctx, target_day) + ": the forecasts cannot be verified")
    truth_all = archived_maps(ctx, [target_day])
    runs = runs_for_day(engine, target_day, ctx.settings.data_dir, lead_day=lead_day)
    if runs.empty:  # said, not an empty score (`swx verify` said nothing of the maps)
        raise NotFoundError(_nothing_published(ctx, target_day, lead_day, "global forecast"))
    carry = np.timedelta64(lead_day, "D")
    # the persistence map beside every forecast: the newest maps a run of this lead had
    prev = archived_maps(ctx, [target_day - dt.timedelta(days=lead_day)])
    # the rivals made on no more information than these runs (CODE's 1-day prediction beside lead day 2)
    rival_maps = {r: ctx.archive.open_gim_tec(r, target_day)["tec"] for r in rivals(ctx.settings, lead_day)
                  if ctx.archive.has_gim(r, target_day)}
    out = []
    away = None
    for run in runs.head(1).itertuples():  # what users have for the day: the newest run's maps
        for method, path in run.products.items():
            fc = open_product(path)
            times = np.intersect1d(fc["time"].values, truth_all["time"].values)
            if len(times) == 0:
                continue
            truth = truth_all.sel(time=times).values
            pers_t = times - carry
            have = np.isin(pers_t, prev["time"].values) if prev is not None else np.zeros(len(times), bool)
            pers = np.full_like(truth, np.nan)
            if have.any():
                pers[have] = prev.sel(time=pers_t[have]).values
            if away is None:  # the nodes far from every station: where the map's skill is its own
                away = {AWAY_REGION: away_from_points(fc["lat"].values, fc["lon"].values,
                                                      np.array([st.lat for st in ctx.stations]),
                                                      np.array([st.lon for st in ctx.stations]))}
            rows = map_scores(fc["tec"].sel(time=times).values, truth, fc["lat"].values, fc["lon"].values,
                              persistence=pers if have.all() else None, sigma=fc["tec_sigma"].sel(time=times).values,
                              regions=away)
            w0 = pd.Timestamp(times[0], tz="UTC").to_pydatetime()
            w1 = pd.Timestamp(times[-1], tz="UTC").to_pydatetime()
            scored = [(f"map:{method}", rows)]
            if method == ctx.settings.extension_method and "member_tec" in fc:  # the published map's members
                for name in fc["member"].values:
                    if str(name) != "persistence":  # scored below, as the baseline
                        scored.append((f"map:{name}", map_scores(
                            fc["member_tec"].sel(member=name, time=times).values, truth, fc["lat"].values,
                            fc["lon"].values, persistence=pers if have.all() else None, regions=away)))
            for rival, maps in rival_maps.items():  # the rivals on the same epochs, where they have them all
                if np.isin(times, maps["time"].values).all() and maps.shape[1:] == truth.shape[1:]:
                    scored.append((f"map:{rival}", map_scores(maps.sel(time=times).values, truth, fc["lat"].values,
                                                              fc["lon"].values,
                                                              persistence=pers if have.all() else None)))
            for model, model_rows in scored:
                for r in model_rows:
                    out.append(dict(scope="global", station_code=r["region"], model=model, window_start=w0,
                                    window_end=w1, kp_class="all", n=r["n"], rmse=r["rmse"], mae=r["mae"],
                                    bias=r["bias"], corr=None, skill_persistence=r.get("skill_vs_persistence"),
                                    skill_median27=None, coverage68=r.get("coverage68"),
                                    coverage95=r.get("coverage95"), crps=r.get("crps"), rmse_area=r["rmse_area"],
                                    run_id=int(run.run_id), truth_level=held.level))
            for r in rows:
                if "rmse_persistence" in r:
                    out.append(dict(scope="global", station_code=r["region"], model="map:persistence",
                                    window_start=w0, window_end=w1, kp_class="all", n=r["n"],
                                    rmse=r["rmse_persistence"], mae=r["mae_persistence"],
                                    bias=r["bias_persistence"], corr=None,
                                    skill_persistence=0.0, skill_median27=None, coverage68=None, coverage95=None,
                                    crps=None, rmse_area=r["rmse_area_persistence"],
                                    run_id=int(run.run_id), truth_level=held.level))
            err = fc["tec"].sel(time=times).values - truth
            per_epoch = np.sqrt(np.nanmean(err ** 2, axis=(1, 2)))
            set_global_rmse(engine, int(run.run_id), method, times, per_epoch)
    write_verification(engine, out)
    return pd.DataFrame(out)


def verify_station_forecasts(ctx: Context, target_day: dt.date, lead_day: int | None = None) -> pd.DataFrame:
    """Score the station forecasts that were *published* for `target_day` (of each lead day, or of
    `lead_day`, the newest finished run's: every architecture and the blend) against the station values
    of its maps, beside persistence and the 27-day median at the same times and lead; per station,
    latitude band, land/ocean and Kp class. What the users got is what is scored: no model is re-run."""
    fc = issued_forecasts(ctx.engine, target_day, target_day, lead_day=lead_day)
    if fc.empty:
        raise NotFoundError(_nothing_published(ctx, target_day, lead_day or 1, "station forecasts"))
    if not ctx.archive.has_gim(ctx.centre, target_day):
        raise NotFoundError(_no_truth(ctx, target_day) + ": the forecasts cannot be verified")
    wide = station_history(ctx, target_day - dt.timedelta(days=29), target_day + dt.timedelta(days=1))
    kp = load_indices(ctx.archive).kp["kp"]
    storms = storm_days(kp)
    return pd.concat([_score_published(ctx, one, wide, kp, storms) for _, one in fc.groupby("lead_day")],
                     ignore_index=True)


def _baseline_times(fc: pd.DataFrame) -> tuple[pd.DatetimeIndex, pd.Timedelta]:
    """The valid times of one day's published forecasts and how far they were carried forward: the
    baselines as the run knew them are those at valid - lag (a degraded run forecast from maps `lag`
    days old, carried forward, so its persistence and 27-day median are its own issue time's)."""
    valid = pd.DatetimeIndex(sorted(fc["valid_time"].unique()))
    return valid, (valid.min() - STEP) - pd.Timestamp(fc["issue_time"].iloc[0])


def _score_published(ctx: Context, fc: pd.DataFrame, wide: pd.DataFrame, kp: pd.Series, storms: set[dt.date],
                     baselines: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Score one day's published forecasts `fc` against the station history `wide` (from 28 days
    before the day) and store the rows. `baselines`: persistence and the 27-day median at the times
    `_baseline_times` names (computed here when not given; they use no value after the issue time)."""
    valid, lag = _baseline_times(fc)
    issue = valid.min() - STEP  # the verified window: the target day
    codes = [st.code for st in ctx.stations]
    baselines = baselines if baselines is not None else baselines_at(wide, valid - lag)
    base = {k: v.reindex(valid - lag).set_axis(valid) for k, v in baselines.items()}
    truth = wide.reindex(valid)[codes].to_numpy(float).T[:, None, :]  # (S, 1, H)
    archs = sorted(fc["architecture"].unique())
    a = pd.Index(archs).get_indexer(fc["architecture"])
    st = pd.Index(codes).get_indexer(fc["station"])
    h = valid.get_indexer(pd.DatetimeIndex(fc["valid_time"]))
    at = (st >= 0) & (h >= 0)  # stations of the catalog, times of the day
    mean = np.full((len(archs), len(codes), len(valid)), np.nan)
    sig = np.full_like(mean, np.nan)
    mean[a[at], st[at], h[at]] = fc["mean"].to_numpy(float)[at]
    sig[a[at], st[at], h[at]] = fc["sigma"].to_numpy(float)[at]
    predictions, sigmas = {}, {}
    for k, arch in enumerate(archs):
        if np.isnan(mean[k]).all(axis=1).any():
            continue  # an architecture not forecast for every station
        predictions[arch] = mean[k][:, None, :]
        sigmas[arch] = sig[k][:, None, :] if np.isfinite(sig[k]).all() else None
    day = fc["target_day"].iloc[0]
    lead_day = int(fc["lead_day"].iloc[0]) if "lead_day" in fc else 1
    # a rival's forecast for the day, at the same stations and times, beside the runs of its information
    for rival in rivals(ctx.settings, lead_day):
        if ctx.archive.has_gim(rival, day):
            at_stations = station_history(ctx, day, day, centre=rival).reindex(valid)[codes].to_numpy(float).T
            if np.isfinite(at_stations).all():
                predictions[rival], sigmas[rival] = at_stations[:, None, :], None
    rows = score_rows(ctx.stations, pd.DatetimeIndex([issue]), truth,
                      base["persistence"][codes].to_numpy(float).T[:, None, :],
                      base["median27"][codes].to_numpy(float).T[:, None, :], predictions, storms, sigmas)
    held = ctx.archive.gim_product(ctx.centre, day)
    for r in rows:  # the truth's level: "rapid" until the day's final replaces it (and the day is rescored)
        r["truth_level"] = held.level if held else ""
    write_verification(ctx.engine, rows, run_id=int(fc["run_id"].iloc[0]))
    return pd.DataFrame(rows)


def verification_plot(ctx: Context, target_day: dt.date, path: Path, method: str | None = None,
                      hour: int = 12, lead_day: int = 1) -> Path:
    """Forecast, truth, error and uncertainty maps of the newest run of `lead_day` for `target_day`
    at `hour` UT."""
    runs = runs_for_day(ctx.engine, target_day, ctx.settings.data_dir, lead_day=lead_day)
    if runs.empty:
        raise NotFoundError(f"no global forecast for {target_day}")
    products = runs.iloc[0].products
    method = method or (ctx.settings.extension_method if ctx.settings.extension_method in products
                        else next(iter(products)))
    truth = archived_maps(ctx, [target_day])
    if truth is None:
        raise NotFoundError(_no_truth(ctx, target_day))
    t = np.datetime64(dt.datetime.combine(target_day, dt.time(hour)), "ns")
    f = open_product(products[method])
    return plot_forecast_maps(f["tec"].sel(time=t), truth.sel(time=t), path,
                              f"{'24 h' if lead_day == 1 else f'day-{lead_day}'} forecast ({method}) vs "
                              f"{ctx.centre.upper()} GIM, {target_day} {hour:02d} UT", f["tec_sigma"].sel(time=t))


class _VerifyRequired(TypedDict):
    day: str
    maps: dict[str, float]  # model -> global RMSE (TECU) of the maps for the day
    stations: dict[str, float]  # model -> RMSE (TECU) of the station forecasts, mean over the stations


class LeadScores(TypedDict):
    """A later lead day's scores of a day (the runs made further from their maps): as `maps` and
    `stations` are for lead day 1."""

    maps: dict[str, float]
    stations: dict[str, float]


class VerifySummary(_VerifyRequired, total=False):
    """What a day's verification scored (`maps`, `stations`: the runs of lead day 1, the day after
    their maps; `later_leads`: lead day -> the same for runs made further ahead, tomorrow's forecasts);
    the `*skipped` fields say what could not be scored and why."""

    skipped: str
    maps_skipped: str
    stations_skipped: str
    later_leads: dict[str, LeadScores]


def verify_days(ctx: Context, days: list[dt.date], *, on_day: Callable[[dt.date], None] | None = None
                ) -> list[VerifySummary]:
    """Verify what each day's truth allows: the global maps and the station forecasts (every
    architecture and the blend) published for the day, as they were published. The daily
    verification is a chunk of one day; for a chunk, the published forecasts, the station history and
    Kp are read once. `on_day` is called as each day is done."""
    out = []
    days = sorted(days)
    if not days:
        return out
    truth = [d for d in days if ctx.archive.has_gim(ctx.centre, d)]
    published = (issued_forecasts(ctx.engine, truth[0], truth[-1]) if truth
                 else pd.DataFrame(columns=["target_day", "lead_day"]))
    published = published[published["target_day"].isin(truth)]
    if len(published):  # what the scores need, read once for the chunk
        wide = station_history(ctx, truth[0] - dt.timedelta(days=28), truth[-1] + dt.timedelta(days=1))
        kp = load_indices(ctx.archive).kp["kp"]
        storms = storm_days(kp)
        when = [v - lag for v, lag in (_baseline_times(fc) for _, fc in
                                       published.groupby(["target_day", "lead_day"]))]
        baselines = baselines_at(wide, when[0].append(when[1:]).unique().sort_values())
    for day in days:
        summary = VerifySummary(day=str(day), maps={}, stations={})
        out.append(summary)
        if day not in truth:
            summary["skipped"] = _no_truth(ctx, day)  # not archived yet, or changed since it was
        else:
            try:
                summary["maps"] = _map_summary(verify_maps(ctx, day))
            except NotFoundError as exc:
                summary["maps_skipped"] = str(exc)
            fc = published[(published["target_day"] == day) & (published["lead_day"] == 1)]
            if fc.empty:
                summary["stations_skipped"] = _nothing_published(ctx, day, 1, "station forecasts")
            else:
                df = _score_published(ctx, fc, wide, kp, storms, baselines)
                summary["stations"] = _station_summary(df)
            later = sorted((set(runs_for_day(ctx.engine, day, lead_day=None)["lead_day"])
                            | set(published.loc[published["target_day"] == day, "lead_day"])) - {1})
            for lead in (int(x) for x in later):  # tomorrow's forecasts of the day, made a day earlier
                scores = LeadScores(maps={}, stations={})
                with contextlib.suppress(NotFoundError):  # a lead without a map: its stations still count
                    scores["maps"] = _map_summary(verify_maps(ctx, day, lead))
                fc = published[(published["target_day"] == day) & (published["lead_day"] == lead)]
                if len(fc):
                    scores["stations"] = _station_summary(_score_published(ctx, fc, wide, kp, storms, baselines))
                summary.setdefault("later_leads", {})[str(lead)] = scores
        if on_day is not None:
            on_day(day)
    return out


def _map_summary(v: pd.DataFrame) -> dict[str, float]:
    """The global RMSE of each map (cos-latitude weighted, as every map figure swx shows), without the
    published map's members (in the pooled table, not here)."""
    g = v[v.station_code == "global"] if len(v) else v
    members = {f"map:{m}" for m in MEMBERS if m != "persistence"}
    return {r.model: round(float(r.rmse_area), 3) for r in g.itertuples() if r.model not in members}


def _station_summary(df: pd.DataFrame) -> dict[str, float]:
    return {k: round(float(v), 3) for k, v in sorted(station_rmse_by_model(df).items())}


def verify_stage(settings: Settings, day: dt.date) -> VerifySummary:
    """Verify what `day`'s truth allows (see `verify_days`, a chunk of one day)."""
    return verify_days(context(settings), [day])[0]
