"""Stations: observed vTEC vs each architecture's forecasts, persistence and the 27-day median, Kp below."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards.common import (
    csv_download,
    day_start,
    kp,
    page,
    station_forecasts,
    station_series,
    stations,
)


def render() -> None:
    run = page("Stations")
    if run is None:
        return
    sts = stations()
    code = st.selectbox("Station", sts.code.tolist(), format_func=lambda c: f"{c} — "
                        + sts.set_index("code").loc[c, "name"])
    end_default = run["target_day"] + dt.timedelta(days=1)
    start, end = st.date_input("Dates (UTC)", (end_default - dt.timedelta(days=10), end_default))
    lo, hi = day_start(start), day_start(end)
    obs = station_series(code, lo, hi)
    fc = station_forecasts(code, lo, hi)
    frame = obs.set_index("time")[["vtec", "persistence", "median27"]].rename(
        columns={"vtec": "observed", "persistence": "persistence (24 h)", "median27": "27-day median"})
    for arch, g in fc.groupby("architecture"):
        latest = g.sort_values("run_id").drop_duplicates("valid_time", keep="last").set_index("valid_time")
        frame = frame.join(latest["mean"].rename(f"{arch.upper()} forecast"), how="outer")
    st.line_chart(frame)
    if len(fc) and fc["sigma"].notna().any():
        st.caption("68 % / 95 % intervals: mean ± 1 / 1.96 sigma (table below)")
    k = kp(lo, hi)
    if len(k):
        st.bar_chart(k.set_index("time")["kp"], height=160)
    csv_download(frame.reset_index(), f"station-{code}")


render()
