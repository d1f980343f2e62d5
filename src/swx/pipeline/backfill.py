"""Stage: a backfill — the daily stages over a range of issue days, in chunks. A chunk is forecast
and verified as arrays (`forecast_days`, `verify_days`: the archive read once per chunk, every model
run once on the chunk's windows), and is the unit of parallelism (the Prefect flow maps chunks on
Dask) and of resumption: days whose forecast finished with its products, and whose verification is
stored, are skipped, so a killed backfill resumes where it stopped and ends as an uninterrupted one.
Point in time throughout: each day uses the newest models that saw no data after its issue time; with
`replay_updates` the daily incremental update is replayed, day by day, first (walk-forward)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TypedDict

from swx.config import BACKFILL_CHUNK_DAYS, LEAD_DAYS, Settings
from swx.errors import InputError
from swx.pipeline.context import context
from swx.pipeline.days import chunked, daterange
from swx.pipeline.forecast import ForecastResult, forecast_days, planned_runs
from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage
from swx.pipeline.revise import revise_kp_days, revise_stage
from swx.pipeline.status import completed_issue_days, completed_runs
from swx.pipeline.storms import storms_stage
from swx.pipeline.update import update_stage
from swx.pipeline.verify import verify_days
from swx.store.db import open_database
from swx.store.queries import finished_products, unverified_days

log = logging.getLogger(__name__)

#: the steps a backfill can run, in the order it runs them
STEPS = ("ingest", "forecast", "verify", "storms")


def check_steps(steps: list[str] | None) -> list[str]:
    """The steps asked for (all by default), refused when one is unknown."""
    steps = list(steps or STEPS)
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise InputError(f"unknown backfill step(s) {', '.join(unknown)}: choose from {', '.join(STEPS)}")
    return [s for s in STEPS if s in steps]


def check_range(start: dt.date, end: dt.date, chunk_days: int) -> None:
    if end < start:
        raise InputError(f"the backfill ends ({end}) before it starts ({start})")
    if chunk_days < 1:
        raise InputError(f"chunks of {chunk_days} day(s): give at least 1")


def pending_days(settings: Settings, start: dt.date, end: dt.date, steps: list[str], *,
                 force: bool = False) -> list[dt.date]:
    """The issue days of start..end a backfill still has to do: all with `force`; else those whose
    forecasts (the next day's and tomorrow's) did not finish with their products or, when verifying,
    whose forecast is not verified yet though the map of its target day (the next day) is archived (verifying
    only, a day without a finished forecast is never done: nothing of it was verified)."""
    days = daterange(start, end)
    if force or not ({"forecast", "verify"} & set(steps)):
        return days
    one = dt.timedelta(days=1)
    if "forecast" in steps:
        done = completed_issue_days(settings, start, end)
    else:  # verifying only: a day without a finished forecast (none made, or it failed) is not done
        done = {target - one for target, *_ in finished_products(open_database(settings), start + one, end + one)}
    if "verify" in steps:
        ctx = context(settings)
        done -= {target - one for target in unverified_days(open_database(settings), start + one, end + one)
                 if ctx.archive.has_gim(ctx.centre, target)}
    return [d for d in days if d not in done]


class ChunkSummary(TypedDict):
    """What a chunk did: its days, runs made (degraded among them), days that failed and why, days
    verified."""

    first: str
    last: str
    runs: int
    degraded: int
    failed: dict[str, str]
    verified: int
    unverified: dict[str, str]


def backfill_chunk_stage(settings: Settings, days: list[dt.date], steps: list[str], start: dt.date, *,
                         force: bool = False, flow_run_id: str = "",
                         on_day: Callable[[dt.date], None] | None = None) -> ChunkSummary:
    """One chunk of the backfill that starts on `start`: the forecasts of its issue days — the next
    day's and tomorrow's, as the daily flow makes them — not finished yet (all with `force`;
    `forecast_days`, self-contained: chunks may run side by side), then the
    verification of those forecasts — of their target days, the next days — (`verify_days`, an
    upsert). `on_day` is called with each issue day as it is done with its last step."""
    ctx = context(settings)
    days = sorted(days)
    out = ChunkSummary(first=str(days[0]), last=str(days[-1]), runs=0, degraded=0, failed={}, verified=0,
                       unverified={})
    verify = "verify" in steps
    if "forecast" in steps:
        done = set() if force else completed_runs(settings, days[0], days[-1])
        made = forecast_days(ctx, days, flow_run_id=flow_run_id, recompute_from=start, aheads=LEAD_DAYS, skip=done,
                             on_day=None if verify else on_day)
        for (day, lead), r in zip(planned_runs(days, LEAD_DAYS, done), made):
            if isinstance(r, ForecastResult):
                out["runs"] += 1
                out["degraded"] += int(r.degraded)
            else:
                out["failed"][str(day) if lead == 1 else f"{day} (lead day {lead})"] = f"{type(r).__name__}: {r}"
    if verify:
        one = dt.timedelta(days=1)
        targets = [d + one for d in days]
        checked = verify_days(ctx, targets, on_day=None if on_day is None else lambda target: on_day(target - one))
        out["verified"] = sum(bool(v["stations"]) for v in checked)
        out["unverified"] = {str(dt.date.fromisoformat(v["day"]) - one): v.get("skipped") or v.get("stations_skipped", "")
                             for v in checked if not v["stations"]}  # by issue day, with why
    return out


class BackfillSummary(TypedDict):
    """A backfill in numbers: days in the range, already done (skipped), runs made, degraded runs,
    failed days with their reasons, days verified (and issue days not verified, with why), model updates replayed, storm events found, days
    whose map or Kp the ingest step changed and that were brought in line (`swx.pipeline.revise`)."""

    start: str
    end: str
    steps: list[str]
    days: int
    skipped: int
    chunks: int
    runs: int
    degraded: int
    failed: dict[str, str]
    verified: int
    unverified: dict[str, str]
    updates: int
    storms: int
    revised: int


def update_days(issue_days: list[dt.date]) -> list[dt.date]:
    """The days whose incremental update the daily flow runs before forecasting `issue_days`: the day
    before each (its forecasts' truth ends with the issue day's maps)."""
    return [d - dt.timedelta(days=1) for d in issue_days]


def replay_updates(settings: Settings, days: list[dt.date], on_day: Callable[[dt.date], None] | None = None) -> int:
    """The daily incremental update of each day, in order (each starts from the previous day's models):
    what the daily flow would have done. Returns how many station models took an update."""
    accepted = 0
    for day in days:
        got = update_stage(settings, day)
        if not got["ok"]:
            log.warning("update for %s failed, previous models kept: %s", day, got["reason"])
        accepted += got["accepted"]
        if on_day is not None:
            on_day(day)
    return accepted


def backfill_stage(settings: Settings, start: dt.date, end: dt.date, *, steps: list[str] | None = None,
                   chunk_days: int = BACKFILL_CHUNK_DAYS, force: bool = False, replay: bool = False,
                   on_day: Callable[[dt.date], None] | None = None,
                   on_plan: Callable[[int], None] | None = None) -> BackfillSummary:
    """The backfill in this process, chunk after chunk (the Prefect flow runs the same chunks on Dask
    workers). `on_plan` gets the number of days to do, `on_day` is called as each is done."""
    steps = check_steps(steps)
    check_range(start, end, chunk_days)
    all_days = daterange(start, end)
    revised: set[str] = set()
    if "ingest" in steps:
        # what the ingest changed is revised before anything is forecast or verified over it: a final that
        # replaced a rapid map (and any day still scored against an older map), Kp made definitive
        kp = ingest_indices_stage(settings)
        if kp.revised_days:
            revised |= set(revise_kp_days(settings, kp.revised_days)["days"])
        gims = ingest_gims_stage(settings, all_days)
        revised |= set(revise_stage(settings, gims.upgraded_days(settings.centre), all_days)["days"])
    todo = pending_days(settings, start, end, steps, force=force)
    chunks = chunked(todo, chunk_days)
    log.info("backfill %s .. %s: %d day(s), %d already done, %d chunk(s), steps %s", start, end, len(all_days),
             len(all_days) - len(todo), len(chunks), ", ".join(steps))
    out = BackfillSummary(start=str(start), end=str(end), steps=steps, days=len(all_days),
                          skipped=len(all_days) - len(todo), chunks=len(chunks), runs=0, degraded=0, failed={},
                          verified=0, unverified={}, updates=0, storms=0, revised=len(revised))
    if on_plan is not None:
        on_plan(len(todo))
    if replay and todo:
        out["updates"] = replay_updates(settings, update_days(todo))
    for chunk in chunks:
        got = backfill_chunk_stage(settings, chunk, steps, start, force=force, on_day=on_day)
        for k in ("runs", "degraded", "verified"):
            out[k] += got[k]  # type: ignore[literal-required]
        out["failed"].update(got["failed"])
        out["unverified"].update(got["unverified"])
    if "storms" in steps:
        out["storms"] = len(storms_stage(settings, start, end)["events"])
    return out
