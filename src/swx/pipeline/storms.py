"""Stage: storm events from Kp and the ionosphere's observed response to each (Global ΔTEC, the
stations most affected), upserted into the database (an event still under way is extended)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, TypedDict

import pandas as pd

from swx.archive import load_indices
from swx.config import Settings
from swx.errors import InputError, NotFoundError
from swx.pipeline.context import Context, context, station_history
from swx.science.dtec import REFERENCE_DAYS, global_dtec_frame, station_dtec_frame
from swx.science.storms import RECOVERY, detect_storms, storm_response
from swx.store.db import open_database
from swx.store.queries import dtec_days
from swx.store.writes import write_dtec, write_storm_events

log = logging.getLogger(__name__)

#: how far back the Kp of a storm under way at the start of a window is read
STORM_LOOKBACK = pd.Timedelta(days=7)


def storms(ctx: Context, start: dt.date, end: dt.date, *, require_kp: bool = False) -> list:
    """The observed ΔTEC of every archived day in start..end (station rows; whether or not a forecast
    ran, so every storm has its observed response), then the storm events with Kp in start..end, their
    Global ΔTEC response (observed, station mean) and the stations most affected; upserted into
    storm_events (an event still under way is extended). With `require_kp` (`swx storms`), a period
    without any Kp is a NotFoundError: "no storm" would claim a quiet period never measured (a
    scheduled run's window may wait for its Kp)."""
    if end < start:
        raise InputError(f"the period ends ({end}) before it starts ({start})")
    table = load_indices(ctx.archive).kp
    # storms are what happened: a predicted Kp (CelesTrak's DAILY_PREDICTED) never makes an event
    kp = table.loc[table["status"] != "predicted", "kp"] if "status" in table else table["kp"]
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    # Kp from a week earlier: a storm already under way when the window opens keeps its true start
    # (the daily flow's 7-day window would otherwise store the St Patrick's Day storm again, cut short)
    seen = kp[(kp.index >= lo - STORM_LOOKBACK) & (kp.index < hi)]
    held = seen[seen.index >= lo].dropna()
    if require_kp and held.empty:
        have = kp.dropna()
        span = f" (Kp is held from {have.index[0]:%Y-%m-%d} to {have.index[-1]:%Y-%m-%d})" if len(have) else ""
        raise NotFoundError(f"no Kp for {start} .. {end}{span}: storms cannot be told without it; `swx ingest kp` "
                            "brings it in")
    if len(held) and (held.index[-1] < hi - pd.Timedelta(hours=3) or held.index[0] > lo):
        log.warning("Kp covers %s .. %s only of %s .. %s: no storm is known outside it", f"{held.index[0]:%Y-%m-%d %H:%M}",
                    f"{held.index[-1]:%Y-%m-%d %H:%M}", start, end)
    found = detect_storms(seen, quiet_gap=pd.Timedelta(hours=ctx.settings.storm_quiet_gap_h))
    events = [e for e in found if e.end > lo]
    recovering: list = []
    days = [d for d in ctx.archive.gim_days(ctx.centre) if d <= end + dt.timedelta(days=2)]
    if days and days[-1] >= start:
        # and the events that ended just before, whose recovery reaches into start..end: measured again
        # with these days (one measured before they were archived had its recovery cut short); only here,
        # where there is ΔTEC to measure them with
        recovering = [e for e in found if e.end <= lo < e.end + RECOVERY]
        # from the reference's lead-in before the look-back: every ΔTEC here has its full 27-day reference
        wide = station_history(ctx, (lo - STORM_LOOKBACK).date() - dt.timedelta(days=REFERENCE_DAYS + 1), days[-1])
        long = station_dtec_frame(wide)
        write_dtec(ctx.engine, long[(long.time >= lo) & (long.time < hi)], "observed")
        if events or recovering:
            glob = global_dtec_frame(long)["global_dtec"]
            storm_response(recovering + events, glob, long.pivot(index="time", columns="station", values="dtec"))
    write_storm_events(ctx.engine, [e.as_row() for e in recovering + events],
                       measured=(lo.to_pydatetime(), hi.to_pydatetime()))
    return events


def days_without_observed_dtec(settings: Settings, days: list[dt.date]) -> list[dt.date]:
    """Of `days`, those with no observed ΔTEC stored: an ingest killed after archiving a day but before
    its observed response was computed left it so, and the rerun skips the day itself."""
    if not days:
        return []
    engine = open_database(settings)
    try:
        have = dtec_days(engine, min(days), max(days), "observed")
    finally:
        engine.dispose()
    return sorted(d for d in days if d not in have)


class StormsSummary(TypedDict):
    """The storm events found: start, end, max Kp and NOAA G class of each."""

    events: list[dict[str, Any]]


def storms_stage(settings: Settings, start: dt.date, end: dt.date) -> StormsSummary:
    """Storm events with Kp in start..end (see `storms`), summarised."""
    events = storms(context(settings), start, end)
    return StormsSummary(events=[{"start": str(e.start), "end": str(e.end), "max_kp": e.max_kp,
                                  "g_class": e.g_class} for e in events])


def storm_table(events: list) -> pd.DataFrame:
    """Storm events as rows for people: the three most affected stations only."""
    df = pd.DataFrame([e.as_row() for e in events])
    df["stations"] = df["stations"].map(lambda s: " ".join(s[:3]))
    return df
