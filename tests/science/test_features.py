"""Features: bilinear extraction (exact at nodes), the 2-hour grid, Kp by nearest neighbour, gaps,
windows without look-ahead, scalers fitted on training data only."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from swx.io.ionex import read_ionex
from swx.science.features import (
    Scaler,
    bilinear_weights,
    chronological_split,
    extract_stations,
    feature_matrix,
    fill_single_gaps,
    kp_on_grid,
    make_windows,
    time_encodings,
    to_two_hourly,
)
from swx.science.stations import Station, load_catalog
from swx.sources.indices.history import load_history
from tests.helpers import make_gim


def st(code, lat, lon):
    return Station(code, code, lat, lon, "0", "mid", "land")


def test_bilinear_is_exact_at_nodes_and_linear_between(ionex_dir):
    ds = read_ionex(ionex_dir / "codg0080.20i.Z")  # hourly: 25 maps
    stations = [st("NODE", 40.0, 10.0), st("MID", 41.25, 12.5), st("DATE", 40.0, 180.0), st("WRAP", 40.0, -180.0)]
    out = extract_stations(ds, stations)
    assert list(out.time.drop_duplicates().dt.hour) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 0]  # even hours
    node = out[out.station == "NODE"].vtec.to_numpy()
    np.testing.assert_allclose(node, ds.tec.sel(lat=40.0, lon=10.0).values[::2], rtol=1e-6)
    mid = out[out.station == "MID"].vtec.to_numpy()
    corners = ds.tec.sel(lat=[40.0, 42.5], lon=[10.0, 15.0]).values[::2]
    np.testing.assert_allclose(mid, corners.mean(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(out[out.station == "DATE"].vtec, out[out.station == "WRAP"].vtec)


def test_bilinear_weights_ascending_and_periodic():
    lat = np.arange(-87.5, 87.6, 2.5)
    lon = np.arange(-180, 180.1, 5.0)
    (i0, i1, j0, j1), w = bilinear_weights(lat, lon, 1.25, 182.5)  # 182.5 E = -177.5
    assert lat[i0] == 0.0 and lat[i1] == 2.5 and lon[j0] == -180 and lon[j1] == -175
    np.testing.assert_allclose(w, [0.25, 0.25, 0.25, 0.25])
    with pytest.raises(ValueError):
        bilinear_weights(lat, lon, 89.0, 0.0)


def test_two_hourly_grid_from_hourly_and_finer_series():
    t = pd.date_range("2017-01-01", periods=48, freq="h", tz="UTC")
    s = pd.Series(np.arange(48.0) + 1, index=t)
    s.iloc[5] = 0.0  # a missing map stored as 0
    s.iloc[9] = 9999.0
    s.iloc[13] = 1e-320  # a ninth round: a zero written as a subnormal number was stored as a measurement
    g, counts = to_two_hourly(s)
    assert g.index[1] - g.index[0] == pd.Timedelta(hours=2) and g.iloc[0] == 1.0 and g.iloc[1] == 3.0
    assert counts["invalid"] == 3
    fine = pd.Series(10.0, index=pd.date_range("2017-01-01 00:00", periods=240, freq="30s", tz="UTC"))
    g2, _ = to_two_hourly(fine)
    assert g2.iloc[0] == 10.0
    with pytest.raises(ValueError, match="timezone-aware"):
        to_two_hourly(pd.Series([1.0], index=pd.DatetimeIndex(["2017-01-01"])))


def test_single_gaps_are_filled_and_counted_longer_gaps_stay():
    s = pd.Series([1.0, np.nan, 3.0, np.nan, np.nan, 6.0])
    f, n = fill_single_gaps(s)
    assert n == 1 and f.iloc[1] == 2.0 and f.iloc[3:5].isna().all()


def test_kp_nearest_neighbour_on_the_two_hour_grid():
    kp = load_history().kp["kp"]
    times = pd.date_range("2015-03-17", periods=12, freq="2h", tz="UTC")
    got = kp_on_grid(kp, times)
    day = kp.loc["2015-03-17"].to_numpy()  # 2.0 4.667 5.667 5.333 7.667 7.667 7.333 7.667
    # 00 -> Kp1, 02 -> Kp1 (00-03), 04 -> Kp2, 06 -> Kp3, 08 -> Kp3, 10 -> Kp4, 12 -> Kp5, ...
    np.testing.assert_allclose(got[:7], [day[0], day[0], day[1], day[2], day[2], day[3], day[4]])


def test_encodings_follow_local_time():
    t = pd.DatetimeIndex(["2015-03-17 12:00"], tz="UTC")
    at_greenwich, at_180 = time_encodings(t, 0.0), time_encodings(t, 180.0)
    assert at_greenwich[0, 0] == pytest.approx(0.0, abs=1e-9) and at_greenwich[0, 1] == pytest.approx(-1.0)
    assert at_180[0, 1] == pytest.approx(1.0)  # midnight local time


def test_windows_never_look_ahead_and_skip_gaps():
    t = pd.date_range("2015-01-01", periods=60, freq="2h", tz="UTC")
    vt = pd.Series(np.arange(60.0), index=t)
    vt.iloc[40] = np.nan
    feats = feature_matrix(vt, load_history().kp["kp"], lon=0.0)
    x, y, issue = make_windows(feats, 12, 12)
    for k in range(len(x)):
        t0 = issue[k]
        assert x[k, -1, 0] == vt[t0]  # the last input is the issue time
        assert y[k, 0] == vt[t0 + pd.Timedelta(hours=2)]  # the first target is the next step
        assert (feats.loc[:t0, "vtec"].iloc[-12:].to_numpy() == x[k, :, 0]).all()
    assert not any(t0 + pd.Timedelta(hours=2) <= t[40] <= t0 + pd.Timedelta(hours=24) for t0 in issue)
    assert not any(t0 - pd.Timedelta(hours=22) <= t[40] <= t0 for t0 in issue)


def test_second_day_windows_take_hours_26_to_48_and_the_same_inputs():
    """Lead day 2: the inputs end at the issue time as for day 1; the targets are the 12 steps of the
    day after the next (hours 26-48), and a gap anywhere in them drops the window."""
    t = pd.date_range("2015-01-01", periods=80, freq="2h", tz="UTC")
    vt = pd.Series(np.arange(80.0), index=t)
    vt.iloc[60] = np.nan
    feats = feature_matrix(vt, load_history().kp["kp"], lon=0.0)
    x, y, issue = make_windows(feats, 12, 12, skip=12)
    assert len(issue)
    for k in range(len(x)):
        t0 = issue[k]
        assert x[k, -1, 0] == vt[t0]  # the same inputs, ending at the issue time
        assert y[k, 0] == vt[t0 + pd.Timedelta(hours=26)] and y[k, -1] == vt[t0 + pd.Timedelta(hours=48)]
    assert not any(t0 + pd.Timedelta(hours=26) <= t[60] <= t0 + pd.Timedelta(hours=48) for t0 in issue)
    assert issue[-1] + pd.Timedelta(hours=48) <= t[-1]


def test_split_is_chronological_and_scaler_uses_training_only():
    tr, va, te = chronological_split(10000)
    assert (tr.stop, va.stop, te.stop) == (9801, 9900, 10000)
    x = np.concatenate([np.zeros((100, 12, 2)), np.full((10, 12, 2), 1000.0)]).astype(np.float32)
    sc = Scaler.fit(x[:100])
    assert sc.mean == [0.0, 0.0] and sc.std == [1.0, 1.0]  # the test-like block does not leak in
    back = Scaler.from_dict(sc.to_dict())
    np.testing.assert_allclose(back.inverse(back.transform(x)[..., 0]), x[..., 0])
    with pytest.raises(ValueError):
        chronological_split(2)


def test_catalog_extraction_from_a_simulated_like_day():
    ds = make_gim(dt.date(2015, 3, 17), hours=2)
    out = extract_stations(ds, load_catalog())
    assert out.station.nunique() == 18 and len(out) == 18 * 13 and out.vtec.notna().all()


def test_median_ahead_input_uses_no_future_values():
    t = pd.date_range("2015-01-01", periods=40 * 12, freq="2h", tz="UTC")
    rng = np.random.default_rng(1)
    s = pd.Series(20 + rng.normal(0, 3, len(t)), index=t)
    kp = load_history().kp["kp"]
    base = feature_matrix(s, kp, lon=0.0)
    assert "median27_ahead" in base and base["median27_ahead"].notna().all()  # defined up to the last time
    t0 = t[300]
    changed = s.copy()
    changed[changed.index > t0] += 50.0  # everything after the issue time changes
    after = feature_matrix(changed, kp, lon=0.0)
    pd.testing.assert_frame_equal(base.loc[:t0], after.loc[:t0])  # inputs up to t0 do not move
    same_ut = [s[t0 - pd.Timedelta(days=k)] for k in range(27) if t0 - pd.Timedelta(days=k) >= t[0]]
    assert base.loc[t0, "median27_ahead"] == pytest.approx(float(np.median(same_ut)))
