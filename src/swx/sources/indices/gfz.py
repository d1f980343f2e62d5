"""GFZ Potsdam Kp files: `Kp_ap_Ap_SN_F107_since_1932.txt`, the nowcast file, and the JSON web service.

Format (40 `#` header lines, then blank-separated fixed-length rows)::

    YYYY MM DD days days_m Bsr dB Kp1..Kp8 ap1..ap8 Ap SN F10.7obs F10.7adj D

Kp is decimal in thirds; missing values are -1.000 (Kp), -1 (ap, Ap, SN) and -1.0 (F10.7); D = 0:
Kp and SN preliminary, 1: Kp definitive, 2: both definitive. Data: GFZ, CC BY 4.0 (Matzka et al.
2021, doi:10.1029/2020SW002641; data doi:10.5880/Kp.0001).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from swx.errors import IndexFormatError
from swx.io.compression import decode_ascii, read_bytes, text_lines
from swx.io.http import Downloader
from swx.sources.indices.tables import (
    IndexTables,
    check_consecutive_days,
    check_index_rows,
    empty_daily,
    empty_kp,
    merge_tables,
    three_hourly,
    utc_days,
)

N_COLUMNS = 28
SOURCE = "GFZ"


def _kp_status(d: np.ndarray) -> np.ndarray:
    return np.where(d >= 1, "definitive", "preliminary")


def _sn_status(d: np.ndarray) -> np.ndarray:
    return np.where(d >= 2, "definitive", "preliminary")


def parse_gfz_text(text: str | bytes, name: str = "<GFZ Kp>") -> IndexTables:
    """Parse the GFZ `Kp_ap_Ap_SN_F107_*.txt` layout (definitive, nowcast or yearly files)."""
    if isinstance(text, bytes):
        text = decode_ascii(text, name, IndexFormatError)
    rows: list[list[float]] = []
    lines: list[int] = []
    saw_header = False
    for n, line in enumerate(text_lines(text), start=1):
        if line.startswith("#"):
            saw_header = True
            continue
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != N_COLUMNS:
            raise IndexFormatError(f"{len(parts)} columns", path=name, line=n,
                                   expected=f"{N_COLUMNS} columns: YYYY MM DD days days_m Bsr dB Kp1..8 ap1..8 "
                                            "Ap SN F10.7obs F10.7adj D")
        if not all(_is_number(p) for p in parts):
            bad = next(p for p in parts if not _is_number(p))
            raise IndexFormatError(f"non-numeric value {bad!r}", path=name, line=n,
                                   expected="numbers; a missing value is -1")
        rows.append([float(p) for p in parts])
        lines.append(n)
    if not rows:
        raise IndexFormatError("no data rows" + ("" if saw_header else " and no '#' header"), path=name,
                               expected="GFZ Kp_ap_Ap_SN_F107 rows")
    a = np.array(rows)
    try:
        days = pd.to_datetime(pd.DataFrame({"year": a[:, 0].astype(int), "month": a[:, 1].astype(int),
                                            "day": a[:, 2].astype(int)}))
    except (ValueError, OverflowError) as exc:
        raise IndexFormatError(f"invalid date: {exc}", path=name, expected="YYYY MM DD") from None
    early = np.flatnonzero(a[:, 0] < KP_RECORD_START.year)
    if len(early):  # GFZ's Kp record begins on 1 January 1932
        i = int(early[0])
        raise IndexFormatError(f"a row dated {int(a[i, 0])}-{int(a[i, 1]):02d}-{int(a[i, 2]):02d}", path=name,
                               line=lines[i], expected=f"days from {KP_RECORD_START} on, GFZ's Kp record")
    def missing(col: np.ndarray) -> np.ndarray:  # GFZ marks a missing value -1 (-1.000, -1.0)
        return np.where(col == -1, np.nan, col)

    d = a[:, 27]
    if not np.isin(d, (0, 1, 2)).all():
        i = int(np.flatnonzero(~np.isin(d, (0, 1, 2)))[0])
        raise IndexFormatError(f"D flag {d[i]:g}", path=name, line=lines[i], expected="D = 0, 1 or 2")
    d = d.astype(int)
    kp, ap = missing(a[:, 7:15]), missing(a[:, 15:23])
    values = {"kp": kp, "ap": ap, "Ap": missing(a[:, 23]), "sn": missing(a[:, 24]), "f107_obs": missing(a[:, 25]),
              "f107_adj": missing(a[:, 26])}
    check_index_rows(name, lines, utc_days(days), values, definitive=d >= 1)
    check_consecutive_days(days, lines, name)
    kp_df = pd.DataFrame({"kp": kp.ravel(), "ap": ap.ravel(),
                          "status": np.repeat(_kp_status(d), 8), "source": SOURCE},
                         index=three_hourly(days))
    # A missing Kp in a nowcast file is not a value: drop it rather than keep a NaN row that would
    # shadow a value from another source.
    kp_df = kp_df[kp_df["kp"].notna()]
    daily = pd.DataFrame({k: values[k] for k in ("Ap", "sn", "f107_obs", "f107_adj")}
                         | {"status": _sn_status(d), "source": SOURCE}, index=utc_days(days))
    return IndexTables(kp_df, daily)


#: the first day of GFZ's Kp record
KP_RECORD_START = dt.date(1932, 1, 1)


def _is_number(s: str) -> bool:
    """A number as GFZ writes them: `nan` and `inf` are not (GFZ marks a missing value -1)."""
    try:
        return bool(np.isfinite(float(s)))
    except ValueError:
        return False


#: day 1 of Bartels solar rotation 1, and GFZ's day count origin
_BARTELS_EPOCH = pd.Timestamp("1832-02-08")
_DAYS_EPOCH = pd.Timestamp("1932-01-01")
_HEADER = """\
# Kp, ap and Ap, SN and F10.7 in the layout of GFZ Potsdam's Kp_ap_Ap_SN_F107 files, written by swx.
# Kp and ap: GFZ Potsdam, CC BY 4.0 (Matzka et al. 2021, doi:10.1029/2020SW002641; data doi:10.5880/Kp.0001).
# Missing values: -1.000 (Kp), -1 (ap, Ap, SN), -1.0 (F10.7).
# D = 0: Kp and SN preliminary (nowcast), 1: Kp definitive, 2: Kp and SN definitive.
#YYY MM DD  days  days_m  Bsr dB    Kp1    Kp2    Kp3    Kp4    Kp5    Kp6    Kp7    Kp8  ap1  ap2  ap3  ap4  ap5  ap6  \
ap7  ap8    Ap  SN F10.7obs F10.7adj D
"""


def format_gfz_text(tables: IndexTables) -> str:
    """Index tables as a GFZ `Kp_ap_Ap_SN_F107` file (what `parse_gfz_text` reads back): one row per UT
    day with a daily value, its eight Kp/ap; D from the statuses (a day with any preliminary Kp is 0)."""
    daily = tables.daily.sort_index()
    days = pd.DatetimeIndex(daily.index).tz_convert("UTC").tz_localize(None).normalize()
    kp = tables.kp.reindex(three_hourly(days))
    kp_v = kp["kp"].to_numpy(float).reshape(-1, 8)
    ap_v = kp["ap"].to_numpy(float).reshape(-1, 8)
    kp_def = (kp["status"].to_numpy(object) == "definitive").reshape(-1, 8).all(axis=1)
    sn_def = (daily["status"].to_numpy(object) == "definitive")
    flag = np.where(kp_def, np.where(sn_def, 2, 1), 0)

    def whole(v: float, width: int) -> str:
        return f"{-1 if np.isnan(v) else int(round(v)):{width}d}"

    def decimal(v: float, width: int, places: int) -> str:
        return f"{-1.0 if np.isnan(v) else v:{width}.{places}f}"

    out = [_HEADER]
    for i, day in enumerate(days):
        n = (day - _DAYS_EPOCH).days
        bartels = (day - _BARTELS_EPOCH).days
        row = daily.iloc[i]
        out.append(f"{day:%Y %m %d} {n:5d} {n + 0.5:7.1f} {bartels // 27 + 1:4d} {bartels % 27 + 1:2d}"
                   + "".join(decimal(v, 7, 3) for v in kp_v[i]) + "".join(whole(v, 5) for v in ap_v[i])
                   + whole(row["Ap"], 6) + whole(row["sn"], 4) + decimal(row["f107_obs"], 9, 1)
                   + decimal(row["f107_adj"], 9, 1) + f" {flag[i]}\n")
    return "".join(out)


def read_gfz_text(path: str | Path) -> IndexTables:
    p = Path(path)
    return parse_gfz_text(read_bytes(p, IndexFormatError), str(p))


def parse_gfz_json(payload: str | bytes | dict, name: str = "<GFZ JSON>") -> IndexTables:
    """Parse a response of GFZ's web service (`/app/json/?start=..&end=..&index=Kp[&status=def]`).

    The response holds `datetime` (ISO 8601 interval starts) and an array named after the index
    (`Kp`, `ap`, ...), plus `status` (`def`/`pre`) for Kp/ap. Kp and ap (when present) go into the
    3-hourly table; daily indices (`Ap`, `SN`, `Fobs`, `Fadj`) into the daily table.
    """
    if not isinstance(payload, dict):
        try:
            payload = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexFormatError(f"invalid JSON: {exc}", path=name, expected="a GFZ JSON object") from None
    if not isinstance(payload, dict) or "datetime" not in payload:
        raise IndexFormatError("no 'datetime' array", path=name, expected="GFZ JSON with datetime and index arrays")
    try:
        times = pd.DatetimeIndex(pd.to_datetime(payload["datetime"], utc=True), name="time")
    except (ValueError, TypeError) as exc:
        raise IndexFormatError(f"unreadable datetime: {exc}", path=name, expected="ISO 8601 times") from None
    n = len(times)

    def series(key: str) -> np.ndarray | None:
        if key not in payload:
            return None
        values = payload[key]
        if not isinstance(values, list) or len(values) != n:
            raise IndexFormatError(f"'{key}' has {len(values) if isinstance(values, list) else 'no'} values "
                                   f"for {n} times", path=name, expected="one value per datetime")
        try:
            arr = np.array([np.nan if v is None else float(v) for v in values])
        except (TypeError, ValueError):
            raise IndexFormatError(f"non-numeric value in '{key}'", path=name, expected="numbers") from None
        return np.where(arr == -1, np.nan, arr)  # -1: missing

    status_raw = payload.get("status")
    if status_raw is not None and (not isinstance(status_raw, list) or len(status_raw) != n):
        raise IndexFormatError("'status' does not match 'datetime'", path=name, expected="one status per datetime")
    status = np.array(["definitive" if s == "def" else "preliminary" for s in (status_raw or ["pre"] * n)])
    kp, ap = series("Kp"), series("ap")
    daily_cols = {"Ap": series("Ap"), "sn": series("SN"), "f107_obs": series("Fobs"), "f107_adj": series("Fadj")}
    present = {k: v for k, v in ({"kp": kp, "ap": ap} | daily_cols).items() if v is not None}
    check_index_rows(name, [None] * n, times, present, definitive=status == "definitive")
    if kp is None and ap is None:
        kp_df = empty_kp()
    else:
        kp_df = pd.DataFrame({"kp": kp if kp is not None else np.nan, "ap": ap if ap is not None else np.nan,
                              "status": status, "source": SOURCE}, index=times)
        kp_df = kp_df[kp_df["kp"].notna() | kp_df["ap"].notna()]
    if all(v is None for v in daily_cols.values()):
        daily = empty_daily()
    else:
        daily = pd.DataFrame({k: (v if v is not None else np.nan) for k, v in daily_cols.items()}
                             | {"status": status, "source": SOURCE}, index=times)
    return IndexTables(kp_df, daily)


def fetch_gfz(downloader: Downloader, url: str, nowcast_url: str | None = None) -> IndexTables:
    """Download and parse GFZ's definitive file and, when given, the nowcast file (merged)."""
    tables = parse_gfz_text(downloader.get(url), url)
    if nowcast_url:
        tables = merge_tables(tables, parse_gfz_text(downloader.get(nowcast_url), nowcast_url))
    return tables
