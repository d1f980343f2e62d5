"""Skill: RMSE, MAE and skill against persistence and the 27-day median per station, architecture,
latitude band, surface or Kp class over a chosen window and lead (the next day, hours 2-24 after the
cutoff, or tomorrow's forecasts, hours 26-48, against the baselines known at the same cutoff), and the
trend of the rolling error (is the daily incremental update helping?)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import streamlit as st

from dashboards.charts import pit_chart, trend_chart
from dashboards.common import csv_download, day_start, page, skill, verification_span
from swx.store import queries as q

#: the leads a forecaster picks from: each lead day's forecasts beside the baselines at the same lead
LEADS = {f"the next day ({q.lead_span(1)} h after the cutoff)": 1,
         f"tomorrow, a day ahead ({q.lead_span(2)} h after the cutoff)": 2}
#: the tables' groupings, pooled first (what a forecaster reads first); one station's rows on request
GROUPS = {"all stations (pooled)": [], "latitude band": ["lat_band"], "surface": ["surface"], "Kp class": ["kp_class"],
          "station": ["station_code"]}
#: skill columns shown as percentages (the CLI's "+17 %"); the numbers stay fractions (CSV, sorting)
PERCENT = {"skill vs persistence", "skill vs 27-day median", "skill vs persistence map", "68 % band holds",
           "95 % band holds"}


def percent_columns(table: pd.DataFrame) -> dict:
    """Streamlit column formats: the skill and coverage columns as percentages."""
    return {c: st.column_config.NumberColumn(c, format="percent") for c in table.columns if c in PERCENT}
#: what a forecaster reads, for the columns of the skill tables
COLUMNS = {"n": "forecasts", "rmse": "RMSE (TECU)", "mae": "MAE (TECU)", "crps": "CRPS (TECU)",
           "skill_persistence": "skill vs persistence", "skill_median27": "skill vs 27-day median",
           "station_code": "station", "lat_band": "latitude band", "kp_class": "Kp class", "model": "model"}


#: the map table's columns, as a forecaster reads them
MAP_COLUMNS = {"model": "map", "rmse": "RMSE (TECU)", "rmse_persistence": "persistence map RMSE",
               "skill_persistence": "skill vs persistence map", "days": "days verified",
               "days_better": "days better", "days_compared": "days beside persistence", "coverage68": "68 % band holds", "coverage95": "95 % band holds",
               "crps": "CRPS (TECU)"}


def pit_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The stored PIT histograms summed per model: model, bin, count, fraction."""
    have = rows[rows["pit_hist"].notna()] if "pit_hist" in rows else rows.iloc[:0]
    out = []
    for model, g in have.groupby("model"):
        counts = np.sum(np.stack([np.asarray(h, float) for h in g["pit_hist"]]), axis=0)
        out.append(pd.DataFrame({"model": model, "bin": np.arange(1, len(counts) + 1), "count": counts.astype(int),
                                 "fraction": counts / counts.sum()}))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["model", "bin", "count", "fraction"])


def render() -> None:
    if page("Skill") is None:
        return
    span = verification_span()
    if span is None:
        st.info("No verification yet: the daily flow verifies each day once its GIM is in.")
        return
    first, last = span[0].date(), span[1].date()
    default_start = max(first, last - dt.timedelta(days=30))
    chosen = st.date_input("Window (UTC days)", (default_start, last), min_value=first, max_value=last)
    if not isinstance(chosen, tuple) or len(chosen) != 2:
        st.info("Pick the end date too.")
        return
    picked = st.radio("Lead", list(LEADS), horizontal=True, key="skill-lead",
                      help="Hours after the information cutoff (the newest map used). Persistence and the 27-day "
                           "median are scored at the same lead: as known at the cutoff.")
    lead_day = LEADS[picked]
    df = skill(day_start(chosen[0]), day_start(chosen[1] + dt.timedelta(days=1)), lead_day)
    stations = df[df.scope == "station"]
    if stations.empty:
        st.info(f"No station verification of {picked} in this window.")
    else:
        station_skill(stations, chosen, lead_day)
    map_skill(df)


def station_skill(stations: pd.DataFrame, chosen: tuple[dt.date, dt.date], lead_day: int = 1) -> None:
    """The station forecasts' tables, reliability and trend."""
    by = st.radio("Per", list(GROUPS), horizontal=True, key="skill-per")
    rows = stations if by == "Kp class" else stations[stations.kp_class == "all"]
    pooled = q.skill_by(rows, GROUPS[by]).rename(columns=COLUMNS)
    table = pooled.set_index([COLUMNS[c] for c in GROUPS[by]] + ["model"]).round(3)
    hours = f"{q.lead_span(lead_day)} h after the cutoff"
    st.subheader(f"Station forecasts, {hours}, {chosen[0]} to {chosen[1]}")
    st.caption("The forecasts as they were published, each issued before its day (walk-forward); the test "
               "windows of `swx train` and the re-runs of `swx evaluate` are not shown here.")
    st.dataframe(table, column_config=percent_columns(table))
    rivals = q.rival_labels(stations["model"].unique())
    if rivals:
        st.caption("Rivals, scored on the same stations and times: " + "; ".join(
            f"**{m}** = {label}, its forecast of the same day, made on no more information" for m, label in
            rivals.items()) + ".")
    st.caption("Pooled over the window (RMSE from the sample-weighted mean square); skill = 1 − RMSE / RMSE of "
               "the baseline on the same samples: above 0 beats it. CRPS: of the Gaussian (mean, sigma) forecast, "
               "for the forecasts with a sigma (lower is better; it equals the MAE for a forecast without spread).")
    csv_download(table.reset_index(), f"skill-{by.replace(' ', '-')}")

    pit = pit_frame(stations[stations.kp_class == "all"])
    if len(pit):
        st.subheader("Reliability: PIT histograms of the forecasts with a sigma")
        st.altair_chart(pit_chart(pit), width="stretch")
        st.caption("Where each observation fell in its forecast distribution. Flat (the dashed line): calibrated; "
                   "U-shaped: too confident (intervals too narrow); domed: intervals too wide.")

    days = st.slider("Rolling window (days)", 1, 30, 7)
    trend = q.skill_trend(stations[stations.kp_class == "all"], days)
    st.subheader("Is the daily update helping? Trailing error and skill over time")
    for chart in trend_chart(trend, days):
        st.altair_chart(chart, width="stretch")



def map_skill(df: pd.DataFrame) -> None:
    """The global maps' table: the published map, its members and the persistence map, pooled."""
    maps = q.map_skill(df[df.kp_class == "all"])
    if len(maps):
        st.subheader("Global maps: what GNSS users download, against the verifying GIM")
        maps.loc[maps.model == "map:persistence", ["days_better", "days_compared"]] = None  # it is the reference
        mtable = maps.rename(columns=MAP_COLUMNS).set_index(["region", "map"]).round(3)
        st.dataframe(mtable, column_config=percent_columns(mtable))
        st.caption("Pooled over the window, every epoch, nodes weighted by cos(latitude) (the globe's area). "
                   "`map:residual` (or the method's name) is the published map; `map:nodes` (the node models' "
                   "forecast), `map:corrected` (the node map corrected by the station blend) and `map:median27` are its "
                   "members, blended with weights fitted on the maps verified before each day. Coverage: the share "
                   "of the verifying values inside the published 68 % / 95 % bands (the IONEX RMS maps); "
                   f"`away_from_stations`: nodes over {q.AWAY_KM:.0f} km from every station.")
        csv_download(mtable.reset_index(), "skill-maps")

render()
