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
from swx.ml.node_model import (
    NodeModelInfo,
    fit_node_net,
    load_node_model,
    load_node_net,
    node_model_at,
    node_model_ends,
    node_net_end_at,
    node_net_path,
    predict_node_net,
    save_node_model,
    save_node_net,
)
from swx.ml.nets import ModelConfig
from swx.ml.training import TrainConfig
from swx.pipeline.context import Context, archived_maps
from swx.science.dtec import MIN_REFERENCE_DAYS
from swx.science.features import persistence_from_windows
from swx.science.nodes import (
    KP_STEPS,
    NET_FEATURES,
    NodeInputs,
    NodeModelError,
    NodeRidge,
    min_training_days,
    net_inputs,
    net_training_windows,
    node_forecast,
    training_set,
    with_known_median,
    with_network,
)

log = logging.getLogger(__name__)

#: days of archived maps a node model is trained on (two years: every season twice)
NODE_TRAIN_DAYS = 730
#: the network shared by the nodes: a 1-D CNN (the method's kernel 2) on the station models' windows
#: with the node's latitude, its vTEC relative to the window's level (`relative_windows`: chosen on the
#: real series before 2017, docs/extension.md), trained on NET_WINDOWS_PER_NODE windows at each of NET_NODES nodes drawn at
#: random over the globe; its forecast is averaged with the ridge's over the 12 epochs it covers.
#: Measured on the demo archive before these choices were fixed: at nodes it never saw, the shared CNN
#: alone 20.8 % below persistence, the ridge 18.3 %, their mean 22.2 % (docs/extension.md)
NET_CONFIG = ModelConfig(architecture="cnn", units=32, n_features=len(NET_FEATURES), gaussian=False)
NET_TRAINING = TrainConfig(epochs=15, batch_size=256, learning_rate=2e-3, patience=15)
NET_NODES = 216
NET_WINDOWS_PER_NODE = 700
#: the daily update refits the ridge every day and the network when it is older than this
NET_REFRESH_DAYS = 30
#: the maps per day the network's windows assume (2-hourly with both midnights)
NET_EPOCHS = 13


class NodeTrainingSummary(TypedDict):
    """What a node model training did: its file, its days and its out-of-fold skill against its prior."""

    trained: bool
    reason: str
    path: str
    train_end: str
    n_days: int
    cv_skill: float
    network: str  # the node network's file, or why none was trained with this model


def _not_trained(reason: str, train_end: str = "") -> NodeTrainingSummary:
    return NodeTrainingSummary(trained=False, reason=reason, path="", train_end=train_end, n_days=0,
                               cv_skill=float("nan"), network="")


def _day_kp(kp: pd.Series, day: dt.date) -> np.ndarray:
    """The 3-hourly Kp of a UT day (NaN where missing)."""
    return kp.reindex(pd.date_range(pd.Timestamp(day, tz="UTC"), periods=KP_STEPS, freq="3h")).to_numpy(float)


def _kp_series(ctx: Context) -> pd.Series:
    kp = load_indices(ctx.archive).kp["kp"]
    if kp.index.tz is None:
        kp = kp.tz_localize("UTC")
    return kp


def train_node_model(ctx: Context, train_end: dt.date, *, days: int = NODE_TRAIN_DAYS,
                     network: bool = True) -> NodeTrainingSummary:
    """Fit the node models on the archived maps of the `days` days before `train_end` (exclusive: the
    model never sees `train_end`'s maps) and save them; with `network`, the node network too. Days of
    another grid or cadence than the newest day's are left out."""
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
    del x, y  # about a gigabyte of features: not held while the network trains
    info = NodeModelInfo(centre=ctx.centre, lat=[float(v) for v in ref["lat"].values],
                         lon=[float(v) for v in ref["lon"].values], epochs=int(ref.shape[0]),
                         train_start=str(calendar[int(issued[0])]), train_end=str(train_end), n_days=model.n_days_,
                         alpha=model.alpha_, cv_rmse=model.cv_rmse_, cv_rmse_prior=model.cv_rmse_prior_)
    path = save_node_model(model, info, ctx.settings.models_dir)
    log.info("node models (%d nodes) trained on %d days to %s: out-of-fold departure RMSE %.2f against %.2f "
             "TECU for their prior (%+.0f %%); %s", ref.shape[1] * ref.shape[2], info.n_days, train_end,
             info.cv_rmse, info.cv_rmse_prior, 100 * info.cv_skill, path.name)
    net = "not retrained (the daily update retrains it every %d days)" % NET_REFRESH_DAYS
    if network:
        try:
            net = _train_node_net(ctx, maps, calendar[0], ref, kp, train_end)
        except Exception as exc:  # noqa: BLE001 - the ridges are saved and serve; the older network stays
            log.error("node network for %s not trained, the ridges serve with the previous network (if any): "
                      "%s: %s", train_end, type(exc).__name__, exc)
            net = f"failed: {type(exc).__name__}: {exc}"
    return NodeTrainingSummary(trained=True, reason="", path=str(path), train_end=str(train_end),
                               n_days=info.n_days, cv_skill=info.cv_skill, network=net)


def _train_node_net(ctx: Context, maps: np.ndarray, first: dt.date, ref: xr.DataArray, kp: pd.Series,
                    train_end: dt.date) -> str:
    """Train the network shared by the nodes on windows at NET_NODES random nodes (the last 5 % of the
    issue times its validation), save it; returns its file, or why there is none."""
    n_days, epochs = maps.shape[:2]
    if epochs != NET_EPOCHS:
        log.info("node network not trained: %d maps a day, it needs %d (2-hourly)", epochs, NET_EPOCHS)
        return f"none: {epochs} maps a day, the network needs {NET_EPOCHS}"
    lat, lon = ref["lat"].values, ref["lon"].values
    grid_lat, grid_lon = np.meshgrid(lat, lon, indexing="ij")
    rng = np.random.default_rng(train_end.toordinal())
    nodes = rng.choice(grid_lat.size, size=min(NET_NODES, grid_lat.size), replace=False)
    series = maps.reshape(n_days, epochs, -1)[:, :-1, nodes].reshape(-1, len(nodes))  # only the drawn nodes
    times = pd.date_range(pd.Timestamp(first, tz="UTC"), periods=len(series), freq=f"{24 // (epochs - 1)}h")
    x, y, issued = net_training_windows(series, times, kp, grid_lat.ravel()[nodes],
                                        grid_lon.ravel()[nodes], windows_per_node=NET_WINDOWS_PER_NODE,
                                        seed=train_end.toordinal())
    # the last 5 % of the issue times validate; the training windows stop a day before them, so no
    # training target lies in the validation period
    cut = np.quantile(issued, 0.95)
    val = issued >= cut
    train = issued < cut - pd.Timedelta(hours=24).value
    net = fit_node_net(NET_CONFIG, NET_TRAINING, x, y, train, val, device=ctx.settings.device)
    pred = predict_node_net(net, x[val])
    pers = persistence_from_windows(x[None, val], y.shape[-1])[0]
    skill = 1 - np.sqrt(np.mean((pred - y[val]) ** 2)) / np.sqrt(np.mean((pers - y[val]) ** 2))
    path = save_node_net(net, ctx.settings.models_dir, ctx.centre, train_end)
    log.info("node network trained on %d windows at %d nodes to %s: %+.0f %% against persistence on its "
             "validation windows (the last 5 %%); %s", int(train.sum()), len(nodes), train_end, 100 * skill, path.name)
    return str(path)


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
    """The daily refit, as the station models' update for `day`: the ridges trained on the maps before
    `day` (the forecast issued from `day`'s maps may use them), the network too when the newest one
    before `day` is NET_REFRESH_DAYS old or there is none; nothing when a model already saw them."""
    ends = node_model_ends(ctx.settings.models_dir, ctx.centre)
    end = day
    if end in ends:
        return _not_trained(f"already trained on the maps before {day}", str(ends[-1]))
    net_end = node_net_end_at(ctx.settings.models_dir, ctx.centre, end)
    stale = net_end is None or (end - net_end).days >= NET_REFRESH_DAYS
    return train_node_model(ctx, end, network=stale)


def forecast_nodes(ctx: Context, latest: dt.date, persistence: xr.DataArray, median27: np.ndarray,
                   target_day: dt.date) -> tuple[np.ndarray, np.ndarray, NodeModelInfo, str]:
    """The node forecast (E, lat, lon) of the target day from the maps of `latest` (the persistence map
    and the 27-day median map at the target epochs), its 1-sigma, the ridge's info and the node
    network's training end ("" when none was used: the ridge alone). Raises NodeModelError when no node
    model trained on the maps before `latest` fits their grid and epochs."""
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
    net_end = node_net_end_at(ctx.settings.models_dir, ctx.centre, latest)
    if net_end is None or info.epochs != NET_EPOCHS:
        return tec, sigma, info, ""
    try:
        net = load_node_net(node_net_path(ctx.settings.models_dir, ctx.centre, net_end))
    except NodeModelError as exc:
        log.warning("%s: the node map is the ridge's alone", exc)
        return tec, sigma, info, ""
    lat, lon = persistence["lat"].values, persistence["lon"].values
    mean = predict_node_net(net, net_inputs(with_known_median(inp), latest, lat, lon))  # (nodes, E - 1)
    tec = with_network(tec, mean.T.reshape(info.epochs - 1, len(lat), len(lon)))
    return tec, sigma, info, net_end.isoformat()
