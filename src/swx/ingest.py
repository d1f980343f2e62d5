"""Ingest: bring GIMs and indices from a source into the archive, day by day, never losing good data.

Each day is fetched, parsed strictly (a truncated or corrupt file is refused, with the reason), checked
to hold the day it claims, and archived atomically. A day already archived and verified is skipped,
so a rerun is idempotent and a killed run resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from swx.archive import Archive
from swx.errors import FetchError, IndexFormatError, InputError, IonexFormatError, NotFoundError
from swx.gim.sources import GimSource
from swx.indices.tables import IndexTables
from swx.io.ionex import IonexWarning, parse_ionex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    centre: str
    day: dt.date
    status: str  # "fetched", "skipped", "missing" or "failed"
    reason: str = ""
    path: Path | None = None
    maps: int = 0
    origin: str = ""
    sha256: str = ""  # of the source file, for a day fetched now
    source_kind: str = ""


@dataclass
class IngestSummary:
    results: list[DayResult] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(r.status for r in self.results)

    @property
    def failed(self) -> list[DayResult]:
        return [r for r in self.results if r.status in ("failed", "missing")]

    def lines(self) -> list[str]:
        c = self.counts()
        out = [f"GIM days: {c['fetched']} fetched, {c['skipped']} already archived (skipped), "
               f"{c['missing']} missing, {c['failed']} failed"]
        for r in self.failed:
            out.append(f"  {r.status.upper():7s} {r.centre} {r.day}: {r.reason}")
        return out

    def one_line(self, centre: str, *, shown: int = 5) -> str:
        """The ingest as one log line: the day range, a count per status, and the first days that did
        not arrive, with why (a two-year backfill must not log 700 day entries)."""
        if not self.results:
            return f"GIMs {centre}: no day asked"
        days = [r.day for r in self.results]
        line = (f"GIMs {centre} {min(days)} .. {max(days)}: "
                + ", ".join(f"{n} {status}" for status, n in sorted(self.counts().items())))
        bad = sorted(self.failed, key=lambda r: r.day)
        if bad:
            line += "; " + "; ".join(f"{r.day} {r.status}" + (f" ({r.reason})" if r.reason else "") for r in bad[:shown])
            line += f"; and {len(bad) - shown} more" if len(bad) > shown else ""
        return line

    def __str__(self) -> str:
        return "\n".join(self.lines())


def daterange(start: dt.date, end: dt.date) -> list[dt.date]:
    """Days from start to end inclusive."""
    if end < start:
        raise InputError(f"end {end} is before start {start}")
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


def check_day(ds, day: dt.date, name: str) -> None:
    """Refuse a file whose maps are not those of `day` (00:00 of day .. 00:00 of the next day)."""
    t = ds["time"].values
    lo = np.datetime64(day, "ns")
    hi = lo + np.timedelta64(1, "D")
    if t.min() < lo or t.max() > hi:
        raise IonexFormatError(f"maps from {str(t.min())[:16]} to {str(t.max())[:16]} do not belong to {day}",
                               path=name, expected=f"epochs within {day} 00:00 .. {day + dt.timedelta(days=1)} 00:00")


def ingest_day(source: GimSource, archive: Archive, centre: str, day: dt.date, *, force: bool = False) -> DayResult:
    """Fetch, check and archive one day; never raises for a bad or missing file."""
    if not force and archive.has_gim(centre, day):
        return DayResult(centre, day, "skipped", "already archived and verified", archive.gim_path(centre, day))
    try:
        raw = source.fetch(centre, day)
    except NotFoundError as exc:
        log.warning("%s %s: %s", centre, day, _reason(exc))
        return DayResult(centre, day, "missing", _reason(exc))
    except FetchError as exc:
        log.error("%s %s: %s", centre, day, _reason(exc))
        return DayResult(centre, day, "failed", _reason(exc))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IonexWarning)
            ds = parse_ionex(raw.data, raw.origin, centre=centre)
        for w in caught:
            log.warning("%s", w.message)
        check_day(ds, day, raw.origin)
    except IonexFormatError as exc:
        log.error("%s %s: refused %s", centre, day, exc)
        return DayResult(centre, day, "failed", f"refused: {exc}. Nothing was archived for this day; the next "
                         "run tries it again (or try another mirror or centre)", origin=raw.origin)
    stored = archive.store_gim(ds, centre, day, source_kind=raw.source, source_origin=raw.origin)
    log.info("%s %s: archived %d maps from %s", centre, day, ds.sizes["time"], raw.origin)
    return DayResult(centre, day, "fetched", "", stored.path, int(ds.sizes["time"]), raw.origin,
                     str(ds.attrs.get("source_sha256", "")), raw.source)


def _reason(exc: FetchError) -> str:
    """The error without the day (the summary line names it already)."""
    text = f"{exc.url}: {exc.message}" if exc.url else exc.message
    return f"{text}. {exc.hint}" if exc.hint else text


def ingest_gims(source: GimSource, archive: Archive, items: Iterable[tuple[str, dt.date]], *,
                force: bool = False, on_result: Callable[[DayResult], None] | None = None) -> IngestSummary:
    """Ingest every (centre, day) in `items`; returns what happened to each."""
    summary = IngestSummary()
    for centre, day in items:
        result = ingest_day(source, archive, centre, day, force=force)
        summary.results.append(result)
        if on_result:
            on_result(result)
    return summary


@dataclass(frozen=True)
class KpSummary:
    source: str
    rows: int
    changed: int
    first: object
    last: object
    statuses: dict

    def __str__(self) -> str:
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (f"Kp: {self.rows} 3-hourly values from {self.source} ({self.first} .. {self.last}; {st}); "
                f"{self.changed} added or updated in the archive")


def ingest_indices(tables: IndexTables, archive: Archive, source: str) -> KpSummary:
    """Merge parsed index tables into the archive."""
    if tables.kp.empty:
        raise IndexFormatError("no Kp values", path=source, expected="at least one Kp value")
    _, changed = archive.store_indices(tables)
    kp = tables.kp
    return KpSummary(source, len(kp), changed, kp.index[0], kp.index[-1], dict(Counter(kp["status"])))
