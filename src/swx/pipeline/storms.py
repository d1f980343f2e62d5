"""Stage: storm events from Kp and the ionosphere's observed response to each (Global ΔTEC, the
stations most affected), upserted into the database (an event still under way is extended)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

import pandas as pd

from swx.archive import load_indices
from swx.config import Settings
from swx.pipeline.context import Context, context, station_history
from swx.science.dtec import global_dtec_frame, station_dtec_frame
from swx.science.storms import detect_storms, storm_response
from swx.store.writes import write_storm_events


def storms(ctx: Context, start: dt.date, end: dt.date) -> list:
    """Storm events with Kp in start..end, their Global ΔTEC response (observed, station mean) and the
    stations most affected; upserted into storm_events (an event still under way is extended)."""
    kp = load_indices(ctx.archive).kp["kp"]
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC")
    events = detect_storms(kp[(kp.index >= lo) & (kp.index < hi)],
                           quiet_gap=pd.Timedelta(hours=ctx.settings.storm_quiet_gap_h))
    if not events:
        return []
    days = ctx.archive.gim_days(ctx.centre)
    if days:
        wide = station_history(ctx, start - dt.timedelta(days=28), min(end + dt.timedelta(days=2), days[-1]))
        long = station_dtec_frame(wide)
        glob = global_dtec_frame(long)["global_dtec"]
        table = long.pivot(index="time", columns="station", values="dtec")
        storm_response(events, glob, table)
    write_storm_events(ctx.engine, [e.as_row() for e in events])
    return events


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
