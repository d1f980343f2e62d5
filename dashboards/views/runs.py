"""Runs & models: the run history with each run's provenance (code version, settings hash, Prefect flow
run, the model versions and the input files with checksums) and the model registry (active, rejected
and retired versions, and why)."""

from __future__ import annotations

import streamlit as st

from dashboards.common import csv_download, no_runs, page, provenance, registry, runs


def render() -> None:
    if page("Runs & models") is None:
        return
    r = runs()
    if r.empty:
        no_runs()
        return
    st.subheader("Runs")
    st.dataframe(r, hide_index=True)
    csv_download(r, "runs")

    labels = {int(x.id): f"run {x.id}: forecast for {x.target_day}, issued {x.issue_time:%Y-%m-%d %H:%M} UTC "
                         f"({x.status})" for x in r.itertuples()}
    run_id = st.selectbox("Provenance of run", list(labels), format_func=labels.get)
    prov = provenance(run_id)
    run = prov["run"]
    st.markdown(f"**Code version** `{run['code_version'] or 'unknown'}` · **Settings hash** "
                f"`{run['settings_hash'] or '—'}` · **Prefect flow run** `{run['flow_run_id'] or '—'}`")
    models, inputs = prov["models"], prov["inputs"]
    st.markdown(f"**Model versions** ({len(models)})")
    st.dataframe(models, hide_index=True)
    csv_download(models, f"run-{run_id}-models")
    st.markdown(f"**Input files** ({len(inputs)}; sha256 of each file as the run read it)")
    st.dataframe(inputs, hide_index=True)
    csv_download(inputs, f"run-{run_id}-inputs")

    st.subheader("Model registry (active versions and the latest others)")
    reg = registry()
    status = st.multiselect("Status", sorted(reg.status.unique()), default=sorted(reg.status.unique()))
    shown = reg[reg.status.isin(status)]
    st.dataframe(shown[["station", "architecture", "version", "status", "reason", "val_rmse", "created_at",
                        "checkpoint_sha256"]], hide_index=True)
    csv_download(shown, "models")


render()
