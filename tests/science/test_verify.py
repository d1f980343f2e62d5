"""Pooled skill summaries of stored verification rows, checked against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from swx.science.grid import away_from_points
from swx.science.verify import pooled_map_skill, pooled_skill, rolling_rmse


def _rows():
    day = [pd.Timestamp("2015-03-01", tz="UTC"), pd.Timestamp("2015-03-02", tz="UTC")]
    rows = []
    # station A: cnn rmse 1 then 3 (n 10 each); persistence 2 and 2; station B: cnn 2, persistence 4 (day 1 only)
    for st, d, model, n, rmse in [("A", 0, "cnn", 10, 1.0), ("A", 1, "cnn", 10, 3.0), ("A", 0, "persistence", 10, 2.0),
                                  ("A", 1, "persistence", 10, 2.0), ("B", 0, "cnn", 30, 2.0),
                                  ("B", 0, "persistence", 30, 4.0)]:
        rows.append(dict(scope="station", station_code=st, model=model, window_start=day[d], kp_class="all", n=n,
                         rmse=rmse, mae=rmse / 2, lat_band="low" if st == "A" else "mid"))
    return pd.DataFrame(rows)


def test_pooled_skill_weights_by_samples_and_scores_against_the_same_data():
    out = pooled_skill(_rows(), ["lat_band"]).set_index(["lat_band", "model"])
    a = out.loc[("low", "cnn")]
    assert a.n == 20 and a.rmse == pytest.approx(np.sqrt((10 * 1 + 10 * 9) / 20))
    assert a.skill_persistence == pytest.approx(1 - np.sqrt(100 / 80))
    b = out.loc[("mid", "cnn")]
    assert b.rmse == pytest.approx(2.0) and b.skill_persistence == pytest.approx(0.5)
    assert out.loc[("mid", "persistence")].skill_persistence == pytest.approx(0.0)
    every = pooled_skill(_rows(), []).set_index("model")
    assert every.loc["cnn"].rmse == pytest.approx(np.sqrt((10 + 90 + 120) / 50))
    assert every.loc["cnn"].mae == pytest.approx((10 * 0.5 + 10 * 1.5 + 30 * 1.0) / 50)


def test_rolling_rmse_tracks_the_trend_against_persistence():
    out = rolling_rmse(_rows(), days=2).set_index(["model", "day"])
    d1, d2 = pd.Timestamp("2015-03-01", tz="UTC"), pd.Timestamp("2015-03-02", tz="UTC")
    assert out.loc[("cnn", d1)].rmse == pytest.approx(np.sqrt((10 + 120) / 40))
    assert out.loc[("cnn", d2)].rmse == pytest.approx(3.0)
    assert out.loc[("cnn", d2)].rmse_2d == pytest.approx(np.sqrt((10 + 120 + 90) / 50))
    assert out.loc[("cnn", d2)].skill_2d == pytest.approx(1 - np.sqrt(220 / (40 + 480 + 40)))
    assert out.loc[("persistence", d2)].skill_2d == pytest.approx(0.0)


def test_crps_and_pit_of_gaussian_forecasts():
    """The CRPS (scoringrules) equals the closed form of a Gaussian; a calibrated forecast has a flat PIT
    histogram, an over-confident one a U-shaped histogram and a larger CRPS."""
    from math import erf, exp, pi, sqrt

    from swx.science.verify import PIT_BINS, scores

    def closed_form(y, mu, s):
        z = (y - mu) / s
        cdf, pdf = 0.5 * (1 + erf(z / sqrt(2))), exp(-z * z / 2) / sqrt(2 * pi)
        return s * (z * (2 * cdf - 1) + 2 * pdf - 1 / sqrt(pi))

    y, mu, s = np.array([21.0, 18.5, 30.0]), np.array([20.0, 20.0, 25.0]), np.array([1.0, 2.0, 4.0])
    r = scores(y, mu, sigma=s)
    assert r["crps"] == pytest.approx(np.mean([closed_form(*a) for a in zip(y, mu, s)]), rel=1e-9)
    assert sum(r["pit_hist"]) == 3 and len(r["pit_hist"]) == PIT_BINS
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 2, 20_000)
    good = scores(truth, np.zeros_like(truth), sigma=np.full_like(truth, 2.0))
    narrow = scores(truth, np.zeros_like(truth), sigma=np.full_like(truth, 0.5))
    flat = np.array(good["pit_hist"]) / len(truth)
    assert np.abs(flat - 1 / PIT_BINS).max() < 0.01
    u = np.array(narrow["pit_hist"])
    assert u[0] > 3 * u[PIT_BINS // 2] and u[-1] > 3 * u[PIT_BINS // 2] and narrow["crps"] > good["crps"]


def test_pooled_crps_is_sample_weighted():
    rows = pd.DataFrame({"station_code": ["A", "B", "A", "B"], "model": ["blend", "blend", "persistence", "persistence"],
                         "window_start": [1, 1, 1, 1], "kp_class": "all", "n": [10, 30, 10, 30],
                         "rmse": [1.0, 2.0, 2.0, 3.0], "mae": [1.0, 1.0, 1.0, 1.0], "crps": [0.5, 1.0, None, None]})
    out = pooled_skill(rows, []).set_index("model")
    assert out.loc["blend", "crps"] == pytest.approx((0.5 * 10 + 1.0 * 30) / 40) and np.isnan(out.loc["persistence", "crps"])


def test_the_scores_of_several_models_at_once_are_each_models_own():
    """`scores_of_models` (one pass over all the models of a verification group) gives each model the
    scores computed directly: on the points where it, the truth and both baselines exist; the
    correlation as numpy's, NaN for a constant series; coverage, CRPS and the PIT histogram of the
    models with a sigma only."""
    from scipy.stats import norm

    from swx.science.verify import PIT_BINS, Z68, Z95, scores_of_models

    rng = np.random.default_rng(7)
    n = 300
    y = rng.normal(20, 5, n)
    y[::17] = np.nan
    pers, med = y + rng.normal(0, 3, n), y + rng.normal(0, 4, n)
    pers[::23] = np.nan
    preds = {"a": y + rng.normal(0.5, 2, n), "b": y + rng.normal(-1, 1, n), "flat": np.full(n, 3.0)}
    preds["a"][::5] = np.nan
    sigmas = {"a": np.full(n, 2.0), "b": rng.uniform(0.5, 2, n), "flat": None}
    sigmas["b"][::7] = np.nan  # an undefined sigma: not covered, left out of the CRPS
    got = scores_of_models(y, preds, persistence=pers, median27=med, sigmas=sigmas)
    for name, p in preds.items():
        ok = np.isfinite(y) & np.isfinite(pers) & np.isfinite(med) & np.isfinite(p)
        err = p[ok] - y[ok]
        r = got[name]
        assert r["n"] == ok.sum()
        assert r["rmse"] == pytest.approx(np.sqrt(np.mean(err ** 2)), rel=1e-12)
        assert r["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
        assert r["bias"] == pytest.approx(np.mean(err), rel=1e-12, abs=1e-12)
        rp = np.sqrt(np.mean((pers[ok] - y[ok]) ** 2))
        assert r["rmse_persistence"] == pytest.approx(rp, rel=1e-12)
        assert r["skill_vs_median27"] == pytest.approx(1 - r["rmse"] / np.sqrt(np.mean((med[ok] - y[ok]) ** 2)))
        if name == "flat":
            assert np.isnan(r["corr"]) and "coverage68" not in r and "crps" not in r
            continue
        assert r["corr"] == pytest.approx(np.corrcoef(y[ok], p[ok])[0, 1], rel=1e-10)
        s = sigmas[name][ok]
        assert r["coverage68"] == pytest.approx(np.mean(np.abs(err) <= Z68 * s))
        assert r["coverage95"] == pytest.approx(np.mean(np.abs(err) <= Z95 * s))
        good = np.isfinite(s)
        z = (y[ok][good] - p[ok][good]) / s[good]
        crps = s[good] * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))
        assert r["crps"] == pytest.approx(crps.mean(), rel=1e-9)
        assert r["pit_hist"] == list(np.histogram(norm.cdf(z), bins=PIT_BINS, range=(0, 1))[0])


def test_pooled_map_skill_compares_on_the_days_the_persistence_map_has():
    day = [pd.Timestamp("2015-03-15", tz="UTC") + pd.Timedelta(days=k) for k in range(3)]
    rows = pd.DataFrame({
        "model": ["map:residual"] * 3 + ["map:persistence"] * 2,
        "station_code": "global", "window_start": day + day[:2], "n": 100,
        "rmse_area": [4.0, 2.0, 9.0, 5.0, 1.0],
        "coverage68": [0.6, 0.8, None, None, None], "coverage95": [0.9, 0.95, None, None, None],
        "crps": [2.0, 1.0, None, None, None]})
    got = pooled_map_skill(rows).set_index("model")
    mine = got.loc["map:residual"]
    assert mine.days == 3 and mine.days_compared == 2 and mine.days_better == 1
    assert mine.rmse == pytest.approx(np.sqrt((16 + 4) / 2))  # the third day has no persistence map
    assert mine.skill_persistence == pytest.approx(1 - np.sqrt(10) / np.sqrt(13))
    assert mine.coverage68 == pytest.approx(0.7) and mine.crps == pytest.approx(1.5)  # over the days with them


def test_away_from_points_is_the_great_circle_distance():
    lat, lon = np.array([0.0, 10.0, 30.0]), np.array([0.0, 10.0, 20.0])
    away = away_from_points(lat, lon, np.array([0.0]), np.array([0.0]), km=1000.0)
    assert not away[0, 0] and away[2, 2]
    # 10 degrees of longitude at the equator: 1112 km
    assert away[0, 1] and not away_from_points(lat, lon, np.array([0.0]), np.array([0.0]), km=1200.0)[0, 1]


def test_a_day_without_one_score_has_no_rmse_by_model():
    """An eleventh round: `swx verify` on a day whose forecast had no verifying value at its times
    ended in "'DataFrame' object has no attribute 'kp_class'"."""
    import pandas as pd

    from swx.science.verify import station_rmse_by_model

    assert station_rmse_by_model(pd.DataFrame()).empty
