"""What every dashboard page shares: the database engine and the cached `swx.store.queries` calls
(one-minute TTL), and small helpers. The dashboard reads the database only through these."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import streamlit as st

from swx.store import queries as q

RUN_COMMAND = "make run"
TTL = 60
REGISTRY_RECENT = 500  # model versions shown beside the active ones


@st.cache_resource
def engine():
    return q.configured_engine()


@st.cache_data(ttl=TTL)
def latest_run() -> dict | None:
    return q.latest_run(engine())


@st.cache_data(ttl=10)
def database_state() -> tuple[str, str]:
    return q.database_state()


@st.cache_data(ttl=TTL)
def runs(limit: int = 200) -> pd.DataFrame:
    return q.runs(engine(), limit)


@st.cache_data(ttl=TTL)
def stations() -> pd.DataFrame:
    return q.stations(engine())


@st.cache_data(ttl=TTL)
def kp(start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    return q.kp_series(engine(), start, end)


@st.cache_data(ttl=TTL)
def global_dtec(start: dt.datetime, end: dt.datetime, kind: str) -> pd.DataFrame:
    return q.global_dtec(engine(), start, end, kind)


@st.cache_data(ttl=TTL)
def station_series(code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    return q.station_series(engine(), code, start, end)


@st.cache_data(ttl=TTL)
def blend_weights(run_id: int) -> pd.DataFrame:
    return q.blend_weights(engine(), run_id)


@st.cache_data(ttl=TTL)
def station_forecasts(code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    return q.station_forecasts(engine(), code, start, end)


@st.cache_data(ttl=TTL)
def map_blend_weights(run_id: int) -> pd.DataFrame:
    return q.map_blend_weights(engine(), run_id)


@st.cache_data(ttl=TTL)
def run_map_scores(run_id: int) -> pd.DataFrame:
    return q.run_map_scores(engine(), run_id)


@st.cache_data(ttl=TTL)
def products(run_id: int) -> pd.DataFrame:
    return q.global_products(engine(), run_id)


@st.cache_data(ttl=TTL)
def product_problems(run_id: int) -> list[str]:
    """What is wrong with a run's published files (the `swx status` rule): [] when they are as published."""
    return q.product_problems(engine(), run_id)


@st.cache_data(ttl=TTL)
def gim_file(centre: str, day: dt.date) -> str | None:
    return q.gim_file(engine(), centre, day)


@st.cache_data(ttl=TTL)
def skill(start: dt.datetime | None, end: dt.datetime | None, lead_day: int = 1) -> pd.DataFrame:
    """The scores of what was published (walk-forward) for one lead day: never a re-run of models over
    their own past."""
    return q.skill_table(engine(), start=start, end=end, published=True, lead_day=lead_day)


@st.cache_data(ttl=TTL)
def storm_table() -> pd.DataFrame:
    return q.storms(engine())


@st.cache_data(ttl=TTL)
def registry() -> pd.DataFrame:
    return q.model_registry(engine(), recent=REGISTRY_RECENT)


@st.cache_data(ttl=TTL)
def forecast_bands(code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    return q.station_forecast_bands(engine(), code, start, end)


@st.cache_data(ttl=TTL)
def dtec(start: dt.datetime, end: dt.datetime, kind: str, codes: tuple[str, ...] | None = None) -> pd.DataFrame:
    return q.dtec_series(engine(), start, end, kind, list(codes) if codes is not None else None)


@st.cache_data(ttl=TTL)
def provenance(run_id: int) -> dict:
    return q.run_provenance(engine(), run_id)


@st.cache_data(ttl=TTL * 60)
def coastlines() -> pd.DataFrame:
    """Coastline polylines for Altair maps (offline, from swx's land mask)."""
    return q.coastlines(1.0)


@st.cache_data(ttl=TTL)
def verification_span() -> tuple[dt.datetime, dt.datetime] | None:
    return q.verification_span(engine())


@st.cache_data(ttl=TTL * 10, max_entries=64)
def map_frame(nc: str, truth_path: str | None, when: str) -> pd.DataFrame:
    """One valid time of a product as a table of grid cells (lat, lon, vtec, sigma, dtec), with the
    verifying GIM and the error when it holds that time: what the interactive maps draw and show on hover."""
    return q.product_frame(nc, truth_path, when)


@st.cache_data(ttl=TTL * 10)
def product_times(nc: str) -> list[str]:
    return q.product_times(nc)


@st.cache_data(ttl=TTL)
def newest_tomorrow_run() -> dict | None:
    """The newest forecast of the day after of any daily run (None where the site never made one)."""
    return q.latest_run(engine(), lead_day=2)


def readable_product(nc: str) -> list[str] | None:
    """The valid times of a run's product, or None with a warning naming it where the file is gone or
    cannot be read (emptied, overwritten): the rest of the page still renders."""
    if not Path(nc).is_file():
        st.warning(f"The product file of this run is no longer on disk: {nc}")
        return None
    try:
        return product_times(nc)
    except q.SwxError as exc:
        st.warning(f"The product of this run cannot be read — {exc}. Run its forecast again (`swx forecast`).")
        return None


@st.cache_data(ttl=TTL)
def verdict(lead_day: int = 1) -> dict:
    """The latest run's verdict (ok / degraded / unhealthy and why), by `swx status`'s own rule; with
    `lead_day` 2, of tomorrow's forecast (its run as `run`, None where none was ever made)."""
    return q.latest_verdict(lead_day)


def day_start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC)


def csv_download(df: pd.DataFrame, name: str) -> None:
    st.download_button(f"Download {name} (CSV)", df.to_csv(index=False).encode(), f"{name}.csv", "text/csv",
                       key=f"csv-{name}")


def page(title: str) -> dict | None:
    """Start a page: its title, then the latest run — or None (the page then stops) with what is
    wrong: the database cannot be read (an outage, said so, with what to check), or there is none or
    no run yet (the friendly "no runs yet")."""
    st.title(title)
    kind, detail = database_state()
    if kind == "down":
        st.error(f"**The database cannot be read** — this is an outage, not an empty system: {detail}.")
        return None
    if kind == "missing":
        st.info(f"No database yet ({detail}).")
        return None
    if kind == "schema":
        st.error(f"**The database is not swx's at this revision** — not an outage: {detail}.")
        return None
    run = latest_run() if kind == "ok" else None
    if run is None:
        no_runs()
    elif run["data_source"] == q.SIMULATED_CENTRE:
        st.warning("**SIMULATED data** — these maps, forecasts and scores come from swx's simulated demo archive, "
                   "not from observations.")
    return run


def run_label(run, detail: str = "") -> str:
    """A run as a picker shows it: its id, the day it forecasts and, beyond the next day, its lead day
    (2: tomorrow's forecast, made a day earlier), `detail`, its status."""
    lead = int(run.lead_day)
    return (f"run {run.id}: forecast for {run.target_day}" + (f", lead day {lead}" if lead != 1 else "")
            + (f", {detail}" if detail else "") + f" ({run.status})")


def newest_next_day(r: pd.DataFrame) -> int:
    """The position in `runs()` of the newest next-day run (lead day 1), what a picker opens on; 0 when
    there is none."""
    first = (r["lead_day"].to_numpy() == 1).nonzero()[0]
    return int(first[0]) if len(first) else 0


def no_runs() -> None:
    st.info(f"No forecast runs yet — run `{RUN_COMMAND}` (the daily flow on the offline demo) and reload.")


