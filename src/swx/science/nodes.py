"""Forecasts at the map's own nodes: one ridge model per grid node, trained on the map archive itself.

18 stations on three meridians cannot carry a forecast to the whole globe: away from them the extension
falls back to its prior. So every node of the IONEX grid gets its own forecast of the next UT day,
like a station model: the departure of each target epoch from the node's issue-time prior
(`MAP_PRIOR_PERSISTENCE_WEIGHT` × the persistence map + the rest × the 27-day median map, both known
at issue time), linear in what the node saw on the issue day (its anomaly against the 27-day median at
every epoch, and the same anomaly averaged over its neighbourhood, a wider region and the globe; the
median's level), the issue day's Kp (and Kp times the anomaly: storms make the
anomaly decay or grow), and the season. One model per node, all solved in one batch; the penalty is
chosen by blocked cross-validation over the training days (contiguous blocks, never shuffled), and the
out-of-fold errors per node and epoch are the model's honest uncertainty. An untrained or fully
shrunk model is its prior.

Pure computations on arrays; `swx.ml.node_model` saves and finds the fitted models, `swx.pipeline.train`
trains them from the archive and `swx.pipeline.forecast` publishes their maps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from swx.errors import SwxError
from swx.science.features import FEATURES, kp_on_grid, time_encodings
from swx.science.verify import MAP_PRIOR_PERSISTENCE_WEIGHT, mix_baselines

#: Kp values of the issue day the model reads (3-hourly)
KP_STEPS = 8
#: ridge penalties tried by the cross-validation (on standardised features, per sample)
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)
#: contiguous blocks of training days the penalty is chosen on
FOLDS = 3
#: the fewest training days a node model is fitted on (about two months: fewer is noise)
MIN_TRAIN_DAYS = 60
#: days between a fold's training days and its held-out block: a sample's inputs reach 27 days back
PURGE_DAYS = 28


def min_training_days(folds: int = FOLDS) -> int:
    """Complete issue days a node model needs: MIN_TRAIN_DAYS in its blocks, and the gaps between them."""
    return MIN_TRAIN_DAYS + (folds - 1) * PURGE_DAYS


class NodeModelError(SwxError):
    """A node model cannot be fitted or applied (too few days, another grid or cadence)."""


@dataclass(frozen=True)
class NodeInputs:
    """What a node forecast of one target day is issued from, known at issue time."""

    latest: np.ndarray  # (E, lat, lon) the issue day's maps at the target epochs' UT (the persistence map)
    median27: np.ndarray  # (E, lat, lon) the 27-day median map at the target epochs (the issue day and before)
    kp: np.ndarray  # (KP_STEPS,) the issue day's Kp
    day_of_year: int  # of the target day

    def prior(self) -> np.ndarray:
        """The map the departures are added to: persistence mixed with the 27-day median."""
        return mix_baselines(self.latest, self.median27, MAP_PRIOR_PERSISTENCE_WEIGHT)


#: the anomaly's neighbourhoods (half-widths in grid rows of latitude, columns of longitude): the node's
#: own, its 3 x 3 neighbours', a 7 x 13 region's; and the globe's mean
NEIGHBOURHOODS = ((1, 1), (3, 6))


def n_features(epochs: int) -> int:
    """Features per node: the anomaly at each epoch but the last, at the node, averaged over each
    neighbourhood and over the globe; level, Kp, Kp x the last 4 anomalies, Kp x level, the season (2),
    the intercept."""
    return (epochs - 1) * (2 + len(NEIGHBOURHOODS)) + 1 + KP_STEPS + 4 + 1 + 2 + 1


def _box_mean(a: np.ndarray, half_lat: int, half_lon: int) -> np.ndarray:
    """The mean of (E, lat, lon) over a (2 half_lat + 1) x (2 half_lon + 1) box around each node:
    latitude rows clamped at the poles, longitude cyclic (separable: one pass per axis)."""
    padded = np.pad(a, ((0, 0), (half_lat, half_lat), (0, 0)), mode="edge")
    rows = sum(padded[:, k:k + a.shape[1]] for k in range(2 * half_lat + 1)) / (2 * half_lat + 1)
    return sum(np.roll(rows, k, axis=2) for k in range(-half_lon, half_lon + 1)) / (2 * half_lon + 1)


def node_features(inp: NodeInputs) -> np.ndarray:
    """The features (nodes, P) of one issue day at every node (float32; the last one is the intercept).
    NaN where the day's maps or the median are missing at a node.

    The issue day's last epoch is left out (its map and its median): in a day's file it is the next
    midnight, the first epoch of the target day the forecast is scored on (the station models, likewise,
    issue from the 22 UT map)."""
    e, n_lat, n_lon = inp.latest.shape
    if np.shape(inp.median27) != inp.latest.shape:
        raise NodeModelError(f"the 27-day median maps have shape {np.shape(inp.median27)}, the latest maps "
                             f"{inp.latest.shape}")
    kp = np.asarray(inp.kp, float)
    if kp.shape != (KP_STEPS,):
        raise NodeModelError(f"{len(kp)} Kp values for the issue day, expected {KP_STEPS}")
    kp = np.nan_to_num(kp, nan=float(np.nanmean(kp)) if np.isfinite(kp).any() else 2.0) / 9.0
    grid = inp.latest[:-1].astype(np.float64) - inp.median27[:-1]  # (E - 1, lat, lon)
    anomaly = grid.reshape(e - 1, -1)
    around = [_box_mean(grid, *h).reshape(e - 1, -1) for h in NEIGHBOURHOODS]
    globe = np.repeat(anomaly.mean(axis=1, keepdims=True), anomaly.shape[1], axis=1)
    level = inp.median27[:-1].reshape(e - 1, -1).mean(axis=0, keepdims=True)
    storm = kp.max()
    season = 2 * np.pi * inp.day_of_year / 365.25
    nodes = n_lat * n_lon
    parts = [anomaly, *around, globe, level, np.repeat(kp[:, None], nodes, axis=1), storm * anomaly[-4:], storm * level,
             np.full((1, nodes), np.sin(season)), np.full((1, nodes), np.cos(season)), np.ones((1, nodes))]
    return np.concatenate(parts).T.astype(np.float32)


@dataclass
class NodeRidge:
    """Ridge regression of the departures at every node, one model per node, solved in one batch.

    `fit(x, y)`: x (days, nodes, P) features (`node_features`), y (days, nodes, E) departures of the
    target day's maps from `NodeInputs.prior`. The penalty is chosen from `alphas` by blocked
    cross-validation (`folds` contiguous blocks of days, `PURGE_DAYS` apart; each fold standardised by
    its own training days' scales), pooled over the nodes; `sigma_` (nodes, E) is the out-of-fold RMSE
    at that penalty, `cv_rmse_` the pooled one and `cv_rmse_prior_` the prior's (the model's departures
    set to zero) on the same days. The penalty is chosen on the same folds, from five values: the
    out-of-fold figures carry that small optimism."""

    alphas: tuple[float, ...] = ALPHAS
    folds: int = FOLDS
    alpha_: float = field(default=float("nan"), init=False)
    coef_: np.ndarray = field(default=None, init=False, repr=False)  # (nodes, P, E) on standardised features
    mean_: np.ndarray = field(default=None, init=False, repr=False)  # (P,)
    scale_: np.ndarray = field(default=None, init=False, repr=False)  # (P,)
    sigma_: np.ndarray = field(default=None, init=False, repr=False)  # (nodes, E)
    cv_rmse_: float = field(default=float("nan"), init=False)
    cv_rmse_prior_: float = field(default=float("nan"), init=False)
    n_days_: int = field(default=0, init=False)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean_) / self.scale_
        z[..., -1] = 1.0  # the intercept stays itself
        return z

    def fit(self, x: np.ndarray, y: np.ndarray) -> NodeRidge:
        x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
        if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2]:
            raise NodeModelError(f"features {x.shape} and targets {y.shape} do not match (days, nodes, ...)")
        ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(y).all(axis=(1, 2))  # whole days only
        if not ok.all():
            x, y = x[ok], y[ok]
        n, _, p = x.shape
        need = min_training_days(self.folds)
        if n < need:
            raise NodeModelError(f"{n} complete training day(s) for the node models, need at least {need} "
                                 f"({self.folds} blocks of days {PURGE_DAYS} days apart)")
        # Contiguous blocks of days, each fold's training days apart from its held-out block by a gap of
        # PURGE_DAYS (a sample's inputs reach 27 days back and its target a day ahead: no sample on one
        # side of a gap shares a day with one on the other). The gaps serve the final fit only.
        gap_starts = np.linspace(0, n, self.folds + 1).astype(int)[1:-1]
        gaps = np.concatenate([np.arange(g - PURGE_DAYS // 2, g - PURGE_DAYS // 2 + PURGE_DAYS)
                               for g in gap_starts]) if len(gap_starts) else np.empty(0, int)
        blocks = [b[~np.isin(b, gaps)] for b in np.array_split(np.arange(n), self.folds)]
        raw = [self._raw_gram(x[b], y[b]) for b in blocks]
        rest = self._raw_gram(x[gaps], y[gaps])
        penalty = np.eye(p)
        penalty[-1, -1] = 0.0  # the intercept is not shrunk
        # out-of-fold squared errors (nodes, E), each fold standardised by its own training days' scales,
        # from the held-out block's sums alone: sum (z w - y)^2 = w'Gw - 2 w'b + sum y^2
        sq = {a: np.zeros(y.shape[1:]) for a in self.alphas}
        held = 0
        for k, (g_k, b_k, yy_k) in enumerate(raw):
            g_t = sum(g for j, (g, _, _) in enumerate(raw) if j != k)
            b_t = sum(b for j, (_, b, _) in enumerate(raw) if j != k)
            m = sum(len(blocks[j]) for j in range(self.folds) if j != k)
            self._set_scales(g_t, m * g_t.shape[0])
            gz_t, bz_t = self._standardised(g_t, b_t)
            gz_k, bz_k = self._standardised(g_k, b_k)
            held += len(blocks[k])
            for a in self.alphas:
                w = np.linalg.solve(gz_t / m + a * penalty, bz_t / m)
                sq[a] += ((w * (gz_k @ w)).sum(axis=1) - 2 * (w * bz_k).sum(axis=1) + yy_k)
        sq = {a: np.maximum(v, 0.0) for a, v in sq.items()}
        mse = {a: float(v.mean() / held) for a, v in sq.items()}
        self.alpha_ = min(mse, key=mse.get)
        self.sigma_ = np.sqrt(sq[self.alpha_] / held).astype(np.float32)
        self.cv_rmse_ = float(np.sqrt(mse[self.alpha_]))
        self.cv_rmse_prior_ = float(np.sqrt(sum(yy for _, _, yy in raw).mean() / held))
        g_all = sum(g for g, _, _ in raw) + rest[0]
        b_all = sum(b for _, b, _ in raw) + rest[1]
        self._set_scales(g_all, n * g_all.shape[0])
        gz, bz = self._standardised(g_all, b_all)
        self.coef_ = np.linalg.solve(gz / n + self.alpha_ * penalty, bz / n).astype(np.float32)
        self.n_days_ = n
        return self

    def _set_scales(self, gram: np.ndarray, count: int) -> None:
        """The features' mean and standard deviation, pooled over the nodes and the `count` samples summed
        in a raw gram, as the model's (`mean_`, `scale_`; the intercept kept as it is)."""
        total = gram.sum(axis=0)
        mean = total[-1] / count  # the intercept column is 1: its row holds the sums of the features
        scale = np.sqrt(np.maximum(np.diag(total) / count - mean ** 2, 0.0))
        scale[scale == 0] = 1.0
        mean[-1], scale[-1] = 0.0, 1.0
        self.mean_, self.scale_ = mean, scale

    def _standardised(self, gram: np.ndarray, cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """z'z and z'y of the standardised features z = (x - mean_) / scale_ from the raw sums x'x and x'y
        (the intercept row holds the sums of x and y, its corner the count): no second pass over the data."""
        mu, s = self.mean_, self.scale_
        sums, count = gram[:, -1, :], gram[:, -1, -1]  # (nodes, P), (nodes,)
        gz = (gram - mu[None, :, None] * sums[:, None, :] - sums[:, :, None] * mu[None, None, :]
              + count[:, None, None] * np.outer(mu, mu)[None]) / np.outer(s, s)[None]
        bz = (cross - mu[None, :, None] * cross[:, -1:, :]) / s[None, :, None]
        return gz, bz

    @staticmethod
    def _raw_gram(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sums over the days of x of x'x (nodes, P, P), x'y (nodes, P, E) and y^2 (nodes, E), in chunks."""
        _, nodes, p = x.shape
        g, b, yy = np.zeros((nodes, p, p)), np.zeros((nodes, p, y.shape[2])), np.zeros((nodes, y.shape[2]))
        for a in range(0, len(x), 64):
            z = np.ascontiguousarray(np.swapaxes(x[a:a + 64], 0, 1), dtype=np.float64)  # (nodes, d, P)
            t = np.ascontiguousarray(np.swapaxes(y[a:a + 64], 0, 1), dtype=np.float64)  # (nodes, d, E)
            zt = np.swapaxes(z, 1, 2)
            g += zt @ z
            b += zt @ t
            yy += (t ** 2).sum(axis=1)
        return g, b, yy

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The departures (nodes, E) of one issue day's features (nodes, P); 0 (the prior) where a
        node's features are missing."""
        if self.coef_ is None:
            raise NodeModelError("the node model is not fitted")
        x = np.asarray(x, np.float64)
        if x.shape != self.coef_.shape[:2]:
            raise NodeModelError(f"features {x.shape} for a node model of {self.coef_.shape[:2]} (nodes, features)")
        z = self._standardise(x)
        out = np.einsum("np,npe->ne", np.nan_to_num(z), self.coef_.astype(np.float64))
        out[~np.isfinite(x).all(axis=1)] = 0.0
        return out


def node_forecast(model: NodeRidge, inp: NodeInputs) -> tuple[np.ndarray, np.ndarray]:
    """The node forecast (E, lat, lon) of one target day, and its 1-sigma (the out-of-fold RMSE)."""
    e, n_lat, n_lon = inp.latest.shape
    if model.sigma_.shape != (n_lat * n_lon, e):
        raise NodeModelError(f"a node model of {model.sigma_.shape[0]} nodes x {model.sigma_.shape[1]} epochs "
                             f"cannot forecast maps of {n_lat} x {n_lon} nodes x {e} epochs")
    dep = model.predict(node_features(inp))  # (nodes, E)
    tec = inp.prior() + dep.T.reshape(e, n_lat, n_lon)
    return np.maximum(tec, 0.0), model.sigma_.T.reshape(e, n_lat, n_lon).astype(float)


def issue_inputs(maps: np.ndarray, day_of_year: np.ndarray, kp: np.ndarray) -> Iterator[tuple[int, NodeInputs]]:
    """Every issue day of a run of consecutive days with what its forecast is issued from: `maps` (days,
    E, lat, lon), NaN for a missing day; `day_of_year` (days,) and `kp` (days, KP_STEPS) of each day.
    Issue day i forecasts day i + 1 from its own maps and the 27-day median of days i-26..i (as a
    forecast issued after day i has them); days without a complete input or target are left out."""
    from swx.science.dtec import REFERENCE_DAYS, nan_median_first_axis

    maps = np.asarray(maps, np.float32)
    whole = np.isfinite(maps).all(axis=(1, 2, 3))
    for i in _issue_days(whole):
        window = slice(max(0, i - REFERENCE_DAYS + 1), i + 1)
        past = maps[window][whole[window]]
        median = (np.partition(past, len(past) // 2, axis=0)[len(past) // 2] if len(past) % 2
                  else nan_median_first_axis(past)).astype(np.float32)
        yield i, NodeInputs(maps[i], median, kp[i], int(day_of_year[i + 1]))


def _issue_days(whole: np.ndarray) -> list[int]:
    """The issue days of `issue_inputs`, from which days are complete (`whole`, one flag a day): the day
    and the next complete, and enough complete days in its 27-day reference."""
    from swx.science.dtec import MIN_REFERENCE_DAYS, REFERENCE_DAYS

    return [i for i in range(MIN_REFERENCE_DAYS - 1, len(whole) - 1)
            if whole[i] and whole[i + 1] and whole[max(0, i - REFERENCE_DAYS + 1):i + 1].sum() >= MIN_REFERENCE_DAYS]


def training_set(maps: np.ndarray, day_of_year: np.ndarray, kp: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features and targets of the node ridge for every issue day (`issue_inputs`): x (n, nodes, P),
    y (n, nodes, E) and the issue days' indices."""
    maps = np.asarray(maps, np.float32)
    e, nodes = maps.shape[1], maps[0, 0].size
    issued = _issue_days(np.isfinite(maps).all(axis=(1, 2, 3)))
    x = np.empty((len(issued), nodes, n_features(e)), np.float32)  # filled in place: no second copy
    y = np.empty((len(issued), nodes, e), np.float32)
    for k, (i, inp) in enumerate(issue_inputs(maps, day_of_year, kp)):  # one day's median at a time
        x[k] = node_features(inp)
        y[k] = (maps[i + 1] - inp.prior()).reshape(e, -1).T
    return x, y, np.asarray(issued, dtype=int)


# ------------------------------------------------------------------------------------ the node network

#: the node network's inputs per step: the station models' features, then where the node is
NET_FEATURES = (*FEATURES, "lat_sin", "lat_cos")


def net_inputs(inp: NodeInputs, issue_day: dt.date, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The node network's windows (nodes, E - 1, NET_FEATURES) of one issue day at every node: like a
    station model's window issued from the 22 UT map (the issue day's epochs but the last; the 27-day
    median of the target epochs as the median ahead; Kp nearest on the 2-hour grid; local time and
    season), with the node's latitude. The target day's epochs but the last are what it forecasts."""
    e, n_lat, n_lon = inp.latest.shape
    steps = e - 1
    times = pd.date_range(pd.Timestamp(issue_day, tz="UTC"), periods=steps, freq=f"{24 // steps}h")
    kp3 = pd.Series(np.asarray(inp.kp, float), index=pd.date_range(times[0], periods=KP_STEPS, freq="3h"))
    kp = np.nan_to_num(kp_on_grid(kp3, times), nan=float(np.nanmean(kp3)) if kp3.notna().any() else 2.0)
    enc = np.stack([time_encodings(times, float(x)) for x in lon], axis=1)  # (steps, lon, 4)
    out = np.empty((steps, n_lat, n_lon, len(NET_FEATURES)), np.float32)
    out[..., FEATURES.index("vtec")] = inp.latest[:-1]
    out[..., FEATURES.index("kp")] = kp[:, None, None]
    for k, name in enumerate(("lt_sin", "lt_cos", "doy_sin", "doy_cos")):
        out[..., FEATURES.index(name)] = enc[:, None, :, k]
    out[..., FEATURES.index("median27_ahead")] = inp.median27[:-1]
    out[..., NET_FEATURES.index("lat_sin")] = np.sin(np.radians(lat))[None, :, None]
    out[..., NET_FEATURES.index("lat_cos")] = np.cos(np.radians(lat))[None, :, None]
    return out.reshape(steps, n_lat * n_lon, -1).transpose(1, 0, 2)


#: the level a node network's window is divided by is never below this (TECU): quiet polar nights
NET_LEVEL_FLOOR_TECU = 1.0
#: the window columns that are vTEC values (divided by the window's level)
_TEC_COLUMNS = [FEATURES.index("vtec"), FEATURES.index("median27_ahead")]


def relative_windows(x: np.ndarray, y: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """A window's vTEC inputs and targets relative to its own level: the mean vTEC of its input
    steps (at least NET_LEVEL_FLOOR_TECU). One network serves nodes whose TEC differs tenfold (the
    crests against a polar night); in TECU its loss and one set of scales would be the crests' alone.
    Returns x and y so divided and the levels (n,) to multiply the forecast back by."""
    x = np.array(x, dtype=np.float32, copy=True)
    level = np.maximum(x[:, :, FEATURES.index("vtec")].mean(axis=1), NET_LEVEL_FLOOR_TECU).astype(np.float32)
    x[:, :, _TEC_COLUMNS] /= level[:, None, None]
    return x, (None if y is None else (np.asarray(y, np.float32) / level[:, None])), level


def with_known_median(inp: NodeInputs) -> NodeInputs:
    """The inputs with persistence standing in where the 27-day median is missing (too few days after
    an outage), as in the ridge's prior: the network never reads a NaN."""
    return NodeInputs(inp.latest, np.where(np.isfinite(inp.median27), inp.median27, inp.latest), inp.kp,
                      inp.day_of_year)


def with_network(tec: np.ndarray, net_tec: np.ndarray) -> np.ndarray:
    """The node map: the ridge's (E, lat, lon) averaged with the network's (E - 1, lat, lon) over the
    epochs the network covers, the ridge alone at the last epoch and wherever the network has no value."""
    out = np.array(tec, dtype=float, copy=True)
    steps = net_tec.shape[0]
    out[:steps] = np.where(np.isfinite(net_tec), np.maximum(0.5 * (out[:steps] + net_tec), 0.0), out[:steps])
    return out


def net_training_windows(series: np.ndarray, times: pd.DatetimeIndex, kp: pd.Series, lat: np.ndarray,
                         lon: np.ndarray, *, windows_per_node: int, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows of the node network from the 2-hourly series of some nodes, `series` (T, nodes) at
    `times` with their `lat` and `lon` (nodes,): at every 2-hourly issue time, like the station models
    (`feature_matrix`, `make_windows`), with the node's latitude; `windows_per_node` drawn at random per
    node. Returns x (n, steps, NET_FEATURES), y (n, steps) and each window's issue time (ns)."""
    from swx.science.features import feature_matrix, make_windows

    rng = np.random.default_rng(seed)
    xs, ys, issued = [], [], []
    from swx.science.dtec import REFERENCE_DAYS

    settled = pd.Timestamp(times[0]) + pd.Timedelta(days=REFERENCE_DAYS - 1)  # a median of 27 days, as when forecasting
    for k in range(series.shape[1]):
        x, y, issue = make_windows(feature_matrix(pd.Series(series[:, k], index=times), kp, float(lon[k])))
        keep = issue >= settled
        x, y, issue = x[keep], y[keep], issue[keep]
        if not len(issue):
            continue
        pick = np.sort(rng.choice(len(issue), size=min(windows_per_node, len(issue)), replace=False))
        where = np.broadcast_to(np.array([np.sin(np.radians(lat[k])), np.cos(np.radians(lat[k]))], np.float32),
                                (len(pick), x.shape[1], 2))
        xs.append(np.concatenate([x[pick].astype(np.float32), where], axis=-1))
        ys.append(y[pick].astype(np.float32))
        issued.append(issue[pick].as_unit("ns").asi8)
    if not xs:
        raise NodeModelError("no complete window to train the node network on")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(issued)
