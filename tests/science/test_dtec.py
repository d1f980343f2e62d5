"""ΔTEC against the 27-day median of previous days, on a small real series (CODE vTEC at 10E, 2015)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from swx.science.dtec import delta_tec, global_dtec, global_dtec_frame, median_reference, station_dtec_frame


@pytest.fixture(scope="module")
def real_series(shared_data) -> pd.DataFrame:
    """Jan-Feb 2015, 2-hourly, three latitudes (10N, 40N, 70N at 10E), real CODE values."""
    d = pd.read_csv(shared_data / "real-series" / "randa-code-10E-3lat" / "Training_data_VTEC.csv", sep=";")
    d.columns = [c.strip() for c in d.columns]
    t = pd.to_datetime(d.Year.astype(str) + "-" + d.DOY.astype(str), format="%Y-%j", utc=True) + \
        pd.to_timedelta(d.Hour, unit="h")
    wide = pd.DataFrame({"N10": d["VTEC_10N"].to_numpy(), "N40": d["VTEC_40N"].to_numpy(),
                         "N70": d["VTEC_70N"].to_numpy()}, index=t)
    return wide[(wide.index < "2015-03-01") & (wide.index.hour % 2 == 0)]


def test_reference_is_the_median_of_the_27_previous_days_by_hand(real_series):
    t = pd.Timestamp("2015-02-10T12:00", tz="UTC")
    by_hand = np.median([real_series.loc[t - pd.Timedelta(days=k), "N10"] for k in range(1, 28)])
    long = station_dtec_frame(real_series, pd.DatetimeIndex([t]))
    row = long[long.station == "N10"].iloc[0]
    assert row.reference == pytest.approx(by_hand)
    observed = real_series.loc[t, "N10"]
    assert row.dtec == pytest.approx(observed - by_hand)
    assert row.dtec_rel == pytest.approx(100 * (observed - by_hand) / by_hand)
    # read off the file with awk (DOY 14..40 at 12 UT, sorted: the 14th of 27 is 62.8; DOY 41: 76.6)
    assert by_hand == pytest.approx(62.8) and observed == pytest.approx(76.6)


def test_reference_never_uses_the_day_scored(real_series):
    t = pd.DatetimeIndex(real_series.index[(real_series.index >= "2015-02-10") & (real_series.index < "2015-02-11")])
    before = station_dtec_frame(real_series, t)
    spoiled = real_series.copy()
    spoiled.loc[t] = 500.0  # a wild day: its own reference must not move
    after = station_dtec_frame(spoiled, t)
    np.testing.assert_allclose(before.reference, after.reference)
    assert (after.dtec > 400).all()


def test_too_few_previous_days_give_no_reference(real_series):
    early = pd.DatetimeIndex(real_series.index[:12])  # 1 January: nothing before it
    long = station_dtec_frame(real_series, early)
    assert long.reference.isna().all() and long.dtec.isna().all()


def test_forecast_dtec_compares_forecast_tec_with_the_observed_reference(real_series):
    t = pd.DatetimeIndex([pd.Timestamp("2015-02-20T12:00", tz="UTC")])
    fc = pd.DataFrame({"N10": [40.0], "N40": [10.0], "N70": [3.0]}, index=t)
    long = station_dtec_frame(real_series, t, tec=fc)
    ref = long.set_index("station").reference
    np.testing.assert_allclose(long.set_index("station").dtec, fc.iloc[0] - ref)


def test_global_dtec_is_the_mean_over_stations():
    d, rel = delta_tec(np.array([[12.0, 8.0, np.nan]]), np.array([[10.0, 10.0, 10.0]]))
    g, grel = global_dtec(d, rel)
    assert g[0] == pytest.approx(0.0) and grel[0] == pytest.approx(0.0)
    d, rel = delta_tec(np.array([[15.0, 12.0]]), np.array([[10.0, 0.5]]))
    assert np.isnan(rel[0, 1])  # below 1 TECU the relative ΔTEC is undefined
    g, grel = global_dtec(d, rel)
    assert g[0] == pytest.approx(8.25) and grel[0] == pytest.approx(50.0)


def test_global_frame_and_grid_reference(real_series):
    long = station_dtec_frame(real_series)
    g = global_dtec_frame(long)
    t = pd.Timestamp("2015-02-10T12:00", tz="UTC")
    assert g.loc[t, "global_dtec"] == pytest.approx(long[long.time == t].dtec.mean())
    assert g.loc[t, "n_stations"] == 3
    # the same reference on a (time, lat, lon) array: the grid path equals the station path
    hist = real_series.to_numpy()[:, :, None, None] * np.ones((1, 1, 2, 3))
    ref = median_reference(hist.reshape(len(real_series), 3, 6)[:, :, 0], real_series.index.tz_localize(None)
                           .to_numpy(), np.array([np.datetime64("2015-02-10T12:00")]))
    assert ref[0, 0] == pytest.approx(long[(long.time == t) & (long.station == "N10")].reference.iloc[0])


def test_the_median_of_the_finite_values_is_numpys_nanmedian():
    """The reference's median (one sort, the middle of the finite values) is np.nanmedian, gaps and
    all-missing columns included."""
    import warnings

    from swx.science.dtec import nan_median_first_axis

    rng = np.random.default_rng(3)
    for n in (1, 2, 5, 27):
        stack = rng.normal(20, 5, (n, 4, 6, 7))
        stack[rng.random(stack.shape) < 0.3] = np.nan
        stack[:, 0, 0, 0] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = np.nanmedian(stack, axis=0)
        np.testing.assert_array_equal(nan_median_first_axis(stack), want)
