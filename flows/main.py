"""The main job on the embedded default (`make run`): no network, no server. The simulated demo archive
and the bundled Kp history are the sources, SQLite the database, Prefect's temporary local server the
orchestrator. Models (LSTM, GRU, CNN and the ridge member) are trained on the spot when none exist;
then the daily flow runs for the last SWX_DEMO_FORECAST_DAYS days of the demo window (forecast, blend,
verification, storms), each day's forecast issued before it; the storms of the whole archive are listed
with their observed ΔTEC, and the job ends with the skill of what was published.

    python -m flows.main          (from the repository root; `make run` does this)
"""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow, get_run_logger

from flows import tasks
from flows.daily import daily
from swx.config import get_settings
from swx.pipeline.report import main_job_summary
from swx.pipeline.status import completed_issue_days


#: tomorrow's station models the main job trains: the ridge (the networks' first-day forecasts are
#: carried a day, and the blend, fitted on tomorrow's verified runs, weighs them) keeps it within its
#: five minutes; `swx train --lead-day 2` (or the swx-train flow) trains all four
SECOND_DAY = ("ridge",)


@flow(name="swx-main", log_prints=True)
def main_job() -> dict:
    s = get_settings()
    log = get_run_logger()
    if s.gim_source != "simulated":
        log.info("SWX_GIM_SOURCE=%s: the main job runs on the maps of that source", s.gim_source)
    start, end = s.demo_start, s.demo_end
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    tasks.migrate_database()  # the main job makes its own database; elsewhere `swx db upgrade` does
    tasks.ingest_kp()
    tasks.ingest_gims(days)
    n = s.demo_forecast_days
    first_issue = end - dt.timedelta(days=n)
    trained = tasks.ensure_models(first_issue - dt.timedelta(days=1), second_day=SECOND_DAY)
    # a day already published stays as it was: forecasting it again with today's models (updated
    # since, perhaps on that very day) would publish in-sample forecasts as if they had been issued then
    kept = sorted(completed_issue_days(s, first_issue, first_issue + dt.timedelta(days=n - 1)))
    if kept:
        log.info("%d day(s) already published, kept as they were: %s .. %s", len(kept), kept[0], kept[-1])
    runs = []
    for k in range(n):
        issue = first_issue + dt.timedelta(days=k)
        if issue in kept:
            continue
        # the incremental update runs on the last day only: it keeps the demo short and still shows it
        # Kp and the maps were ingested above, once for the whole window
        runs.append(daily(issue_date=issue, update=(k == n - 1), lookback_days=1, refresh_indices=False,
                          wait=False))
    # the last forecast's day is in the demo archive too: verify it, so every forecast day is scored
    final = tasks.verify(end)
    # every storm of the archive with its observed ΔTEC, not only those of the forecast days
    archive_storms = tasks.storms(start, end)
    return {"trained": trained, "runs": runs, "final_verify": final, "kept": [str(d) for d in kept],
            "target_days": [str(first_issue + dt.timedelta(days=1)), str(end)], "storms": archive_storms}


def run() -> int:
    t0 = time.perf_counter()
    out = main_job()
    print(main_job_summary(get_settings(), out, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    raise SystemExit(run())
