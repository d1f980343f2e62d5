"""Stage: training and evaluating the station models — `swx train`, `swx evaluate`, `swx gridsearch`
and the demo's model bootstrap: archive -> station series -> models -> scores against the baselines
(and the walk-forward blend) -> the results database (and a plot)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from swx.archive import load_indices
from swx.config import ARCHITECTURES, BLEND, Settings, model_family
from swx.errors import InsufficientDataError, NoActiveModelError
from swx.ml.dataset import StationDataset, split_for_training, verification_rows
from swx.ml.gridsearch import METHOD_GRID, grid_search, save_results
from swx.ml.nets import ModelConfig, describe_device, pick_device
from swx.ml.registry import ModelRegistry, predict_stations
from swx.ml.training import EnsembleForecaster, StationForecaster, TrainConfig
from swx.pipeline.nodes import NodeTrainingSummary, ensure_node_model
from swx.pipeline.context import Context, context, station_dataset
from swx.plots import plot_station_forecast
from swx.science.blend import BlendConfig, walk_forward
from swx.science.features import persistence_from_windows
from swx.science.storms import storm_days
from swx.science.verify import (
    HORIZON,
    STEP,
    climatology_series,
    median27_series,
    station_rmse_by_model,
    windows_reference,
)
from swx.store.writes import write_verification

log = logging.getLogger(__name__)


def _median27(ds: StationDataset, wide: pd.DataFrame) -> np.ndarray:
    """The 27-day median at the targets' UT as known at the issue time: that of the day after the
    issue time, also for the lead day 2 targets (the day after that is not known then)."""
    return np.stack([windows_reference(ds.issue, ds.y.shape[-1], median27_series(wide[s.code]))
                     for s in ds.stations])


def _climatology(ds: StationDataset, wide: pd.DataFrame) -> np.ndarray:
    """The climatology at the windows' target times (a day later for lead day 2)."""
    return np.stack([windows_reference(ds.issue + HORIZON * (ds.lead_day - 1), ds.y.shape[-1],
                                       climatology_series(wide[s.code])) for s in ds.stations])


def train(ctx: Context, architectures: list[str], *, train_end: dt.date | None = None, units: int = 20,
          epochs: int = 40, batch_size: int = 32, gaussian: bool = False, seed: int = 0,
          ensemble: int = 1, target: str = "departure", max_windows: int | None = None,
          learning_rate: float = TrainConfig.learning_rate, lead_day: int = 1) -> pd.DataFrame:
    """Train every station of each architecture in one grouped pass, register the models as the active
    versions, and score them on the held-out test windows against the baselines. With `max_windows`,
    the networks learn from at most that many training windows per station, spread evenly over the
    whole history (every season and issue hour stays in); the ridge member always sees them all.
    `lead_day` 2 trains the second day's models (hours 26-48 after the issue time)."""
    ds, wide = station_dataset(ctx, lead_day=lead_day)
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
    rejected: dict[str, str] = {}
    for arch in architectures:
        linear = arch == "ridge"  # closed form, deterministic: one member, sigma from its validation RMSE
        tr = tr_all if linear else tr_networks
        cfg = ModelConfig(architecture=arch, units=units, n_features=ds.x.shape[-1], gaussian=gaussian and not linear,
                          target=target, lead_day=lead_day)
        tc = TrainConfig(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
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
        if len(te):  # none when the training ends with the archive: the models are scored as they serve
            predictions[arch], sigmas[arch] = est.predict(ds.x[:, te])  # scored as `arch` of its lead day
        # the guardrail: a model far worse than persistence on the test windows it never learnt from (three
        # days of them at least: fewer say little) is registered rejected, never made active (a ridge of 20
        # days: 650 TECU errors)
        worse = _worse_than_persistence(ds, te, predictions[arch]) if len(te) >= GUARD_WINDOWS else {}
        for i, (st, one) in enumerate(zip(ds.stations, singles)):
            why = worse.get(i)
            if why:
                log.warning("%s %s not made active: %s", st.code, cfg.family, why)
                rejected[f"{st.code} {cfg.family}"] = why
            # what the model is: the ridge member is fitted in closed form (no units, epochs, batches, Gaussian
            # head or ensemble members: none is recorded for it)
            network = {} if linear else {"units": units, "epochs": epochs, "batch_size": batch_size,
                                         "learning_rate": learning_rate}
            registry.register(st.code, one, hyperparameters={**network, "gaussian": cfg.gaussian, "seed": seed,
                                                             "ensemble": 1 if linear else ensemble,
                                                             "target": target, "train_windows": int(len(tr))},
                              train_start=ds.issue[tr[0]].to_pydatetime(),
                              # exclusive: nothing from this time on was seen in training or validation
                              train_end=(ds.last_target[va[-1]] + STEP).to_pydatetime(),
                              val_rmse=float(val_rmse[i]), status="rejected" if why else "active",
                              reason=f"not made active: {why}" if why else "trained by swx train",
                              data_source=ctx.source_of(st.code))
    if not len(te):
        log.info("no archived days after %s: no test windows to score the new models on", train_end)
        out = pd.DataFrame(columns=["scope", "station_code", "model", "kp_class", "rmse"])
    else:
        rows = verification_rows(ds, te, predictions, med[:, te], storms, sigmas, _climatology(ds, wide)[:, te])
        write_verification(engine, rows)
        out = pd.DataFrame(rows)
    out.attrs["rejected"] = rejected  # "station family" -> why it was not made active
    return out


#: a new model whose held-out RMSE exceeds persistence's by this factor is not made active: it learnt
#: from too little, or from data unlike what it forecasts (a ridge of 20 days: 70 times). A model merely
#: worse than persistence (an under-trained network: twice) is left to the blend to weight.
ACTIVATION_GUARD = 3.0
#: the test windows the guardrail needs to judge a model (three days of 2-hourly issue times)
GUARD_WINDOWS = 3 * 12


def _worse_than_persistence(ds: StationDataset, idx: np.ndarray, pred: np.ndarray) -> dict[int, str]:
    """Station index -> why its model is not to be made active (its RMSE on windows `idx` above
    ACTIVATION_GUARD times persistence's there)."""
    truth = ds.y[:, idx]
    pers = persistence_from_windows(ds.x[:, idx], truth.shape[-1])
    mine = np.sqrt(np.nanmean((pred - truth) ** 2, axis=(1, 2)))
    base = np.sqrt(np.nanmean((pers - truth) ** 2, axis=(1, 2)))
    return {i: f"its RMSE on {len(idx)} windows it never learnt from is {mine[i]:.2f} TECU, {mine[i] / base[i]:.1f} "
               f"times persistence's {base[i]:.2f} (too little training data, or data unlike these days?)"
            for i in range(len(mine)) if np.isfinite(mine[i]) and base[i] > 0 and mine[i] > ACTIVATION_GUARD * base[i]}


def evaluate(ctx: Context, start: dt.date, end: dt.date, architectures: list[str] | None = None,
             plot: Path | None = None, blend: BlendConfig | None = BlendConfig(),
             issue_hours: list[int] | None = None, lead_day: int = 1) -> pd.DataFrame:
    """Score the models on forecasts issued from `start` to `end` (inclusive) against the
    baselines — per station and architecture the newest version trained before `start` (point in time:
    never one that saw the period) — per station, architecture and Kp class — and the blend of them all with the baselines,
    walk-forward: each day's weights from the forecasts of this period verified before that day (the
    first day has none: equal weights). With `issue_hours`, only the forecasts issued at those UT hours
    (e.g. [22]: the daily run's issue time), the blend learning from those alone. `lead_day` 2: the
    second day's models (hours 26-48 after each issue time) beside persistence and the 27-day median
    known at the issue time, the blend learning only from forecasts whose second day had passed. Store
    the scores; optionally plot."""
    ds, wide = station_dataset(ctx, start - dt.timedelta(days=28), end + dt.timedelta(days=lead_day),
                               lead_day=lead_day)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    keep = (ds.issue >= lo) & (ds.issue < hi)
    if issue_hours:
        keep &= np.isin(ds.issue.hour, issue_hours)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        at = f" at {', '.join(f'{h:02d}' for h in issue_hours)} UT" if issue_hours else ""
        raise InsufficientDataError(f"no complete forecast windows issued between {start} and {end}{at}")
    engine = ctx.engine
    registry = ModelRegistry(ctx.settings.models_dir, engine)
    predictions, sigmas = {}, {}
    codes = [st.code for st in ds.stations]
    families = {a: model_family(a, lead_day) for a in architectures or ARCHITECTURES}
    for arch, family in families.items():  # the registry's key; the scores name the architecture
        got = predict_stations(registry, ds.x[:, idx], codes, family, ctx.settings.device,
                               issued_at=ds.issue[idx].min())
        if got is not None:
            predictions[arch], sigmas[arch], _ = got
    if not predictions:
        if lead_day > 1 and not any(all(registry.active(c, f) is not None for c in codes) for f in families.values()):
            raise NoActiveModelError(f"no active lead day {lead_day} models for these stations: run `swx train "
                                     f"--lead-day {lead_day}` first")
        if any(all(registry.active(c, a) is not None for c in codes) for a in families.values()):
            raise NoActiveModelError(f"no model of these stations was trained before {start}: scoring one on its own "
                                     "training days would be in-sample; evaluate a later period, or train with "
                                     "an earlier --train-end")
        raise NoActiveModelError("no active models for these stations: run `swx train` first")
    med = _median27(ds, wide)[:, idx]
    pers = persistence_from_windows(ds.x[:, idx], ds.y.shape[-1])
    if blend is not None:
        # a forecast teaches the blend once its whole target window has passed: a day later for day 2
        learn = dataclasses.replace(blend, horizon=blend.horizon * lead_day)
        predictions[BLEND], sigmas[BLEND] = _walk_forward_blend(ds.issue[idx], predictions, sigmas, pers, med,
                                                                ds.y[:, idx], learn)
    rows = verification_rows(ds, idx, predictions, med, storm_days(load_indices(ctx.archive).kp["kp"]), sigmas,
                             _climatology(ds, wide)[:, idx])
    write_verification(engine, rows)
    if plot is not None:
        plot_station_forecast(ds, idx, 0, predictions, sigmas, med, plot)
    return pd.DataFrame(rows)


def _walk_forward_blend(issue: pd.DatetimeIndex, predictions: dict[str, np.ndarray], sigmas: dict[str, np.ndarray],
                        persistence: np.ndarray, median27: np.ndarray, truth: np.ndarray, config: BlendConfig
                        ) -> tuple[np.ndarray, np.ndarray]:
    """The blend of every station, walk-forward over `issue` (see `swx.science.blend.walk_forward`)."""
    members = {**predictions, "persistence": persistence, "median27": median27}
    own = np.stack([sigmas[k] for k in predictions if sigmas.get(k) is not None])
    wf = walk_forward(issue, members, truth, config, prior_sigma=np.sqrt(np.nanmean(own ** 2, axis=0)))
    return wf.mean, wf.sigma


def check_device(settings: Settings) -> None:
    """Refuse SWX_DEVICE=cuda on a machine without a CUDA device (an InputError naming the setting)."""
    pick_device(settings.device)


def training_device(settings: Settings) -> str:
    """Where training runs, for the logs: the device SWX_DEVICE resolves to on this machine."""
    return f"{describe_device(settings.device)} (SWX_DEVICE={settings.device})"


def rmse_by_model(df: pd.DataFrame) -> dict[str, float]:
    """A training in one line: each model's (and baseline's) test RMSE, TECU, mean over the stations."""
    return {m: round(float(v), 3) for m, v in station_rmse_by_model(df).items()}


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """The rows people read first: every model and baseline, all Kp classes, per station and group."""
    out = df.copy()
    out["window"] = [f"{a:%Y-%m-%dT%H}..{b:%Y-%m-%dT%H}" for a, b in zip(out.window_start, out.window_end)]
    cols = ["station_code", "model", "lead_day", "window", "kp_class", "n", "rmse", "mae", "bias", "corr",
            "skill_persistence", "skill_median27", "coverage68", "coverage95", "crps", "lat_band", "surface"]
    return out.assign(lead_day=out.get("lead_day", 1))[cols].rename(columns={"station_code": "station"})


def gridsearch(ctx: Context, architecture: str, grid: dict[str, list[int]] | None = None, *,
               train_end: dt.date | None = None, workers: int | None = None) -> tuple[pd.DataFrame, Path]:
    """The method's hyper-parameter search on the archive's training windows, recorded under
    <data_dir>/gridsearch/ (JSON rows, best first)."""
    grid = {k: (grid or {}).get(k) or values for k, values in METHOD_GRID.items()}  # unset axes: the method's
    ds, _ = station_dataset(ctx)
    tr, va, _ = split_for_training(ds, train_end)
    df = grid_search(*ds.take(tr), *ds.take(va), architecture, grid, num_workers=workers)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save_results(df, ctx.settings.data_dir / "gridsearch" / f"{architecture}-{stamp}.json")
    return df, path


class TrainingSummary(TypedDict, total=False):
    """Which architectures were trained (none: why), and their test RMSE per model (TECU)."""

    trained: list[str]
    reason: str
    test_rmse: dict[str, float]
    nodes: NodeTrainingSummary  # the node models of the global map (when the map uses them)


#: the first training of the main job and the daily flow: every window, 15 epochs of 128-window batches
#: (each network's linear path starts at the ridge solution, so the epochs go to what it misses); measured
#: on the four weeks before the demo's forecast days, the networks then match the ridge member
BOOTSTRAP_TRAINING = TrainConfig(epochs=15, batch_size=128, learning_rate=2e-3)


def ensure_models(settings: Settings, train_end: dt.date, *, architectures: tuple[str, ...] = ARCHITECTURES,
                  second_day: tuple[str, ...] | None = None, epochs: int = BOOTSTRAP_TRAINING.epochs,
                  ensemble: int = 1) -> TrainingSummary:
    """Train the architectures that have no active model for every station (the demo's first run, a new
    station catalog), for the next day and for the day after (`second_day`, default the same
    architectures: tomorrow's forecast); otherwise nothing. Returns what was trained (the second day's
    as `cnn@d2`, ...)."""
    ctx = context(settings)
    registry = ModelRegistry(settings.models_dir, ctx.engine)
    # the node models see the same days as the station models: the maps up to train_end
    nodes = ensure_node_model(ctx, train_end + dt.timedelta(days=1)) if settings.map_model == "nodes" else None
    extra = {"nodes": nodes} if nodes is not None else {}
    trained: list[str] = []
    rmse: dict[str, float] = {}
    for lead_day, archs in ((1, architectures), (2, architectures if second_day is None else second_day)):
        missing = [a for a in archs
                   if any(registry.active(s.code, model_family(a, lead_day)) is None for s in ctx.stations)]
        if not missing:
            continue
        log.info("no active %s models%s: training them on the archive up to %s", "/".join(missing),
                 " of the second day" if lead_day > 1 else "", train_end)
        df = train(ctx, missing, train_end=train_end, epochs=epochs, ensemble=ensemble, gaussian=ensemble == 1,
                   max_windows=settings.train_max_windows, batch_size=BOOTSTRAP_TRAINING.batch_size,
                   learning_rate=BOOTSTRAP_TRAINING.learning_rate, lead_day=lead_day)
        trained += [model_family(a, lead_day) for a in missing]
        rmse.update({model_family(k, lead_day): v for k, v in rmse_by_model(df).items()})
    if not trained:
        return TrainingSummary(trained=[], reason="active models exist", **extra)
    return TrainingSummary(trained=trained, test_rmse=rmse, **extra)
