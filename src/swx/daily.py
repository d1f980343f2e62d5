"""The operational day: station forecasts for the next 24 h from the active models, extended to the
global map, ΔTEC against the 27-day reference, the products (netCDF + IONEX) and every row in the
database; then verification of the global maps once their truth has arrived, and storm events.

These are the library functions the Prefect flows and the CLI call (`swx forecast`, `swx verify-maps`,
`swx storms`); each is idempotent: a rerun of the same day updates the same rows and files.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.blend import BASELINES, BlendConfig, baseline_share, blend_sigma, fit_weights, pooled_prior
from swx.config import ARCHITECTURES, BLEND, SIMULATED_CENTRE
from swx.dtec import global_dtec_frame, median_reference, naive_utc, station_dtec_frame
from swx.errors import NoActiveModelError, NotFoundError
from swx.extend import StationValues, extend, persistence_prior
from swx.forecasting import build_dataset
from swx.io.filecache import FileCache
from swx.jobs import Context
from swx.kp import load_indices
from swx.provenance import code_version, input_records, settings_hash
from swx.registry import ModelRegistry
from swx.series import long_to_wide, series_from_archive
from swx.store import models as m
from swx.storms import storm_days
from swx.store.queries import issued_forecasts
from swx.store.writes import (
    finish_run,
    record_run_provenance,
    start_run,
    set_global_rmse,
    write_blend_weights,
    write_dtec,
    write_observations,
    write_rows,
    write_station_forecasts,
    write_verification,
)
from swx.verify import MAP_PRIOR_PERSISTENCE_WEIGHT, median27_series, mix_baselines

log = logging.getLogger(__name__)
STEP = pd.Timedelta(hours=2)
HISTORY_DAYS = 40  # station history read for inputs (12 steps) and the 27-day references


@dataclass
class ForecastResult:
    run_id: int
    issue_time: pd.Timestamp
    target_day: dt.date
    latest_day: dt.date
    architectures: list[str]
    methods: list[str]
    products: dict[str, tuple[Path, Path]]
    degraded: bool = False
    reason: str = ""
    station_forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    on_baselines: dict[str, str] = field(default_factory=dict)  # stations whose blend leans on the baselines


def _latest_day(ctx: Context, issue_day: dt.date) -> dt.date:
    days = [d for d in ctx.archive.gim_days(ctx.centre) if d <= issue_day]
    if not days:
        raise NotFoundError(f"no {ctx.centre} GIM on or before {issue_day} in the archive {ctx.archive.root}: "
                            "ingest the maps first (swx ingest gims / swx run)")
    return days[-1]


def _station_history(ctx: Context, start: dt.date, end: dt.date) -> pd.DataFrame:
    long, report = series_from_archive(ctx.archive, ctx.centre, ctx.stations, start, end)
    if report.days_missing:
        log.info("station history %s .. %s: %d day(s) missing (%s)", start, end, len(report.days_missing),
                 ", ".join(str(d) for d in report.days_missing[:5]))
    wide = long_to_wide(long)
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq="2h", name="time")
    return wide.reindex(grid)[[s.code for s in ctx.stations]]


def station_forecasts(ctx: Context, wide: pd.DataFrame, architectures: list[str] | None = None
                      ) -> tuple[pd.DataFrame, pd.Timestamp]:
    """24 h forecasts of every station from the newest complete input window, with each architecture
    whose models are active for all stations. Long table (station, architecture, valid_time, lead_h,
    mean, sigma) and the issue time. Models without an uncertainty output get their validation RMSE as
    sigma."""
    future = pd.date_range(wide.index[-1] + STEP, periods=12, freq=STEP, name="time")
    padded = pd.concat([wide, pd.DataFrame(index=future, columns=wide.columns, dtype=float)])
    indices = load_indices(ctx.archive)
    ds = build_dataset(padded, ctx.stations, indices.kp["kp"], f107=indices.daily["f107_obs"], require_target=False)
    if len(ds.issue) == 0:
        raise NotFoundError("no complete 24 h input window in the station history (too many missing maps)")
    last = len(ds.issue) - 1
    issue = ds.issue[last]
    valid = pd.DatetimeIndex([issue + STEP * k for k in range(1, ds.y.shape[-1] + 1)])
    registry = ModelRegistry(ctx.settings.models_dir, ctx.engine)
    rows = []
    for arch in architectures or ARCHITECTURES:
        versions = [registry.active(st.code, arch) for st in ctx.stations]
        if any(v is None for v in versions):
            continue
        for i, (st, v) in enumerate(zip(ctx.stations, versions)):
            mean, sigma = registry.load(v, ctx.settings.device).predict(ds.x[i:i + 1, last:last + 1])
            # a point model's uncertainty: its validation RMSE (so the extension weighs it fairly)
            sig = sigma[0, 0] if sigma is not None else np.full(len(valid), v.val_rmse if v.val_rmse else np.nan)
            rows.append(pd.DataFrame({"station": st.code, "architecture": arch, "valid_time": valid,
                                      "lead_h": np.asarray((valid - issue) / pd.Timedelta(hours=1)), "mean": mean[0, 0],
                                      "sigma": sig, "model_version": v.version,
                                      "model_version_id": v.id}))
    if not rows:
        raise NoActiveModelError("no architecture has active models for every station: run `swx train` first")
    return pd.concat(rows, ignore_index=True), issue


@dataclass
class PublishedBlend:
    forecasts: pd.DataFrame  # station, architecture="blend", valid_time, lead_h, mean, sigma
    weights: pd.DataFrame  # station, member, lead_h, weight, n_samples
    on_baselines: dict[str, str]  # station -> why it runs (mostly) on the baselines


def _baseline_frame(wide: pd.DataFrame, times: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """Persistence (the value 24 h earlier) and the 27-day median (previous days, same UT) at `times`
    for every station, from the station history: time x station tables."""
    grid = wide.index.union(times)
    full = wide.reindex(grid)
    out = {"persistence": full.shift(freq=pd.Timedelta(hours=24)).reindex(times)}
    out["median27"] = pd.DataFrame({c: median27_series(full[c]).reindex(times) for c in wide.columns})
    return out


def blend_station_forecasts(ctx: Context, wide: pd.DataFrame, fc: pd.DataFrame, issue: pd.Timestamp,
                            config: BlendConfig = BlendConfig()) -> PublishedBlend:
    """The published blend of this run's member forecasts `fc` and the two baselines, per station and
    lead, with weights fitted on the forecasts published for the previous `config.window_days` days
    whose truth is in the database (the observations every run stores): never on the target day.
    `wide` (the station history up to the issue time) gives the baselines of this run."""
    models = list(dict.fromkeys(fc["architecture"]))
    members = models + list(BASELINES)
    codes = [st.code for st in ctx.stations]
    leads = np.sort(fc["lead_h"].unique())
    valid = pd.DatetimeIndex(issue + pd.to_timedelta(leads, unit="h"))
    target_day = (issue + config.horizon - pd.Timedelta(seconds=1)).date()

    # this run: (S, K, H) — the models' forecasts, then persistence and the 27-day median at issue time
    now = np.full((len(codes), len(members), len(leads)), np.nan)
    at = fc[fc["architecture"].isin(models)]
    now[pd.Index(codes).get_indexer(at["station"]), pd.Index(members).get_indexer(at["architecture"]),
        np.searchsorted(leads, at["lead_h"])] = at["mean"].to_numpy(float)
    base_now = _baseline_frame(wide, valid)
    for k, b in enumerate(BASELINES, start=len(models)):
        now[:, k] = base_now[b][codes].to_numpy(float).T
    sig = np.full((len(codes), len(leads)), np.nan)
    own = at.groupby(["station", "lead_h"])["sigma"].apply(lambda s: np.sqrt(np.nanmean(s.to_numpy(float) ** 2)))
    sig[pd.Index(codes).get_indexer(own.index.get_level_values(0)), np.searchsorted(leads, own.index.get_level_values(1))] = own

    # the past: errors (R, S, K, H) of the forecasts published for the window, verified by now
    past = issued_forecasts(ctx.engine, target_day - dt.timedelta(days=config.window_days),
                            target_day - dt.timedelta(days=1))
    past = past[past["lead_h"].isin(leads) & (past["valid_time"] <= issue) & past["station"].isin(codes)]
    runs = pd.Index(sorted(past["run_id"].unique()))
    errors = np.full((len(runs), len(codes), len(members), len(leads)), np.nan)
    if len(runs):
        r, h = runs.get_indexer(past["run_id"]), np.searchsorted(leads, past["lead_h"])
        mine = past["architecture"].isin(models).to_numpy()
        errors[r[mine], pd.Index(codes).get_indexer(past["station"][mine]),
               pd.Index(members).get_indexer(past["architecture"][mine]), h[mine]] = past["mean"].to_numpy(float)[mine]
        times = np.full((len(runs), len(leads)), np.datetime64("NaT"), "datetime64[ns]")
        times[r, h] = past["valid_time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        truth, base = _observed_with_baselines(ctx, codes, times)
        for k, b in enumerate(BASELINES, start=len(models)):
            errors[:, :, k] = base[b]
        errors -= truth[:, :, None, :]

    rows, weight_rows, notes = [], [], {}
    prior = pooled_prior(errors, config)
    for s, code in enumerate(codes):
        w, rmse, n = fit_weights(errors[:, s], config, prior)
        mean = (w * now[s]).sum(axis=0)
        if not np.isfinite(mean).all():  # a baseline without a value: the models' mean there
            mean = np.where(np.isfinite(mean), mean, np.nanmean(now[s, :len(models)], axis=0))
        sigma = blend_sigma(rmse, n, sig[s], config)
        rows.append(pd.DataFrame({"station": code, "architecture": BLEND, "valid_time": valid, "lead_h": leads,
                                  "mean": mean, "sigma": sigma}))
        weight_rows.append(pd.DataFrame({"station": code, "member": np.repeat(members, len(leads)),
                                         "lead_h": np.tile(leads, len(members)), "weight": w.ravel(), "n_samples": n}))
        share = baseline_share(w, members)
        if share > 0.5:
            notes[code] = (f"baselines carry {share:.0%} of the weight: the models' errors over the last {n} verified "
                           "forecasts were larger than the baselines'" if n else
                           f"baselines carry {share:.0%} of the weight (no verified forecasts of this station yet: the "
                           "weights pooled over the stations, equal ones when none is verified)")
    return PublishedBlend(pd.concat(rows, ignore_index=True), pd.concat(weight_rows, ignore_index=True), notes)


def _observed_with_baselines(ctx: Context, codes: list[str], times: np.ndarray) -> tuple[np.ndarray, dict]:
    """The stored observations at `times` (R, H; naive UTC) of each station, and persistence and the
    27-day median there (from the stored observations): (R, S, H) arrays."""
    from swx.store.queries import station_series

    ok = ~np.isnat(times)
    lo = pd.Timestamp(times[ok].min(), tz="UTC").to_pydatetime()
    hi = pd.Timestamp(times[ok].max(), tz="UTC").to_pydatetime() + dt.timedelta(seconds=1)
    truth = np.full((times.shape[0], len(codes), times.shape[1]), np.nan)
    base = {b: np.full_like(truth, np.nan) for b in BASELINES}
    flat = pd.DatetimeIndex(times.ravel())
    for s, code in enumerate(codes):
        obs = station_series(ctx.engine, code, lo, hi)
        obs = obs[obs["centre"] == ctx.centre].set_index(obs["time"].dt.tz_convert("UTC").dt.tz_localize(None))
        obs = obs[~obs.index.duplicated()]
        for column, out in (("vtec", truth), *((b, base[b]) for b in BASELINES)):
            out[:, s] = obs[column].reindex(flat).to_numpy(float).reshape(times.shape)
    return truth, base


#: TEC maps of recently read archive days: each daily run reads the same 28 days for its reference map.
_MAPS_CACHE: FileCache[xr.DataArray] = FileCache(size=64)


def _maps(ctx: Context, days: list[dt.date], *, loaded: dict[dt.date, xr.DataArray] | None = None
          ) -> xr.DataArray | None:
    """The archived maps of `days` as one time series (an epoch in two files is taken from the first);
    days already in `loaded` are not read again."""
    parts = []
    for d in days:
        if loaded and d in loaded:
            parts.append(loaded[d])
        elif ctx.archive.has_gim(ctx.centre, d):
            parts.append(_MAPS_CACHE.get([ctx.archive.gim_path(ctx.centre, d)],
                                         lambda: ctx.archive.open_gim_tec(ctx.centre, d)["tec"]))
    if not parts:
        return None
    out = xr.concat(parts, dim="time")
    _, first = np.unique(out["time"].values, return_index=True)
    return out.isel(time=np.sort(first))


def forecast(ctx: Context, issue_day: dt.date, *, methods: list[str] | None = None,
             architectures: list[str] | None = None, flow_run_id: str = "") -> ForecastResult:
    """The forecast for the day after `issue_day`, from the maps of `issue_day` (or, degraded, the
    latest earlier day when they are missing: its forecasts are then carried forward)."""
    s = ctx.settings
    target_day = issue_day + dt.timedelta(days=1)
    latest = _latest_day(ctx, issue_day)
    lag = (issue_day - latest).days
    degraded, reason = lag > 0, ""
    if degraded:
        reason = (f"no {ctx.centre} GIM for {issue_day}; forecast from the maps of {latest} "
                  f"({lag} day(s) old), carried forward")
        log.warning(reason)
    methods = methods or [s.extension_method] + [x for x in s.extension_compare if x != s.extension_method]
    engine = ctx.engine
    wide = _station_history(ctx, latest - dt.timedelta(days=HISTORY_DAYS), latest)
    wide = wide.loc[:pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC")]
    fc, issue = station_forecasts(ctx, wide, architectures)
    shift = pd.Timedelta(days=lag)
    issue_time = issue  # the data time of the inputs (carried-forward runs keep it)
    run_id = start_run(engine, issue_time=issue_time.to_pydatetime(), target_day=target_day, flow_run_id=flow_run_id,
                       code_version=code_version(), settings_hash=settings_hash(s), data_source=ctx.centre)
    try:
        # the observed station vTEC of the window (what the forecasts start from) into the database:
        # the dashboard, the verification queries and the blend's weights read it there (upsert: reruns
        # change nothing)
        obs = wide.stack().dropna().rename("vtec").reset_index()
        obs.columns = ["time", "station", "vtec"]
        write_observations(engine, obs, centre_default=ctx.centre)
        blend = blend_station_forecasts(ctx, wide, fc, issue)
        fc = pd.concat([fc, blend.forecasts], ignore_index=True)
        for code, why in blend.on_baselines.items():
            log.info("%s runs on the baselines: %s", code, why)
        if lag:  # degraded: the newest forecasts carried forward to the target day (leads grow by the lag)
            fc["valid_time"] = fc["valid_time"] + shift
            fc["lead_h"] = fc["lead_h"] + 24.0 * lag
        write_station_forecasts(engine, run_id, fc)
        write_blend_weights(engine, run_id, blend.weights)
        history_days = [latest - dt.timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
        record_run_provenance(engine, run_id, fc["model_version_id"].dropna().unique(),
                              input_records(ctx.archive, ctx.centre, history_days))
        archs = [a for a in dict.fromkeys(fc["architecture"]) if a != BLEND]  # the models (the blend is beside)
        primary = s.forecast_architecture if s.forecast_architecture in archs + [BLEND] else BLEND
        if primary != s.forecast_architecture:
            log.warning("no active %s models; extending the %s forecasts", s.forecast_architecture, primary)

        # the prior: the latest day's maps at the same UT, carried to the target day
        latest_maps = _maps(ctx, [latest])
        target_times = latest_maps["time"].values + np.timedelta64(1 + lag, "D")
        prior = persistence_prior(latest_maps.assign_coords(time=latest_maps["time"].values
                                                            + np.timedelta64(lag, "D")), target_times)
        one = fc[fc.architecture == primary]
        table = one.pivot(index="valid_time", columns="station", values="mean")[[st.code for st in ctx.stations]]
        sig = one.pivot(index="valid_time", columns="station", values="sigma")[[st.code for st in ctx.stations]]
        times = naive_utc(table.index)
        keep = np.isin(times, target_times)
        values = StationValues(times[keep], np.array([st.lat for st in ctx.stations]),
                               np.array([st.lon for st in ctx.stations]), table.to_numpy(float)[keep],
                               sig.to_numpy(float)[keep] if np.isfinite(sig.to_numpy(float)).all() else None,
                               tuple(st.code for st in ctx.stations))

        # the 27-day reference on the grid, from the maps of the previous days
        history = _maps(ctx, [latest - dt.timedelta(days=k) for k in range(27, -1, -1)],
                        loaded={latest: latest_maps})
        ref = median_reference(history.values, history["time"].values + np.timedelta64(lag, "D"), target_times)

        # the map's prior: persistence mixed with the 27-day median map (far from every station the map
        # falls back to it, not to persistence alone)
        prior = prior.copy(data=mix_baselines(prior.values, ref, MAP_PRIOR_PERSISTENCE_WEIGHT))

        from swx.products import forecast_dataset, write_products

        products = {}
        rows = []
        for method in methods:
            grid = extend(prior, values, method)
            ds = forecast_dataset(grid, reference=ref, issue_time=issue_time.to_pydatetime(), method=method,
                                  source=ctx.centre, run_id=run_id, architecture=primary,
                                  simulated=ctx.centre == SIMULATED_CENTRE)
            nc, ionex = write_products(ds, s.data_dir, target_day, method)
            products[method] = (nc, ionex)
            rows += [dict(run_id=run_id, valid_time=pd.Timestamp(t, tz="UTC").to_pydatetime(), method=method,
                          product_path=str(nc), ionex_path=str(ionex), global_rmse=None) for t in target_times]
            log.info("global forecast %s (%s): %s, %s", target_day, method, nc.name, ionex.name)
        write_rows(engine, m.GlobalForecast, rows, ["run_id", "valid_time", "method"])

        # ΔTEC at the stations: forecast (expected disturbance) and observed on the latest day
        fwide = table.copy()
        fwide.index = pd.DatetimeIndex(fwide.index)
        f_dtec = station_dtec_frame(wide, pd.DatetimeIndex(fwide.index) - shift, tec=fwide.set_axis(
            pd.DatetimeIndex(fwide.index) - shift))
        f_dtec["time"] = f_dtec["time"] + shift
        obs_times = wide.index[(wide.index >= pd.Timestamp(latest, tz="UTC"))
                               & (wide.index < pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC"))]
        o_dtec = station_dtec_frame(wide, obs_times)
        write_dtec(engine, f_dtec, "forecast")
        write_dtec(engine, o_dtec, "observed")
        status = "degraded" if degraded else "ok"
        finish_run(engine, run_id, status=status, degraded=degraded, reason=reason)
    except Exception as exc:
        finish_run(engine, run_id, status="failed", reason=f"{type(exc).__name__}: {exc}")
        raise
    return ForecastResult(run_id, issue_time, target_day, latest, archs, methods, products, degraded, reason, fc,
                          blend.on_baselines)


# ------------------------------------------------------------------------------------ verification

def verify_maps(ctx: Context, target_day: dt.date) -> pd.DataFrame:
    """Score the global forecasts for `target_day` against its real GIM (when archived), beside the
    persistence map, globally, by latitude band and land/ocean; store the rows and each epoch's RMSE."""
    from swx.store.queries import runs_for_day
    from swx.verify import map_scores

    engine = ctx.engine
    if not ctx.archive.has_gim(ctx.centre, target_day):
        raise NotFoundError(f"no {ctx.centre} GIM for {target_day} yet: the forecasts cannot be verified")
    truth_all = _maps(ctx, [target_day])
    runs = runs_for_day(engine, target_day)
    prev = _maps(ctx, [target_day - dt.timedelta(days=1)])  # the persistence map beside every forecast
    out = []
    for run in runs.itertuples():
        for method, path in run.products.items():
            with xr.open_dataset(path) as f:
                fc = f.load()
            times = np.intersect1d(fc["time"].values, truth_all["time"].values)
            if len(times) == 0:
                continue
            truth = truth_all.sel(time=times).values
            pers_t = times - np.timedelta64(1, "D")
            have = np.isin(pers_t, prev["time"].values) if prev is not None else np.zeros(len(times), bool)
            pers = np.full_like(truth, np.nan)
            if have.any():
                pers[have] = prev.sel(time=pers_t[have]).values
            rows = map_scores(fc["tec"].sel(time=times).values, truth, fc["lat"].values, fc["lon"].values,
                              persistence=pers if have.all() else None, sigma=fc["tec_sigma"].sel(time=times).values)
            w0 = pd.Timestamp(times[0], tz="UTC").to_pydatetime()
            w1 = pd.Timestamp(times[-1], tz="UTC").to_pydatetime()
            for r in rows:
                out.append(dict(scope="global", station_code=r["region"], model=f"map:{method}", window_start=w0,
                                window_end=w1, kp_class="all", n=r["n"], rmse=r["rmse"], mae=r["mae"],
                                bias=r["bias"], corr=None, skill_persistence=r.get("skill_vs_persistence"),
                                skill_median27=None, coverage68=r.get("coverage68"),
                                coverage95=r.get("coverage95"), run_id=int(run.run_id)))
                if r["region"] == "global" and "rmse_persistence" in r:
                    out.append(dict(scope="global", station_code="global", model="map:persistence",
                                    window_start=w0, window_end=w1, kp_class="all", n=r["n"],
                                    rmse=r["rmse_persistence"], mae=r["mae_persistence"],
                                    bias=r["bias_persistence"], corr=None,
                                    skill_persistence=0.0, skill_median27=None, coverage68=None, coverage95=None,
                                    run_id=int(run.run_id)))
            err = fc["tec"].sel(time=times).values - truth
            per_epoch = np.sqrt(np.nanmean(err ** 2, axis=(1, 2)))
            set_global_rmse(engine, int(run.run_id), method, times, per_epoch)
    write_verification(engine, out)
    return pd.DataFrame(out)


def verify_station_forecasts(ctx: Context, target_day: dt.date) -> pd.DataFrame:
    """Score the station forecasts that were *published* for `target_day` (the newest finished run's:
    every architecture and the blend) against the station values of its maps, beside persistence and
    the 27-day median at the same times; per station, latitude band, land/ocean and Kp class. What the
    users got is what is scored: no model is re-run."""
    from swx.forecasting import score_rows

    fc = issued_forecasts(ctx.engine, target_day, target_day)
    if fc.empty:
        raise NotFoundError(f"no published station forecasts for {target_day}")
    if not ctx.archive.has_gim(ctx.centre, target_day):
        raise NotFoundError(f"no {ctx.centre} GIM for {target_day} yet: the forecasts cannot be verified")
    wide = _station_history(ctx, target_day - dt.timedelta(days=28), target_day + dt.timedelta(days=1))
    valid = pd.DatetimeIndex(sorted(fc["valid_time"].unique()))
    issue = valid.min() - STEP  # the verified window: the target day
    # the baselines as the run knew them: a degraded run forecast from maps `lag` days old, carried
    # forward, so its persistence and 27-day median are those of its own issue time, carried forward too
    issued = pd.Timestamp(fc["issue_time"].iloc[0])
    lag = issue - issued
    codes = [st.code for st in ctx.stations]
    base = {k: v.set_axis(valid) for k, v in _baseline_frame(wide.loc[:issued], valid - lag).items()}
    truth = wide.reindex(valid)[codes].to_numpy(float).T[:, None, :]  # (S, 1, H)
    predictions, sigmas = {}, {}
    for arch, one in fc.groupby("architecture"):
        mean = one.pivot(index="valid_time", columns="station", values="mean").reindex(index=valid, columns=codes)
        sig = one.pivot(index="valid_time", columns="station", values="sigma").reindex(index=valid, columns=codes)
        if mean.isna().all().any():
            continue  # an architecture not forecast for every station
        predictions[arch] = mean.to_numpy(float).T[:, None, :]
        sigmas[arch] = sig.to_numpy(float).T[:, None, :] if sig.notna().all().all() else None
    kp = load_indices(ctx.archive).kp["kp"]
    rows = score_rows(ctx.stations, pd.DatetimeIndex([issue]), truth,
                      base["persistence"][codes].to_numpy(float).T[:, None, :],
                      base["median27"][codes].to_numpy(float).T[:, None, :], predictions, storm_days(kp), sigmas)
    write_verification(ctx.engine, rows, run_id=int(fc["run_id"].iloc[0]))
    return pd.DataFrame(rows)


def verification_plot(ctx: Context, target_day: dt.date, path: Path, method: str | None = None,
                      hour: int = 12) -> Path:
    """Forecast, truth, error and uncertainty maps of the newest run for `target_day` at `hour` UT."""
    from swx.plots import plot_forecast_maps
    from swx.store.queries import runs_for_day

    runs = runs_for_day(ctx.engine, target_day)
    if runs.empty:
        raise NotFoundError(f"no global forecast for {target_day}")
    products = runs.iloc[0].products
    method = method or (ctx.settings.extension_method if ctx.settings.extension_method in products
                        else next(iter(products)))
    truth = _maps(ctx, [target_day])
    if truth is None:
        raise NotFoundError(f"no {ctx.centre} GIM for {target_day} yet")
    t = np.datetime64(dt.datetime.combine(target_day, dt.time(hour)), "ns")
    with xr.open_dataset(products[method]) as f:
        return plot_forecast_maps(f["tec"].sel(time=t).load(), truth.sel(time=t), path,
                                  f"24 h forecast ({method}) vs {ctx.centre.upper()} GIM, {target_day} {hour:02d} UT",
                                  f["tec_sigma"].sel(time=t).load())


# ------------------------------------------------------------------------------------ storms

def storms(ctx: Context, start: dt.date, end: dt.date) -> list:
    """Storm events with Kp in start..end, their Global ΔTEC response (observed, station mean) and the
    stations most affected; upserted into storm_events (an event still under way is extended)."""
    from swx.storms import detect_storms, storm_response

    kp = load_indices(ctx.archive).kp["kp"]
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    events = detect_storms(kp[(kp.index >= lo) & (kp.index < hi)],
                           quiet_gap=pd.Timedelta(hours=ctx.settings.storm_quiet_gap_h))
    if not events:
        return []
    days = ctx.archive.gim_days(ctx.centre)
    if days:
        wide = _station_history(ctx, start - dt.timedelta(days=28), min(end + dt.timedelta(days=2), days[-1]))
        long = station_dtec_frame(wide)
        glob = global_dtec_frame(long)["global_dtec"]
        table = long.pivot(index="time", columns="station", values="dtec")
        storm_response(events, glob, table)
    write_rows(ctx.engine, m.StormEvent, [e.as_row() for e in events], ["start"])
    return events


__all__ = ["forecast", "verify_maps", "verify_station_forecasts", "verification_plot", "storms", "station_forecasts", "ForecastResult"]
