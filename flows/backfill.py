"""Backfill: the daily stages over a date range, chunked, idempotent and resumable (a day whose run
finished is skipped; a killed backfill resumes where it stopped and duplicates nothing), parallel on
Dask: a LocalCluster by default, an existing cluster at SWX_DASK_ADDRESS."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger
from prefect_dask import DaskTaskRunner

from flows import tasks
from swx.config import get_settings
from swx.errors import InputError
from swx.pipeline.status import completed_days

STEPS = ("ingest", "forecast", "verify", "storms")


def _runner() -> DaskTaskRunner:
    s = get_settings()
    if s.dask_address:
        return DaskTaskRunner(address=s.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": s.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="swx-backfill", task_runner=_runner())
def backfill(start: dt.date, end: dt.date, steps: list[str] | None = None, chunk_days: int = 10,
             force: bool = False) -> dict:
    log = get_run_logger()
    steps = list(steps or STEPS)
    unknown = set(steps) - set(STEPS)
    if unknown:
        raise InputError(f"unknown steps {sorted(unknown)}; choose from {STEPS}")
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    done = set() if force else completed_days(get_settings(), start, end)
    todo = [d for d in days if d not in done]
    log.info("backfill %s .. %s: %d day(s), %d already done, steps %s", start, end, len(days), len(done), steps)
    # SQLite (the embedded default) is one file for one process: its stages run here, one at a time.
    # PostgreSQL takes the Dask workers' concurrent writes.
    parallel = not get_settings().resolved_database_url.startswith("sqlite")
    if not parallel:
        log.info("SQLite database: stages run in this process, one day at a time (use PostgreSQL for Dask)")

    def run(task, items):
        if parallel:
            return [f.result() for f in task.map(items)]
        return [task(x) for x in items]

    out = {"days": len(days), "skipped": len(done), "forecasts": 0, "parallel": parallel}
    if "ingest" in steps:
        tasks.ingest_kp()
        run(tasks.ingest_gims, [days[i:i + chunk_days] for i in range(0, len(days), chunk_days)])
    for i in range(0, len(todo), chunk_days):
        chunk = todo[i:i + chunk_days]
        if "forecast" in steps:
            out["forecasts"] += len(run(tasks.forecast, chunk))
        if "verify" in steps:
            run(tasks.verify, chunk)
        log.info("backfill: %d/%d day(s) done", min(i + chunk_days, len(todo)), len(todo))
    if "storms" in steps:
        tasks.storms(start, end)
    return out
