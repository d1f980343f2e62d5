"""The node models: features known at issue time, a ridge per node that finds a real signal, chooses its
penalty on held-out blocks of days, shrinks to its prior when there is nothing to learn, and refuses a
grid or cadence it was not trained on."""

from __future__ import annotations

import numpy as np
import pytest

from swx.science.nodes import (
    KP_STEPS,
    NodeInputs,
    NodeModelError,
    NodeRidge,
    n_features,
    node_features,
    node_forecast,
    training_set,
)
from swx.science.verify import MAP_PRIOR_PERSISTENCE_WEIGHT

E, NLAT, NLON = 5, 4, 6


def _days(n: int, seed: int = 0, *, memory: float = 0.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n days of small maps whose anomaly against a fixed climate persists from day to day (an AR(1)
    with coefficient `memory` per node), so tomorrow's departure from the prior is predictable."""
    rng = np.random.default_rng(seed)
    climate = 10 + 5 * rng.random((E, NLAT, NLON))
    anomaly = np.zeros((E, NLAT, NLON))
    maps = []
    for _ in range(n):
        anomaly = memory * anomaly + rng.normal(0, 1.0, anomaly.shape)
        maps.append(climate + anomaly)
    doy = (np.arange(n) % 365) + 1
    kp = rng.uniform(0, 4, (n, KP_STEPS))
    return np.asarray(maps, np.float32), doy, kp


def test_features_are_the_issue_days_anomaly_kp_and_season_with_an_intercept():
    latest = np.full((E, NLAT, NLON), 12.0)
    median = np.full((E, NLAT, NLON), 10.0)
    kp = np.arange(KP_STEPS, dtype=float)
    x = node_features(NodeInputs(latest, median, kp, 100))
    assert x.shape == (NLAT * NLON, n_features(E)) and x.dtype == np.float32
    # the anomaly at every epoch but the next midnight: at the node, around it, in its region, the globe's
    np.testing.assert_allclose(x[:, :4 * (E - 1)], 2.0)
    level = 4 * (E - 1)
    np.testing.assert_allclose(x[:, level], 10.0)  # the median's level
    np.testing.assert_allclose(x[0, level + 1:level + 1 + KP_STEPS], kp / 9.0)
    later = latest.copy()
    later[-1] = 99.0  # the issue day's last map is the target day's first epoch: not an input
    np.testing.assert_array_equal(node_features(NodeInputs(later, median, kp, 100)), x)
    np.testing.assert_allclose(x[:, -1], 1.0)
    prior = NodeInputs(latest, median, kp, 100).prior()
    np.testing.assert_allclose(prior, MAP_PRIOR_PERSISTENCE_WEIGHT * 12 + (1 - MAP_PRIOR_PERSISTENCE_WEIGHT) * 10)


def test_the_neighbourhood_anomalies_are_local_means_and_the_globe_the_mean():
    latest = np.zeros((E, NLAT, NLON))
    latest[:, 1, 2] = 9.0  # one node stands out
    x = node_features(NodeInputs(latest, np.zeros_like(latest), np.zeros(KP_STEPS), 1))
    node = lambda i, j: i * NLON + j  # noqa: E731
    own, near, region, globe = (x[:, k * (E - 1)] for k in range(4))
    assert own[node(1, 2)] == 9.0 and own[node(0, 0)] == 0.0
    assert near[node(1, 2)] == pytest.approx(1.0) and near[node(0, 3)] == pytest.approx(1.0)  # 9 / (3 x 3)
    assert near[node(3, 2)] == 0.0  # two rows away
    assert globe[0] == pytest.approx(9.0 / (NLAT * NLON)) and np.ptp(globe) == 0
    # the region: 7 rows clamped at the poles, 13 columns around a 6-column globe (each column twice, one
    # three times): every node of the region gets a share, the standing-out node's own row the most
    assert (region > 0).all() and region[node(1, 2)] == pytest.approx(9.0 * 3 / (7 * 13))


def test_training_set_uses_only_the_issue_day_and_before():
    maps, doy, kp = _days(80)
    x, y, issued = training_set(maps, doy, kp)
    assert len(x) == len(y) == len(issued) and issued[0] == 13  # 14 days for the first 27-day median
    i = 40
    k = int(np.flatnonzero(issued == i)[0])
    changed = maps.copy()
    changed[i + 1:] += 50.0  # whatever comes after the issue day changes no feature of it
    x2, y2, _ = training_set(changed, doy, kp)
    np.testing.assert_array_equal(x2[k], x[k])
    assert not np.allclose(y2[k], y[k])  # the target is the next day's
    missing = maps.copy()
    missing[i + 1] = np.nan
    _, _, issued3 = training_set(missing, doy, kp)
    assert i not in issued3 and i + 1 not in issued3  # no target, and no complete input


def test_a_predictable_departure_is_learnt_and_beats_the_prior_out_of_sample():
    maps, doy, kp = _days(400)
    x, y, _ = training_set(maps[:300], doy[:300], kp[:300])
    model = NodeRidge().fit(x, y)
    assert model.cv_rmse_ < 0.95 * model.cv_rmse_prior_
    assert model.sigma_.shape == (NLAT * NLON, E) and np.all(model.sigma_ > 0)
    # later days the model never saw: its forecast beats the prior (and persistence) there
    xt, yt, _ = training_set(maps[280:], doy[280:], kp[280:])
    err = np.stack([model.predict(xi) for xi in xt]) - yt
    assert np.sqrt(np.mean(err ** 2)) < 0.95 * np.sqrt(np.mean(yt ** 2))
    # its out-of-fold sigma is of the size of its errors on unseen days
    assert 0.7 < np.sqrt(np.mean(err ** 2)) / np.sqrt(np.mean(model.sigma_ ** 2)) < 1.3


def test_with_nothing_to_learn_the_model_stays_near_its_prior():
    maps, doy, kp = _days(300, memory=0.75)  # the prior already carries all there is to know
    x, y, _ = training_set(maps, doy, kp)
    model = NodeRidge().fit(x, y)
    # the departures it forecasts are small beside the departures themselves
    pred = np.stack([model.predict(xi) for xi in x[-50:]])
    assert np.sqrt(np.mean(pred ** 2)) < 0.6 * np.sqrt(np.mean(y[-50:] ** 2))
    assert model.cv_rmse_ <= 1.05 * model.cv_rmse_prior_


def test_too_few_days_and_another_grid_are_refused_in_one_line():
    maps, doy, kp = _days(40)
    x, y, _ = training_set(maps, doy, kp)
    with pytest.raises(NodeModelError, match="training day"):
        NodeRidge().fit(x, y)
    maps, doy, kp = _days(200)
    x, y, _ = training_set(maps, doy, kp)
    model = NodeRidge().fit(x, y)
    other = NodeInputs(np.ones((E, NLAT + 1, NLON)), np.ones((E, NLAT + 1, NLON)), kp[0], 1)
    with pytest.raises(NodeModelError, match="cannot forecast maps"):
        node_forecast(model, other)
    tec, sigma = node_forecast(model, NodeInputs(maps[-1], maps[-27:].mean(axis=0), kp[-1], 10))
    assert tec.shape == sigma.shape == (E, NLAT, NLON) and (tec >= 0).all()


def test_the_node_networks_forecast_window_is_the_station_models_window_at_22_ut():
    """The node network learns from station-model windows at sampled nodes and forecasts from windows
    built for every node at once: the two must be the same window, feature for feature."""
    import datetime as dt

    import pandas as pd

    from swx.science.nodes import NET_FEATURES, issue_inputs, net_inputs, net_training_windows

    rng = np.random.default_rng(4)
    n_days, epochs = 40, 13  # 2-hourly, both midnights, as a day's map file
    lat, lon = np.array([60.0, 0.0, -45.0]), np.array([-150.0, -30.0, 0.0, 90.0])
    hours = np.arange(n_days * 12) * 2
    cycle = 20 + 8 * np.sin(2 * np.pi * (hours[:, None, None] / 24.0 + lon[None, None, :] / 360.0))
    series = (cycle + rng.normal(0, 1, (len(hours), len(lat), len(lon)))).astype(np.float32)
    maps = np.stack([np.concatenate([series[12 * d:12 * d + 12], series[12 * d + 12:12 * d + 13]
                                     if d < n_days - 1 else series[-1:]]) for d in range(n_days)])
    assert maps.shape == (n_days, epochs, len(lat), len(lon))
    first = dt.date(2015, 2, 1)
    days = [first + dt.timedelta(days=k) for k in range(n_days)]
    kp = pd.Series(rng.uniform(0, 6, n_days * 8), index=pd.date_range("2015-02-01", periods=n_days * 8, freq="3h", tz="UTC"))
    kp_days = kp.to_numpy().reshape(n_days, KP_STEPS)
    doy = np.array([d.timetuple().tm_yday for d in days])
    i, inp = list(issue_inputs(maps, doy, kp_days))[-3]
    mine = net_inputs(inp, days[i], lat, lon)  # (nodes, 12, F)
    assert mine.shape == (len(lat) * len(lon), epochs - 1, len(NET_FEATURES))
    times = pd.date_range("2015-02-01", periods=len(hours), freq="2h", tz="UTC")
    node = 1 * len(lon) + 2  # the equator at 0°E
    x, y, issued = net_training_windows(series[:, 1, 2:3], times, kp, lat[1:2], lon[2:3], windows_per_node=10_000)
    at = np.flatnonzero(issued == (pd.Timestamp(days[i], tz="UTC") + pd.Timedelta(hours=22)).as_unit("ns").value)
    assert len(at) == 1
    np.testing.assert_allclose(mine[node], x[at[0]], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y[at[0]], maps[i + 1][:-1, 1, 2], rtol=1e-6)  # the target day's 00..22 UT


def test_the_network_reads_no_nan_and_the_ridge_stands_where_it_has_no_value():
    """After an outage the 27-day median is missing at some epochs: persistence stands in (as in the
    ridge's prior), so the network's window has no NaN; where the network still gives none, and at the
    last epoch it does not cover, the node map is the ridge's."""
    import datetime as dt

    from swx.science.nodes import net_inputs, with_known_median, with_network

    rng = np.random.default_rng(2)
    latest = (10 + rng.random((13, NLAT, NLON))).astype(np.float32)
    median = latest + 1
    median[3:6] = np.nan
    inp = NodeInputs(latest, median, rng.uniform(0, 5, KP_STEPS), 80)
    known = with_known_median(inp)
    np.testing.assert_array_equal(known.median27[3:6], latest[3:6])
    np.testing.assert_array_equal(known.median27[:3], median[:3])
    lat, lon = np.linspace(60, -60, NLAT), np.linspace(-150, 150, NLON)
    assert np.isfinite(net_inputs(known, dt.date(2015, 3, 20), lat, lon)).all()
    ridge = (20 + rng.random((13, NLAT, NLON)))
    net = ridge[:12] + 2.0
    net[0, 0, 0] = np.nan
    out = with_network(ridge, net)
    np.testing.assert_allclose(out[1:12], ridge[1:12] + 1.0)  # the mean of the two
    assert out[0, 0, 0] == ridge[0, 0, 0] and out[12].tolist() == ridge[12].tolist()


def test_a_window_relative_to_its_level_keeps_its_shape_and_floors_the_polar_night():
    from swx.science.features import FEATURES
    from swx.science.nodes import NET_FEATURES, NET_LEVEL_FLOOR_TECU, relative_windows

    rng = np.random.default_rng(5)
    x = rng.uniform(0.5, 2.0, (3, 12, len(NET_FEATURES))).astype(np.float32)
    v, m = FEATURES.index("vtec"), FEATURES.index("median27_ahead")
    x[0, :, [v, m]] *= 40.0  # the crests
    x[2, :, v] = 0.2  # a polar night below the floor
    y = rng.uniform(0.5, 2.0, (3, 12)).astype(np.float32)
    xr, yr, level = relative_windows(x, y)
    np.testing.assert_allclose(level[:2], x[:2, :, v].mean(axis=1), rtol=1e-6)
    assert level[2] == NET_LEVEL_FLOOR_TECU
    np.testing.assert_allclose(xr[:, :, v] * level[:, None], x[:, :, v], rtol=1e-6)
    np.testing.assert_allclose(xr[:, :, m] * level[:, None], x[:, :, m], rtol=1e-6)
    np.testing.assert_allclose(yr * level[:, None], y, rtol=1e-6)
    others = [k for k in range(len(NET_FEATURES)) if k not in (v, m)]
    np.testing.assert_array_equal(xr[:, :, others], x[:, :, others])  # Kp, time, latitude as they were
    assert xr[0, :, v].mean() == pytest.approx(1.0, rel=1e-5)
