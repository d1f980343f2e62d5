"""Runs & models: the run history with each run's provenance (code version, settings hash, Prefect flow
run, the model versions and the input files with checksums) and the model registry (active, rejected
and retired versions, and why)."""

from __future__ import annotations

import streamlit as st

from dashboards.common import csv_download, no_runs, page, provenance, registry, run_label, runs
from swx.store import queries as q

#: The run table's columns shown by default (the rest on request and in the CSV): what an operator
#: reads first, each sized so that no column is cut off at 1280 px.
RUN_COLUMNS = ["id", "target_day", "lead_day", "issue_time", "finished_at", "status", "reason", "data_source"]
PROVENANCE_COLUMNS = ["flow_run_id", "code_version", "settings_hash", "created_at"]


def _text(label: str, width: str = "medium", help: str | None = None):
    return st.column_config.TextColumn(label, width=width, help=help)


def render() -> None:
    if page("Runs & models") is None:
        return
    r = runs()
    if r.empty:
        no_runs()
        return
    st.subheader("Runs")
    more = st.toggle("Show each run's provenance columns (flow run, code version, settings hash, times)")
    shown = r[RUN_COLUMNS + (PROVENANCE_COLUMNS if more else [])]
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "id": st.column_config.NumberColumn("run", width="small"),
        "target_day": st.column_config.DateColumn("forecast for", width="small"),
        "lead_day": st.column_config.NumberColumn(
            "lead", width="small", help=f"The day after the newest maps it forecasts: 1, the next UT day (hours "
            f"{q.lead_span(1)} after the cutoff); 2, tomorrow's forecast (hours {q.lead_span(2)}), or the next day's "
            "from maps a day late"),
        "issue_time": st.column_config.DatetimeColumn(
            "data to (UTC)", format="YYYY-MM-DD HH:mm", width="medium",
            help="The information cutoff: the epoch of the newest map the run used (not when it was made)"),
        "status": _text("status", "small"),
        "reason": _text("why degraded or failed", "medium", "Every reason the run is not ok; hover a cell to read "
                        "it whole"),
        "data_source": _text("maps", "small", "The GIM centre the run's inputs came from (sim: simulated)"),
        "created_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "finished_at": st.column_config.DatetimeColumn(
            "published (UTC)", format="YYYY-MM-DD HH:mm", width="medium",
            help="When the run finished: its products were out from then on (a failed run published nothing)"),
    })
    csv_download(r, "runs")

    labels = {int(x.id): run_label(x, f"data to {x.issue_time:%Y-%m-%d %H:%M} UTC") for x in r.itertuples()}
    run_id = st.selectbox("Provenance of run", list(labels), format_func=labels.get)
    prov = provenance(run_id)
    run = prov["run"]
    st.markdown(f"**Code version** `{run['code_version'] or 'unknown'}` · **Settings hash** "
                f"`{run['settings_hash'] or '—'}` · **Prefect flow run** `{run['flow_run_id'] or '—'}`")
    models, inputs = prov["models"], prov["inputs"]
    st.markdown(f"**Model versions** ({len(models)})")
    st.dataframe(models, hide_index=True, width="stretch", column_config={
        "checkpoint_sha256": _text("checkpoint sha256", "medium"),
        "val_rmse": st.column_config.NumberColumn("validation RMSE (TECU)", format="%.2f"),
        "created_at": st.column_config.DatetimeColumn("trained (UTC)", format="YYYY-MM-DD HH:mm")})
    csv_download(models, f"run-{run_id}-models")
    st.markdown(f"**Input files** ({len(inputs)}; sha256 of each file as the run read it"
                + ("; the maps are SIMULATED" if run.get("data_source") == q.SIMULATED_CENTRE else "") + ")")
    st.dataframe(inputs, hide_index=True, width="stretch", column_config={
        "level": _text("level", "small", "final, rapid or predicted as the centre published it; simulated for the "
                       "demo's maps"),
        "sha256": _text("sha256", "medium"), "path": _text("path", "medium")})
    csv_download(inputs, f"run-{run_id}-inputs")

    st.subheader("Model registry (active versions and the latest others)")
    reg = registry()
    status = st.multiselect("Status", sorted(reg.status.unique()), default=sorted(reg.status.unique()))
    shown = reg[reg.status.isin(status)]
    st.dataframe(shown[["station", "architecture", "version", "status", "reason", "val_rmse", "created_at",
                        "checkpoint_sha256"]], hide_index=True, width="stretch", column_config={
        "reason": _text("why", "large"), "val_rmse": st.column_config.NumberColumn("validation RMSE (TECU)",
                                                                                   format="%.2f"),
        "created_at": st.column_config.DatetimeColumn("trained (UTC)", format="YYYY-MM-DD HH:mm"),
        "checkpoint_sha256": _text("checkpoint sha256", "medium")})
    csv_download(shown, "models")


render()
