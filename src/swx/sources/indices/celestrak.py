"""CelesTrak space-weather files (`SW-All.txt`, `SW-Last5Years.txt`, "CssiSpaceWeather" v1.2).

Fixed columns, FORMAT(I4,I3,I3,I5,I3,8I3,I4,8I4,I4,F4.1,I2,I4,F6.1,I2,5F6.1): date, Bartels rotation and
day, Kp x 10 for the eight 3-hour intervals (in thirds: 33 = 3+, 37 = 4-), their sum, eight ap, Ap,
Cp, C9, international sunspot number, F10.7 adjusted, its flag, centred and last 81-day means, then
F10.7 observed and its two means. Blocks: BEGIN OBSERVED / DAILY_PREDICTED / MONTHLY_PREDICTED.
The Kp values come from GFZ (CC BY 4.0); CelesTrak asks that its URL be cited.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from swx.errors import IndexFormatError
from swx.io.compression import decode_ascii, read_bytes, text_lines
from swx.sources.indices.tables import (
    INDEX_RANGES,
    IndexTables,
    check_consecutive_days,
    check_index_rows,
    kp_from_thirds,
    three_hourly,
    utc_days,
)

SOURCE = "CelesTrak"
# (start, end) columns of the fields used
_COLS = {
    "year": (0, 4), "month": (4, 7), "day": (7, 10),
    **{f"kp{k}": (18 + 3 * k, 21 + 3 * k) for k in range(8)}, "kp_sum": (42, 46),
    **{f"ap{k}": (46 + 4 * k, 50 + 4 * k) for k in range(8)},
    "Ap": (78, 82), "isn": (88, 92), "f107_adj": (92, 98), "f107_obs": (112, 118),
}
_BLOCKS = {"OBSERVED": "observed", "DAILY_PREDICTED": "predicted"}


def _field(lines: list[str], start: int, end: int, name: str, label: str, first_line: list[int]) -> np.ndarray:
    out = np.empty(len(lines))
    for i, line in enumerate(lines):
        s = line[start:end].strip()
        if not s:
            out[i] = np.nan
            continue
        try:
            out[i] = float(s)
        except ValueError:
            raise IndexFormatError(f"non-numeric {label} {s!r} in columns {start + 1}-{end}", path=name,
                                   line=first_line[i], expected="a number") from None
    return out


def parse_sw(text: str | bytes, name: str = "<SW-All.txt>", include_predicted: bool = True) -> IndexTables:
    """Parse a CelesTrak SW file into Kp (3-hourly) and daily tables."""
    if isinstance(text, bytes):
        text = decode_ascii(text, name, IndexFormatError)
    block: str | None = None
    rows: dict[str, list[str]] = {k: [] for k in _BLOCKS}
    where: dict[str, list[int]] = {k: [] for k in _BLOCKS}
    saw_begin = False
    for n, raw in enumerate(text_lines(text), start=1):
        line = raw.rstrip("\r")
        if line.startswith("BEGIN "):
            block = line[6:].strip()
            saw_begin = True
            continue
        if line.startswith("END "):
            if block is None or line[4:].strip() != block:
                raise IndexFormatError(f"{line.strip()!r} without matching BEGIN", path=name, line=n,
                                       expected=f"END {block}" if block else "BEGIN first")
            block = None
            continue
        if block in _BLOCKS:
            if len(line.rstrip()) < 118:
                raise IndexFormatError(f"row has {len(line.rstrip())} columns", path=name, line=n,
                                       expected="at least 118 columns (through F10.7 observed)")
            rows[block].append(line)
            where[block].append(n)
    if not saw_begin:
        raise IndexFormatError("no BEGIN OBSERVED block", path=name, expected="a CelesTrak CssiSpaceWeather file")
    if block is not None:
        raise IndexFormatError(f"BEGIN {block} without END (truncated file?)", path=name,
                               expected=f"END {block}")
    kp_frames, daily_frames = [], []
    for key, status in _BLOCKS.items():
        if not rows[key] or (status == "predicted" and not include_predicted):
            continue
        lines, first = rows[key], where[key]
        f = {c: _field(lines, a, b, name, c, first) for c, (a, b) in _COLS.items()}
        try:
            days = pd.to_datetime(pd.DataFrame({"year": f["year"].astype(int), "month": f["month"].astype(int),
                                                "day": f["day"].astype(int)}))
        except (ValueError, OverflowError) as exc:
            raise IndexFormatError(f"invalid date: {exc}", path=name, expected="yyyy mm dd") from None
        check_consecutive_days(days, first, name)
        kp10 = np.stack([f[f"kp{k}"] for k in range(8)], axis=1)
        # Kp x 10 of thirds, rounded: 0, 3, 7, 10, 13, 17, ... -> thirds = round(kp10 * 3 / 10). Observed
        # rows must be exactly that; predicted ones (22, 35, ...) are rounded to the nearest third.
        top = INDEX_RANGES["kp"][1] * 10
        with np.errstate(invalid="ignore"):
            odd = ~np.isnan(kp10) & ((kp10 < 0) | (kp10 > top) | ~np.isin(np.mod(kp10, 10), (0, 3, 7)))
        if status == "observed" and odd.any():
            i, k = (int(x[0]) for x in np.nonzero(odd))
            a, b = _COLS[f"kp{k}"]
            raise IndexFormatError(f"Kp x 10 = {kp10[i, k]:g} in columns {a + 1}-{b}", path=name, line=first[i],
                                   expected=f"0 .. {top:g} in thirds: 0, 3, 7, 10, 13, 17, ...")
        # the day's Kp Sum (x 10) is its eight Kp's, summed from the thirds before rounding: within 3
        whole = ~np.isnan(kp10).any(axis=1) & ~np.isnan(f["kp_sum"])
        off = whole & (np.abs(f["kp_sum"] - np.where(whole[:, None], kp10, 0.0).sum(axis=1)) > 3)
        if status == "observed" and off.any():
            i = int(np.flatnonzero(off)[0])
            raise IndexFormatError(f"Kp Sum {f['kp_sum'][i]:g} beside eight Kp x 10 summing to {kp10[i].sum():g} "
                                   "in columns 43-46", path=name, line=first[i],
                                   expected="the sum of the day's eight Kp x 10 (within 3: they are rounded thirds)")
        kp = kp_from_thirds(np.rint(kp10 * 0.3))
        ap = np.stack([f[f"ap{k}"] for k in range(8)], axis=1)
        check_index_rows(name, first, utc_days(days), {"kp": kp, "ap": ap, "Ap": f["Ap"], "sn": f["isn"],
                                                       "f107_obs": f["f107_obs"], "f107_adj": f["f107_adj"]},
                         forecast=status == "predicted")
        kp_df = pd.DataFrame({"kp": kp.ravel(), "ap": ap.ravel(), "status": status, "source": SOURCE},
                             index=three_hourly(days))
        kp_frames.append(kp_df[kp_df["kp"].notna()])
        daily_frames.append(pd.DataFrame({"Ap": f["Ap"], "sn": f["isn"], "f107_obs": f["f107_obs"],
                                          "f107_adj": f["f107_adj"], "status": status, "source": SOURCE},
                                         index=utc_days(days)))
    if not kp_frames:
        raise IndexFormatError("no data row in any BEGIN ... END block", path=name,
                               expected="daily rows between BEGIN OBSERVED and END OBSERVED")
    kp_all = pd.concat(kp_frames)
    daily_all = pd.concat(daily_frames)
    # A predicted day never replaces an observed one.
    kp_all = kp_all[~kp_all.index.duplicated(keep="first")]
    daily_all = daily_all[~daily_all.index.duplicated(keep="first")]
    return IndexTables(kp_all, daily_all)


def read_sw(path: str | Path, include_predicted: bool = True) -> IndexTables:
    p = Path(path)
    return parse_sw(read_bytes(p, IndexFormatError), str(p), include_predicted=include_predicted)
