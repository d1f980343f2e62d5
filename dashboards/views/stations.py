"""Stations: observed vTEC vs the published blend and each model's forecasts with 68 %/95 % bands,
persistence and the 27-day median, Kp below on the same time axis, and the blend's current weights;
pick a station from the list or on the map."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards.charts import station_map, station_panel
from dashboards.common import (
    blend_weights,
    coastlines,
    csv_download,
    day_start,
    forecast_bands,
    kp,
    page,
    station_series,
    stations,
)


def render() -> None:
    run = page("Stations")
    if run is None:
        return
    sts = stations()
    codes = sts.code.tolist()
    names = sts.set_index("code")["name"]
    st.session_state.setdefault("station", codes[0])
    # a click on the map (its selection state, as of this rerun) picks the station before anything is drawn
    clicked = ((st.session_state.get("station_map") or {}).get("selection") or {}).get("station") or []
    picked = [p.get("code") for p in clicked if p.get("code") in codes]
    if picked and picked[0] != st.session_state.get("_map_pick"):  # a new click, not the one already applied
        st.session_state["_map_pick"] = picked[0]
        st.session_state["station"] = picked[0]
    st.altair_chart(station_map(sts, coastlines(), st.session_state["station"]), on_select="rerun",
                    key="station_map", selection_mode="station", width="stretch")
    code = st.selectbox("Station", codes, key="station", format_func=lambda c: f"{c} — {names[c]}")

    end_default = run["target_day"] + dt.timedelta(days=1)
    chosen = st.date_input("Dates (UTC)", (end_default - dt.timedelta(days=10), end_default))
    if not isinstance(chosen, tuple) or len(chosen) != 2:
        st.info("Pick the end date too.")
        return
    lo, hi = day_start(chosen[0]), day_start(chosen[1])
    obs = station_series(code, lo, hi)
    if len(obs):  # one analysis centre: the run's, else the first one stored
        centre = run["data_source"] if run["data_source"] in set(obs.centre) else sorted(set(obs.centre))[0]
        obs = obs[obs.centre == centre]
    observed = obs[["time", "vtec", "persistence", "median27"]].rename(
        columns={"vtec": "observed", "persistence": "persistence (24 h)", "median27": "27-day median"})
    bands = forecast_bands(code, lo, hi)
    if observed.empty and bands.empty:
        st.info(f"No observations or forecasts for {code} between {chosen[0]} and {chosen[1]}.")
        return
    members = sorted(set(bands.architecture) - {"blend"})
    extra = st.multiselect("Also show the members", members, default=[],
                           help="The models the published blend combines, as thin lines (no bands)")
    shown_bands = bands[bands.architecture.isin(["blend", *extra])]
    for chart in station_panel(observed, shown_bands, kp(lo, hi), f"{code} — {names[code]}", (lo, hi)):
        st.altair_chart(chart, width="stretch")
    st.caption("The published forecast (the blend): the freshest per valid time; shaded: its 68 % and 95 % "
               "intervals (stored quantiles, else mean ± 0.99 / 1.96 sigma), cut at zero TEC.")
    weights = blend_weights(int(run["id"]))
    mine = weights[weights.station == code]
    if len(mine):
        shown = (mine.groupby("member").agg(weight=("weight", "mean"), verified=("n_samples", "max"))
                 .sort_values("weight", ascending=False).reset_index())
        n = int(shown.verified.max())
        st.subheader("The published blend: weights of the latest run")
        st.dataframe(shown.rename(columns={"member": "source", "weight": "weight (mean over leads)",
                                           "verified": "verified issue times"}),
                     hide_index=True, width="stretch")
        st.caption(f"Fitted on the {n} verified forecasts of the last 30 days (never the day forecast); "
                   "0 means no history yet, equal weights." if n else
                   "No verified forecasts yet: equal weights.")
    table = observed.merge(bands.rename(columns={"valid_time": "time"}), on="time", how="outer")
    csv_download(table, f"station-{code}")


render()
