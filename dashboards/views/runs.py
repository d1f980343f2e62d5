"""Runs & models: run history with provenance, the model registry."""

from __future__ import annotations

import streamlit as st

from dashboards.common import csv_download, no_runs, page, registry, runs


def render() -> None:
    if page("Runs & models") is None:
        return
    r = runs()
    if r.empty:
        no_runs()
        return
    st.subheader("Runs")
    st.dataframe(r)
    csv_download(r, "runs")
    st.subheader("Model registry")
    reg = registry()
    st.dataframe(reg[["station", "architecture", "version", "status", "reason", "val_rmse", "created_at"]])
    csv_download(reg, "models")


render()
