"""The daily flow: ingest the newest GIMs and Kp -> incremental model update (guardrail) -> station
forecasts for the next UT day and the day after (tomorrow's forecast, 26-48 h after the cutoff) ->
global maps, ΔTEC -> verification of earlier forecasts whose truth has arrived -> storm events ->
Prefect artifacts. Degraded runs (late GIM) still publish; a failed forecast of the day after never
stops the next day's."""

from __future__ import annotations

import datetime as dt

from prefect import flow

from flows import tasks
from swx.config import get_settings
from swx.pipeline.forecast import DayFailedError
from swx.pipeline.schedule import default_issue_day


@flow(name="swx-daily", log_prints=True)
def daily(issue_date: dt.date | None = None, update: bool = True, lookback_days: int | None = None,
          refresh_indices: bool = True, wait: bool = True) -> dict:
    """One operational day. `issue_date` (UTC, default yesterday: the newest day whose maps can be out):
    the newest day of maps; the forecasts are for the day after and the day after that. The last `lookback_days` (default
    SWX_GIM_UPGRADE_DAYS) are looked at again: a map that arrived late is used, and a final that came
    out replaces the rapid map, after which what was derived from it is recomputed. With `wait`, the
    issue day's map is waited for up to SWX_GIM_WAIT_MIN minutes. `refresh_indices=False` skips the
    Kp/F10.7 ingest (a caller that has just done it, e.g. the main job)."""
    day = issue_date or default_issue_day()
    lookback = get_settings().gim_upgrade_days if lookback_days is None else lookback_days
    days = [day - dt.timedelta(days=k) for k in range(lookback - 1, -1, -1)]
    # one after the other: both read and write netCDF, and HDF5 must not be entered from two threads
    kp = tasks.ingest_kp() if refresh_indices else None
    if kp and kp["revised_days"]:
        tasks.revise_kp(kp["revised_days"])
    gims = tasks.ingest_gims(days, awaited=day if wait else None)
    # the days whose final replaced the rapid map, and any day still scored against an older map
    tasks.revise(gims["upgraded"], days)
    rivals = tasks.ingest_rivals(days + [day + dt.timedelta(days=1)])  # their forecast of the target day too
    # the update learns through the day before yesterday and is scored on yesterday's forecasts, whose
    # 24 h targets end with today's maps (walk-forward: the newest day it can be judged on)
    upd = tasks.update_models(day - dt.timedelta(days=1)) if update else None
    # the next day's forecast and tomorrow's from the same maps, made together; tomorrow's failure is
    # reported after everything else is done
    both = tasks.forecast_next_days(day)
    fc, fc2 = both["forecast"], both["ahead"]
    ver = tasks.verify(day)
    st = tasks.storms(day - dt.timedelta(days=7), day)
    tasks.publish(day, fc, ver, st, upd, fc2)
    if fc2 is None:  # the flow run is failed, the day's own forecast published
        raise DayFailedError(f"tomorrow's forecast from the maps of {day} failed: {both['ahead_error']}")
    return {"forecast": fc, "forecast_ahead": fc2, "verify": ver, "storms": st, "update": upd, "gims": gims, "kp": kp,
            "rivals": rivals}


if __name__ == "__main__":
    daily()
