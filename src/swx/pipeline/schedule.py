"""When the daily run can start from which maps: the issue day a run at a given time forecasts from,
and the bounded wait for that day's map (the rapid one when the final is not out) before the run goes
on degraded. The products' latencies are in docs/runbook.md ("Schedule and latencies")."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable

from swx.config import Settings
from swx.pipeline.ingest import ARCHIVED, IngestSummary, ingest_gims_stage

log = logging.getLogger(__name__)


def default_issue_day(now: dt.datetime | None = None) -> dt.date:
    """The newest UT day whose maps can be out at `now` (default: the current time): yesterday. A day's
    maps end at 24:00 UT, and the fastest products (rapid maps) follow hours later."""
    now = now or dt.datetime.now(dt.UTC)
    return (now.astimezone(dt.UTC) - dt.timedelta(days=1)).date()


def ingest_waiting(settings: Settings, days: list[dt.date], wait_for: dt.date, *, wait_min: float | None = None,
                   poll_min: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                   clock: Callable[[], float] = time.monotonic) -> IngestSummary:
    """Ingest `days`; while the map of `wait_for` (the issue day) is not archived, try that day again
    every `poll_min` minutes for up to `wait_min` (default SWX_GIM_WAIT_MIN). The summary holds the last
    try's result for that day: still missing after the wait, the forecast runs degraded and says why."""
    wait_s = 60.0 * (settings.gim_wait_min if wait_min is None else wait_min)
    summary = ingest_gims_stage(settings, days)
    deadline = clock() + wait_s
    while not _archived(summary, wait_for) and clock() < deadline:
        pause = min(60.0 * poll_min, max(0.0, deadline - clock()))
        log.info("the %s map of %s is not out yet: trying again in %.0f min (waiting up to %.0f min in all)",
                 settings.centre, wait_for, pause / 60, wait_s / 60)
        sleep(pause)
        again = ingest_gims_stage(settings, [wait_for])
        summary.results = [r for r in summary.results if r.day != wait_for] + again.results
    if not _archived(summary, wait_for) and wait_s:
        log.warning("no %s map of %s after waiting %.0f min: the forecast runs degraded", settings.centre, wait_for,
                    wait_s / 60)
    return summary


def _archived(summary: IngestSummary, day: dt.date) -> bool:
    return any(r.day == day and r.status in ARCHIVED for r in summary.results)
