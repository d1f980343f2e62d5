"""User-facing jobs behind `swx train` and `swx evaluate`: archive -> station series -> models ->
scores against the baselines -> the results database (and a plot)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from swx.archive import Archive
from swx.blend import BlendConfig, walk_forward
from swx.config import ARCHITECTURES, BLEND, Settings
from swx.errors import InputError, InsufficientDataError, NoActiveModelError
from swx.features import persistence_from_windows
from swx.forecasting import StationDataset, build_dataset, split_for_training, verification_rows
from swx.kp import load_indices
from swx.models import ModelConfig
from swx.registry import ModelRegistry
from swx.series import long_to_wide, series_from_archive
from swx.stations import Station, load_catalog
from swx.storms import storm_days
from swx.store.db import open_database
from swx.store.writes import upsert_stations, write_verification
from swx.training import EnsembleForecaster, StationForecaster, TrainConfig
from swx.verify import climatology_series, median27_series, windows_reference

log = logging.getLogger(__name__)
@dataclass
class Context:
    settings: Settings
    archive: Archive
    stations: list[Station]
    centre: str
    imported: list[str] = field(default_factory=list)  # codes whose series come from the database

    @cached_property
    def engine(self):
        """The database (checked to be at this swx's schema) with this context's stations registered (once
        per context)."""
        e = open_database(self.settings)
        upsert_stations(e, [dict(code=s.code, name=s.name, lat=s.lat, lon=s.lon, sector=s.sector,
                                 lat_band=s.lat_band, surface=s.surface) for s in self.stations])
        return e


def context(settings: Settings, codes: list[str] | None = None) -> Context:
    """Stations from the catalog, or — for codes not in it — imported stations from the database
    (`swx import-series`), whose series then come from their stored observations."""
    open_database(settings)  # a database at another schema stops here, before any work
    catalog = load_catalog(settings.station_catalog)
    imported: list[Station] = []
    if codes:
        known = {s.code: s for s in catalog}
        missing = [c for c in codes if c not in known]
        if missing:
            from swx.store.queries import stations as db_stations

            rows = db_stations(open_database(settings)).set_index("code")
            unknown = [c for c in missing if c not in rows.index]
            if unknown:
                raise InputError(f"unknown station(s) {', '.join(unknown)}: not in the catalog "
                                 f"({', '.join(known)}) nor imported (swx import-series)")
            imported = [Station(c, str(rows.loc[c, "name"]), float(rows.loc[c, "lat"]), float(rows.loc[c, "lon"]),
                                str(rows.loc[c, "sector"]), str(rows.loc[c, "lat_band"]), str(rows.loc[c, "surface"]))
                        for c in missing]
        catalog = [known[c] for c in codes if c in known] + imported
    return Context(settings, Archive(settings.archive_dir), catalog, settings.centre, [s.code for s in imported])


def _imported_series(ctx: Context, stations: list[Station], start: dt.date | None, end: dt.date | None
                     ) -> pd.DataFrame:
    from swx.store.queries import station_series

    engine = ctx.engine
    lo = dt.datetime.combine(start or dt.date(1990, 1, 1), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine((end or dt.date(2100, 1, 1)) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    cols = {}
    for st in stations:
        s = station_series(engine, st.code, lo, hi)
        cols[st.code] = s.set_index("time")["vtec"]
    return pd.DataFrame(cols)


def dataset(ctx: Context, start: dt.date | None = None, end: dt.date | None = None
            ) -> tuple[StationDataset, pd.DataFrame]:
    map_stations = [s for s in ctx.stations if s.code not in ctx.imported]
    parts = []
    if map_stations:
        days = ctx.archive.gim_days(ctx.centre)
        if not days:
            raise InsufficientDataError(f"no {ctx.centre} GIMs in the archive {ctx.archive.root}; run `swx run` or "
                             "`swx ingest gims`")
        lo, hi = start or days[0], end or days[-1]
        long, report = series_from_archive(ctx.archive, ctx.centre, map_stations, lo, hi)
        log.info("station series %s .. %s: %s", lo, hi, report)
        parts.append(long_to_wide(long))
    if ctx.imported:
        parts.append(_imported_series(ctx, [s for s in ctx.stations if s.code in ctx.imported], start, end))
    wide = pd.concat(parts, axis=1).sort_index()
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq="2h", name="time")
    wide = wide.reindex(grid)
    indices = load_indices(ctx.archive)
    return build_dataset(wide, ctx.stations, indices.kp["kp"], f107=indices.daily["f107_obs"]), wide


def _median27(ds: StationDataset, wide: pd.DataFrame) -> np.ndarray:
    return np.stack([windows_reference(ds.issue, ds.y.shape[-1], median27_series(wide[s.code]))
                     for s in ds.stations])


def _climatology(ds: StationDataset, wide: pd.DataFrame) -> np.ndarray:
    return np.stack([windows_reference(ds.issue, ds.y.shape[-1], climatology_series(wide[s.code]))
                     for s in ds.stations])


def train(ctx: Context, architectures: list[str], *, train_end: dt.date | None = None, units: int = 20,
          epochs: int = 40, batch_size: int = 32, gaussian: bool = False, seed: int = 0,
          ensemble: int = 1, target: str = "departure", max_windows: int | None = None) -> pd.DataFrame:
    """Train every station of each architecture in one grouped pass, register the models as the active
    versions, and score them on the held-out test windows against the baselines. With `max_windows`,
    the networks learn from at most that many training windows per station, spread evenly over the
    whole history (every season and issue hour stays in); the ridge member always sees them all."""
    ds, wide = dataset(ctx)
    tr_all, va, te = split_for_training(ds, train_end)
    tr_networks = tr_all
    if max_windows and len(tr_all) > max_windows:
        tr_networks = tr_all[np.unique(np.linspace(0, len(tr_all) - 1, max_windows).round().astype(int))]
        log.info("networks train on %d of %d windows, spread over %s .. %s", len(tr_networks), len(tr_all),
                 ds.issue[tr_all[0]].date(), ds.issue[tr_all[-1]].date())
    engine = ctx.engine
    registry = ModelRegistry(ctx.settings.models_dir, engine)
    med = _median27(ds, wide)
    storms = storm_days(load_indices(ctx.archive).kp["kp"])
    predictions, sigmas = {}, {}
    for arch in architectures:
        linear = arch == "ridge"  # closed form, deterministic: one member, sigma from its validation RMSE
        tr = tr_all if linear else tr_networks
        cfg = ModelConfig(architecture=arch, units=units, n_features=ds.x.shape[-1], gaussian=gaussian and not linear,
                          target=target)
        tc = TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed)
        if ensemble > 1 and not linear:
            est = EnsembleForecaster.train(ensemble, cfg, tc, *ds.take(tr), *ds.take(va), device=ctx.settings.device)
            singles = [est.station_members(i) for i in range(len(ds.stations))]
        else:
            est = StationForecaster(cfg, tc, station_seeds=[seed * 1000 + i for i in range(len(ds.stations))],
                                    device=ctx.settings.device)
            est.fit(*ds.take(tr), *ds.take(va))
            singles = est.split()
        val_pred, _ = est.predict(ds.x[:, va])
        val_rmse = np.sqrt(np.nanmean((val_pred - ds.y[:, va]) ** 2, axis=(1, 2)))
        if linear and np.isfinite(est.history.get("best_val", [np.nan])).all():
            val_rmse = np.asarray(est.history["best_val"])  # the ridge was fitted on `va` too: its CV RMSE
        for i, (st, one) in enumerate(zip(ds.stations, singles)):
            registry.register(st.code, one, hyperparameters={"units": units, "epochs": epochs, "batch_size": batch_size,
                                                             "gaussian": gaussian, "seed": seed, "ensemble": ensemble,
                                                             "target": target, "train_windows": int(len(tr))},
                              train_start=ds.issue[tr[0]].to_pydatetime(),
                              train_end=(ds.issue[va[-1]] + pd.Timedelta(hours=24)).to_pydatetime(),
                              val_rmse=float(val_rmse[i]), status="active", reason="trained by swx train")
        predictions[arch], sigmas[arch] = est.predict(ds.x[:, te])
    rows = verification_rows(ds, te, predictions, med[:, te], storms, sigmas, _climatology(ds, wide)[:, te])
    write_verification(engine, rows)
    return pd.DataFrame(rows)


def evaluate(ctx: Context, start: dt.date, end: dt.date, architectures: list[str] | None = None,
             plot: Path | None = None, blend: BlendConfig | None = BlendConfig()) -> pd.DataFrame:
    """Score the active models on forecasts issued from `start` to `end` (inclusive) against the
    baselines, per station, architecture and Kp class — and the blend of them all with the baselines,
    walk-forward: each day's weights from the forecasts of this period verified before that day (the
    first day has none: equal weights). Store the scores; optionally plot."""
    ds, wide = dataset(ctx, start - dt.timedelta(days=28), end + dt.timedelta(days=1))
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    idx = np.flatnonzero((ds.issue >= lo) & (ds.issue < hi))
    if len(idx) == 0:
        raise InsufficientDataError(f"no complete forecast windows issued between {start} and {end}")
    engine = ctx.engine
    registry = ModelRegistry(ctx.settings.models_dir, engine)
    predictions, sigmas = {}, {}
    for arch in architectures or ARCHITECTURES:
        per_station, per_sigma = [], []
        for i, st in enumerate(ds.stations):
            v = registry.active(st.code, arch)
            if v is None:
                break
            mean, sigma = registry.load(v, ctx.settings.device).predict(ds.x[i:i + 1, idx])
            per_station.append(mean[0])
            # a point model's uncertainty: its validation RMSE (as in the daily forecast)
            per_sigma.append(sigma[0] if sigma is not None else np.full_like(mean[0], v.val_rmse or np.nan))
        if len(per_station) == len(ds.stations):
            predictions[arch] = np.stack(per_station)
            sigmas[arch] = np.stack(per_sigma)
    if not predictions:
        raise NoActiveModelError("no active models for these stations: run `swx train` first")
    med = _median27(ds, wide)[:, idx]
    pers = persistence_from_windows(ds.x[:, idx], ds.y.shape[-1])
    if blend is not None:
        predictions[BLEND], sigmas[BLEND] = _walk_forward_blend(ds.issue[idx], predictions, sigmas, pers, med,
                                                                ds.y[:, idx], blend)
    rows = verification_rows(ds, idx, predictions, med, storm_days(load_indices(ctx.archive).kp["kp"]), sigmas,
                             _climatology(ds, wide)[:, idx])
    write_verification(engine, rows)
    if plot is not None:
        from swx.plots import plot_station_forecast

        plot_station_forecast(ds, idx, 0, predictions, sigmas, med, plot)
    return pd.DataFrame(rows)


def _walk_forward_blend(issue: pd.DatetimeIndex, predictions: dict[str, np.ndarray], sigmas: dict[str, np.ndarray],
                        persistence: np.ndarray, median27: np.ndarray, truth: np.ndarray, config: BlendConfig
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The blend of every station, walk-forward over `issue` (see `swx.blend.walk_forward`)."""
    members = {**predictions, "persistence": persistence, "median27": median27}
    own = np.stack([sigmas[k] for k in predictions if sigmas.get(k) is not None])
    wf = walk_forward(issue, members, truth, config, prior_sigma=np.sqrt(np.nanmean(own ** 2, axis=0)))
    return wf.mean, wf.sigma


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """The rows people read first: every model and baseline, all Kp classes, per station and group."""
    out = df.copy()
    out["window"] = [f"{a:%Y-%m-%dT%H}..{b:%Y-%m-%dT%H}" for a, b in zip(out.window_start, out.window_end)]
    cols = ["station_code", "model", "window", "kp_class", "n", "rmse", "mae", "bias", "corr", "skill_persistence",
            "skill_median27", "coverage68", "coverage95", "crps", "lat_band", "surface"]
    return out[cols].rename(columns={"station_code": "station"})


def gridsearch(ctx: Context, architecture: str, grid: dict[str, list[int]] | None = None, *,
               train_end: dt.date | None = None, workers: int | None = None) -> tuple[pd.DataFrame, Path]:
    """The method's hyper-parameter search on the archive's training windows, recorded under
    <data_dir>/gridsearch/ (JSON rows, best first)."""
    from swx.gridsearch import grid_search, save_results

    ds, _ = dataset(ctx)
    tr, va, _ = split_for_training(ds, train_end)
    df = grid_search(*ds.take(tr), *ds.take(va), architecture, grid, num_workers=workers)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save_results(df, ctx.settings.data_dir / "gridsearch" / f"{architecture}-{stamp}.json")
    return df, path


def update(ctx: Context, day: dt.date, architectures: list[str] | None = None, *, margin: float = 0.05,
           epochs: int = 3) -> pd.DataFrame:
    """The daily incremental update of every active station model (see `forecasting.daily_update`):
    trained through the day before `day`, scored walk-forward on `day`, kept or rolled back."""
    from swx.forecasting import daily_update

    ds, _ = dataset(ctx, day - dt.timedelta(days=60), day + dt.timedelta(days=1))
    registry = ModelRegistry(ctx.settings.models_dir, ctx.engine)
    rows = []
    for arch in architectures or ARCHITECTURES:
        for i, st in enumerate(ds.stations):
            if registry.active(st.code, arch) is None:
                continue
            d = daily_update(registry, ds, i, arch, day, margin=margin, epochs=epochs)
            rows.append(dict(station=d.station, architecture=d.architecture, day=str(d.day), accepted=d.accepted,
                             version=d.version.version, rmse_active=d.rmse_active, rmse_candidate=d.rmse_candidate,
                             rmse_persistence=d.rmse_persistence))
    if not rows:
        raise NoActiveModelError("no active models to update: run `swx train` first")
    return pd.DataFrame(rows)
