"""The day ranges the stages walk: every day of a range, and runs of consecutive days (the backfill's
chunks; the stretches that revisions and ΔTEC passes take one at a time, never the years between)."""

from __future__ import annotations

import datetime as dt

from swx.config import BACKFILL_CHUNK_DAYS
from swx.errors import InputError


def daterange(start: dt.date, end: dt.date) -> list[dt.date]:
    """Days from start to end inclusive."""
    if end < start:
        raise InputError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def chunked(days: list[dt.date], chunk_days: int = BACKFILL_CHUNK_DAYS) -> list[list[dt.date]]:
    """Runs of at most `chunk_days` consecutive days (a gap of done days starts a new chunk)."""
    out: list[list[dt.date]] = []
    for d in days:
        if out and len(out[-1]) < chunk_days and (d - out[-1][-1]).days == 1:
            out[-1].append(d)
        else:
            out.append([d])
    return out
