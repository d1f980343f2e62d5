"""Storms: the storm event table."""

from __future__ import annotations

import streamlit as st

from dashboards.common import csv_download, page, storm_table


def render() -> None:
    if page("Storms") is None:
        return
    df = storm_table()
    if df.empty:
        st.info("No storm (Kp ≥ 5-) in the data so far.")
        return
    st.dataframe(df)
    csv_download(df, "storms")


render()
