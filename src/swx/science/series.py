"""Station vTEC series: extracted from the GIM archive day by day, or imported from a CSV (a GNSS
receiver's vTEC, a series extracted elsewhere), always on the 2-hour grid with gaps counted."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from swx.archive import Archive
from swx.config import DATA_ERA_START
from swx.errors import DataFormatError
from swx.io.compression import check_regular_file
from swx.io.filecache import FileCache
from swx.science.features import (
    PLAUSIBLE_VTEC_TECU,
    SERIES_FILL_VALUES,
    SERIES_MIN_VTEC_TECU,
    extract_stations,
    to_two_hourly,
)
from swx.science.stations import Station
from swx.science.verify import STEP

log = logging.getLogger(__name__)


@dataclass
class SeriesReport:
    """What went into a series: days read, days missing, values on the grid and gaps."""

    days_read: int = 0
    days_missing: list[dt.date] | None = None
    values: int = 0
    missing_steps: int = 0

    def __str__(self) -> str:
        missing = self.days_missing or []
        return (f"{self.days_read} day(s) read, {len(missing)} missing"
                + (f" ({', '.join(str(d) for d in missing[:5])}{'...' if len(missing) > 5 else ''})" if missing else "")
                + f"; {self.values} values, {self.missing_steps} missing 2-hour steps")


#: Station values of recently read archive days: the daily stages re-read the same ~40 days every day,
#: a training the two years of the demo, a backfill the days of its lead-in.
_DAY_CACHE: FileCache[pd.DataFrame] = FileCache(size=1000)


def _day_stations(archive: Archive, centre: str, day: dt.date, stations: list[Station]) -> pd.DataFrame:
    """The station values of one archived day (00 UT to 22 UT: 24:00 belongs to the next day)."""
    def load() -> pd.DataFrame:
        df = extract_stations(archive.open_gim_tec(centre, day), stations)
        return df[df["time"] < pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")].reset_index(drop=True)

    return _DAY_CACHE.get([archive.gim_path(centre, day)], load, tuple((s.code, s.lat, s.lon) for s in stations))


def series_from_archive(archive: Archive, centre: str, stations: list[Station], start: dt.date,
                        end: dt.date) -> tuple[pd.DataFrame, SeriesReport]:
    """Long-format (station, time, vtec, centre) 2-hourly series of `stations` from archived days
    start..end; missing days leave NaN on the grid (never filled) and are listed in the report."""
    parts, report = [], SeriesReport(days_missing=[])
    for k in range((end - start).days + 1):
        day = start + dt.timedelta(days=k)
        if not archive.has_gim(centre, day):
            report.days_missing.append(day)
            continue
        parts.append(_day_stations(archive, centre, day, stations))
        report.days_read += 1
    grid = pd.date_range(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end + dt.timedelta(days=1), tz="UTC"),
                         freq=STEP, inclusive="left", name="time")
    full = pd.MultiIndex.from_product([[s.code for s in stations], grid], names=["station", "time"])
    data = (pd.concat(parts, ignore_index=True).set_index(["station", "time"])["vtec"] if parts
            else pd.Series(dtype=float, name="vtec"))
    data = data.reindex(full)
    report.values = int(data.notna().sum())
    report.missing_steps = int(data.isna().sum())
    out = data.reset_index()
    out["centre"] = centre
    return out, report


def _data_lines(path: Path, n: int) -> list[int]:
    """The file line numbers of the n data rows (after the header, skipping comments and blank lines)."""
    lines, seen_header = [], False
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if not seen_header:
                seen_header = True
                continue
            lines.append(number)
            if len(lines) == n:
                break
    return lines + [None] * (n - len(lines))


def _utc(t: pd.Timestamp) -> str:
    """A time for an error line, also one outside the years strftime can write (e.g. a year -5015)."""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d} UTC"


def _check_series_rows(path: Path, df: pd.DataFrame, times: pd.Series, values: pd.Series) -> None:
    """Refuse, naming the line, what a vTEC series cannot hold: a vTEC that is not finite or above the
    physical range (fill values aside), a time twice, a time that has not come yet. The file's line
    numbers are looked up only for a refusal."""
    def lines() -> list[int | None]:
        return _data_lines(path, len(df))

    hi = PLAUSIBLE_VTEC_TECU
    v = values.to_numpy(dtype=float)
    wrong = ~np.isnan(v) & ~np.isin(v, SERIES_FILL_VALUES) & ~(v <= hi)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise DataFormatError(f"vTEC {df.iloc[i, 1]} TECU at {_utc(times.iloc[i])}", path=str(path),
                              line=lines()[i], expected=f"0 .. {hi:g} TECU (zero, negative or "
                              f"{', '.join(f'{x:g}' for x in SERIES_FILL_VALUES[:3])}: missing)")
    dup = np.flatnonzero(times.duplicated().to_numpy())
    if len(dup):
        i = int(dup[0])
        first = int(np.flatnonzero((times == times.iloc[i]).to_numpy())[0])
        at = lines()
        raise DataFormatError(f"{_utc(times.iloc[i])} a second time (first on line {at[first]})",
                              path=str(path), line=at[i], expected="one value per time")
    early = np.flatnonzero((times < pd.Timestamp(DATA_ERA_START, tz="UTC")).to_numpy())
    if len(early):
        i = int(early[0])
        raise DataFormatError(f"{_utc(times.iloc[i])} is before the era of global maps",
                              path=str(path), line=lines()[i], expected=f"times from {DATA_ERA_START} on")
    now = pd.Timestamp.now(tz="UTC")
    late = np.flatnonzero((times > now).to_numpy())
    if len(late):
        i = int(late[0])
        raise DataFormatError(f"{_utc(times.iloc[i])} has not come yet (now {_utc(now)})",
                              path=str(path), line=lines()[i], expected="measured values: past times only")


def _first_bad_time(column: pd.Series) -> int:
    """The position of the first value of `column` that is not an ISO 8601 time."""
    for i, value in enumerate(column):
        try:
            pd.to_datetime(pd.Series([value]), utc=True, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            return i
    return 0


#: The names a series' value column may have when it is taken by position (time and one value column):
#: vTEC's, not another quantity's (an RMS, slant TEC, a second time) nor a number (a file without a
#: header row, whose first row would be read as the names).
_VTEC_NAME = re.compile(r"(?i)vtec(?:[_. -]?(?:tecu|\d{1,2}(?:\.\d+)?[ns]|[ew]\d{3}[ns]\d{2}))?|tec|value")
#: a time column whose name says local time: swx reads UTC
_LOCAL_TIME_NAME = re.compile(r"(?i)local|(?:^|[_. -])lt(?:$|[_. -])|lst")


def read_series_csv(path: str | Path) -> pd.Series:
    """A CSV of (UTC time, vTEC in TECU): ISO 8601 times in the first column, vTEC in the column named
    `vtec` (any case), or in the second when there are only two. Times without a zone are taken as
    UTC; times with one are converted. A value that is not a number is refused, naming its line."""
    p = Path(path)
    check_regular_file(p)
    try:
        df = pd.read_csv(p, sep=None, engine="python", comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, UnicodeDecodeError, ValueError) as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise DataFormatError(f"not a readable CSV: {why}", path=str(p), expected="time,vtec columns") from None
    if df.shape[1] < 2:
        raise DataFormatError(f"{df.shape[1]} column(s)", path=str(p), expected="a time column and a vTEC column")
    df.columns = [str(c).strip() for c in df.columns]
    named = [c for c in df.columns[1:] if c.lower() == "vtec"]
    twice = [c for c in df.columns[1:] if re.fullmatch(r"vtec\.\d+", c, re.IGNORECASE)]  # pandas renames a repeat
    if twice:
        raise DataFormatError(f"two columns named vtec ({', '.join(map(str, df.columns))[:80]})", path=str(p), line=1,
                              expected="one column named vtec")
    if not named and df.shape[1] > 2:
        raise DataFormatError(f"{df.shape[1]} columns ({', '.join(map(str, df.columns))[:80]}) and none named vtec",
                              path=str(p), line=1, expected="a column named vtec (or only time and vTEC)")
    time_col, value_col = df.columns[0], (named[0] if named else df.columns[1])
    if not named and not _VTEC_NAME.fullmatch(value_col):  # `rms`, `stec`, `vtec_mtecu`: not vTEC in TECU
        raise DataFormatError(f"the second column is named {value_col[:40]!r}, which does not say vTEC in TECU",
                              path=str(p), line=1, expected="a header row time,vtec (a column named vtec, vtec_tecu, "
                              "a position such as VTEC_40N, tec or value; not an RMS, another unit, a model's)")
    if _LOCAL_TIME_NAME.search(str(time_col)):
        raise DataFormatError(f"the time column is named {str(time_col)[:40]!r}: local times", path=str(p), line=1,
                              expected="UTC times (ISO 8601, a Z or an offset)")
    missing_time = np.flatnonzero(df[time_col].isna().to_numpy())
    if len(missing_time):
        raise DataFormatError("a row without a time", path=str(p), line=_data_lines(p, len(df))[missing_time[0]],
                              expected="an ISO 8601 UTC time on every row")
    date_only = np.flatnonzero(df[time_col].astype(str).str.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*").to_numpy())
    if len(date_only):  # a day's value is not the 00 UTC measurement
        i = int(date_only[0])
        raise DataFormatError(f"{str(df[time_col].iloc[i]).strip()!r} is a date without a time", path=str(p),
                              line=_data_lines(p, len(df))[i],
                              expected="YYYY-MM-DDTHH:MM[:SS][Z] in the first column; no leap seconds")
    try:
        times = pd.to_datetime(df[time_col], utc=True, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        i = _first_bad_time(df[time_col])  # only on a refusal: the row that is not a time, and its line
        raise DataFormatError(f"{str(df[time_col].iloc[i])[:40]!r} is not an ISO 8601 UTC time", path=str(p),
                              line=_data_lines(p, len(df))[i],
                              expected="YYYY-MM-DDTHH:MM[:SS][Z] in the first column; no leap seconds") from None
    values = pd.to_numeric(df[value_col], errors="coerce")
    bad = np.flatnonzero((values.isna() & df[value_col].notna()).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise DataFormatError(f"vTEC {str(df[value_col].iloc[i])[:20]!r} is not a number", path=str(p),
                              line=_data_lines(p, len(df))[i], expected="vTEC in TECU with a decimal point "
                              "(an empty cell: missing)")
    _check_series_rows(p, df, times, values)
    out = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(times, name="time"), name="vtec")
    out.attrs["column"] = str(value_col)  # a position it names (VTEC_40N) is checked against the station's
    return out


#: a series column that names a latitude (VTEC_40N, vtec 12.5s): south negative
_COLUMN_LATITUDE = re.compile(r"(?i)vtec[_. -]?(\d{1,2}(?:\.\d+)?)([ns])")


def column_latitude(column: str) -> float | None:
    """The latitude a series' vTEC column names (`VTEC_40N` -> 40.0), or None when it names none."""
    m = _COLUMN_LATITUDE.fullmatch(column.strip())
    return None if m is None else float(m.group(1)) * (1 if m.group(2).lower() == "n" else -1)


# A vTEC column of the Year; DOY; Hour tables: its latitude in degrees and hemisphere.
DOY_VTEC_COLUMN = re.compile(r"VTEC_(\d+(?:\.\d+)?)([NS])")


def doy_column_latitude(column: str) -> float:
    """The latitude a VTEC_<lat><N|S> column names (south negative)."""
    m = DOY_VTEC_COLUMN.fullmatch(column)
    if not m:
        raise DataFormatError(f"{column!r} is not a VTEC_<lat><N|S> column", expected="VTEC_<lat><N|S>, e.g. VTEC_40N")
    return float(m.group(1)) * (1 if m.group(2) == "N" else -1)


def read_doy_csv(path: str | Path, *, zero_is_missing: bool = True) -> pd.DataFrame:
    """The vTEC series of a Year; DOY; Hour; ...; VTEC_<lat><N|S> table (semicolons, as in the shared
    real CODE series), one column per latitude on a UTC time index (other columns are left out). A 0
    there marks a missing map, so it becomes NaN unless `zero_is_missing` is false."""
    p = Path(path)
    try:
        df = pd.read_csv(p, sep=";")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataFormatError(f"not a readable CSV: {exc}", path=str(p), expected="Year;DOY;Hour;VTEC_... columns") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = {"Year", "DOY", "Hour"} - set(df.columns)
    if missing:
        raise DataFormatError(f"no column(s) {', '.join(sorted(missing))}", path=str(p), line=1,
                              expected="Year;DOY;Hour;VTEC_... columns")
    times = (pd.to_datetime(df["Year"].astype(str), format="%Y", utc=True) + pd.to_timedelta(df["DOY"] - 1, unit="D")
             + pd.to_timedelta(df["Hour"], unit="h"))
    cols = [c for c in df.columns if DOY_VTEC_COLUMN.fullmatch(c)]
    if not cols:
        raise DataFormatError("no vTEC column", path=str(p), line=1, expected="columns named like VTEC_40N")
    values = df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    if zero_is_missing:
        values = values.mask(values <= 0)
    values.index = pd.DatetimeIndex(times, name="time")
    return values


def import_series(path: str | Path) -> tuple[pd.Series, dict[str, int]]:
    """A CSV series brought to the 2-hour grid (see `features.to_two_hourly`), with its counts;
    DataFormatError when no value lands on the grid (times at odd UTC hours, say)."""
    raw = read_series_csv(path)
    series, counts = to_two_hourly(raw)
    series.attrs["column"] = raw.attrs.get("column", "")
    log.info("%s: %s", path, counts)
    if not series.notna().any():
        usable = counts["input"] - counts["invalid"]
        if not usable:  # every value a missing mark: none is a vTEC to place on any grid
            raise DataFormatError(
                f"no usable vTEC value: all {counts['input']} value(s) mark a missing value (zero or below "
                f"{SERIES_MIN_VTEC_TECU:g} TECU, negative, a fill value such as "
                f"{', '.join(f'{v:g}' for v in SERIES_FILL_VALUES)}, or not a number)", path=str(path),
                expected="vTEC in TECU above 0")
        raise DataFormatError(f"no vTEC value on the 2-hour grid (00, 02, ... 22 UTC); its {usable} usable value(s) "
                              "fall between the even UTC hours (a local-time offset?): give UTC times at even hours, "
                              "or a finer series", path=str(path), expected="vTEC at even UTC hours, or hourly or finer")
    return series, counts


def long_to_wide(df: pd.DataFrame) -> pd.DataFrame:
    """(station, time, vtec) rows -> a time x station table."""
    return df.pivot(index="time", columns="station", values="vtec").sort_index()


def on_two_hour_grid(wide: pd.DataFrame) -> pd.DataFrame:
    """A time x station table on the full 2-hour grid from its first to its last time (missing steps
    become NaN rows: windows and the 27-day references count on every step being there)."""
    return wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq=STEP, name="time"))


def count_gaps(series: pd.Series) -> dict[str, int]:
    """Missing steps and the longest run of them (in steps)."""
    missing = series.isna().to_numpy()
    longest, run = 0, 0
    for m in missing:
        run = run + 1 if m else 0
        longest = max(longest, run)
    return {"missing": int(missing.sum()), "longest_gap_steps": longest, "values": int((~missing).sum())}

