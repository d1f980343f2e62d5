"""Storms: the storm event table; per event, Kp and Global ΔTEC (observed and forecast) curves and the
ΔTEC of the most affected stations."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards.charts import storm_panel
from dashboards.common import csv_download, dtec, global_dtec, kp, page, storm_table
from swx.store import queries as q


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """The event table as people read it: UTC times without offsets, Kp in thirds (5-), the G class,
    ΔTEC peaks in TECU to 0.1 with their times, the stations; "—" where a phase was not seen."""
    def when(t) -> str:
        return "—" if pd.isna(t) else f"{pd.Timestamp(t):%Y-%m-%d %H:%M}"

    def peak(v) -> str:
        return "—" if pd.isna(v) else f"{v:+.1f}"

    return pd.DataFrame({
        "start (UTC)": df["start"].map(when), "end (UTC)": df["end"].map(when),
        "max Kp": df["max_kp"].map(q.kp_label), "G-scale": df["g_class"].map(lambda g: f"G{g}"),
        "Kp status": df["kp_status"],
        "positive phase: peak Global ΔTEC (TECU)": df["peak_pos_dtec"].map(peak),
        "at (UTC)": df["peak_pos_time"].map(when),
        "negative phase: peak Global ΔTEC (TECU)": df["peak_neg_dtec"].map(peak),
        "at (UTC) ": df["peak_neg_time"].map(when),
        "most affected stations": df["stations"].map(lambda s: ", ".join(s or []) or "—"),
    })


def render() -> None:
    if page("Storms") is None:
        return
    df = storm_table()
    if df.empty:
        st.info("No storm (Kp ≥ 5-) in the data so far.")
        return
    st.dataframe(readable(df), hide_index=True)
    if (df["kp_status"] == "nowcast").any():
        st.caption("Kp status **nowcast**: the event's Kp includes nowcast values; its G class and span are "
                   "measured again when GFZ's definitive Kp arrives.")
    csv_download(df, "storms")
    labels = {i: f"{r.start:%Y-%m-%d %H:%M} UTC — G{r.g_class} (max Kp {q.kp_label(r.max_kp)}"
                 + (", nowcast" if r.kp_status == "nowcast" else "") + ")" for i, r in df.iterrows()}
    i = st.selectbox("Event", list(labels), format_func=labels.get)
    ev = df.loc[i]
    t0 = ev.start.to_pydatetime() - dt.timedelta(days=1)
    t1 = ev.end.to_pydatetime() + dt.timedelta(days=2)
    g = pd.concat([global_dtec(t0, t1, kind).assign(kind=kind) for kind in ("observed", "forecast")])
    top = list(ev.stations or [])
    per_station = dtec(t0, t1, "observed", tuple(top)) if top else pd.DataFrame(columns=["station", "time", "dtec"])
    c1, c2, c3 = st.columns(3)
    c1.metric("G-scale", f"G{ev.g_class}", help=f"max Kp {q.kp_label(ev.max_kp)}")
    if pd.notna(ev.peak_pos_dtec):
        c2.metric("Positive phase: peak Global ΔTEC", f"{ev.peak_pos_dtec:+.2f} TECU",
                  help=f"at {ev.peak_pos_time:%Y-%m-%d %H:%M} UTC")
    if pd.notna(ev.peak_neg_dtec):
        c3.metric("Negative phase: peak Global ΔTEC", f"{ev.peak_neg_dtec:+.2f} TECU",
                  help=f"at {ev.peak_neg_time:%Y-%m-%d %H:%M} UTC")
    _capture(g, ev)
    for chart in storm_panel(kp(t0, t1), g, per_station, f"Storm of {ev.start:%Y-%m-%d %H:%M} UTC", (t0, t1)):
        st.altair_chart(chart, width="stretch")
    missing = [kind for kind in ("observed", "forecast") if kind not in set(g["kind"])]
    if len(missing) == 2:
        st.info(f"No Global ΔTEC from {t0:%Y-%m-%d} to {t1:%Y-%m-%d}: the archive has no maps of these days "
                "(observed ΔTEC is computed for every archived day; forecast ΔTEC where a forecast ran).")
    elif missing:
        st.caption(f"No {missing[0]} Global ΔTEC in this window"
                   + (": no forecast ran for these days." if missing[0] == "forecast" else "."))
    if top:
        st.markdown("**Most affected stations** (largest |ΔTEC| in the event, strongest first): " + ", ".join(top))


def _capture(g: pd.DataFrame, ev: pd.Series) -> None:
    """The forecast's storm response measured, not only drawn: its value at the observed peak and its
    RMSE over the event beside forecasting no response."""
    series = {kind: g[g["kind"] == kind].set_index("time")["global_dtec"] for kind in ("observed", "forecast")}
    cap = q.forecast_capture(series["observed"], series["forecast"], ev.start, ev.end)
    if cap is None:
        return
    c1, c2 = st.columns(2)
    c1.metric(f"Forecast Global ΔTEC at the observed {cap.phase} peak", f"{cap.forecast_at_peak:+.1f} TECU",
              f"{cap.forecast_at_peak - cap.observed_peak:+.1f} TECU vs observed {cap.observed_peak:+.1f}",
              delta_color="off", help=f"at {cap.observed_peak_time:%Y-%m-%d %H:%M} UTC, the peak of the larger phase "
                                      "over the event and its recovery")
    c2.metric("Forecast Global ΔTEC, RMSE over the event", f"{cap.rmse:.1f} TECU",
              f"{cap.rmse / cap.rmse_no_response - 1:+.0%} vs no response ({cap.rmse_no_response:.1f})"
              if cap.rmse_no_response > 0 else None, delta_color="inverse",
              help=f"{cap.n} times with both observed and forecast ΔTEC; 'no response' forecasts ΔTEC 0 "
                   "(a quiet ionosphere): below it, the forecast caught some of the storm")


render()
