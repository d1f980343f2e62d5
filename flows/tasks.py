"""Prefect tasks: each wraps one `swx.pipeline` stage (the functions the CLI calls). Tasks take and return dates, paths and small
dicts; I/O stages retry with backoff; nothing here computes."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, TypeVar

import dask
from prefect import get_run_logger, task
from prefect.artifacts import create_image_artifact, create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from swx.config import get_settings
from swx.errors import DatabaseFaultError, InputError, SchemaError
from swx.pipeline.backfill import backfill_chunk_stage
from swx.pipeline.backfill import replay_updates as replay_updates_stage
from swx.pipeline.database import database_fault, migrate_database_stage
from swx.pipeline.forecast import daily_forecasts_stage
from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage, ingest_rivals_stage
from swx.pipeline.report import daily_markdown, forecast_map_png, skill_rows
from swx.pipeline.revise import revise_kp_days, revise_stage
from swx.pipeline.schedule import ingest_waiting
from swx.pipeline.storms import storms_stage
from swx.pipeline.train import ensure_models as ensure_models_stage
from swx.pipeline.update import update_stage
from swx.pipeline.verify import verify_stage

P = ParamSpec("P")
R = TypeVar("R")


def _settings():
    return get_settings()


def _on_this_worker() -> AbstractContextManager:
    """A backfill chunk is Dask's unit of parallelism: inside it nothing is handed back to the cluster.
    On a distributed worker, xarray would otherwise guard every netCDF write with a cluster-wide lock
    (two scheduler round trips per access: ~5 s of a 30-day chunk's 28 s, measured)."""
    return dask.config.set(scheduler="synchronous")


def _without_sql(fn: Callable[P, R]) -> Callable[P, R]:
    """A stage whose database fails raises DatabaseFaultError with the fault's one line: Prefect records
    a task's exception with its text and traceback, and SQLAlchemy's text quotes the SQL and its
    parameters. Retried like any I/O fault (worth_retrying)."""
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if (line := database_fault(exc)) is None:
                raise
            raise DatabaseFaultError(line) from None

    return run


def worth_retrying(task, task_run, state) -> bool:
    """I/O stages retry downloads and servers, not what waiting cannot fix: a database at another
    schema (`swx db upgrade`) or a bad argument."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:  # noqa: BLE001 - an unreadable result: keep the retry policy
        return True
    return not isinstance(exc, (SchemaError, InputError))


@task(name="migrate-database")
@_without_sql
def migrate_database() -> str:
    out = migrate_database_stage(_settings())
    get_run_logger().info("database %s", out)
    return out


@task(name="ingest-gims", retries=3, retry_delay_seconds=[10, 60, 300], tags=["io"],
      retry_condition_fn=worth_retrying)
@_without_sql
def ingest_gims(days: list[dt.date], awaited: dt.date | None = None) -> dict[str, Any]:
    """`awaited`: the day whose map is waited for (SWX_GIM_WAIT_MIN) before the run goes on without it."""
    settings = _settings()
    summary = ingest_waiting(settings, days, awaited) if awaited else ingest_gims_stage(settings, days)
    out = summary.as_dict(settings.centre)
    get_run_logger().info("%s", out["summary"])
    return out


@task(name="ingest-rivals", retries=3, retry_delay_seconds=[10, 60, 300], tags=["io"],
      retry_condition_fn=worth_retrying)
@_without_sql
def ingest_rivals(days: list[dt.date]) -> dict[str, Any]:
    """The rivals' forecast maps (CODE's 1-day prediction): a missing one leaves its days unscored, never
    stops the run."""
    out = {rival: s.as_dict(rival) for rival, s in ingest_rivals_stage(_settings(), days).items()}
    for rival in out.values():
        get_run_logger().info("%s", rival["summary"])
    return out


@task(name="revise-kp-days")
@_without_sql
def revise_kp(days: list[dt.date]) -> dict[str, Any]:
    out = revise_kp_days(_settings(), days)
    get_run_logger().info("Kp revised on %d day(s): %d storm event(s) there now; verification of %s recomputed",
                          len(out["days"]), len(out["events"]), ", ".join(out["verified_again"]) or "no day")
    return out


@task(name="revise-upgraded-days")
@_without_sql
def revise(upgraded: list[dt.date], looked_at: list[dt.date]) -> dict[str, Any]:
    out = revise_stage(_settings(), upgraded, looked_at)
    if out["days"]:
        get_run_logger().info("days whose map changed: %s; %d observations rewritten; verification of %s "
                              "recomputed", ", ".join(out["days"]), out["observations"],
                              ", ".join(out["verified_again"]) or "no day")
    return out


@task(name="ingest-kp", retries=3, retry_delay_seconds=[10, 60, 300], tags=["io"],
      retry_condition_fn=worth_retrying)
@_without_sql
def ingest_kp() -> dict[str, Any]:
    out = ingest_indices_stage(_settings()).as_dict()
    get_run_logger().info("Kp from %s: %d rows, %d changed, up to %s", out["source"], out["rows"], out["changed"],
                          out["last"])
    return out


@task(name="ensure-models")
@_without_sql
def ensure_models(train_end: dt.date, epochs: int = 15, second_day: tuple[str, ...] | None = None
                  ) -> dict[str, Any]:
    """The station and node models where none are active; `second_day`: the architectures of tomorrow's
    forecast to train (default all)."""
    return ensure_models_stage(_settings(), train_end, epochs=epochs, second_day=second_day)


@task(name="update-models")
@_without_sql
def update_models(day: dt.date) -> dict[str, Any]:
    out = update_stage(_settings(), day)
    if not out["ok"]:
        get_run_logger().warning("update failed, previous models kept: %s", out["reason"])
    return out


@task(name="forecast-next-days", retries=1, retry_delay_seconds=30)
@_without_sql
def forecast_next_days(issue_day: dt.date) -> dict[str, Any]:
    """The forecasts of the day after `issue_day`'s maps and of the day after that, made together."""
    out = daily_forecasts_stage(_settings(), issue_day, flow_run_id=str(flow_run.get_id() or ""))
    log = get_run_logger()
    for run in (out["forecast"], out["ahead"]):
        if run is not None:
            (log.warning if run["degraded"] else log.info)("run %s for %s: %s", run["run_id"], run["target_day"],
                                                           run["reason"] or "ok")
    if out["ahead"] is None:
        log.error("tomorrow's forecast failed: %s", out["ahead_error"])
    return out


@task(name="backfill-chunk")
@_without_sql
def backfill_chunk(days: list[dt.date], steps: list[str], start: dt.date, force: bool = False) -> dict[str, Any]:
    with _on_this_worker():
        out = backfill_chunk_stage(_settings(), days, steps, start, force=force,
                                   flow_run_id=str(flow_run.get_id() or ""))
    get_run_logger().info("chunk %s .. %s: %d run(s), %d degraded, %d failed, %d day(s) verified", out["first"],
                          out["last"], out["runs"], out["degraded"], len(out["failed"]), out["verified"])
    return out


@task(name="replay-updates")
@_without_sql
def replay_updates(days: list[dt.date]) -> int:
    with _on_this_worker():
        return replay_updates_stage(_settings(), days)


@task(name="verify")
@_without_sql
def verify(day: dt.date) -> dict[str, Any]:
    return verify_stage(_settings(), day)


@task(name="storms")
@_without_sql
def storms(start: dt.date, end: dt.date) -> dict[str, Any]:
    with _on_this_worker():
        return storms_stage(_settings(), start, end)


@task(name="publish-artifacts")
@_without_sql
def publish(issue_day: dt.date, forecast_out: dict[str, Any], verify_out: dict[str, Any],
            storms_out: dict[str, Any], update_out: dict[str, Any] | None = None,
            ahead_out: dict[str, Any] | None = None) -> str:
    md = daily_markdown(issue_day, forecast_out, verify_out, storms_out, update_out, ahead_out)
    create_markdown_artifact(md, key="swx-daily-summary", description=f"swx daily run {issue_day}")
    rows = skill_rows(verify_out)
    if rows:
        create_table_artifact(rows, key="swx-daily-skill", description="today's verified skill vs baselines")
    png = forecast_map_png(forecast_out)
    if png is not None:
        create_image_artifact(png.resolve().as_uri(), key="swx-forecast-map",
                              description=f"forecast map for {forecast_out['target_day']}")
    return md
