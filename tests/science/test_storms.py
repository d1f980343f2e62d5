"""Storm events from Kp: known storms in the bundled real history come out with the right G class."""

from __future__ import annotations

import pandas as pd
import pytest

from swx.science.storms import STORM_KP, detect_storms, g_class, storm_days, storm_response
from swx.sources.indices.history import load_history


@pytest.fixture(scope="module")
def kp() -> pd.Series:
    return load_history().kp["kp"]


def _window(kp, a, b):
    return kp[(kp.index >= pd.Timestamp(a, tz="UTC")) & (kp.index < pd.Timestamp(b, tz="UTC"))]


def test_st_patricks_day_2015_is_one_g4_event(kp):
    events = detect_storms(_window(kp, "2015-03-15", "2015-03-21"))
    big = max(events, key=lambda e: e.max_kp)
    assert big.g_class == 4 and big.max_kp == pytest.approx(7.667, abs=1e-3)  # Kp 8- = 7.667: G4
    assert big.start == pd.Timestamp("2015-03-17T03:00", tz="UTC")  # SSC ~04:45 UT, Kp 5- from 03-06 UT
    assert big.start.date() <= pd.Timestamp("2015-03-17").date() < big.end.date() + pd.Timedelta(days=1)


def test_september_2017_storm_is_g4_and_quiet_days_have_none(kp):
    events = detect_storms(_window(kp, "2017-09-06", "2017-09-10"))
    assert max(e.g_class for e in events) == 4 and max(e.max_kp for e in events) == pytest.approx(8.333, abs=1e-3)
    assert detect_storms(_window(kp, "2020-01-05", "2020-01-12")) == []  # the quiet days of the shared GIMs


def test_quiet_gap_merges_intervals():
    t = pd.date_range("2020-01-01", periods=16, freq="3h", tz="UTC")
    values = [1, 5, 1, 1, 1, 6, 1, 1, 1, 1, 1, 1, 1, 1, 5.333, 1]
    s = pd.Series(values, index=t, dtype=float)
    assert len(detect_storms(s, quiet_gap=pd.Timedelta(hours=12))) == 2  # 03-06 and 15-18 merge; 42 h is apart
    merged = detect_storms(s, quiet_gap=pd.Timedelta(hours=12))[0]
    assert merged.start == t[1] and merged.end == t[5] + pd.Timedelta(hours=3) and merged.g_class == 2
    assert len(detect_storms(s, quiet_gap=pd.Timedelta(hours=3))) == 3


def test_response_peaks_and_stations():
    t = pd.date_range("2020-01-01", periods=8, freq="3h", tz="UTC")
    kp = pd.Series([1, 6, 6, 1, 1, 1, 1, 1], index=t, dtype=float)
    glob = pd.Series([0, 2, 5, 1, -4, -1, 0, 0], index=t, dtype=float)
    table = pd.DataFrame({"A": [0, 1, 9, 1, -9, 0, 0, 0], "B": [0, 1, 1, 1, -1, 0, 0, 0]}, index=t, dtype=float)
    ev = storm_response(detect_storms(kp), glob, table)[0]
    assert (ev.peak_pos_dtec, ev.peak_pos_time) == (5.0, t[2])
    assert (ev.peak_neg_dtec, ev.peak_neg_time) == (-4.0, t[4])  # in the recovery period after Kp fell
    assert ev.stations == ["A", "B"]
    row = ev.as_row()
    assert row["g_class"] == 2 and row["start"].tzinfo is not None


def test_one_storm_level_for_classes_days_and_events():
    """Kp 5- (14/3, also when stored as 4.667) is G1 and a storm day; 4+ (13/3) is neither."""
    assert [g_class(k) for k in (13 / 3, 14 / 3, 4.667, 17 / 3, 26 / 3, 9.0)] == [0, 1, 1, 2, 5, 5]
    kp = pd.Series([13 / 3, 4.667, 2.0], index=pd.to_datetime(["2015-03-16 03:00", "2015-03-17 06:00",
                                                              "2015-03-18 00:00"], utc=True))
    assert {str(d) for d in storm_days(kp)} == {"2015-03-17"}
    assert [e.g_class for e in detect_storms(kp)] == [1] and STORM_KP == 14 / 3


def test_forecast_capture_measures_a_missed_positive_phase():
    """The Storms page drew the forecast missing the 17 March 2015 positive phase without measuring
    it: at the observed peak the forecast's value, and its RMSE beside forecasting no response."""
    import numpy as np

    from swx.science.storms import forecast_capture

    t = pd.date_range("2015-03-17", periods=36, freq="2h", tz="UTC")
    observed = pd.Series(np.where((t.hour == 14) & (t.day == 17), 12.0, 1.0), index=t)
    forecast = pd.Series(0.5, index=t[:24])  # it ran for the first two days only
    cap = forecast_capture(observed, forecast, t[0], t[6])
    assert cap.phase == "positive" and cap.observed_peak == 12.0 and cap.forecast_at_peak == 0.5
    # the event (to 12 UT) and its 24 h recovery: 18 two-hourly times with both series
    assert cap.observed_peak_time == pd.Timestamp("2015-03-17 14:00", tz="UTC") and cap.n == 18
    assert cap.rmse_no_response == pytest.approx(np.sqrt((12.0 ** 2 + 17 * 1.0) / 18))
    assert cap.rmse == pytest.approx(np.sqrt((11.5 ** 2 + 17 * 0.25) / 18))
    assert forecast_capture(observed, forecast.iloc[:0], t[0], t[6]) is None
