"""Skill: RMSE/MAE and skill vs the baselines, per station, group or global map."""

from __future__ import annotations

import streamlit as st

from dashboards.common import csv_download, page, skill


def render() -> None:
    if page("Skill") is None:
        return
    df = skill(None, None)
    if df.empty:
        st.info("No verification yet.")
        return
    scope = st.radio("Scope", ["station", "group", "global"], horizontal=True)
    view = df[(df.scope == scope) & (df.kp_class == "all")]
    table = view.groupby(["station_code", "model"])[["rmse", "mae", "skill_persistence", "skill_median27"]].mean()
    st.dataframe(table.round(3))
    csv_download(view, f"skill-{scope}")


render()
