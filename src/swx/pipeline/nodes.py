"""The node models from the archive: trained on the centre's archived maps and Kp (`swx train`, the main
job's first run), refitted by the daily update, and their forecast of one target day.

A node model is a map-sized ridge model (`swx.science.nodes`); its files are kept by
`swx.ml.node_model`, found point in time."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypedDict

import numpy as np
import pandas as pd
import xarray as xr

from swx.archive import load_indices
from swx.ml.node_model import NodeModelInfo, load_node_model, node_model_at, node_model_ends, save_node_model
from swx.pipeline.context import Context, archived_maps
from swx.science.dtec import MIN_REFERENCE_DAYS
from swx.science.nodes import (
    KP_STEPS,
    NodeInputs,
    NodeModelError,
    NodeRidge,
    min_training_days,
    node_forecast,
    training_set,
)

log = logging.getLogger(__name__)

#: days of archived maps a node model is trained on (two years: every season twice)
NODE_TRAIN_DAYS = 730


class NodeTrainingSummary(TypedDict):
    """What a node model training did: its file, its days and its out-of-fold skill against its prior."""

    trained: bool
    reason: str
    path: str
    train_end: str
    n_days: int
    cv_skill: float


def _not_trained(reason: str, train_end: str = "") -> NodeTrainingSummary:
    return NodeTrainingSummary(trained=False, reason=reason, path="", train_end=train_end, n_days=0,
                               cv_skill=float("nan"))


def _day_kp(kp: pd.Series, day: dt.date) -> np.ndarray:
    """The 3-hourly Kp of a UT day (NaN where missing)."""
    return kp.reindex(pd.date_range(pd.Timestamp(day, tz="UTC"), periods=KP_STEPS, freq="3h")).to_numpy(float)


def _kp_series(ctx: Context) -> pd.Series:
    kp = load_indices(ctx.archive).kp["kp"]
    if kp.index.tz is None:
        kp = kp.tz_localize("UTC")
    return kp


def train_node_model(ctx: Context, train_end: dt.date, *, days: int = NODE_TRAIN_DAYS) -> NodeTrainingSummary:
    """Fit the node models on the archived maps of the `days` days before `train_end` (exclusive: the
    model never sees `train_end`'s maps) and save them. Days of another grid or cadence than the newest
    day's are left out."""
    archived = [d for d in ctx.archive.gim_days(ctx.centre) if train_end - dt.timedelta(days=days) <= d < train_end]
    need = min_training_days() + MIN_REFERENCE_DAYS
    if len(archived) < need:
        raise NodeModelError(f"{len(archived)} archived {ctx.centre} day(s) before {train_end}: the node models "
                             f"need at least {need}")
    ref = archived_maps(ctx, [archived[-1]])
    first = archived[0]
    n = (archived[-1] - first).days + 1
    maps = np.full((n,) + ref.shape, np.nan, np.float32)
    for d in archived:
        m = ctx.archive.open_gim_tec(ctx.centre, d)["tec"]
        if m.shape == ref.shape and np.array_equal(m["lat"].values, ref["lat"].values) \
                and np.array_equal(m["lon"].values, ref["lon"].values):
            maps[(d - first).days] = m.values
    calendar = [first + dt.timedelta(days=k) for k in range(n)]
    kp = _kp_series(ctx)
    x, y, issued = training_set(maps, np.array([d.timetuple().tm_yday for d in calendar]),
                                np.stack([_day_kp(kp, d) for d in calendar]))
    model = NodeRidge().fit(x, y)
    info = NodeModelInfo(centre=ctx.centre, lat=[float(v) for v in ref["lat"].values],
                         lon=[float(v) for v in ref["lon"].values], epochs=int(ref.shape[0]),
                         train_start=str(calendar[int(issued[0])]), train_end=str(train_end), n_days=model.n_days_,
                         alpha=model.alpha_, cv_rmse=model.cv_rmse_, cv_rmse_prior=model.cv_rmse_prior_)
    path = save_node_model(model, info, ctx.settings.models_dir)
    log.info("node models (%d nodes) trained on %d days to %s: out-of-fold departure RMSE %.2f against %.2f "
             "TECU for their prior (%+.0f %%); %s", ref.shape[1] * ref.shape[2], info.n_days, train_end,
             info.cv_rmse, info.cv_rmse_prior, 100 * info.cv_skill, path.name)
    return NodeTrainingSummary(trained=True, reason="", path=str(path), train_end=str(train_end),
                               n_days=info.n_days, cv_skill=info.cv_skill)


def ensure_node_model(ctx: Context, train_end: dt.date) -> NodeTrainingSummary:
    """Train the node models up to `train_end` (exclusive) when the centre has none yet. Too short an
    archive is reported, not raised: the runs then publish the stations-only map, marked degraded."""
    if node_model_ends(ctx.settings.models_dir, ctx.centre):
        return _not_trained("node models exist")
    try:
        return train_node_model(ctx, train_end)
    except NodeModelError as exc:
        log.warning("node models not trained: %s", exc)
        return _not_trained(str(exc))


def update_node_model(ctx: Context, day: dt.date) -> NodeTrainingSummary:
    """The daily refit, as the station models' update for `day`: trained on the maps before `day` (the
    forecast issued from `day`'s maps may use it); nothing when a model already saw them."""
    ends = node_model_ends(ctx.settings.models_dir, ctx.centre)
    end = day
    if end in ends:
        return _not_trained(f"already trained on the maps before {day}", str(ends[-1]))
    return train_node_model(ctx, end)


def forecast_nodes(ctx: Context, latest: dt.date, persistence: xr.DataArray, median27: np.ndarray,
                   target_day: dt.date) -> tuple[np.ndarray, np.ndarray, NodeModelInfo]:
    """The node forecast (E, lat, lon) of the target day from the maps of `latest` (the persistence map
    and the 27-day median map at the target epochs), its 1-sigma, and the model's info. Raises
    NodeModelError when no node model trained on the maps before `latest` fits their grid and epochs."""
    path = node_model_at(ctx.settings.models_dir, ctx.centre, latest)
    if path is None:
        raise NodeModelError(f"no {ctx.centre} node model trained on the maps before {latest} "
                             "(`swx train-nodes` trains them)")
    model, info = load_node_model(path)
    if (not np.array_equal(info.lat, persistence["lat"].values) or not np.array_equal(info.lon, persistence["lon"].values)
            or info.epochs != persistence.shape[0]):
        raise NodeModelError(f"the node model {path.name} was trained on another grid or cadence than the maps of "
                             f"{latest}")
    inp = NodeInputs(persistence.values.astype(np.float32), np.asarray(median27, np.float32),
                     _day_kp(_kp_series(ctx), latest), target_day.timetuple().tm_yday)
    tec, sigma = node_forecast(model, inp)
    return tec, sigma, info
