"""When a forecast's information ends and when it was published: the lead a user really had.

A run's issue time is its information cutoff, the epoch of the newest map it used; it is not when the
forecast existed. A daily run at 06:30 UTC forecasting the current UT day from the maps up to 22 UT of
the day before is published 6.5 h into the day it forecasts; a backfill publishes years later. Every
page, product and status line says both times, worded by this one rule."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: a run published this long after the start of the day it forecasts was reprocessed (a backfill, a
#: rerun): nobody had it in advance
REPROCESSED_AFTER = dt.timedelta(hours=48)


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


@dataclass(frozen=True)
class Timing:
    """A run's information cutoff, its publication and the UT day it forecasts."""

    cutoff: dt.datetime
    published: dt.datetime | None
    target_day: dt.date

    @property
    def day_start(self) -> dt.datetime:
        return dt.datetime.combine(self.target_day, dt.time(), tzinfo=dt.UTC)

    @property
    def first_lead_h(self) -> float:
        """Hours from the cutoff to the first valid time of the day forecast (00 UT)."""
        return (self.day_start - _utc(self.cutoff)).total_seconds() / 3600.0

    @property
    def published_into_day_h(self) -> float | None:
        """Hours between the start of the forecast day and the publication: positive when the day had
        begun (those hours were past when users got the forecast), negative when published ahead."""
        if self.published is None:
            return None
        return (_utc(self.published) - self.day_start).total_seconds() / 3600.0

    @property
    def reprocessed(self) -> bool:
        """Published long after the day it forecasts (a backfill): no user had it in advance."""
        return self.published is not None and _utc(self.published) - self.day_start > REPROCESSED_AFTER

    def describe(self) -> str:
        """One phrase for people: the cutoff, the leads it gives, and the publication against the day."""
        cutoff = _utc(self.cutoff)
        lead = self.first_lead_h
        said = (f"data to {cutoff:%Y-%m-%d %H:%M} UTC (information cutoff; leads {lead:g} to {lead + 22:g} h "
                "after it)")
        if self.published is None:
            return f"{said}; not published"
        published, into = _utc(self.published), self.published_into_day_h
        if self.reprocessed:
            days = (published - self.day_start).days
            return (f"{said}; made {published:%Y-%m-%d %H:%M} UTC, {days} days after the day it forecasts "
                    "(reprocessed: nobody had it in advance)")
        if into is not None and into > 0:
            return f"{said}; published {published:%Y-%m-%d %H:%M} UTC, {into:.1f} h into the day it forecasts"
        return f"{said}; published {published:%Y-%m-%d %H:%M} UTC, {-into:.1f} h before the day it forecasts"


def run_timing(run: dict) -> Timing:
    """The timing of a forecast run's row (issue_time, finished_at, target_day); a run that failed or
    has not finished was not published."""
    published = run.get("finished_at") if run.get("status", "ok") in ("ok", "degraded") else None
    return Timing(run["issue_time"], published, run["target_day"])
