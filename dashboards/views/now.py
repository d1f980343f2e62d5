"""Now: the latest run's status, Kp and the storm level, Global ΔTEC observed and forecast."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards.common import day_start, global_dtec, kp, page


def render() -> None:
    run = page("Now")
    if run is None:
        return
    status = run["status"]
    text = f"Run {run['id']} — forecast for **{run['target_day']}**, issued {run['issue_time']:%Y-%m-%d %H:%M} UTC"
    if status == "ok":
        st.success(f"{text}: ok")
    elif status == "degraded":
        st.warning(f"{text}: DEGRADED — {run['reason']}")
    else:
        st.error(f"{text}: {status.upper()} {run['reason']}")
    if run["data_source"] == "sim":
        st.caption("Input maps: SIMULATED demo archive (not observations).")
    t1 = day_start(run["target_day"]) + dt.timedelta(days=1)
    t0 = t1 - dt.timedelta(days=4)
    k = kp(t0, t1)
    if len(k):
        last = k.dropna(subset=["kp"]).iloc[-1]
        g = int(last.g_class)
        c1, c2 = st.columns(2)
        c1.metric("Latest Kp" + (" (nowcast)" if last.nowcast else ""), f"{last.kp:.2f}",
                  help=f"3-hour interval from {last.time:%Y-%m-%d %H:%M} UTC; status {last.status}"
                       + (": GFZ's definitive value replaces it later" if last.nowcast else ""))
        c2.metric("NOAA G-scale", f"G{g}" if g else "below storm level")
        if g:
            st.error(f"Geomagnetic storm: G{g} (Kp {last.kp:.2f} ≥ 5-)")
    obs = global_dtec(t0, t1, "observed")
    fc = global_dtec(t0, t1, "forecast")
    if len(obs) or len(fc):
        chart = pd.concat([obs.set_index("time")["global_dtec"].rename("observed"),
                           fc.set_index("time")["global_dtec"].rename("forecast (next 24 h)")], axis=1)
        st.subheader("Global ΔTEC (mean over stations, TECU, vs the 27-day median)")
        st.line_chart(chart)


render()
