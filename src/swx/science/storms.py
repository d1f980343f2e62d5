"""Geomagnetic storm events from Kp, and the ionosphere's response to each (from Global ΔTEC).

A storm is Kp >= 5- (NOAA G1); its G class is set by the event's maximum Kp. Storm intervals closer
than a quiet gap are one event (a storm with a short lull is still one storm for an operator).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

#: NOAA G-scale thresholds on Kp (G1 = Kp 5-, ... G5 = Kp 9-).
G_SCALE_KP = {1: 14 / 3, 2: 17 / 3, 3: 20 / 3, 4: 23 / 3, 5: 26 / 3}
#: The storm level: Kp 5- (NOAA G1).
STORM_KP = G_SCALE_KP[1]
_KP_TOLERANCE = 1e-6  # Kp is in thirds: 14/3 stored and read back must still count as 5-


def at_least(kp, threshold: float):
    """kp >= threshold on the Kp scale (thirds): a bool or a boolean array/series."""
    return kp >= threshold - _KP_TOLERANCE


def g_class(kp: float) -> int:
    """NOAA G-scale class (0 = below storm level) for a Kp value."""
    return max((level for level, threshold in G_SCALE_KP.items() if at_least(kp, threshold)), default=0)


def storm_days(kp: pd.Series, threshold: float = STORM_KP) -> set[dt.date]:
    """UT days whose maximum Kp reaches the storm level (Kp >= 5-, NOAA G1)."""
    daily = kp.groupby(pd.DatetimeIndex(kp.index).normalize()).max()
    return {t.date() for t, v in daily.items() if at_least(v, threshold)}

KP_INTERVAL = pd.Timedelta(hours=3)


@dataclass
class StormEvent:
    start: pd.Timestamp  # start of the first 3-hour interval at storm level (UTC)
    end: pd.Timestamp  # end of the last one
    max_kp: float
    g_class: int
    peak_pos_dtec: float | None = None
    peak_pos_time: pd.Timestamp | None = None
    peak_neg_dtec: float | None = None
    peak_neg_time: pd.Timestamp | None = None
    stations: list[str] = field(default_factory=list)

    def as_row(self) -> dict:
        def py(t):
            return None if t is None or pd.isna(t) else pd.Timestamp(t).to_pydatetime()

        return dict(start=py(self.start), end=py(self.end), max_kp=float(self.max_kp), g_class=int(self.g_class),
                    peak_pos_dtec=self.peak_pos_dtec, peak_pos_time=py(self.peak_pos_time),
                    peak_neg_dtec=self.peak_neg_dtec, peak_neg_time=py(self.peak_neg_time),
                    stations=list(self.stations))


def detect_storms(kp: pd.Series, *, threshold: float = STORM_KP,
                  quiet_gap: pd.Timedelta = pd.Timedelta(hours=12)) -> list[StormEvent]:
    """Storm events in a 3-hourly Kp series (index = interval start, UTC)."""
    s = kp.dropna().sort_index()
    storm = s[at_least(s, threshold)]
    events: list[StormEvent] = []
    for t, v in storm.items():
        t = pd.Timestamp(t)
        if events and t - events[-1].end < quiet_gap:
            ev = events[-1]
            ev.end = t + KP_INTERVAL
            if v > ev.max_kp:
                ev.max_kp, ev.g_class = float(v), g_class(float(v))
        else:
            events.append(StormEvent(t, t + KP_INTERVAL, float(v), g_class(float(v))))
    return events


#: After a storm's Kp falls, the ionosphere's negative phase goes on: its response is measured this much longer.
RECOVERY = pd.Timedelta(hours=24)


def storm_response(events: list[StormEvent], global_dtec: pd.Series, station_dtec: pd.DataFrame | None = None, *,
                   recovery: pd.Timedelta = RECOVERY, top: int = 5) -> list[StormEvent]:
    """Fill each event's peak positive and negative Global ΔTEC (and their times) and the stations
    most affected (largest mean |ΔTEC|), over the event plus a `recovery` period after it (the
    ionosphere's negative phase outlasts Kp). `station_dtec` is a time x station table."""
    g = global_dtec.dropna()
    for ev in events:
        lo, hi = ev.start, ev.end + recovery
        w = g[(g.index >= lo) & (g.index < hi)]
        if len(w) and w.max() > 0:
            ev.peak_pos_dtec, ev.peak_pos_time = float(w.max()), w.idxmax()
        if len(w) and w.min() < 0:
            ev.peak_neg_dtec, ev.peak_neg_time = float(w.min()), w.idxmin()
        if station_dtec is not None:
            sw = station_dtec[(station_dtec.index >= lo) & (station_dtec.index < hi)]
            if len(sw):
                strength = sw.abs().mean().dropna().sort_values(ascending=False)
                ev.stations = [str(c) for c in strength.index[:top]]
    return events


@dataclass
class ForecastCapture:
    """How the forecast Global ΔTEC followed the observed one over an event, at the times both have."""

    n: int
    rmse: float  # forecast ΔTEC against observed ΔTEC (TECU)
    rmse_no_response: float  # a forecast of no storm response (ΔTEC 0): the observed ΔTEC's RMS
    observed_peak: float | None  # the observed phase peak (signed TECU) and the forecast's value then
    observed_peak_time: pd.Timestamp | None
    forecast_at_peak: float | None
    phase: str  # "positive" or "negative": the larger observed phase


def forecast_capture(observed: pd.Series, forecast: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
                     *, recovery: pd.Timedelta = RECOVERY) -> ForecastCapture | None:
    """Measure what a chart of an event shows by eye: over the event and its recovery, the RMSE of the
    forecast Global ΔTEC against the observed one beside that of forecasting no response (0), and the
    forecast's value at the observed peak of the larger phase. None when the two share no time."""
    both = pd.concat({"obs": observed, "fc": forecast}, axis=1).dropna()
    both = both[(both.index >= start) & (both.index < end + recovery)]
    if both.empty:
        return None
    err = both["fc"] - both["obs"]
    pos, neg = both["obs"].max(), both["obs"].min()
    phase = "positive" if abs(pos) >= abs(neg) else "negative"
    when = both["obs"].idxmax() if phase == "positive" else both["obs"].idxmin()
    return ForecastCapture(len(both), float((err ** 2).mean() ** 0.5), float((both["obs"] ** 2).mean() ** 0.5),
                           float(both["obs"][when]), when, float(both["fc"][when]), phase)
