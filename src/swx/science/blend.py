"""The published station forecast: a skill-weighted blend of the station models and the two baselines.

For each station and lead time the weights minimise the squared error of the combination over a
trailing window of *verified* forecasts — forecasts whose every target lies before the issue day —
under weights >= 0 summing to 1 (constrained least squares, solved exactly over the members' supports),
then are shrunk by n0 / (n + n0) toward the weights fitted on all stations and leads pooled (themselves
shrunk toward equal weights), so a station's weights follow the network's skill everywhere until its
own history is long enough. A member whose recent errors are worse than a baseline's loses its weight
to it; with no history the blend is the equal-weight mean. The blend's sigma is the trailing RMSE of those weights (same shrinkage toward
the members' own sigma when history is short).

Pure computations on arrays: `swx.pipeline.train.evaluate` applies them walk-forward over a scored period,
`swx.pipeline.forecast` to the stored forecasts of the previous days.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from swx.config import ARCHITECTURES, BLEND

BASELINES = ("persistence", "median27")
#: the order tables and charts show the models in: the published blend, the models, the baselines
MODEL_ORDER = (BLEND, *ARCHITECTURES, *BASELINES, "climatology")
DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class BlendConfig:
    window_days: int = 30  # trailing window of verified forecasts the weights are fitted on
    shrink_samples: float = 36.0  # n0: n verified issue times give the fitted weights n / (n + n0)
    horizon: pd.Timedelta = pd.Timedelta(hours=24)  # a forecast is verified once issue + horizon has passed


def simplex_least_squares(gram: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """argmin_w w' G w subject to w >= 0 and sum(w) = 1, for G (..., K, K) symmetric positive
    semi-definite; exact: the optimum is the equality-constrained optimum of one support, so every
    support's solution is computed and the best feasible one kept (K <= 8 members here). `allowed`
    (..., K) restricts each problem to some members (the others get weight 0; their rows of G are
    not used), so problems over different members are solved in one batch."""
    gram = np.asarray(gram, np.float64)
    k = gram.shape[-1]
    lead = gram.shape[:-2]
    g = gram.reshape(-1, k, k)
    allow = np.ones((len(g), k), bool) if allowed is None else np.broadcast_to(allowed, (*lead, k)).reshape(-1, k)
    n_allowed = np.maximum(allow.sum(axis=1), 1)
    g = np.where(allow[:, :, None] & allow[:, None, :], g, 0.0)
    scale = (np.trace(g, axis1=1, axis2=2) / n_allowed)[:, None, None]
    g = g + 1e-9 * np.where(scale > 0, scale, 1.0) * np.eye(k)  # a tie between identical members is still solvable
    best_w = allow / n_allowed[:, None]
    best_v = np.full(len(g), np.inf)
    for size in range(1, k + 1):
        for support in itertools.combinations(range(k), size):
            idx = np.array(support)
            sub = g[:, idx[:, None], idx[None, :]]
            z = np.linalg.solve(sub, np.ones((len(g), size, 1)))[..., 0]
            total = z.sum(axis=1)
            ok = total > 0
            w_sub = np.where(ok[:, None], z / np.where(ok, total, 1.0)[:, None], 0.0)
            feasible = ok & (w_sub >= -1e-12).all(axis=1) & allow[:, idx].all(axis=1)
            w = np.zeros((len(g), k))
            w[:, idx] = np.clip(w_sub, 0.0, None)
            value = np.einsum("ni,nij,nj->n", w, g, w)
            better = feasible & (value < best_v - 1e-15)
            best_w[better], best_v[better] = w[better], value[better]
    return best_w.reshape(*lead, k)


def fit_station_weights(errors: np.ndarray, config: BlendConfig = BlendConfig(),
                        prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`fit_weights` for S stations at once (errors (n, S, K, H)): weights (S, K, H), RMSE (S, H) and
    issue times used (S,), with every station's constrained least squares solved in one batch."""
    n_all, n_st, k, h = errors.shape
    base = np.full(k, 1.0 / k) if prior is None else np.asarray(prior, float)
    w = np.repeat(np.repeat(base[None, :, None], h, axis=2), n_st, axis=0)
    rmse = np.full((n_st, h), np.nan)
    used = np.zeros(n_st, int)
    have = np.isfinite(errors).all(axis=3)  # (n, S, K)
    count = have.sum(axis=0)  # (S, K)
    grams = np.zeros((n_st, h, k, k))
    use = np.zeros((n_st, k), bool)
    for s in range(n_st):
        if n_all == 0 or count[s].max() == 0:
            continue
        use[s] = count[s] >= 0.5 * count[s].max()  # members verified on at least half the best one's times
        rows = have[:, s][:, use[s]].all(axis=1)
        used[s] = rows.sum()
        if used[s]:
            e = np.where(use[s][None, :, None], errors[rows, s], 0.0)
            grams[s] = np.einsum("nih,njh->hij", e, e) / used[s]
    fit = used > 0
    if not fit.any():
        return w, rmse, used
    fitted = np.moveaxis(simplex_least_squares(grams[fit], use[fit][:, None, :]), 1, 2)  # (F, K, H)
    p = np.where(use[fit], base, 0.0)
    total = p.sum(axis=1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1.0), use[fit] / use[fit].sum(axis=1, keepdims=True))
    n = used[fit].astype(float)
    keep = (n / (n + config.shrink_samples))[:, None, None]
    w[fit] = keep * fitted + (1 - keep) * p[:, :, None]
    mse = np.einsum("fih,fhij,fjh->fh", w[fit], grams[fit], w[fit])
    rmse[fit] = np.sqrt(mse * (n / np.maximum(n - 1, 1))[:, None])
    return w, rmse, used


def fit_weights(errors: np.ndarray, config: BlendConfig = BlendConfig(),
                prior: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Weights (K, H) and the blend's RMSE (H,) from past errors (n, K, H) of K members at H leads,
    shrunk toward `prior` (K,) — equal weights when None — by n0 / (n + n0). Members verified on fewer
    than half the issue times of the best-covered one (e.g. a model added since) get no weight; the
    others are fitted on the issue times where they all have errors. Returns also n, the issue times
    used (0: no history, the prior's weights)."""
    w, rmse, n = fit_station_weights(np.asarray(errors, float)[:, None], config, prior)
    return w[0], rmse[0], int(n[0])


def pooled_prior(errors: np.ndarray, config: BlendConfig = BlendConfig()) -> np.ndarray:
    """Weights (K,) fitted on past errors (n, S, K, H) pooled over the S stations and H leads: what each
    station's own weights shrink toward. One day of verified forecasts already gives S x H samples, so
    a member that is worse everywhere loses its weight long before each station's own history is long
    enough to show it; with no history, equal weights."""
    n, s, k, h = errors.shape
    flat = np.moveaxis(errors, 2, 3).reshape(n * s * h, k)[:, :, None]
    return fit_weights(flat, config)[0][:, 0]


def blend_sigma(rmse: np.ndarray, n: int, prior: np.ndarray, config: BlendConfig = BlendConfig()) -> np.ndarray:
    """The blend's sigma per lead: its trailing RMSE over n verified issue times, mixed with the prior
    (the members' own sigma) by the same shrinkage as the weights; the prior alone without history."""
    if not n:
        return prior
    prior = np.where(np.isfinite(prior), prior, rmse)  # no member's own sigma (a baselines-only run): its RMSE
    keep = n / (n + config.shrink_samples)
    return np.sqrt(keep * np.nan_to_num(rmse) ** 2 + (1 - keep) * prior ** 2)


@dataclass
class WalkForwardBlend:
    """A blend scored walk-forward: at each issue time the weights of its UT day, fitted on the forecasts
    verified before that day."""

    mean: np.ndarray  # (S, N, H), or (N, H) for one station
    sigma: np.ndarray  # as mean
    weights: pd.DataFrame  # day x (station, member, lead) → weight
    samples: pd.Series  # day → verified issue times the weights were fitted on (the most of any station)


def walk_forward(issue: pd.DatetimeIndex, members: dict[str, np.ndarray], truth: np.ndarray,
                 config: BlendConfig = BlendConfig(), prior_sigma: np.ndarray | None = None) -> WalkForwardBlend:
    """The blend of `members` (name → (S, N, H) forecasts of S stations at `issue`, or (N, H) for one)
    for every issue time, each day's weights from the errors of forecasts issued in the trailing window
    and verified before the day starts (`truth`, shaped like a member, is used only there: never the day
    being forecast); each station's weights shrink toward those pooled over all stations and leads
    (`pooled_prior`). `prior_sigma` (like a member) is the uncertainty used while the history is short
    (e.g. the members' own sigma)."""
    names = list(members)
    one = np.ndim(truth) == 2
    lift = (lambda a: a[None]) if one else (lambda a: a)
    stack = np.stack([lift(members[m]) for m in names], axis=2)  # (S, N, K, H)
    truth = lift(truth)
    errors = stack - truth[:, :, None, :]
    n_st, n_all, _, h = stack.shape
    days = issue.normalize()
    mean = np.full((n_st, n_all, h), np.nan)
    sigma = np.full((n_st, n_all, h), np.nan)
    weights, samples = {}, {}
    verified_at = issue + config.horizon
    for day in days.unique():
        past = (verified_at <= day) & (issue >= day - config.window_days * DAY - config.horizon)
        e_past = np.moveaxis(errors[:, past], 0, 1)  # (n, S, K, H)
        prior = pooled_prior(e_past, config)
        rows = np.flatnonzero(days == day)
        weights[day], used = {}, 0
        w_fit, rmse_fit, n_fit = fit_station_weights(e_past, config, prior)
        for st in range(n_st):
            w, rmse, n = w_fit[st], rmse_fit[st], int(n_fit[st])
            mean[st, rows] = np.einsum("nkh,kh->nh", stack[st, rows], w)
            own = lift(prior_sigma)[st, rows] if prior_sigma is not None else np.full((len(rows), h), np.nan)
            sig = blend_sigma(rmse, n, own, config)
            sigma[st, rows] = np.where(np.isfinite(sig), sig, np.broadcast_to(rmse, sig.shape))
            weights[day] |= {(st, name, lead + 1): w[i, lead] for i, name in enumerate(names) for lead in range(h)}
            used = max(used, n)
        samples[day] = used
    frame = pd.DataFrame.from_dict(weights, orient="index")
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["station", "member", "step"])
    if one:
        mean, sigma = mean[0], sigma[0]
    return WalkForwardBlend(mean, sigma, frame, pd.Series(samples, name="samples"))


def baseline_share(weights: np.ndarray, names: list[str]) -> float:
    """The mean weight (over leads) the baselines carry: above one half, a station runs on baselines."""
    base = [i for i, n in enumerate(names) if n in BASELINES]
    return float(np.asarray(weights)[base].sum(axis=0).mean()) if base else 0.0
