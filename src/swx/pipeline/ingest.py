"""Stage: ingest — GIMs and indices from a source into the archive, day by day, never losing good
data, and what was archived into the results database (input files, Kp/F10.7).

Each day is fetched, parsed strictly (a truncated or corrupt file is refused, with the reason), checked
to hold the day it claims, and archived atomically. A day already archived and verified is skipped,
so a rerun is idempotent and a killed run resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from swx.archive import Archive
from swx.config import IMPORTED_CENTRE, SIMULATED_CENTRE, Settings, lat_band, recorded_path
from swx.errors import FetchError, IndexFormatError, InputError, IonexFormatError, NotFoundError, reason_of
from swx.io.atomic import remove_stale_parts
from swx.io.gim_names import level_rank, product_chain, product_level
from swx.io.ionex import IonexWarning, parse_ionex
from swx.io.ionex.header import IONEX_LAT, IONEX_LON
from swx.pipeline.context import OnFirstFetch, downloader, gim_chain, gim_source, rivals
from swx.science.features import PLAUSIBLE_VTEC_TECU
from swx.science.grid import canonical_grid, land_mask
from swx.science.series import column_latitude, import_series
from swx.science.stations import MAX_STATION_LAT, STATION_CODE, STATION_NAME_MAX, valid_station_name
from swx.sources.gim import GimSource, LocalDirectorySource
from swx.sources.indices import read_index_file
from swx.sources.indices.gfz import fetch_gfz
from swx.sources.indices.history import load_history
from swx.sources.indices.tables import IndexTables
from swx.store.db import open_database
from swx.store.queries import stations as known_stations
from swx.store.writes import record_input_files, register_station, upsert_indices, write_observations

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    centre: str
    day: dt.date
    status: str  # "fetched", "upgraded", "skipped", "missing" or "failed"
    reason: str = ""
    path: Path | None = None
    maps: int = 0
    origin: str = ""
    sha256: str = ""  # of the source file, for a day fetched now
    source_kind: str = ""
    product: str = ""  # the product archived for the day (e.g. cor under cod, while cod's final is not out)
    level: str = ""  # its level: predicted, rapid or final


#: the statuses of a day that is in the archive after the ingest
ARCHIVED = ("fetched", "skipped", "upgraded")


@dataclass
class IngestSummary:
    results: list[DayResult] = field(default_factory=list)
    unrecognised: list[Path] = field(default_factory=list)  # files of a folder whose name says no centre/day

    def counts(self) -> Counter:
        return Counter(r.status for r in self.results)

    @property
    def archived(self) -> list[DayResult]:
        """Days in the archive after this ingest (fetched now or before): the input files it records."""
        return [r for r in self.results if r.status in ARCHIVED]

    @property
    def upgraded(self) -> list[DayResult]:
        """Days whose map was replaced by a better product (a final for a rapid one): their truth changed."""
        return [r for r in self.results if r.status == "upgraded"]

    @property
    def failed(self) -> list[DayResult]:
        return [r for r in self.results if r.status in ("failed", "missing")]

    @property
    def new(self) -> list[DayResult]:
        """Days archived by this ingest (fetched, or upgraded to a better product)."""
        return [r for r in self.results if r.status in ("fetched", "upgraded")]

    def lines(self) -> list[str]:
        c = self.counts()
        out = [f"GIM days: {c['fetched']} fetched, {c['skipped']} already archived (skipped), "
               f"{c['missing']} missing, {c['failed']} failed"
               + (f", {c['upgraded']} upgraded to a better product" if c["upgraded"] else "")]
        for centre in dict.fromkeys(r.centre for r in self.new):
            days = sorted(r.day for r in self.new if r.centre == centre)
            out.append(f"  archived {centre.upper()}: {len(days)} day(s), {_day_ranges(days)}")
        for r in self.failed:
            out.append(f"  {r.status.upper():7s} {r.centre} {r.day}: {r.reason}")
        for r in self.results:
            if r.status == "upgraded":
                out.append(f"  UPGRADED {r.centre} {r.day}: the {r.level} {r.product} {r.reason}")
            elif r.status in ARCHIVED and r.level and r.level != "final":
                out.append(f"  {r.level.upper():7s} {r.centre} {r.day}: the {r.level} {r.product} map"
                           + (f" ({r.reason})" if r.reason else ""))
        for p in self.unrecognised:
            out.append(f"  SKIPPED {p.name}: the name does not say centre and day")
        return out

    def as_dict(self, centre: str) -> dict[str, Any]:
        """JSON-able, for the flows: the status, product, level (and reason) of each day, the days
        upgraded to a better product, and the one-line summary."""
        return {"centre": centre, "summary": self.one_line(centre),
                "days": {str(r.day): {"status": r.status, "reason": r.reason, "product": r.product, "level": r.level}
                         for r in self.results},
                "upgraded": self.upgraded_days(centre)}

    def upgraded_days(self, centre: str) -> list[dt.date]:
        """The days of `centre` (the forecasts' maps, not a rival's) whose map a better product replaced."""
        return [r.day for r in self.upgraded if r.centre == centre]

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


#: what makes a file a usable day of global maps, whatever its name says: maps at least every
#: MAX_MAP_GAP_H hours from 00:00 to at least 22:00 UT (2-hourly products have 12-13), a grid reaching
#: GLOBAL_LAT_DEG in both hemispheres and all longitudes, and MIN_VALID_FRACTION of each map's values
MAX_MAP_GAP_H = 2.0
GLOBAL_LAT_DEG = 85.0
GLOBAL_LON_SPAN_DEG = 350.0
MIN_VALID_FRACTION = 0.9
#: a global map's mean vTEC lies within this (TECU): the deepest solar minimum averages about 7 TECU
#: over the globe (CODE, ESA, January 2020), the strongest storms below 100; a map of zeros, of the
#: format's ceiling, or scaled by a wrong EXPONENT (x 0.1) is a producer's or an editor's fault
GLOBAL_MEAN_TECU = (3.0, 300.0)
#: a day's global mean vTEC stays within this factor of the nearest archived day's (storms raise it
#: by well under 2x); a factor of ten is an EXPONENT off by one
DAY_TO_DAY_FACTOR = 3.0
#: how far (days) to look for an archived day to compare with
NEIGHBOUR_DAYS = 3
#: a node standing above all eight of its neighbours by more than SPIKE_TECU and SPIKE_FACTOR x (or a
#: small patch above the ring of nodes two steps away by twice that), or a hole below all eight by more
#: than HOLE_TECU and under half their smallest, is no ionosphere (an edited or corrupted value): GIMs
#: are smooth at 2.5° x 5°; on real files of five centres no node tops its neighbours by more than 15
#: TECU, the ring two steps away by more than 21, nor sinks below its neighbours by more than 7 (UPC,
#: solar maximum)
SPIKE_TECU = 25.0
SPIKE_FACTOR = 2.0
HOLE_TECU = 12.0


def _ring(a: np.ndarray, r: int, pick, fill: float) -> np.ndarray:
    """Per node of maps (time, lat, lon over the whole circle once), `pick` (np.maximum or np.minimum)
    of the nodes exactly `r` steps away (longitudes wrap; latitudes do not)."""
    out = np.full(a.shape, fill)
    for dlat in range(-r, r + 1):
        for dlon in range(-r, r + 1):
            if max(abs(dlat), abs(dlon)) == r:
                s = np.roll(np.roll(a, dlon, axis=2), dlat, axis=1)
                if dlat > 0:
                    s[:, :dlat, :] = fill
                elif dlat < 0:
                    s[:, dlat:, :] = fill
                out = pick(out, s)
    return out


def isolated_peak(tec: np.ndarray) -> tuple[int, int, int, str] | None:
    """(map, latitude, longitude index, "spike" or "hole") of the first node of maps (time, lat, lon on
    the standard grid, longitudes -180..180) out of line with the nodes around it (SPIKE_TECU,
    HOLE_TECU); None when there is none. The 180° column is checked as itself, not only as -180°."""
    for shift in (0, 1):  # the circle once without 180°, then without -180°: an edit of either is seen
        cut = tec[:, :, shift:tec.shape[2] - 1 + shift]
        hi = np.where(np.isfinite(cut), cut, -np.inf)
        lo = np.where(np.isfinite(cut), cut, np.inf)
        near, far, low = _ring(hi, 1, np.maximum, -np.inf), _ring(hi, 2, np.maximum, -np.inf), \
            _ring(lo, 1, np.minimum, np.inf)
        with np.errstate(invalid="ignore"):
            spike = ((cut > near + SPIKE_TECU) & (cut > SPIKE_FACTOR * near)) | \
                ((cut > far + 2 * SPIKE_TECU) & (cut > SPIKE_FACTOR * far))
            hole = np.isfinite(low) & (cut < low - HOLE_TECU) & (cut < low / 2)
        for kind, found in (("spike", spike & np.isfinite(cut)), ("hole", hole & np.isfinite(cut))):
            if found.any():
                k, i, j = np.argwhere(found)[0]
                return int(k), int(i), int(j) + shift, kind
    return None


def _day_ranges(days: list[dt.date], most: int = 6) -> str:
    """Sorted days as runs of consecutive days ("2020-01-08 .. 2020-01-10, 2024-12-14"), the first `most`."""
    runs: list[list[dt.date]] = []
    for d in days:
        if runs and (d - runs[-1][-1]).days == 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    text = ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]} .. {r[-1]}" for r in runs[:most])
    return text + (f" and {len(runs) - most} more span(s)" if len(runs) > most else "")


def check_day(ds, day: dt.date, name: str, *, measured: bool = True) -> None:
    """Refuse a file that is not a usable day of global maps of `day`: epochs outside 00:00 of the day ..
    00:00 of the next, too few of them to cover the day, a regional grid, maps mostly without values
    (9999 in IONEX), a value no ionosphere holds or one node far above all its neighbours (`measured`
    maps only: swx's simulator overshoots the crests of solar maximum, docs/simulated.md), a global mean out of bounds or one map all day. Archived,
    such a day would be taken for a good one: the correct file offered later skipped, and every forecast
    reading it failing."""
    t = ds["time"].values
    lo = np.datetime64(day, "ns")
    hi = lo + np.timedelta64(1, "D")
    if t.min() < lo or t.max() > hi:
        raise IonexFormatError(f"maps from {str(t.min())[:16]} to {str(t.max())[:16]} do not belong to {day}",
                               path=name, expected=f"epochs within {day} 00:00 .. {day + dt.timedelta(days=1)} 00:00")
    # one regular grid of epochs at whole minutes (the header's INTERVAL from the first map; older
    # products start at 01:00): a map off it (00:00 then 01:00, 03:00 ...; 00:00:30) is no day of a product
    step = float(ds.attrs.get("interval_s") or 0) or (float(np.diff(t).min() / np.timedelta64(1, "s"))
                                                       if len(t) > 1 else 0.0)
    seconds = (t - lo) / np.timedelta64(1, "s")
    off = [k for k in range(len(t)) if seconds[k] % 60 or (step and (seconds[k] - seconds[0]) % step)]
    if off:
        k = off[0]
        raise IonexFormatError(f"the map of {str(t[k])[11:19]} UT is off the day's grid of epochs (every "
                               f"{step / 3600:g} h from {str(t[0])[11:19]})", path=name,
                               expected="maps at whole minutes, every INTERVAL from the first")
    hours = np.concatenate([[0.0], np.sort((t - lo) / np.timedelta64(1, "h")), [24.0]])
    gap = float(np.diff(hours)[:-1].max())  # the file may end at 22:00 (the next day's file has 00:00)
    if 24.0 - hours[-2] > MAX_MAP_GAP_H + 1e-9 or gap > MAX_MAP_GAP_H + 1e-9:
        raise IonexFormatError(f"{len(t)} map(s) from {str(t.min())[11:16]} to {str(t.max())[11:16]} UT leave "
                               f"{max(gap, 24.0 - hours[-2]):g} h of {day} without a map", path=name,
                               expected=f"maps at least every {MAX_MAP_GAP_H:g} h from 00:00 to 22:00 UT or later")
    lat, lon = ds["lat"].values, ds["lon"].values
    if lat.max() < GLOBAL_LAT_DEG or lat.min() > -GLOBAL_LAT_DEG or np.ptp(lon) < GLOBAL_LON_SPAN_DEG:
        raise IonexFormatError(f"a regional grid (latitude {lat.min():g}..{lat.max():g}, longitude "
                               f"{lon.min():g}..{lon.max():g})", path=name,
                               expected=f"a global grid: latitude to ±{GLOBAL_LAT_DEG:g}° at least, all longitudes")
    if len(lat) != len(IONEX_LAT) or len(lon) != len(IONEX_LON) or not (
            np.allclose(lat, IONEX_LAT) and np.allclose(lon, IONEX_LON)):  # every day is read on this one grid
        step = f"{abs(float(np.median(np.diff(lat)))):g}° x {abs(float(np.median(np.diff(lon)))):g}°" \
            if len(lat) > 1 and len(lon) > 1 else "one row"
        raise IonexFormatError(f"a grid of {len(lat)} x {len(lon)} nodes ({step}; latitude {lat.max():g}..{lat.min():g},"
                               f" longitude {lon.min():g}..{lon.max():g})", path=name,
                               expected="the GIMs' standard grid: latitude 87.5..-87.5 by 2.5°, longitude -180..180 "
                                        "by 5°")
    tec = ds["tec"].values.reshape(len(t), -1)
    valid = np.isfinite(tec).mean(axis=1)
    if valid.min() < MIN_VALID_FRACTION:
        k = int(valid.argmin())
        # its date and number too: the last map (24:00) is the next day's 00:00
        raise IonexFormatError(f"TEC map {k + 1} ({str(t[k])[:10]} {str(t[k])[11:16]} UT) has values at "
                               f"{valid[k]:.0%} of its nodes",
                               path=name, expected=f"at least {MIN_VALID_FRACTION:.0%} of every map's nodes with "
                               "a value (not 9999)")
    top = np.nanmax(tec, axis=1)
    if measured and (top > PLAUSIBLE_VTEC_TECU).any():
        k = int(np.argmax(top > PLAUSIBLE_VTEC_TECU))
        i = int(np.nanargmax(tec[k]))
        ilat, ilon = np.unravel_index(i, (len(lat), len(lon)))
        raise IonexFormatError(f"the map of {str(t[k])[11:16]} UT holds {top[k]:.1f} TECU at {lat[ilat]:g}°, "
                               f"{lon[ilon]:g}°", path=name, expected=f"vTEC of at most {PLAUSIBLE_VTEC_TECU:g} TECU; the largest "
                               "ever mapped is about 300")
    if measured and (peak := isolated_peak(ds["tec"].values)) is not None:
        k, i, j, kind = peak
        grid = ds["tec"].values[k]
        around = [grid[i + di, (j + dj) % (len(lon) - 1)] for di in (-1, 0, 1) for dj in (-1, 0, 1)
                  if (di or dj) and 0 <= i + di < len(lat)]
        near = f"at most {np.nanmax(around):.1f}" if kind == "spike" else f"at least {np.nanmin(around):.1f}"
        raise IonexFormatError(f"the map of {str(t[k])[11:16]} UT holds {grid[i, j]:.1f} TECU at {lat[i]:g}°, "
                               f"{lon[j]:g}°, where its neighbours hold {near}: a value edited or corrupted",
                               path=name, expected="a smooth map: no node or small patch far above the nodes "
                                                   "around it, nor a node far below them")
    with np.errstate(all="ignore"):
        means = np.nanmean(tec, axis=1)
    lo, hi = GLOBAL_MEAN_TECU
    if not ((means >= lo) & (means <= hi)).all():
        k = int(np.argmax((means < lo) | (means > hi)))
        raise IonexFormatError(f"the map of {str(t[k])[11:16]} UT averages {means[k]:.1f} TECU over the globe",
                               path=name, expected=f"a global mean vTEC of {lo:g} .. {hi:g} TECU")
    typical = float(np.median(means))
    odd = (means > DAY_TO_DAY_FACTOR * typical) | (means < typical / DAY_TO_DAY_FACTOR)
    if odd.any():  # one map scaled (its own EXPONENT record off by one) among the day's others
        k = int(np.argmax(odd))
        raise IonexFormatError(f"the map of {str(t[k])[11:16]} UT averages {means[k]:.1f} TECU over the globe, "
                               f"{means[k] / typical:.2g} x the day's typical {typical:.1f}: a wrong EXPONENT?",
                               path=name, expected=f"every map of a day within {DAY_TO_DAY_FACTOR:g} x of the "
                               "others' global mean")
    if len(t) > 2 and all(np.array_equal(tec[0], tec[k], equal_nan=True) for k in range(1, len(t))):
        raise IonexFormatError(f"all {len(t)} maps hold the same values (a stuck producer)", path=name,
                               expected="maps that change through the day")
    with np.errstate(all="ignore"):
        spread = np.nanmax(tec, axis=1) - np.nanmin(tec, axis=1)
    if (spread == 0).any():  # one value at every node: no ionosphere is flat from the equator to the poles
        k = int(np.argmax(spread == 0))
        raise IonexFormatError(f"TEC map {k + 1} ({str(t[k])[:10]} {str(t[k])[11:16]} UT) holds one value, "
                               f"{np.nanmax(tec[k]):g} TECU, at every node", path=name,
                               expected="a map that varies over the globe")


def global_mean(ds) -> float:
    """The day's mean vTEC over every node and map (TECU)."""
    with np.errstate(all="ignore"):
        return float(np.nanmean(ds["tec"].values))


def check_continuity(ds, day: dt.date, name: str, neighbour: tuple[dt.date, float] | None) -> None:
    """Refuse a day whose global mean is `DAY_TO_DAY_FACTOR` or more away from the nearest archived
    day's (`neighbour`: that day and its mean): the whole day scaled, as by an EXPONENT off by one,
    passes every check of a single file."""
    if neighbour is None:
        return
    other_day, other = neighbour
    mean = global_mean(ds)
    ratio = mean / other if other > 0 else np.inf
    if not 1 / DAY_TO_DAY_FACTOR < ratio < DAY_TO_DAY_FACTOR:
        raise IonexFormatError(f"the maps average {mean:.1f} TECU over the globe, {ratio:.2g} x the {other:.1f} TECU "
                               f"of {other_day} (archived): a wrong EXPONENT or scale?", path=name,
                               expected=f"a global mean within {DAY_TO_DAY_FACTOR:g} x that of the archived days "
                               f"within {NEIGHBOUR_DAYS} days")


def archived_neighbour(archive: Archive, centre: str, day: dt.date) -> tuple[dt.date, float] | None:
    """The nearest archived day of `centre` within `NEIGHBOUR_DAYS` (before first) and its global mean."""
    for k in range(1, NEIGHBOUR_DAYS + 1):
        for other in (day - dt.timedelta(days=k), day + dt.timedelta(days=k)):
            if archive.has_gim(centre, other):
                try:
                    return other, global_mean(archive.open_gim_tec(centre, other))
                except (OSError, ValueError, KeyError):
                    continue  # an unreadable neighbour says nothing about this day
    return None


#: the agency each family of products names in its IONEX header (PGM / RUN BY / DATE): a file named
#: for one family whose header names another's agency is another centre's map under a wrong name.
#: IGS's combinations are run by several agencies and are not checked.
PRODUCER_AGENCIES = {"AIUB": ("cod", "cor", "c1p", "c2p"), "JPL": ("jpl", "jpr"), "ESA": ("esa", "esr"),
                     "UPC": ("upc", "upr", "uqr")}


def header_agencies(ds) -> set[str]:
    """The agencies of PRODUCER_AGENCIES an IONEX header's PGM / RUN BY names."""
    return set(re.split(r"[^A-Z]+", str(ds.attrs.get("source", "")).upper())) & set(PRODUCER_AGENCIES)


def check_producer(ds, product: str, name: str) -> None:
    """Refuse a file named for `product` whose header says another centre made it (a JPL map renamed
    codg... would be archived as CODE's final), that it is a prediction or a forecast (CODE's 1-day
    prediction or swx's own forecast product renamed codg... would become the truth forecasts are
    verified against)."""
    header = f"{ds.attrs.get('comment', '')}\n{ds.attrs.get('description', '')}".upper()
    if re.search(r"\bSWX\b.*\bFORECAST\b|\bFORECAST\b.*\bSWX\b", header):  # swx's own product, under any name
        said = next(ln.strip() for ln in header.splitlines() if re.search(r"\bFORECAST\b", ln))
        raise IonexFormatError(f"named as a {product} ({product_level(product)}) map, but its header says it is "
                               f"swx's own forecast ({said[:60]})", path=name,
                               expected=f"the map {product} published, as its producer wrote it")
    if product_level(product) != "predicted" and re.search(r"\bPREDICT(ED|ION)\b|\bFORECAST\b", header):
        said = next(ln.strip() for ln in header.splitlines() if re.search(r"\bPREDICT(ED|ION)\b|\bFORECAST\b", ln))
        what = "forecast" if re.search(r"\bFORECAST\b", said) else "prediction"
        raise IonexFormatError(f"named as a {product} ({product_level(product)}) map, but its header says it is a "
                               f"{what} ({said[:60]})", path=name,
                               expected="an observed map under this name; a prediction under its own (c1pg, c2pg...)")
    if product != SIMULATED_CENTRE and re.search(r"\bSIMULATED\b", header):  # swx's own demo maps
        said = next(ln.strip() for ln in header.splitlines() if re.search(r"\bSIMULATED\b", ln))
        raise IonexFormatError(f"named as a {product} map, but its header says it is simulated ({said[:60]})",
                               path=name, expected="an observed map under this name; swx's simulated days under "
                                                   "the simulated source (SWX_GIM_SOURCE=simulated, centre sim)")
    own = next((agency for agency, family in PRODUCER_AGENCIES.items() if product in family), None)
    if own is None:
        return
    run_by = str(ds.attrs.get("source", ""))
    other = next((agency for agency in header_agencies(ds) if agency != own), None)
    if other is not None and own not in header_agencies(ds):
        raise IonexFormatError(f"named as a {product} map, but its header says it was made by {other} "
                               f"({run_by.strip()[:40]})", path=name,
                               expected=f"a map made by {own}, or the file under its own centre's name")


def ingest_day(source: GimSource, archive: Archive, centre: str, day: dt.date, *, force: bool = False,
               chain: list[str] | None = None) -> DayResult:
    """Fetch, check and archive one day under `centre`: the best product of `chain` (best first;
    default the centre's own) that is out, or — for a day held at a lower level — a better one, which
    replaces it (status "upgraded"). Never raises for a bad or missing file, nor for any other fault of
    this day (a full disk, an unreadable file, a file too large to read): the day fails with its reason,
    a map archived before is kept, and the next day is tried."""
    try:
        return _ingest_day(source, archive, centre, day, force, chain or [centre])
    except InputError:
        raise  # the source itself is misconfigured (a setting, an argument): no day can be ingested
    except Exception as exc:  # a bad day never stops the good ones
        reason = reason_of(exc)
        log.error("%s %s: %s", centre, day, reason)
        return DayResult(centre, day, "failed", f"{reason}. Nothing was archived for this day; the next run tries "
                         "it again")


def _rank(chain: list[str], product: str, level: str | None = None) -> tuple[int, int]:
    """How good a day's map is: its level first (a final beats a rapid map), then its place in the
    chain (the centre's own beats a fallback of the same level, which it replaces when it comes out).
    A product off the chain (a map archived under other settings) ranks after every product of it."""
    place = chain.index(product) if product in chain else len(chain)
    return level_rank(level or product_level(product)), -place


def _ingest_day(source: GimSource, archive: Archive, centre: str, day: dt.date, force: bool,
                chain: list[str]) -> DayResult:
    held = archive.gim_product(centre, day)
    floor = None if held is None else _rank(chain, held.product, held.level)
    # forced: the chain again, but never below what is held; else only what would be better
    candidates = [p for p in chain if floor is None or _rank(chain, p) >= floor] if force else \
        [p for p in chain if floor is None or _rank(chain, p) > floor]
    if held is not None and not candidates:
        return DayResult(centre, day, "skipped", "already archived and verified", archive.gim_path(centre, day),
                         product=held.product, level=held.level)
    notes: list[str] = []  # why each product tried was not archived
    failed, origin = False, ""
    for product in candidates:
        named = (lambda text: text) if len(candidates) == 1 else (lambda text, p=product: f"{p}: {text}")
        try:
            raw = source.fetch(product, day)
        except NotFoundError as exc:
            last = held is None and product == candidates[-1]  # a final not out yet is the rule, not news
            (log.warning if last else log.info)("%s %s: %s", product, day, _reason(exc))
            notes.append(named(_reason(exc)))
            continue
        except FetchError as exc:
            log.error("%s %s: %s", product, day, _reason(exc))
            notes.append(named(_reason(exc)))
            failed = True
            continue
        ds = None
        for raw in itertools.chain([raw], _other_files(source, product, day)):
            try:  # the file given first, then (a local folder) the day's other files while they are refused
                ds = _usable_day(raw, product, day, archive, centre)
                break
            except IonexFormatError as exc:
                log.error("%s %s: refused %s", product, day, exc)
                notes.append(named(f"refused: {exc}"))
                failed, origin = True, raw.origin
        if ds is None:
            continue
        level = product_level(product)
        better = floor is not None and _rank(chain, product) > floor
        stored = archive.store_gim(ds, centre, day, source_kind=raw.source, source_origin=raw.origin,
                                   swx_product=product, swx_level=level)
        log.info("%s %s: archived %d maps of %s (%s) from %s%s", centre, day, ds.sizes["time"], product, level,
                 raw.origin, f", replacing the {held}" if held is not None else "")
        reason = f"replaces the {held}" if better else "; ".join(notes)
        return DayResult(centre, day, "upgraded" if better else "fetched", reason, stored.path,
                         int(ds.sizes["time"]), raw.origin, str(ds.attrs.get("source_sha256", "")), raw.source,
                         product=product, level=level)
    if held is not None:  # nothing better (forced: nothing as good) came: the day keeps its map
        # a refused or unreachable better product is logged as an error; the day itself is fine unless
        # an operator forced it again, and then the failure is theirs to see
        return DayResult(centre, day, "failed" if failed and force else "skipped",
                         "; ".join(notes) + f". The archived {held} map is kept", archive.gim_path(centre, day),
                         product=held.product, level=held.level)
    reason = "; ".join(notes)
    if failed:
        reason += (". Nothing was archived for this day; the next run tries it again (or try another mirror or "
                   "centre)")
    return DayResult(centre, day, "failed" if failed else "missing", reason, origin=origin)


def _other_files(source: GimSource, product: str, day: dt.date) -> Iterator:
    """The day's further candidate files of a source that can hold several (a local folder), read
    lazily: only when the first is refused."""
    others = getattr(source, "others", None)
    return others(product, day) if others is not None else iter(())


def _usable_day(raw, product: str, day: dt.date, archive: Archive, centre: str) -> xr.Dataset:
    """The maps of a fetched file when they are a usable day of `product` (IonexFormatError otherwise)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IonexWarning)
        ds = parse_ionex(raw.data, raw.origin, centre=product)
    for w in caught:
        log.warning("%s", w.message)
    ds = canonical_grid(ds)  # every archived day on one orientation (a 0..360° grid rolled), then checked
    check_day(ds, day, raw.origin, measured=raw.source != "simulated")
    check_producer(ds, product, raw.origin)
    check_continuity(ds, day, raw.origin, archived_neighbour(archive, centre, day))
    return ds


def _reason(exc: FetchError) -> str:
    """The error without the day (the summary line names it already)."""
    text = f"{exc.url}: {exc.message}" if exc.url else exc.message
    return f"{text}. {exc.hint}" if exc.hint else text


def ingest_gims(source: GimSource, archive: Archive, items: Iterable[tuple[str, dt.date]], *,
                force: bool = False, on_result: Callable[[DayResult], None] | None = None,
                record: Callable[[DayResult], None] | None = None,
                chains: dict[str, list[str]] | None = None) -> IngestSummary:
    """Ingest every (centre, day) in `items`; returns what happened to each. `chains`: the products
    archived under a centre, best first (default the centre's own). `record` writes each day's rows as
    soon as the day is done (a later fault cannot leave archived days out of the database)."""
    summary = IngestSummary()
    for centre, day in items:
        result = ingest_day(source, archive, centre, day, force=force, chain=(chains or {}).get(centre))
        if record:
            record(result)
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
    revised_days: list[dt.date] = field(default_factory=list)  # UT days whose archived Kp values changed

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "changed": self.changed, "last": str(self.last),
                "revised_days": self.revised_days}

    def __str__(self) -> str:
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        revised = (f"; Kp revised on {len(self.revised_days)} day(s) ({self.revised_days[0]} .. "
                   f"{self.revised_days[-1]}), e.g. nowcast values made definitive") if self.revised_days else ""
        return (f"Kp: {self.rows} 3-hourly values from {self.source} ({self.first} .. {self.last}; {st}); "
                f"{self.changed} added or updated in the archive{revised}")


def ingest_indices(tables: IndexTables, archive: Archive, source: str,
                   record: Callable[[IndexTables], object] | None = None) -> KpSummary:
    """Merge parsed index tables into the archive; the days whose Kp was there before and changed (a
    nowcast made definitive, a value corrected) are `revised_days`: their storm events are measured
    again (`swx.pipeline.revise.revise_kp_days`). `record` gets the merged rows at the times of
    `tables` (what the database records) before the archive is written: when it fails, the archive is
    unchanged and a rerun finds the same changes and revised days."""
    if tables.kp.empty:
        raise IndexFormatError("no Kp values", path=source, expected="at least one Kp value")
    stored = archive.merge_indices(tables)
    if record is not None:
        record(held_rows(stored.merged, tables))
    archive.write_indices(stored)
    kp, changed = tables.kp, stored.changed
    # revised: a value there before that changed (a nowcast made definitive with the same value, or a
    # switch of source, changes no storm and no Kp class)
    was = stored.before.kp["kp"].reindex(changed)
    now = stored.merged.kp["kp"].reindex(changed)
    revised = sorted({t.date() for t in changed[was.notna().to_numpy() & (was != now).to_numpy()]})
    return KpSummary(source, len(kp), len(changed), kp.index[0], kp.index[-1], dict(Counter(kp["status"])), revised)


def record_gim_days(engine: Engine, archive: Archive, results: Iterable[DayResult], data_dir: Path) -> int:
    """Register every archived day of `results` (fetched now or before) as an input file (its path
    relative to the data folder)."""
    rows = []
    for r in results:
        if r.status not in ARCHIVED:
            continue
        path = archive.gim_path(r.centre, r.day)
        if r.status in ("fetched", "upgraded") and r.sha256:  # just archived: the ingest knows what it wrote
            sha, maps, kind = r.sha256, r.maps, r.source_kind
        else:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                attrs, maps = dict(ds.attrs), int(ds.sizes["time"])
            sha, kind = str(attrs.get("source_sha256", "")), str(attrs.get("source_kind", ""))
        if r.product:  # the ingest knows what the day holds
            product, level = r.product, r.level
        else:  # a result made elsewhere without it: the file's attributes, else the centre's own product
            held = archive.gim_product(r.centre, r.day)
            product, level = (held.product, held.level) if held else (r.centre, product_level(r.centre))
        rows.append(dict(kind="GIM", centre=r.centre, day=r.day, path=recorded_path(path, data_dir), sha256=sha, maps=maps,
                         source_kind=kind, product=product, level=level))
    return record_input_files(engine, rows)


def record_indices(engine: Engine, tables: IndexTables) -> int:
    return upsert_indices(engine, tables)


def ingest_gims_stage(settings: Settings, days: list[dt.date] | None, *, centre: str | None = None,
                      kind: str | None = None, directory: Path | None = None, force: bool = False,
                      on_result: Callable[[DayResult], None] | None = None) -> IngestSummary:
    """The GIMs of `days` (of `centre`, default the settings') from the source `kind` (default
    SWX_GIM_SOURCE) into the archive — days archived and verified at the best level are skipped; for
    the settings' centre a day whose final is not out gets the rapid map, replaced by the final once it
    is (status "upgraded": `swx.pipeline.revise` then updates what was derived from it) — and every
    archived day into the database's input files, with its product and level. `days=None` takes every file of the local folder `directory`.
    A missing or broken day is reported in the summary, not raised: the forecast then runs degraded."""
    engine = open_database(settings)  # a database at another schema stops the stage before any download
    remove_stale_parts(settings.data_dir)  # what writers killed mid-write left (the daily flow ingests first)
    archive = Archive(settings.archive_dir)
    kind = kind or settings.gim_source

    def record(result: DayResult) -> None:  # each day's row as soon as the day is done
        record_gim_days(engine, archive, [result], settings.data_dir)

    ours = settings.model_copy(update={"gim_source": kind})
    chain = gim_chain(ours)
    if days is None:
        folder = directory or settings.gim_local_dir
        if folder is None or not Path(folder).is_dir():
            raise InputError(f"{folder} is not a folder of IONEX files (--dir / SWX_GIM_LOCAL_DIR)")
        local = LocalDirectorySource(folder)
        # the products of the chain go under the centre the forecasts run on (the best of each day);
        # any other product (CODE's prediction, another centre) under its own code
        items = sorted({(ours.centre if c in chain else c, d) for c, d in local.available()})
        summary = ingest_gims(local, archive, items, force=force, on_result=on_result, record=record,
                              chains={ours.centre: chain})
        summary.unrecognised = local.unrecognised()
    else:
        centre = (centre or ours.centre).lower()
        chains = {ours.centre: chain}
        if centre != ours.centre and not ours.simulated and product_level(centre) != "predicted":
            chains[centre] = product_chain(centre, None)  # `--centre igs` brings igr, as SWX_GIM_CENTRE=igs does
        source = OnFirstFetch(kind, lambda: gim_source(settings, archive, kind, directory))
        try:
            summary = ingest_gims(source, archive, [(centre, d) for d in days], force=force, on_result=on_result,
                                  record=record, chains=chains)
        finally:
            source.close()
    return summary


def ingest_rivals_stage(settings: Settings, days: list[dt.date]) -> dict[str, IngestSummary]:
    """The rivals' forecast maps (`SWX_GIM_RIVALS`, e.g. CODE's 1-day prediction) of `days` into the
    archive, each under its own code: verified beside swx's forecasts of the same days."""
    return {rival: ingest_gims_stage(settings, days, centre=rival) for rival in rivals(settings)}


def ingest_indices_stage(settings: Settings, *, kind: str | None = None, file: Path | None = None) -> KpSummary:
    """Kp/F10.7 into the archive and the database from `kind` (default SWX_KP_SOURCE): `gfz`
    (download), `bundled` (the history shipped with swx) or `file` (a GFZ or CelesTrak file)."""
    engine = open_database(settings)  # a database at another schema stops the stage before any download
    if file and kind not in (None, "file"):
        raise InputError(f"--source {kind} and --file {file}: a file is the source (leave out --source, or give "
                         "--source file)")
    kind = "file" if file else (kind or settings.kp_source)
    if kind == "gfz":
        with downloader(settings) as dl:
            tables, source = fetch_gfz(dl, settings.kp_url, settings.kp_nowcast_url), "GFZ"
    elif kind == "bundled":
        tables, source = load_history(), "bundled history (CelesTrak/GFZ)"
    elif kind == "file":
        if file is None:
            raise InputError("a Kp file source needs a file (--file PATH)")
        tables, source = read_index_file(file), str(file)
    else:
        raise InputError(f"unknown Kp source {kind!r} (gfz, bundled or file)")
    return ingest_indices(tables, Archive(settings.archive_dir), source,
                          record=lambda rows: record_indices(engine, rows))


def held_rows(held: IndexTables, tables: IndexTables) -> IndexTables:
    """The merged archive's rows (`held`) at the times of `tables`: what the database records. An
    older file (a nowcast after the definitive values) never regresses the database's values, as the
    archive's merge never does (the better status wins)."""
    return IndexTables(held.kp.reindex(tables.kp.index).dropna(subset=["kp"]),
                       held.daily.reindex(tables.daily.index).dropna(subset=["status"]))


@dataclass(frozen=True)
class SeriesImport:
    station: str
    values: int
    counts: dict[str, int]  # input rows, invalid values, missing 2-hour steps

    def __str__(self) -> str:
        c = self.counts
        return (f"{self.station}: {self.values} values on the 2-hour grid from {c['input']} rows "
                f"({c['invalid']} zero/negative/fill values treated as missing, {c['missing_steps']} missing "
                "2-hour steps)")


def check_new_station(code: str, lat: float | None, lon: float | None, surface: str) -> None:
    """InputError naming the argument when a new station's code or position cannot be right."""
    if not STATION_CODE.fullmatch(code):
        raise InputError(f"station code {code[:40]!r}{'...' if len(code) > 40 else ''}: expected 1 to 32 letters, "
                         "digits, '_', '.' or '-', starting with a letter or digit")
    if lat is None or lon is None:
        raise InputError(f"station {code} is new: give --lat and --lon")
    if not -MAX_STATION_LAT <= lat <= MAX_STATION_LAT:
        raise InputError(f"--lat {lat!r}: expected -{MAX_STATION_LAT:g} .. {MAX_STATION_LAT:g} degrees north (the maps' "
                         "grid)")
    if not -180.0 <= lon <= 360.0:
        raise InputError(f"--lon {lon!r}: expected -180 .. 180 (or 0 .. 360) degrees east")
    if surface not in ("land", "ocean"):
        raise InputError(f"--surface {surface!r}: expected land or ocean")


#: how far a series column's named latitude (VTEC_40N) may be from its station's: half a map cell
COLUMN_LATITUDE_TOLERANCE_DEG = 1.25


def _same_position(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two (lat, lon) positions of one station: within 0.01° (longitudes across the date line too)."""
    return abs(a[0] - b[0]) <= 0.01 and abs((a[1] - b[1] + 180) % 360 - 180) <= 0.01


def import_series_stage(settings: Settings, file: Path, station: str, *, lat: float | None = None,
                        lon: float | None = None, surface: str | None = None, name: str | None = None) -> SeriesImport:
    """A vTEC series (a GNSS receiver's, a series extracted elsewhere) as a station's observations on the
    2-hour grid; a station not yet known is registered (it needs `lat` and `lon`; its surface, unless
    given, from the land mask). What is given for a known station must be what is registered."""
    if name is not None and not (name.strip() and valid_station_name(name)):
        raise InputError(f"--name {name[:40]!r}: expected a station name of at most {STATION_NAME_MAX} printable "
                         "characters (no line break)")
    engine = open_database(settings)
    known = known_stations(engine).set_index("code")
    new = station not in known.index
    if new:
        if surface is None and lat is not None and lon is not None and np.isfinite([lat, lon]).all():
            surface = "land" if bool(land_mask(np.array([lat]), np.array([lon]))[0]) else "ocean"
        check_new_station(station, lat, lon, surface or "land")
    else:
        at = known.loc[station]
        if lat is not None or lon is not None:  # a position for a known station: it must be the registered one
            given = (float(at["lat"]) if lat is None else lat, float(at["lon"]) if lon is None else lon)
            if not _same_position(given, (float(at["lat"]), float(at["lon"]))):
                raise InputError(f"station {station} is registered at {float(at['lat']):g}°N {float(at['lon']):g}°E, "
                                 f"not {given[0]:g}°N {given[1]:g}°E: import under a new code, or leave out --lat/--lon")
        for option, value, held in (("--surface", surface, at["surface"]), ("--name", name, at["name"])):
            if value is not None and value != held:
                raise InputError(f"station {station} is registered with {option.lstrip('-')} {held!r}, not {value!r}: "
                                 f"import under a new code, or leave out {option}")
    series, counts = import_series(file)  # the file is read and checked before anything is written
    named = column_latitude(series.attrs.get("column", ""))
    at_lat = lat if new else float(known.loc[station, "lat"])
    if named is not None and at_lat is not None and abs(named - at_lat) > COLUMN_LATITUDE_TOLERANCE_DEG:
        raise InputError(f"{file}: its column {series.attrs['column']!r} names latitude {named:g}°, but station "
                         f"{station} is at {at_lat:g}°: the series of another place? (rename the column to vtec, or "
                         "give the station's position)")
    if new:
        held = register_station(engine, dict(code=station, name=name or station, lat=lat, lon=lon, sector="",
                                             lat_band=lat_band(lat), surface=surface or "land", origin="imported"))
        if (not _same_position((lat, lon), (held["lat"], held["lon"])) or held["surface"] != (surface or "land")
                or (name is not None and held["name"] != name)):
            raise InputError(f"station {station} was registered meanwhile (another import at the same time?) at "
                             f"{held['lat']:g}°N {held['lon']:g}°E, {held['surface']}, not {lat:g}°N {lon:g}°E, "
                             f"{surface or 'land'}: nothing imported; import under a new code, or as that station")
    values = series.dropna()
    write_observations(engine, pd.DataFrame({"station": station, "time": values.index, "vtec": values.to_numpy(),
                                             "centre": IMPORTED_CENTRE}))
    return SeriesImport(station, len(values), counts)
