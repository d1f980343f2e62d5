"""Stage: the forecast of the next UT day — station forecasts from the active models, their published
blend with the baselines, the global map (the extension), ΔTEC against the 27-day reference, the
products (netCDF + IONEX) and every row in the database. Idempotent: a rerun of the same day updates
the same rows and files."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from swx.archive import load_indices
from swx.config import ARCHITECTURES, BLEND, SIMULATED_CENTRE, Settings
from swx.errors import NoActiveModelError, NotFoundError
from swx.ml.dataset import build_dataset
from swx.ml.registry import ModelRegistry, predict_stations
from swx.pipeline.context import Context, archived_maps, context, station_history
from swx.products import forecast_dataset, write_products
from swx.provenance import code_version, input_records, settings_hash
from swx.science.blend import BASELINES, BlendConfig, baseline_share, blend_sigma, fit_weights, pooled_prior
from swx.science.dtec import median_reference, naive_utc, station_dtec_frame
from swx.science.extend import StationValues, extend, persistence_prior
from swx.science.features import baselines_at
from swx.science.verify import MAP_PRIOR_PERSISTENCE_WEIGHT, STEP, mix_baselines
from swx.store.queries import issued_forecasts, station_series
from swx.store.writes import (
    finish_run,
    record_run_provenance,
    start_run,
    write_blend_weights,
    write_dtec,
    write_global_forecasts,
    write_observations,
    write_station_forecasts,
)

log = logging.getLogger(__name__)
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


#: the columns of the station forecasts table
FORECAST_COLUMNS = ["station", "architecture", "valid_time", "lead_h", "mean", "sigma", "model_version",
                    "model_version_id"]


def station_forecasts(ctx: Context, wide: pd.DataFrame, architectures: list[str] | None = None, *,
                      point_in_time: bool = False) -> tuple[pd.DataFrame, pd.Timestamp, pd.DatetimeIndex]:
    """24 h forecasts of every station from the newest complete input window, with each architecture
    that has a model for every station: the active ones, or with `point_in_time` the newest that saw no
    data after the issue time. Long table (station, architecture, valid_time, lead_h, mean, sigma,
    model_version, model_version_id), the issue time and the valid times. Models without an uncertainty
    output get their validation RMSE as sigma. The table is empty when models exist but none was
    trained on data before the issue time (the run then stands on the baselines)."""
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
    codes = [st.code for st in ctx.stations]
    rows = []
    for arch in architectures or ARCHITECTURES:
        got = predict_stations(registry, ds.x[:, last:last + 1], codes, arch, ctx.settings.device,
                               issued_at=issue if point_in_time else None)
        if got is None:
            continue
        means, sigmas, versions = got
        for i, (code, v) in enumerate(zip(codes, versions)):
            rows.append(pd.DataFrame({"station": code, "architecture": arch, "valid_time": valid,
                                      "lead_h": np.asarray((valid - issue) / pd.Timedelta(hours=1)),
                                      "mean": means[i, 0], "sigma": sigmas[i, 0], "model_version": v.version,
                                      "model_version_id": v.id}))
    if rows:
        return pd.concat(rows, ignore_index=True), issue, valid
    if not any(all(registry.active(c, arch) is not None for c in codes) for arch in architectures or ARCHITECTURES):
        raise NoActiveModelError("no architecture has active models for every station: run `swx train` first")
    empty = pd.DataFrame({"station": pd.Series(dtype=object), "architecture": pd.Series(dtype=object),
                          "valid_time": pd.Series(dtype="datetime64[ns, UTC]"), "lead_h": pd.Series(dtype=float),
                          "mean": pd.Series(dtype=float), "sigma": pd.Series(dtype=float),
                          "model_version": pd.Series(dtype=float), "model_version_id": pd.Series(dtype=float)})
    return empty[FORECAST_COLUMNS], issue, valid


@dataclass
class PublishedBlend:
    forecasts: pd.DataFrame  # station, architecture="blend", valid_time, lead_h, mean, sigma
    weights: pd.DataFrame  # station, member, lead_h, weight, n_samples
    on_baselines: dict[str, str]  # station -> why it runs (mostly) on the baselines


def blend_station_forecasts(ctx: Context, wide: pd.DataFrame, fc: pd.DataFrame, issue: pd.Timestamp,
                            config: BlendConfig = BlendConfig(), *, leads: np.ndarray | None = None
                            ) -> PublishedBlend:
    """The published blend of this run's member forecasts `fc` and the two baselines, per station and
    lead, with weights fitted on the forecasts published for the previous `config.window_days` days
    whose truth is in the database (the observations every run stores): never on the target day.
    `wide` (the station history up to the issue time) gives the baselines of this run."""
    models = list(dict.fromkeys(fc["architecture"]))
    members = models + list(BASELINES)
    codes = [st.code for st in ctx.stations]
    leads = np.sort(fc["lead_h"].unique()) if leads is None else np.asarray(leads, float)
    valid = pd.DatetimeIndex(issue + pd.to_timedelta(leads, unit="h"))
    target_day = (issue + config.horizon - pd.Timedelta(seconds=1)).date()

    # this run: (S, K, H) — the models' forecasts, then persistence and the 27-day median at issue time
    now = np.full((len(codes), len(members), len(leads)), np.nan)
    at = fc[fc["architecture"].isin(models)]
    now[pd.Index(codes).get_indexer(at["station"]), pd.Index(members).get_indexer(at["architecture"]),
        np.searchsorted(leads, at["lead_h"])] = at["mean"].to_numpy(float)
    base_now = baselines_at(wide, valid)
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
    wide = station_history(ctx, latest - dt.timedelta(days=HISTORY_DAYS), latest)
    wide = wide.loc[:pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC")]
    fc, issue, valid = station_forecasts(ctx, wide, architectures, point_in_time=True)
    if fc.empty:  # point in time: every model saw data after this issue time
        degraded = True
        why = (f"no model was trained on data up to {issue:%Y-%m-%d %H:%M} UTC only (a backfill before or inside "
               "the models' training period): forecast from persistence and the 27-day median only")
        reason = f"{reason}; {why}" if reason else why
        log.warning(why)
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
        blend = blend_station_forecasts(ctx, wide, fc, issue,
                                        leads=np.asarray((valid - issue) / pd.Timedelta(hours=1)))
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
            log.warning("no %s forecasts in this run; extending the %s forecasts", s.forecast_architecture, primary)

        # the prior: the latest day's maps at the same UT, carried to the target day
        latest_maps = archived_maps(ctx, [latest])
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
        history = archived_maps(ctx, [latest - dt.timedelta(days=k) for k in range(27, -1, -1)],
                        loaded={latest: latest_maps})
        ref = median_reference(history.values, history["time"].values + np.timedelta64(lag, "D"), target_times)

        # the map's prior: persistence mixed with the 27-day median map (far from every station the map
        # falls back to it, not to persistence alone)
        prior = prior.copy(data=mix_baselines(prior.values, ref, MAP_PRIOR_PERSISTENCE_WEIGHT))

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
        write_global_forecasts(engine, rows)

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


class ForecastSummary(TypedDict):
    """What a forecast run made, JSON-able (the flows pass it between tasks and into the artifacts)."""

    run_id: int
    issue_time: str
    target_day: str
    latest_day: str
    degraded: bool
    reason: str
    architectures: list[str]
    methods: list[str]
    station_rows: int
    on_baselines: dict[str, str]
    products: dict[str, list[str]]  # method -> [netCDF path, IONEX path]


def forecast_stage(settings: Settings, issue_day: dt.date, *, methods: list[str] | None = None,
                   flow_run_id: str = "") -> ForecastSummary:
    """The forecast for the day after `issue_day` (see `forecast`), summarised."""
    r = forecast(context(settings), issue_day, methods=methods, flow_run_id=flow_run_id)
    return ForecastSummary(run_id=r.run_id, issue_time=r.issue_time.isoformat(), target_day=str(r.target_day),
                           latest_day=str(r.latest_day), degraded=r.degraded, reason=r.reason,
                           architectures=r.architectures, methods=r.methods, station_rows=len(r.station_forecasts),
                           on_baselines=r.on_baselines,
                           products={m: [str(nc), str(ix)] for m, (nc, ix) in r.products.items()})
