"""Backfill: the daily stages over a date range (`swx.pipeline.backfill`, the stage `swx backfill`
runs), its chunks mapped on Dask — a LocalCluster by default, an existing cluster at
SWX_DASK_ADDRESS. Idempotent and resumable: finished days are skipped, a killed backfill resumes at
the first unfinished chunk and ends identical to an uninterrupted one."""

from __future__ import annotations

import datetime as dt

import dask
from prefect import flow, get_run_logger, unmapped
from prefect_dask import DaskTaskRunner

from flows import tasks
from swx.config import BACKFILL_CHUNK_DAYS, DASK_CONFIG, get_settings
from swx.pipeline.backfill import check_range, check_steps, pending_days, update_days
from swx.pipeline.days import chunked, daterange


def _runner() -> DaskTaskRunner:
    dask.config.set(DASK_CONFIG)  # before the LocalCluster's nannies read it
    s = get_settings()
    if s.dask_address:
        return DaskTaskRunner(address=s.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": s.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="swx-backfill", task_runner=_runner())
def backfill(start: dt.date, end: dt.date, steps: list[str] | None = None, chunk_days: int = BACKFILL_CHUNK_DAYS,
             force: bool = False, replay_updates: bool = False) -> dict:
    log = get_run_logger()
    steps = check_steps(steps)
    check_range(start, end, chunk_days)
    settings = get_settings()
    days = daterange(start, end)
    # SQLite (the embedded default) is one file for one process: its stages run here, one at a time.
    # PostgreSQL takes the Dask workers' concurrent writes.
    parallel = not settings.resolved_database_url.startswith("sqlite")
    if not parallel:
        log.info("SQLite database: chunks run in this process, one at a time (use PostgreSQL for Dask)")
    revised: set[str] = set()
    if "ingest" in steps:
        # then what the ingest changed is revised, before anything is forecast or verified over it
        kp = tasks.ingest_kp()
        if kp["revised_days"]:
            revised |= set(tasks.revise_kp(kp["revised_days"])["days"])
        gims = chunked(days, chunk_days)
        if parallel:
            got = [f.result() for f in tasks.ingest_gims.map(gims)]
        else:
            got = [tasks.ingest_gims(g) for g in gims]
        revised |= set(tasks.revise([d for g in got for d in g["upgraded"]], days)["days"])
    todo = pending_days(settings, start, end, steps, force=force)
    chunks = chunked(todo, chunk_days)
    log.info("backfill %s .. %s: %d day(s), %d already done, %d chunk(s), steps %s", start, end, len(days),
             len(days) - len(todo), len(chunks), ", ".join(steps))
    updates = tasks.replay_updates(update_days(todo)) if replay_updates and todo else 0
    if parallel:
        done = [f.result() for f in tasks.backfill_chunk.map(chunks, unmapped(steps), unmapped(start), unmapped(force))]
    else:
        done = [tasks.backfill_chunk(c, steps, start, force) for c in chunks]
    out = {"days": len(days), "skipped": len(days) - len(todo), "chunks": len(chunks), "parallel": parallel,
           "runs": sum(c["runs"] for c in done), "degraded": sum(c["degraded"] for c in done),
           "verified": sum(c["verified"] for c in done), "updates": updates, "revised": len(revised),
           "failed": {k: v for c in done for k, v in c["failed"].items()},
           "unverified": {k: v for c in done for k, v in c["unverified"].items()}}
    if out["failed"]:
        log.warning("backfill: %d day(s) failed: %s", len(out["failed"]), out["failed"])
    if out["unverified"]:
        log.warning("backfill: %d day(s) not verified: %s", len(out["unverified"]), out["unverified"])
    if "storms" in steps:
        out["storms"] = len(tasks.storms(start, end)["events"])
    return out
