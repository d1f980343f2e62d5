"""Pooled skill summaries of stored verification rows, checked against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from swx.verify import pooled_skill, rolling_rmse


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
