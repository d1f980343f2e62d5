"""Stage: what follows when a day's truth changes.

- A better product replaces the map archived for the day (the final arriving days after the rapid map
  the forecasts ran on): the station observations of that day are rewritten in place from the new map,
  its observed ΔTEC and the storm events over it are measured again, and every forecast scored against
  it is verified again. The rows are replaced (the verification key is unchanged), never duplicated,
  and now name the final as their truth.
- Kp is revised (GFZ's nowcast made definitive): the storm events over those days are detected again
  (a G class follows the new maximum; a storm the definitive values took back is removed) and the
  days' verification, whose quiet/storm classes follow Kp, is recomputed."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypedDict

from swx.config import Settings
from swx.pipeline.context import context, observations_of, station_history
from swx.pipeline.days import chunked
from swx.pipeline.storms import storms
from swx.pipeline.verify import verify_days
from swx.store.queries import truth_levels
from swx.store.writes import write_observations

log = logging.getLogger(__name__)
#: how far past the revised days storms are measured again: a storm running on past them is measured
#: whole (and one that a revision moved to a later start is found), and the ΔTEC of the days whose
#: 27-day reference holds a revised day follows it for that week
STORM_MARGIN = dt.timedelta(days=7)


class KpReviseSummary(TypedDict):
    """Days whose Kp was revised, the storm events found over them, and the days verified again."""

    days: list[str]
    events: list[dict]
    verified_again: list[str]


def revise_kp_days(settings: Settings, days: list[dt.date]) -> KpReviseSummary:
    """Storm events and verification of `days` from the Kp the archive holds now."""
    days = sorted(set(days))
    if not days:
        return KpReviseSummary(days=[], events=[], verified_again=[])
    ctx = context(settings)
    events, verified = [], []
    for stretch in chunked(days, chunk_days=len(days)):  # each run of consecutive days alone: never the years between
        events += storms(ctx, stretch[0], stretch[-1] + STORM_MARGIN)
        verified += [s["day"] for s in verify_days(ctx, stretch) if s["maps"] or s["stations"]]
    log.info("Kp revised on %d day(s) (%s .. %s): %d storm event(s) there now; verification of %s recomputed",
             len(days), days[0], days[-1], len(events), ", ".join(verified) or "no day (none had forecasts)")
    return KpReviseSummary(days=[str(d) for d in days], verified_again=verified,
                           events=[{"start": str(e.start), "end": str(e.end), "max_kp": e.max_kp, "g_class": e.g_class}
                                   for e in events])


def stale_days(settings: Settings, days: list[dt.date]) -> list[dt.date]:
    """Of `days`, those whose maps were verified against another level than the archive holds now: an
    upgrade whose revision did not run (or failed) is caught up by the next run that looks at the day."""
    if not days:
        return []
    ctx = context(settings)
    scored = truth_levels(ctx.engine, min(days), max(days))
    stale = []
    for day in sorted(set(days) & set(scored)):  # only days with verified maps: one lookup for the rest
        held = ctx.archive.gim_product(ctx.centre, day)
        levels = scored[day] - {""}  # rows scored before levels were recorded say nothing
        if held is not None and levels and levels != {held.level}:
            stale.append(day)
    return stale


def revise_stage(settings: Settings, upgraded: list[dt.date], looked_at: list[dt.date]) -> ReviseSummary:
    """`revise_days` for the days just upgraded and those of `looked_at` still scored against an older
    map (see `stale_days`)."""
    return revise_days(settings, sorted(set(upgraded) | set(stale_days(settings, looked_at))))


class ReviseSummary(TypedDict):
    """Days whose map changed, the observations rewritten and the days verified again."""

    days: list[str]
    observations: int
    verified_again: list[str]


def revise_days(settings: Settings, days: list[dt.date]) -> ReviseSummary:
    """Bring everything derived from the maps of `days` in line with what the archive holds now. The day
    after each is verified again too: its persistence baselines are this day's values."""
    days = sorted(set(days))
    if not days:
        return ReviseSummary(days=[], observations=0, verified_again=[])
    ctx = context(settings)
    written, verified = 0, []
    for stretch in chunked(days, chunk_days=len(days)):  # each run of consecutive days alone: never the years between
        wide = station_history(ctx, stretch[0], stretch[-1])
        written += write_observations(ctx.engine, observations_of(ctx, wide), centre_default=ctx.centre)
        storms(ctx, stretch[0], stretch[-1] + STORM_MARGIN)
        rescore = stretch + [stretch[-1] + dt.timedelta(days=1)]  # stretches are apart: no day scored twice
        verified += [s["day"] for s in verify_days(ctx, rescore) if s["maps"] or s["stations"]]
    log.info("revised %d day(s) whose map changed (%s): %d observations rewritten, verification of %s recomputed",
             len(days), ", ".join(str(d) for d in days[:5]) + (" ..." if len(days) > 5 else ""), written,
             ", ".join(verified) or "no day (none had forecasts)")
    return ReviseSummary(days=[str(d) for d in days], observations=written, verified_again=verified)
