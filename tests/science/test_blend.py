"""The blend: exact constrained least squares, weights that follow recent skill, shrinkage when history is
short, and — the rule of honest verification — a day's blend never depends on that day's truth."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from swx.science.blend import (
    BlendConfig,
    baseline_share,
    fit_station_weights,
    fit_weights,
    pooled_prior,
    simplex_least_squares,
    walk_forward,
)


def test_simplex_least_squares_is_the_exact_optimum():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(size=(50, 4)) * rng.uniform(0.2, 3, 4) + rng.normal(size=(50, 1))
        g = a.T @ a / 50
        w = simplex_least_squares(g)
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-9
        # no point of a fine grid over the simplex does better
        grid = np.array([p for p in itertools.product(np.linspace(0, 1, 21), repeat=3) if sum(p) <= 1 + 1e-9])
        cand = np.column_stack([grid, 1 - grid.sum(axis=1)])
        values = np.einsum("ni,ij,nj->n", cand, g, cand)
        assert w @ g @ w <= values.min() + 1e-9


def test_weights_follow_skill_and_errors_that_cancel():
    rng = np.random.default_rng(1)
    n, h = 400, 3
    good, bad = rng.normal(0, 1, (n, h)), rng.normal(0, 3, (n, h))
    w, rmse, used = fit_weights(np.stack([good, bad], axis=1), BlendConfig(shrink_samples=0))
    assert used == n and (w[0] > 0.85).all() and np.allclose(w.sum(axis=0), 1)
    # two members with opposite biases: the blend cancels them (each alone errs by 2)
    e = rng.normal(0, 0.3, (n, 1, h))
    w, rmse, _ = fit_weights(np.concatenate([e + 2, e - 2], axis=1), BlendConfig(shrink_samples=0))
    assert np.allclose(w, 0.5, atol=0.02) and (rmse < 0.5).all()


def test_short_history_shrinks_toward_equal_weights_and_new_members_wait():
    rng = np.random.default_rng(2)
    e = np.stack([rng.normal(0, 1, (4, 2)), rng.normal(0, 5, (4, 2))], axis=1)
    w_few, _, n = fit_weights(e, BlendConfig(shrink_samples=36))
    assert n == 4 and (np.abs(w_few - 0.5) < 0.1).all()  # 4 samples: still close to equal weights
    w0, rmse0, n0 = fit_weights(e[:0])
    assert n0 == 0 and np.allclose(w0, 0.5) and np.isnan(rmse0).all()
    # a member with no history (added since) gets no weight until it has some
    e3 = np.concatenate([e, np.full((4, 1, 2), np.nan)], axis=1)
    w3, _, n3 = fit_weights(e3, BlendConfig(shrink_samples=0))
    assert n3 == 4 and (w3[2] == 0).all() and np.allclose(w3.sum(axis=0), 1)


def _period(days: int = 40, seed: int = 3):
    rng = np.random.default_rng(seed)
    issue = pd.date_range("2017-01-01", periods=days * 12, freq="2h", tz="UTC")
    truth = 20 + rng.normal(0, 2, (len(issue), 12))
    members = {"good": truth + rng.normal(0, 1, truth.shape), "poor": truth + rng.normal(0, 3, truth.shape),
               "persistence": truth + rng.normal(0, 2, truth.shape)}
    return issue, members, truth


def test_walk_forward_never_uses_the_day_it_forecasts():
    issue, members, truth = _period()
    base = walk_forward(issue, members, truth)
    day = pd.Timestamp("2017-01-20", tz="UTC")
    changed = truth.copy()
    on_day = (issue >= day) & (issue < day + pd.Timedelta(days=1))
    changed[on_day] += 50.0  # the day's truth (and the next morning's targets of its forecasts) altered
    again = walk_forward(issue, members, changed)
    before_next = issue < day + pd.Timedelta(days=1)
    np.testing.assert_array_equal(again.mean[before_next], base.mean[before_next])
    np.testing.assert_array_equal(again.sigma[before_next], base.sigma[before_next])
    assert not np.array_equal(again.mean[~before_next], base.mean[~before_next])  # later days learn from it
    # each day's weights are fitted on the issue times verified by the day's start (the first day: none;
    # the second: the 00 UT forecast of the first, whose last target is the second day's 00 UT map)
    assert list(base.samples.iloc[:3]) == [0, 1, 13]
    assert (base.samples.iloc[5:] > 0).all()


def test_walk_forward_blend_beats_its_members_and_covers():
    issue, members, truth = _period(60)
    wf = walk_forward(issue, members, truth, BlendConfig(window_days=20))
    late = issue >= pd.Timestamp("2017-01-10", tz="UTC")
    rmse = {k: np.sqrt(np.mean((v[late] - truth[late]) ** 2)) for k, v in members.items()}
    blend = np.sqrt(np.mean((wf.mean[late] - truth[late]) ** 2))
    assert blend < min(rmse.values())
    cover = np.mean(np.abs(wf.mean[late] - truth[late]) <= 1.96 * wf.sigma[late])
    assert 0.9 <= cover <= 0.98
    mean_w = wf.weights.T.groupby(level="member").mean().mean(axis=1)
    assert mean_w["good"] > mean_w["persistence"] > mean_w["poor"]


@pytest.mark.parametrize("weights,expected", [([[0.2], [0.3], [0.5]], 0.8), ([[0.7], [0.2], [0.1]], 0.3)])
def test_baseline_share(weights, expected):
    assert baseline_share(np.array(weights), ["cnn", "persistence", "median27"]) == pytest.approx(expected)


def test_stations_shrink_toward_the_weights_pooled_over_all_stations_and_leads():
    """One verified day (one sample per station and lead) is too little for a station's own weights,
    but pooled over 18 stations x 12 leads it shows which member is worse everywhere."""
    rng = np.random.default_rng(3)
    errors = np.stack([rng.normal(0, 1, (1, 18, 12)), rng.normal(0, 3, (1, 18, 12))], axis=2)  # (n, S, K, H)
    prior = pooled_prior(errors)
    assert prior[0] > 0.8 and abs(prior.sum() - 1) < 1e-9
    w_equal, _, n = fit_weights(errors[:, 0])
    w_pooled, _, _ = fit_weights(errors[:, 0], prior=prior)
    assert n == 1 and (w_pooled[0] > 0.75).all() and (w_equal[0] < 0.55).all()
    # no history anywhere: equal weights, and a station without history takes the prior as it is
    assert np.allclose(pooled_prior(errors[:0]), 0.5)
    assert np.allclose(fit_weights(errors[:0, 0], prior=prior)[0], prior[:, None])


def _one_station(errors, config, prior):
    """The weights of one station as swx fitted them before the batch (kept here as the reference):
    the least squares over the members it uses only, then the shrinkage toward the prior."""
    k, h = errors.shape[1], errors.shape[2]
    base = np.full(k, 1.0 / k) if prior is None else np.asarray(prior, float)
    have = np.isfinite(errors).all(axis=2)
    count = have.sum(axis=0)
    if len(errors) == 0 or count.max() == 0:
        return np.repeat(base[:, None], h, axis=1), np.full(h, np.nan), 0
    use = count >= 0.5 * count.max()
    e = errors[have[:, use].all(axis=1)][:, use]
    n = len(e)
    if n == 0:
        return np.repeat(base[:, None], h, axis=1), np.full(h, np.nan), 0
    gram = np.einsum("nih,njh->hij", e, e) / n
    fitted = np.zeros((k, h))
    fitted[use] = simplex_least_squares(gram).T
    p = np.where(use, base, 0.0)
    p = (p / p.sum() if p.sum() > 0 else np.where(use, 1.0 / use.sum(), 0.0))[:, None]
    keep = n / (n + config.shrink_samples)
    w = keep * fitted + (1 - keep) * p
    return w, np.sqrt(np.einsum("ih,hij,jh->h", w[use], gram, w[use]) * n / max(n - 1, 1)), n


def test_the_stations_weights_fitted_in_one_batch_are_each_stations_own():
    """`fit_station_weights` solves every station's constrained least squares in one batch (members a
    station does not use masked out): the same weights, RMSE and sample counts as each station fitted
    alone over its own members — with a member missing at one station (it gets no weight there only),
    one verified too rarely, a station without history and a short history."""
    rng = np.random.default_rng(3)
    n, s, k, h = 40, 5, 5, 3
    errors = rng.normal(size=(n, s, k, h)) * rng.uniform(0.5, 3, (1, s, k, 1))
    errors[:, 1, 2] = np.nan  # a member never verified at station 1
    errors[:30, 2, 4] = np.nan  # verified on a quarter of the issue times at station 2: left out there
    errors[:, 3] = np.nan  # station 3 has no history
    errors[:35, 4, :, 1] = np.nan  # station 4: five complete issue times only
    prior = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    w, rmse, used = fit_station_weights(errors, BlendConfig(shrink_samples=10), prior)
    for st in range(s):
        w1, rmse1, n1 = _one_station(errors[:, st], BlendConfig(shrink_samples=10), prior)
        np.testing.assert_allclose(w[st], w1, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rmse[st], rmse1, rtol=1e-12, equal_nan=True)
        assert used[st] == n1
    assert w[1, 2].max() == 0 and w[2, 4].max() == 0 and used[3] == 0 and used[4] == 5
    np.testing.assert_allclose(w[3], np.repeat(prior[:, None], h, axis=1))  # no history: the prior
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    # a member left out is as if it were not there: the same weights as the fit without it
    alone, _, _ = fit_weights(np.delete(errors[:, 1], 2, axis=1), BlendConfig(shrink_samples=0))
    with_nan, _, _ = fit_weights(errors[:, 1], BlendConfig(shrink_samples=0))
    np.testing.assert_allclose(np.delete(with_nan, 2, axis=0), alone, atol=1e-9)
