"""IONEX 1.0/1.1 reader and writer (Schaer, Gurtner & Feltens 1998, `ionex1.pdf`).

Global Ionospheric Maps arrive as IONEX text files: 80-column header records (data in columns 1-60,
label in 61-80), then TEC, RMS and optional HEIGHT map blocks whose values are written 16 per line in
I5 fields, scaled by 10**EXPONENT, with 9999 meaning "no value".

The reader parses the fixed-width value blocks vectorised (numpy over the whole byte buffer) rather
than value by value, after checking the block structure line by line in vectorised form; every
structural or numeric problem raises :class:`IonexFormatError` naming the file, the line and what was
expected. Strict by default where data could be lost (a truncated file), tolerant where nothing is
lost (missing END OF FILE, an epoch written ``22 59 60``, a float INTERVAL, unpadded header lines).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from swx.errors import IonexFormatError
from swx.io.atomic import atomic_write_bytes
from swx.io.compression import decode_ascii, decompress

__all__ = [
    "IonexFormatError",
    "IonexWarning",
    "IonexHeader",
    "parse_ionex",
    "read_ionex",
    "format_ionex",
    "write_ionex",
    "centre_from_filename",
]

NO_VALUE = 9999
VALUES_PER_LINE = 16
FIELD = 5

MANDATORY = (
    "EPOCH OF FIRST MAP",
    "EPOCH OF LAST MAP",
    "INTERVAL",
    "# OF MAPS IN FILE",
    "MAPPING FUNCTION",
    "BASE RADIUS",
    "MAP DIMENSION",
    "HGT1 / HGT2 / DHGT",
    "LAT1 / LAT2 / DLAT",
    "LON1 / LON2 / DLON",
)

_KINDS = ("TEC", "RMS", "HEIGHT")
_HEADER_LABELS = (*MANDATORY, "IONEX VERSION / TYPE", "PGM / RUN BY / DATE", "DESCRIPTION", "COMMENT",
                  "ELEVATION CUTOFF", "OBSERVABLES USED", "# OF STATIONS", "# OF SATELLITES", "EXPONENT",
                  "START OF AUX DATA", "END OF AUX DATA", "END OF HEADER")


class IonexWarning(UserWarning):
    """Something was off in an IONEX file, but it was read without losing data."""


@dataclass
class IonexHeader:
    """The header records of an IONEX file, as numbers and strings."""

    version: float
    file_type: str
    system: str
    program: str = ""
    run_by: str = ""
    date: str = ""
    description: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    first_epoch: dt.datetime | None = None
    last_epoch: dt.datetime | None = None
    interval: float = 0.0
    n_maps: int = 0
    mapping_function: str = "NONE"
    elevation_cutoff: float | None = None
    observables: str = ""
    n_stations: int | None = None
    n_satellites: int | None = None
    base_radius: float = 6371.0
    map_dimension: int = 2
    hgt: tuple[float, float, float] = (450.0, 450.0, 0.0)
    lat: tuple[float, float, float] = (87.5, -87.5, -2.5)
    lon: tuple[float, float, float] = (-180.0, 180.0, 5.0)
    exponent: int = -1
    aux: list[str] = field(default_factory=list)

    @property
    def lats(self) -> np.ndarray:
        return _axis(*self.lat)

    @property
    def lons(self) -> np.ndarray:
        return _axis(*self.lon)


def _axis(start: float, stop: float, step: float) -> np.ndarray:
    if step == 0:
        return np.array([start])
    n = int(round((stop - start) / step)) + 1
    return np.round(start + step * np.arange(n), 6)


# --------------------------------------------------------------------------------------------- header

def _numbers(content: str, path: str, line: int, label: str, count: int | None = None) -> list[float]:
    parts = content.split()
    try:
        values = [float(p) for p in parts]
        if not all(math.isfinite(v) and abs(v) < 1e12 for v in values):
            raise ValueError
    except ValueError:
        raise IonexFormatError(f"non-numeric value in {label!r} record: {content.strip()!r}", path=path,
                               line=line, expected="numbers") from None
    if count is not None and len(values) < count:
        raise IonexFormatError(f"{label!r} record has {len(values)} numbers", path=path, line=line,
                               expected=f"{count} numbers")
    return values


def _epoch(values: list[float], path: str, line: int, label: str) -> dt.datetime:
    y, mo, d, h, mi, s = values[:6]
    try:
        base = dt.datetime(int(y), int(mo), int(d), tzinfo=dt.UTC)
    except (ValueError, OverflowError):
        raise IonexFormatError(f"invalid date in {label!r}: {values[:3]}", path=path, line=line,
                               expected="year month day") from None
    if not (0 <= h <= 24 and 0 <= mi < 60 and 0 <= s <= 60):
        raise IonexFormatError(f"invalid time in {label!r}: {values[3:6]}", path=path, line=line,
                               expected="hour 0-24, minute 0-59, second 0-60")
    epoch = base + dt.timedelta(hours=h, minutes=mi, seconds=s)
    if s >= 60 or h == 24:
        warnings.warn(f"{path}, line {line}: {label} written as {int(h):02d}:{int(mi):02d}:{s:g}, "
                      f"read as {epoch:%Y-%m-%d %H:%M:%S}", IonexWarning, stacklevel=4)
    return epoch


def _check_first_record(first: str, path: str) -> float:
    """Version from the IONEX VERSION / TYPE record, or an error saying this is no IONEX file."""
    if first[60:].strip() != "IONEX VERSION / TYPE":
        raise IonexFormatError("first record is not 'IONEX VERSION / TYPE' (not an IONEX file?)",
                               path=path, line=1, expected="IONEX VERSION / TYPE in columns 61-80")
    try:
        version = float(first[:8])
    except ValueError:
        raise IonexFormatError(f"unreadable IONEX version {first[:8]!r}", path=path, line=1,
                               expected="F8.1 version number") from None
    if not 1.0 <= version < 2.0:
        raise IonexFormatError(f"unsupported IONEX version {version:g}", path=path, line=1,
                               expected="IONEX 1.0 or 1.1")
    return version


def _parse_header(lines: list[str], path: str) -> IonexHeader:
    first = lines[0] if lines else ""
    version = _check_first_record(first, path)
    hdr = IonexHeader(version=version, file_type=first[20:21], system=first[40:60].strip())
    if hdr.file_type != "I":
        raise IonexFormatError(f"file type {hdr.file_type!r} in column 21", path=path, line=1,
                               expected="'I' (ionosphere maps)")
    seen: set[str] = set()
    in_aux = False
    for i, raw in enumerate(lines[1:], start=2):
        content, label = raw[:60], raw[60:].strip()
        if label not in _HEADER_LABELS and not in_aux:
            # Some producers overflow the 60 data columns by a character or two (CAS writes a
            # 61-character PGM / RUN BY / DATE record): find the label at the end of the line.
            stripped = raw.rstrip()
            known = next((lab for lab in _HEADER_LABELS if stripped.endswith(lab)), None)
            if known:
                content, label = stripped[:-len(known)], known
        if in_aux:
            hdr.aux.append(raw.rstrip())
            if label == "END OF AUX DATA":
                in_aux = False
            continue
        seen.add(label)
        if label == "PGM / RUN BY / DATE":
            hdr.program, hdr.run_by, hdr.date = content[:20].strip(), content[20:40].strip(), content[40:60].strip()
        elif label == "DESCRIPTION":
            hdr.description.append(content.rstrip())
        elif label == "COMMENT":
            hdr.comments.append(content.rstrip())
        elif label == "EPOCH OF FIRST MAP":
            hdr.first_epoch = _epoch(_numbers(content, path, i, label, 6), path, i, label)
        elif label == "EPOCH OF LAST MAP":
            hdr.last_epoch = _epoch(_numbers(content, path, i, label, 6), path, i, label)
        elif label == "INTERVAL":
            hdr.interval = _numbers(content, path, i, label, 1)[0]
        elif label == "# OF MAPS IN FILE":
            hdr.n_maps = int(_numbers(content, path, i, label, 1)[0])
        elif label == "MAPPING FUNCTION":
            hdr.mapping_function = content.strip() or "NONE"
        elif label == "ELEVATION CUTOFF":
            hdr.elevation_cutoff = _numbers(content, path, i, label, 1)[0]
        elif label == "OBSERVABLES USED":
            hdr.observables = content.strip()
        elif label == "# OF STATIONS":
            hdr.n_stations = int(_numbers(content, path, i, label, 1)[0])
        elif label == "# OF SATELLITES":
            hdr.n_satellites = int(_numbers(content, path, i, label, 1)[0])
        elif label == "BASE RADIUS":
            hdr.base_radius = _numbers(content, path, i, label, 1)[0]
        elif label == "MAP DIMENSION":
            hdr.map_dimension = int(_numbers(content, path, i, label, 1)[0])
        elif label == "HGT1 / HGT2 / DHGT":
            hdr.hgt = tuple(_numbers(content, path, i, label, 3)[:3])
        elif label == "LAT1 / LAT2 / DLAT":
            hdr.lat = tuple(_numbers(content, path, i, label, 3)[:3])
        elif label == "LON1 / LON2 / DLON":
            hdr.lon = tuple(_numbers(content, path, i, label, 3)[:3])
        elif label == "EXPONENT":
            hdr.exponent = int(_numbers(content, path, i, label, 1)[0])
        elif label == "START OF AUX DATA":
            in_aux = True
            hdr.aux.append(raw.rstrip())
        elif label == "END OF HEADER":
            break
        elif label:
            warnings.warn(f"{path}, line {i}: unknown header record {label!r} ignored", IonexWarning,
                          stacklevel=3)
    missing = [m for m in MANDATORY if m not in seen]
    if missing:
        raise IonexFormatError(f"missing mandatory header record(s): {', '.join(missing)}", path=path,
                               line=len(lines), expected="all IONEX 1.0 mandatory header records")
    if hdr.map_dimension != 2 or hdr.hgt[2] != 0:
        raise IonexFormatError(f"{hdr.map_dimension}-D maps (DHGT {hdr.hgt[2]}) are not supported",
                               path=path, expected="2-D maps on a single shell")
    for name, (a, b, c) in (("LAT", hdr.lat), ("LON", hdr.lon)):
        if c == 0 or (b - a) / c < 0 or abs((b - a) / c - round((b - a) / c)) > 1e-6:
            raise IonexFormatError(f"{name}1/{name}2/D{name} = {a} {b} {c} is not a regular grid", path=path,
                                   expected="(end - start) a whole multiple of the step")
    if hdr.n_maps <= 0:
        raise IonexFormatError(f"# OF MAPS IN FILE is {hdr.n_maps}", path=path, expected="at least 1 map")
    if hdr.interval and hdr.interval != int(hdr.interval):
        warnings.warn(f"{path}: INTERVAL {hdr.interval} is not a whole number of seconds", IonexWarning,
                      stacklevel=3)
    return hdr


# ----------------------------------------------------------------------------------------------- body

_MAP_LABEL = {f"{se} OF {kind} MAP": (se, kind) for se in ("START", "END") for kind in _KINDS}
_BODY_LABELS = {k.encode(): k for k in (*_MAP_LABEL, "EPOCH OF CURRENT MAP", "EXPONENT", "END OF FILE", "COMMENT")}


@dataclass
class _Block:
    kind: str
    number: int
    start: int  # body line index of START OF ... MAP
    end: int = -1  # body line index of END OF ... MAP
    epoch: dt.datetime | None = None
    exponent: int | None = None


_FAST_PATH = True  # tests switch it off to compare both paths
_CHUNK = 65536  # fields per pass: scratch buffers stay in cache and are reused, not re-allocated


def _first_bad_field(f: np.ndarray) -> int | None:
    """Index of the first field of `f` (flat uint8, whole fields) that is not `blanks, [minus], digits`."""
    digit = (f - np.uint8(48)) < 10
    allowed = digit | (f == 32) | (f == 45)
    # Bytes are ordered blank (32) < minus (45) < digits (48-57): inside a field, anything but a blank
    # must be followed by a digit; only across a field boundary may a digit meet a blank or a minus.
    pair_bad = np.zeros(f.size, dtype=bool)
    np.greater(f[:-1], 32, out=pair_bad[:-1])
    pair_bad[:-1] &= ~digit[1:]
    pair_bad[FIELD - 1::FIELD] = ~digit[FIELD - 1::FIELD]  # the last byte of a field must be a digit
    bad = np.flatnonzero(~allowed | pair_bad)
    return int(bad[0]) // FIELD if len(bad) else None


@functools.lru_cache(maxsize=16)
def _expected_records(lat: tuple[float, float, float], lon: tuple[float, float, float], h: float) -> np.ndarray:
    """The first 32 columns of each LAT/LON1/LON2/DLON/H record of a grid, as uint8 rows."""
    text = "".join(f"  {la:6.1f}{lon[0]:6.1f}{lon[1]:6.1f}{lon[2]:6.1f}{h:6.1f}" for la in _axis(*lat))
    out = np.frombuffer(text.encode(), dtype=np.uint8).reshape(-1, 32)
    out.flags.writeable = False
    return out


def _apply_exponent(values: np.ndarray, exponent: int) -> None:
    """Scale in place by 10**exponent, correctly rounded: 9 at EXPONENT -1 is float32(0.9), not 9 * 0.1."""
    if exponent < 0:
        values /= np.float32(10.0 ** -exponent)
    elif exponent > 0:
        values *= np.float32(10.0 ** exponent)


class _FieldParser:
    """Parses right-aligned I5 fields into scaled float32 values, NaN for 9999, chunk by chunk.

    Every check is a pass over a cache-sized chunk with preallocated scratch buffers, column-wise:
    the five bytes of a field are too short an axis for per-field numpy reductions to be fast, and
    fresh multi-megabyte temporaries cost more in page faults than the arithmetic itself.
    """

    def __init__(self, max_fields: int) -> None:
        nb = max_fields * FIELD
        self.digit = np.empty(nb, bool)
        self.flag = np.empty(nb, bool)
        self.scratch = np.empty(nb, np.uint8)
        self.low = np.empty(max_fields, np.uint16)
        self.tmp = np.empty(max_fields, np.uint16)
        self.nan = np.empty(max_fields, bool)

    def parse(self, f: np.ndarray, out: np.ndarray, exponent: int) -> int | None:
        """Fill `out` (float32, len(f)//5) from `f`; return the index of the first bad field or None."""
        m = f.size
        k = m // FIELD
        dg, fl, sc = self.digit[:m], self.flag[:m], self.scratch[:m]
        np.subtract(f, np.uint8(48), out=sc)
        np.less(sc, 10, out=dg)
        np.equal(f, 32, out=fl)
        fl |= dg
        has_minus = not fl.all()  # some byte is neither blank nor digit: a minus, or garbage
        # A non-blank byte followed by a non-digit inside a field is malformed.
        np.greater(f[:-1], 32, out=fl[:-1])
        fl[-1] = False
        np.greater(fl[:-1], dg[1:], out=fl[:-1])  # for booleans a > b is a and not b
        np.logical_not(dg[FIELD - 1::FIELD], out=fl[FIELD - 1::FIELD])  # a field ends with a digit
        if fl.any() or (has_minus and not np.all(dg | (f == 32) | (f == 45))):
            return _first_bad_field(f)
        np.bitwise_and(f, np.uint8(15), out=sc)  # '0'-'9' -> 0-9, blank -> 0, minus -> 13 (fixed below)
        if has_minus:
            minus = f == 45
            sc[minus] = 0
        dd = sc.reshape(-1, FIELD)
        lo, tt, nan = self.low[:k], self.tmp[:k], self.nan[:k]
        np.multiply(dd[:, 1], np.uint16(1000), out=lo)
        np.multiply(dd[:, 2], np.uint16(100), out=tt)
        lo += tt
        np.multiply(dd[:, 3], np.uint16(10), out=tt)
        lo += tt
        lo += dd[:, 4]
        np.equal(lo, NO_VALUE, out=nan)
        out[:] = lo
        if dd[:, 0].any():
            big = dd[:, 0] != 0
            out += dd[:, 0].astype(np.float32) * np.float32(10000)
            nan &= ~big
        if has_minus:
            neg = minus.reshape(-1, FIELD).any(axis=1)
            out[neg] *= -1
            nan &= ~neg
        _apply_exponent(out, exponent)
        out[nan] = np.nan
        return None


def _parse_value_rows(rows: np.ndarray, offsets: np.ndarray, counts: np.ndarray, exponent: int,
                      values: np.ndarray) -> int | None:
    """Parse the I5 values of every latitude row of every map into `values` (maps, nlat, nlon).

    `rows` is a (maps, nlat, width) byte view of the rows, whose value lines start at `offsets`
    and hold `counts` values each. A few maps at a time are copied out of the (strided) view into a
    cache-resident buffer and parsed; returns the flat index of the first bad field, or None."""
    nb, nlat, nlon = values.shape
    per_map = nlat * nlon
    flat_values = values.reshape(-1)
    parser = _FieldParser(max(_CHUNK, per_map))
    g = max(1, _CHUNK // per_map)
    buf = np.empty((g, nlat, nlon * FIELD), dtype=np.uint8)
    for b0 in range(0, nb, g):
        b1 = min(nb, b0 + g)
        part = buf[:b1 - b0]
        dst = 0
        for off, c in zip(offsets.tolist(), counts.tolist()):
            w = int(c) * FIELD
            part[:, :, dst:dst + w] = rows[b0:b1, :, int(off):int(off) + w]
            dst += w
        k = parser.parse(part.reshape(-1), flat_values[b0 * per_map:b1 * per_map], exponent)
        if k is not None:
            return b0 * per_map + k
    return None


def _parse_body(text: bytes, off: int, hdr: IonexHeader, path: str, first_line: int,
                allow_partial: bool) -> tuple[list[_Block], np.ndarray]:
    """Locate the map blocks after byte `off` (the end of the header) and parse all their values.

    Returns (blocks, values): values is float32 (n_blocks, nlat, nlon) in TECU (or km), NaN for
    9999, in block order. `first_line` is the 1-based file line number of the first body line.
    Line starts/ends are absolute byte offsets into `text`; line indices count body lines.
    """
    lats, lons = hdr.lats, hdr.lons
    nlat, nlon = len(lats), len(lons)
    per_row = -(-nlon // VALUES_PER_LINE)
    body = text
    arr = np.frombuffer(text, dtype=np.uint8)
    nl = np.flatnonzero(arr[off:] == 10)
    nl += off
    ends = nl if (len(arr) == off or arr[-1] == 10) else np.append(nl, len(arr))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = off
        starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    nlines = len(starts)

    def lineno(i: int) -> int:
        return first_line + int(i)

    # A record line carries its label from column 61; value lines hold only digits, blanks and minus.
    long_enough = lengths > 62
    c60 = np.zeros(nlines, dtype=np.uint8)
    c60[long_enough] = arr[starts[long_enough] + 60]
    is_label = (c60 >= 65) & (c60 <= 90)
    is_lat = np.zeros(nlines, dtype=bool)
    is_lat[long_enough] = ((c60[long_enough] == 76) & (arr[starts[long_enough] + 61] == 65)
                           & (arr[starts[long_enough] + 62] == 84))  # "LAT"

    blocks: list[_Block] = []
    current: _Block | None = None
    saw_eof = False
    truncated: str | None = None
    ignore_from = nlines  # lines of an incomplete last map (kept out of the checks when reading partially)
    for i in np.flatnonzero(is_label & ~is_lat):
        i = int(i)
        s0 = int(starts[i])
        label = _BODY_LABELS.get(body[s0 + 60:int(ends[i])].strip())
        content = body[s0:s0 + 60].decode("ascii", "replace")
        if label is None:
            label = body[s0 + 60:int(ends[i])].decode("ascii", "replace").strip()
        if saw_eof:
            raise IonexFormatError(f"record {label!r} after END OF FILE", path=path, line=lineno(i),
                                   expected="nothing after END OF FILE")
        m = _MAP_LABEL.get(label)
        if m:
            try:
                number = int(content.split()[0])
            except (ValueError, IndexError):
                raise IonexFormatError(f"{label!r} without a map number", path=path, line=lineno(i),
                                       expected="I6 map number") from None
            if m[0] == "START":
                if current is not None:
                    raise IonexFormatError(
                        f"missing END OF {current.kind} MAP for map {current.number} "
                        f"(started at line {lineno(current.start)})", path=path, line=lineno(i),
                        expected=f"END OF {current.kind} MAP before the next map")
                current = _Block(m[1], number, i)
            else:
                if current is None or current.kind != m[1] or current.number != number:
                    raise IonexFormatError(f"{label!r} {number} without a matching START", path=path,
                                           line=lineno(i), expected="START OF ... MAP first")
                current.end = i
                blocks.append(current)
                current = None
        elif label == "EPOCH OF CURRENT MAP":
            if current is None:
                raise IonexFormatError("EPOCH OF CURRENT MAP outside a map block", path=path,
                                       line=lineno(i), expected="START OF ... MAP first")
            try:
                y, mo, d, hh, mi, ss = (int(x) for x in content.split())
                epoch = (dt.datetime(y, mo, d, hh, mi, ss, tzinfo=dt.UTC)
                         if hh < 24 and mi < 60 and ss < 60 else None)
            except ValueError:
                epoch = None
            current.epoch = epoch or _epoch(_numbers(content, path, lineno(i), label, 6), path, lineno(i), label)
        elif label == "EXPONENT":
            value = int(_numbers(content, path, lineno(i), label, 1)[0])
            if current is not None:
                current.exponent = value
            else:
                hdr.exponent = value
        elif label == "END OF FILE":
            saw_eof = True
            if current is not None:
                truncated = (f"END OF FILE inside {current.kind} map {current.number} "
                             f"(started at line {lineno(current.start)})")
                ignore_from = current.start
                current = None
        elif label == "COMMENT" and current is None:
            continue
        else:
            raise IonexFormatError(f"unexpected record {label!r}", path=path, line=lineno(i),
                                   expected="a map block record or END OF FILE")
    if current is not None:
        truncated = (f"missing END OF {current.kind} MAP for map {current.number} "
                     f"(started at line {lineno(current.start)}; file truncated?)")
        ignore_from = current.start
    if truncated:
        if not allow_partial:
            raise IonexFormatError(truncated, path=path, line=first_line + nlines - 1,
                                   expected="complete map blocks (allow_partial=True reads those)")
        warnings.warn(f"{path}: {truncated}; incomplete map dropped", IonexWarning, stacklevel=3)
    elif not saw_eof:
        warnings.warn(f"{path}: no END OF FILE record after {len(blocks)} complete maps; read anyway",
                      IonexWarning, stacklevel=3)

    if not blocks:
        raise IonexFormatError("no complete map in file", path=path, line=first_line + max(nlines - 1, 0),
                               expected="at least one START OF TEC MAP ... END OF TEC MAP block")

    # Value lines outside map blocks must be blank.
    inside = np.zeros(nlines + 1, dtype=np.int8)
    for b in blocks:
        inside[b.start] += 1
        inside[b.end + 1] -= 1
    inside = np.cumsum(inside[:-1]).astype(bool)
    stray = np.flatnonzero(~inside[:ignore_from] & ~is_label[:ignore_from] & (lengths[:ignore_from] > 0))
    for i in stray:
        if body[starts[i]:ends[i]].strip():
            raise IonexFormatError("values outside a map block", path=path, line=lineno(i),
                                   expected="values only between START and END OF ... MAP")

    # Structure of each block: its latitude records, each followed by exactly `per_row` value lines.
    lat_idx = np.flatnonzero(is_lat)
    label_idx = np.flatnonzero(is_label)
    for b in blocks:
        if b.epoch is None:
            raise IonexFormatError(f"{b.kind} map {b.number} has no EPOCH OF CURRENT MAP", path=path,
                                   line=lineno(b.start), expected="EPOCH OF CURRENT MAP after START")
    b_start = np.array([b.start for b in blocks])
    b_end = np.array([b.end for b in blocks])
    lo = np.searchsorted(lat_idx, b_start)
    hi = np.searchsorted(lat_idx, b_end)
    wrong = np.flatnonzero(hi - lo != nlat)
    if len(wrong):
        b = blocks[int(wrong[0])]
        raise IonexFormatError(f"{b.kind} map {b.number} has {int(hi[wrong[0]] - lo[wrong[0]])} latitude rows",
                               path=path, line=lineno(b.start), expected=f"{nlat} rows from LAT1/LAT2/DLAT")
    rec = lat_idx[(lo[:, None] + np.arange(nlat)[None, :]).ravel()]
    # Between START and the first latitude record only records (EPOCH, EXPONENT) may stand.
    first_rec = rec[::nlat]
    labels_before = np.searchsorted(label_idx, first_rec) - np.searchsorted(label_idx, b_start)
    wrong = np.flatnonzero(labels_before != first_rec - b_start)
    if len(wrong):
        b = blocks[int(wrong[0])]
        raise IonexFormatError(f"values before the first latitude record of {b.kind} map {b.number}",
                               path=path, line=lineno(b.start), expected="LAT/LON1/LON2/DLON/H record")
    nxt_label = label_idx[np.searchsorted(label_idx, rec, side="right")]
    bad = np.flatnonzero(nxt_label - rec - 1 != per_row)
    if len(bad):
        r = int(rec[bad[0]])
        raise IonexFormatError(f"{int(nxt_label[bad[0]] - r - 1)} value lines after this latitude record",
                               path=path, line=lineno(r),
                               expected=f"{per_row} lines holding {nlon} values (16 per line)")

    # Value lines: their first 5*count columns hold the values; anything after must be blank padding.
    nb = len(blocks)
    counts = np.full(per_row, VALUES_PER_LINE)
    counts[-1] = nlon - VALUES_PER_LINE * (per_row - 1)
    vline = (rec[:, None] + 1 + np.arange(per_row)[None, :]).ravel()
    want_len = np.tile(counts * FIELD, len(rec))
    vlen = lengths[vline]
    want_row = counts * FIELD
    vlen_rows = vlen.reshape(len(rec), per_row)
    short = np.flatnonzero(vlen < want_len)
    if len(short):
        i = int(vline[short[0]])
        vtext = body[starts[i]:ends[i]]
        raise IonexFormatError(f"value line has {len(vtext)} columns ({len(vtext.split())} fields)", path=path,
                               line=lineno(i), expected=f"{counts[short[0] % per_row]} values in I5 fields")
    exact = bool(np.array_equal(vlen, want_len))
    # Lines may be padded with blanks (ESA pads to 80 columns): fine when every row looks the same.
    uniform = bool(np.all(vlen_rows == vlen_rows[0]))

    # Regular layout (every row and every map block the same number of bytes apart, as writers
    # produce): the rows are then strided views of the buffer and need no per-row work at all.
    offsets = starts[rec].reshape(nb, nlat)
    rec_len = lengths[rec]
    row_step = int(offsets[0, 1] - offsets[0, 0]) if nlat > 1 else 0
    block_step = int(offsets[1, 0] - offsets[0, 0]) if nb > 1 else 0
    regular = (uniform and bool(np.all(rec_len == rec_len[0]))
               and bool(np.all(np.diff(offsets, axis=1) == row_step))
               and bool(np.all(np.diff(offsets[:, 0]) == block_step)))
    line_offsets = int(rec_len[0]) + 1 + np.concatenate([[0], np.cumsum(vlen_rows[0] + 1)[:-1]])

    def padding_error(j: int) -> IonexFormatError:
        i = int(vline[j])
        vtext = body[starts[i]:ends[i]]
        return IonexFormatError(f"value line has {len(vtext)} columns ({len(vtext.split())} fields)", path=path,
                                line=lineno(i), expected=f"{counts[j % per_row]} values in I5 fields")

    if not exact and not regular:
        for j in np.flatnonzero(vlen != want_len):
            i = int(vline[j])
            if body[starts[i] + want_len[j]:ends[i]].strip():
                raise padding_error(int(j))
    o0 = int(offsets[0, 0])

    def rows(offset: int, width: int) -> np.ndarray:
        """(nb, nlat, width) view of `width` bytes at `offset` from each latitude record's start."""
        return np.lib.stride_tricks.as_strided(arr[o0 + offset:], shape=(nb, nlat, width),
                                               strides=(block_step, row_step, 1), writeable=False)

    if regular and not exact:
        for k in range(per_row):
            extra = int(vlen_rows[0, k] - want_row[k])
            if extra:
                pad = rows(int(line_offsets[k] + want_row[k]), extra)
                bad_pad = np.flatnonzero((pad != 32).any(axis=2).ravel())
                if len(bad_pad):
                    raise padding_error(int(bad_pad[0]) * per_row + k)

    # Latitude records must describe the header grid: compare their first 32 columns byte for byte
    # with the expected text, and only parse (and report) the ones that differ.
    h = hdr.hgt[0]
    expected_rec = _expected_records(hdr.lat, hdr.lon, h)
    if regular:
        got_rec = rows(0, 32)
    else:
        got_rec = arr[starts[rec][:, None] + np.arange(32)[None, :]].reshape(nb, nlat, 32)
    differ = np.flatnonzero((got_rec != expected_rec[None]).any(axis=2).ravel())
    for j in differ:
        r = int(rec[j])
        rtext = body[starts[r]:starts[r] + 60].decode("ascii", "replace")
        nums = _numbers(" ".join(rtext[k:k + 6] for k in range(2, 32, 6)), path, lineno(r),
                        "LAT/LON1/LON2/DLON/H", 5)
        want = (lats[j % nlat], *hdr.lon, h)
        if not np.allclose(nums[:5], want, atol=1e-6):
            raise IonexFormatError(f"latitude record {rtext.strip()!r} does not match the header grid",
                                   path=path, line=lineno(r),
                                   expected="LAT/LON1/LON2/DLON/H = " + " ".join(f"{x:.1f}" for x in want))

    exps = np.array([b.exponent if b.exponent is not None else hdr.exponent for b in blocks])
    common = bool(np.all(exps == exps[0]))
    exponent = int(exps[0]) if common else 0
    values = np.empty((nb, nlat, nlon), dtype=np.float32)
    flat_values = values.reshape(-1)
    per_map = nlat * nlon
    bad: int | None = None
    if regular:
        width = int(line_offsets[-1] + vlen_rows[0, -1])  # through the last value line of a row
        bad = _parse_value_rows(rows(0, width), line_offsets, counts, exponent, values)
    else:
        if exact:
            first = starts[rec + 1].tolist()
            last = ends[rec + per_row].tolist()
            joined = b"".join([text[a:b] for a, b in zip(first, last)]).replace(b"\n", b"")
            flat = np.frombuffer(joined, dtype=np.uint8)
        else:
            vstart = starts[vline]
            marker = np.zeros(len(arr) + 1, dtype=np.int8)
            marker[vstart] = 1
            marker[vstart + want_len] = -1
            flat = arr[np.cumsum(marker[:-1], dtype=np.int8).view(bool)]
        parser = _FieldParser(max(_CHUNK, per_map))
        for s0 in range(0, flat_values.size, _CHUNK):
            s1 = min(flat_values.size, s0 + _CHUNK)
            k = parser.parse(flat[s0 * FIELD:s1 * FIELD], flat_values[s0:s1], exponent)
            if k is not None:
                bad = s0 + k
                break
    if bad is not None:
        row, col = divmod(bad, nlon)
        line_in_row, pos = divmod(col, VALUES_PER_LINE)
        i = int(rec[row] + 1 + line_in_row)
        j = int(starts[i]) + pos * FIELD
        field_text = text[j:j + FIELD].decode("ascii", "replace")
        raise IonexFormatError(f"non-numeric value {field_text!r} in columns {pos * FIELD + 1}-{pos * FIELD + FIELD}",
                               path=path, line=lineno(i), expected="an integer in an I5 field")
    if not common:
        for j, e in enumerate(exps):
            _apply_exponent(values[j], int(e))
    return blocks, values


# --------------------------------------------------------------------------------------------- public

def _int_fields(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned unsigned integers in fixed-width fields (last axis = field bytes): values, ok."""
    d = b.astype(np.int16) - 48
    digit = (d >= 0) & (d <= 9)
    blank = b == 32
    ok = (digit | blank).all(axis=-1) & digit[..., -1] & ~(digit[..., :-1] & blank[..., 1:]).any(axis=-1)
    weights = 10 ** np.arange(b.shape[-1] - 1, -1, -1, dtype=np.int64)
    return (np.where(digit, d, 0) * weights).sum(axis=-1), ok


def _parse_tiled(text: bytes, off: int, hdr: IonexHeader, path: str) -> tuple[list[_Block], np.ndarray] | None:
    """Fast path for the common case: every map block has the same byte layout as the first one.

    The first block is read line by line and becomes a template; every other block is then checked
    against it with a few vectorised comparisons (line ends, latitude records, record labels, blank
    columns) and its values are parsed from strided views. Anything that does not fit the template
    returns None and the general parser handles the file (and names what is wrong).
    """
    lats, lons = hdr.lats, hdr.lons
    nlat, nlon = len(lats), len(lons)
    per_row = -(-nlon // VALUES_PER_LINE)
    counts = np.full(per_row, VALUES_PER_LINE)
    counts[-1] = nlon - VALUES_PER_LINE * (per_row - 1)
    end_label = text.find(b"END OF TEC MAP", off)
    block_end = text.find(b"\n", end_label) + 1 if end_label >= 0 else 0
    if block_end <= 0:
        return None
    lines = text[off:block_end].split(b"\n")[:-1]
    per_block = 3 + nlat * (1 + per_row)
    if len(lines) != per_block or not lines[0][60:].startswith(b"START OF TEC MAP") \
            or not lines[1][60:].startswith(b"EPOCH OF CURRENT MAP"):
        return None
    lens = np.array([len(x) + 1 for x in lines])
    row_lens = lens[2:-1].reshape(nlat, 1 + per_row)
    if not np.all(row_lens == row_lens[0]) or np.any(row_lens[0, 1:] - 1 < counts * FIELD):
        return None
    block_len = block_end - off
    tail = text.rfind(b"END OF FILE", off + block_len - 1)
    stop = text.rfind(b"\n", 0, tail) + 1 if tail >= 0 else len(text)
    if (stop - off) % block_len or (tail < 0 and text[stop:].strip()):
        return None
    if tail >= 0:
        eof_end = text.find(b"\n", tail)
        eof_end = len(text) if eof_end < 0 else eof_end
        if text[stop:stop + 60].strip() or text[stop + 60:eof_end].strip() != b"END OF FILE" \
                or text[eof_end:].strip():
            return None
    nb = (stop - off) // block_len
    arr = np.frombuffer(text, dtype=np.uint8)
    blk = np.lib.stride_tricks.as_strided(arr[off:], shape=(nb, block_len), strides=(block_len, 1),
                                          writeable=False)
    ends = np.cumsum(lens) - 1  # newline offsets inside a block
    if not np.all(blk[:, ends] == 10):
        return None
    starts = np.concatenate([[0], ends[:-1] + 1])
    # Latitude records: byte for byte those of the first block, which must match the header grid.
    rec0 = starts[2:-1:1 + per_row]
    row_step = int(row_lens[0].sum())
    rec_w = int(row_lens[0, 0]) - 1
    rows = np.lib.stride_tricks.as_strided(arr[off + int(rec0[0]):], shape=(nb, nlat, row_step),
                                           strides=(block_len, row_step, 1), writeable=False)
    first_rec = rows[0, :, :rec_w]
    if not np.array_equal(first_rec[:, :32], _expected_records(hdr.lat, hdr.lon, hdr.hgt[0])) \
            or first_rec[:, 32:60].any() and not np.all(first_rec[:, 32:60] == 32) \
            or not np.all(first_rec[:, 60:] == np.frombuffer(b"LAT/LON1/LON2/DLON/H"[:rec_w - 60], np.uint8)):
        return None
    if not np.all(rows[:, :, :rec_w] == first_rec[None]):
        return None
    # START / EPOCH / END records: labels, blank columns, map numbers and epochs.
    def line(k: int, a: int, b: int) -> np.ndarray:
        j = int(starts[k] if k >= 0 else starts[per_block + k])
        return blk[:, j + a:j + b]
    kinds = line(0, 69, 72)
    is_tec = np.all(kinds == np.frombuffer(b"TEC", np.uint8), axis=1)
    is_rms = np.all(kinds == np.frombuffer(b"RMS", np.uint8), axis=1)
    n_tec = int(is_tec.sum())
    if not (np.all(is_tec[:n_tec]) and np.all(is_rms[n_tec:])):
        return None
    for k, label_w in ((0, lens[0] - 1), (-1, lens[-1] - 1)):
        lab = line(k, 60, int(label_w))
        want_tec = np.frombuffer(lines[0 if k == 0 else -1][60:], np.uint8)
        want_rms = want_tec.copy()
        kind_at = lines[0 if k == 0 else -1][60:].find(b"TEC")
        want_rms[kind_at:kind_at + 3] = np.frombuffer(b"RMS", np.uint8)
        if not (np.all(lab[:n_tec] == want_tec) and np.all(lab[n_tec:] == want_rms)):
            return None
        if not np.all(line(k, 6, 60) == 32):
            return None
    if not np.all(line(1, 60, int(lens[1]) - 1) == np.frombuffer(lines[1][60:], np.uint8)) \
            or not np.all(line(1, 36, 60) == 32):
        return None
    numbers, ok_num = _int_fields(np.stack([line(0, 0, 6), line(-1, 0, 6)], axis=1))
    epochs, ok_ep = _int_fields(line(1, 0, 36).reshape(nb, 6, 6))
    if not (ok_num.all() and ok_ep.all() and np.array_equal(numbers[:, 0], numbers[:, 1])):
        return None
    blocks = []
    for b in range(nb):
        y, mo, d, hh, mi, ss = epochs[b].tolist()
        if not (hh < 24 and mi < 60 and ss < 60):
            return None
        try:
            epoch = dt.datetime(y, mo, d, hh, mi, ss, tzinfo=dt.UTC)
        except ValueError:
            return None
        blocks.append(_Block("TEC" if b < n_tec else "RMS", int(numbers[b, 0]), b * per_block,
                             b * per_block + per_block - 1, epoch))
    # Values: padding after them must be blank; the field parser checks the values themselves.
    offs = np.concatenate([[rec_w + 1], rec_w + 1 + np.cumsum(row_lens[0, 1:])[:-1]])
    for k in range(per_row):
        extra = int(row_lens[0, 1 + k]) - 1 - int(counts[k]) * FIELD
        if extra and not np.all(rows[:, :, offs[k] + counts[k] * FIELD:offs[k] + counts[k] * FIELD + extra] == 32):
            return None
    values = np.empty((nb, nlat, nlon), dtype=np.float32)
    if _parse_value_rows(rows, offs, counts, hdr.exponent, values) is not None:
        return None
    if tail < 0:
        warnings.warn(f"{path}: no END OF FILE record after {nb} complete maps; read anyway",
                      IonexWarning, stacklevel=3)
    return blocks, values


def centre_from_filename(name: str) -> str:
    """Analysis-centre code from an IGS short (`codg0080.20i`) or long (`COD0OPSFIN_...`) file name."""
    base = Path(name).name
    m = re.match(r"^([A-Za-z0-9]{3})0[A-Za-z]{3}[A-Za-z]{3}_\d{11}_", base)
    if m:
        return m.group(1).lower()
    m = re.match(r"^([A-Za-z0-9]{3})[gG]\d{3}\d\.\d{2}[iI]", base)
    if m:
        return m.group(1).lower()
    return "unknown"


class _Sha256:
    """sha256 of a buffer, computed in a background thread when the buffer is large."""

    def __init__(self, data: bytes) -> None:
        self._hex: str | None = None
        self._thread: threading.Thread | None = None
        if len(data) < (1 << 18):
            self._hex = hashlib.sha256(data).hexdigest()
        else:
            self._thread = threading.Thread(target=self._run, args=(data,), daemon=True)
            self._thread.start()

    def _run(self, data: bytes) -> None:
        self._hex = hashlib.sha256(data).hexdigest()

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._thread.join()
        assert self._hex is not None
        return self._hex


def parse_ionex(data: bytes, name: str = "<bytes>", *, allow_partial: bool = False,
                centre: str | None = None) -> xr.Dataset:
    """Parse IONEX bytes (plain or compressed) into an `xarray.Dataset`.

    Variables `tec` and `rms` (and `height` when present) in TECu/km, float32, dims (time, lat, lon),
    NaN where the file says 9999. `allow_partial=True` keeps the complete maps of a truncated file.
    """
    digest = _Sha256(data)  # hashlib releases the GIL: hash on another core while parsing
    text = decompress(data, name, IonexFormatError)
    if not text or text.isspace():
        raise IonexFormatError("empty file", path=name, line=1, expected="an IONEX header")
    if b"\r" in text:
        text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    hdr_end = re.search(rb"END OF HEADER[ \t]*(\n|$)", text)
    if hdr_end is None:
        head = text.decode("latin-1")
        n = head.count("\n") + 1
        _check_first_record(head.split("\n", 1)[0], name)
        raise IonexFormatError("no END OF HEADER record (truncated or not an IONEX file)", path=name,
                               line=n, expected="END OF HEADER")
    header_text = decode_ascii(text[:hdr_end.end()], name, IonexFormatError, "header")
    hdr_lines = header_text.rstrip("\n").split("\n")
    hdr = _parse_header(hdr_lines, name)
    # Warnings about the maps are only worth showing when the file is read: hold them until then.
    with warnings.catch_warnings(record=True) as pending:
        warnings.simplefilter("always")
        fast = _parse_tiled(text, hdr_end.end(), hdr, name) if _FAST_PATH else None
        if fast is None:
            fast = _parse_body(text, hdr_end.end(), hdr, name, len(hdr_lines) + 1, allow_partial)
        blocks, values = fast
        ds = _to_dataset(hdr, blocks, values, name, digest.hexdigest(), allow_partial, centre)
    for w in pending:
        warnings.warn(w.message, w.category, stacklevel=2)
    return ds


def _to_dataset(hdr: IonexHeader, blocks: list[_Block], values: np.ndarray, name: str, sha: str,
                allow_partial: bool, centre: str | None) -> xr.Dataset:
    by_kind: dict[str, list[int]] = {k: [] for k in _KINDS}
    for j, b in enumerate(blocks):
        by_kind[b.kind].append(j)
    tec_idx = by_kind["TEC"]
    if not tec_idx:
        raise IonexFormatError("no TEC map in file", path=name, expected="at least one TEC map")
    n_tec = len(tec_idx)
    if n_tec != hdr.n_maps:
        msg = f"{n_tec} TEC maps in file, header says {hdr.n_maps}"
        if n_tec > hdr.n_maps or not allow_partial:
            raise IonexFormatError(msg + (" (truncated download?)" if n_tec < hdr.n_maps else ""), path=name,
                                   expected=f"{hdr.n_maps} maps from '# OF MAPS IN FILE'"
                                   + (" (allow_partial=True reads the complete ones)" if n_tec < hdr.n_maps else ""))
        warnings.warn(f"{name}: {msg}; reading the {n_tec} complete maps", IonexWarning, stacklevel=3)


    def stack(idx: list[int]) -> np.ndarray:
        """The maps of blocks `idx`: a view when they follow each other in the file, else a copy."""
        if idx == list(range(idx[0], idx[0] + len(idx))):
            return values[idx[0]:idx[-1] + 1]
        return values[idx]

    times = [blocks[j].epoch for j in tec_idx]
    numbers = [blocks[j].number for j in tec_idx]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise IonexFormatError("TEC map epochs are not increasing", path=name,
                               expected="one map per epoch in time order")
    if hdr.first_epoch and times[0] != hdr.first_epoch:
        warnings.warn(f"{name}: first map at {times[0]}, header EPOCH OF FIRST MAP {hdr.first_epoch}",
                      IonexWarning, stacklevel=3)
    if hdr.interval and len(times) > 1:
        steps = {(b - a).total_seconds() for a, b in zip(times, times[1:])}
        if steps != {round(hdr.interval)}:
            warnings.warn(f"{name}: map spacing {sorted(steps)} s differs from INTERVAL {hdr.interval:g} s",
                          IonexWarning, stacklevel=3)
    tec = stack(tec_idx)
    data_vars: dict[str, Any] = {}
    lat, lon = hdr.lats, hdr.lons
    shape = tec.shape
    others = {}
    position = {n: k for k, n in enumerate(numbers)}
    for kind in ("RMS", "HEIGHT"):
        idx = by_kind[kind]
        if not idx:
            continue
        pos = []
        for j in idx:
            b = blocks[j]
            if b.number not in position:
                raise IonexFormatError(f"{kind} map {b.number} has no TEC map of the same number", path=name,
                                       line=None, expected="RMS/HEIGHT maps numbered like the TEC maps")
            k = position[b.number]
            if b.epoch != times[k]:
                raise IonexFormatError(f"{kind} map {b.number} epoch {b.epoch} differs from TEC map epoch "
                                       f"{times[k]}", path=name, expected="the same epoch")
            pos.append(k)
        if pos == list(range(n_tec)):
            arr = stack(idx)
        else:
            arr = np.full(shape, np.nan, dtype=np.float32)
            arr[pos] = values[idx]
        if len(idx) < n_tec and not allow_partial:
            raise IonexFormatError(f"{len(idx)} {kind} maps for {n_tec} TEC maps (truncated download?)",
                                   path=name, expected=f"{n_tec} {kind} maps")
        others[kind] = (arr, len(idx))
    rms, n_rms = others.get("RMS", (np.full(shape, np.nan, dtype=np.float32), 0))
    data_vars["tec"] = (("time", "lat", "lon"), tec, {
        "long_name": "vertical total electron content", "units": "TECU",
        "comment": "1 TECU = 1e16 electrons m-2; NaN where the file has no value (9999)"})
    data_vars["rms"] = (("time", "lat", "lon"), rms, {
        "long_name": "RMS error of vertical total electron content", "units": "TECU",
        "comment": "all NaN when the file has no RMS maps"})
    if "HEIGHT" in others:
        data_vars["height"] = (("time", "lat", "lon"), others["HEIGHT"][0], {
            "long_name": "height of the single-layer shell", "units": "km"})
    t0 = times[0]
    time = (np.datetime64(t0.replace(tzinfo=None), "ns")
            + np.array([(t - t0) // dt.timedelta(microseconds=1) for t in times], dtype="timedelta64[us]"))
    centre = centre or centre_from_filename(name)
    ds = xr.Dataset(
        data_vars,
        coords={
            "time": ("time", time, {"standard_name": "time", "long_name": "map epoch (UTC)"}),
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north",
                                 "comment": "geocentric latitude on the spherical shell"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": "Global Ionospheric Map",
            "institution": centre.upper(),
            "source": " ".join(x for x in (hdr.program, hdr.run_by) if x) or "IONEX",
            "centre": centre,
            "source_file": Path(name).name,
            "source_sha256": sha,
            "ionex_version": hdr.version,
            "satellite_system": hdr.system,
            "description": "\n".join(hdr.description),
            "comment": "\n".join(hdr.comments),
            "mapping_function": hdr.mapping_function,
            "elevation_cutoff_deg": hdr.elevation_cutoff if hdr.elevation_cutoff is not None else np.nan,
            "observables_used": hdr.observables,
            "base_radius_km": hdr.base_radius,
            "shell_height_km": hdr.hgt[0],
            "interval_s": float(hdr.interval),
            "exponent": hdr.exponent,
            "maps_declared": hdr.n_maps,
            "rms_maps": n_rms,
            "partial": int(n_tec < hdr.n_maps),
        },
    )
    return ds


def read_ionex(path: str | Path, *, allow_partial: bool = False, centre: str | None = None) -> xr.Dataset:
    """Read an IONEX file (plain, `.Z`, `.gz` or single-member `.zip`) into an `xarray.Dataset`."""
    p = Path(path)
    data = p.read_bytes()
    if not data:
        raise IonexFormatError("empty file", path=str(p), line=1, expected="an IONEX header")
    return parse_ionex(data, str(p), allow_partial=allow_partial, centre=centre)


# --------------------------------------------------------------------------------------------- writer

def _rec(content: str, label: str) -> str:
    if len(content) > 60:
        raise ValueError(f"IONEX record content longer than 60 columns: {content!r}")
    return f"{content:<60}{label:<20}\n"


def _epoch_fields(t: np.datetime64) -> str:
    ts = dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="s")))
    return f"{ts.year:6d}{ts.month:6d}{ts.day:6d}{ts.hour:6d}{ts.minute:6d}{ts.second:6d}"


def _text_lines(text: str, width: int = 60) -> list[str]:
    out: list[str] = []
    for para in text.split("\n"):
        para = para.rstrip()
        while len(para) > width:
            out.append(para[:width])
            para = para[width:]
        out.append(para)
    return out


def _grid(values: np.ndarray, name: str) -> tuple[float, float, float]:
    if len(values) < 2:
        raise ValueError(f"{name} axis needs at least two points")
    steps = np.diff(values)
    if not np.allclose(steps, steps[0], atol=1e-6):
        raise ValueError(f"{name} axis is not regular")
    return float(values[0]), float(values[-1]), float(steps[0])


def _i5_fields(ints: np.ndarray) -> np.ndarray:
    """Right-aligned I5 text of integers in [-999, 99999], vectorised: uint8 array (..., 5)."""
    v = np.asarray(ints, dtype=np.int64)
    neg = v < 0
    a = np.abs(v)
    out = np.empty(v.shape + (FIELD,), dtype=np.uint8)
    for j in range(FIELD):
        place = 10 ** (FIELD - 1 - j)
        digit = (a // place) % 10
        lead = a < place  # a leading position: blank (or the minus sign)
        out[..., j] = np.where(lead, 32, 48 + digit)
        if j == FIELD - 1:
            out[..., j] = 48 + digit
    if neg.any():
        width = np.maximum(1, np.floor(np.log10(np.maximum(a, 1))).astype(int) + 1)
        idx = np.nonzero(neg)
        out[idx + (FIELD - 1 - width[idx],)] = 45
    return out


def _map_rows_text(ints: np.ndarray, records: np.ndarray) -> np.ndarray:
    """Bytes of every latitude row of every map: record line then value lines, (nmaps, nlat, width)."""
    nmaps, nlat, nlon = ints.shape
    fields = _i5_fields(ints).reshape(nmaps, nlat, nlon * FIELD)
    per_row = -(-nlon // VALUES_PER_LINE)
    rec_w = records.shape[1]
    width = rec_w + nlon * FIELD + per_row
    out = np.empty((nmaps, nlat, width), dtype=np.uint8)
    out[:, :, :rec_w] = records[None]
    src, dst = 0, rec_w
    for k in range(per_row):
        w = min(VALUES_PER_LINE, nlon - k * VALUES_PER_LINE) * FIELD
        out[:, :, dst:dst + w] = fields[:, :, src:src + w]
        out[:, :, dst + w] = 10
        src, dst = src + w, dst + w + 1
    return out


def format_ionex(ds: xr.Dataset, *, centre: str | None = None, program: str = "swx",
                 run_by: str | None = None, created: dt.datetime | None = None,
                 description: str | None = None, comments: list[str] | None = None,
                 exponent: int = -1, mapping_function: str | None = None,
                 shell_height_km: float | None = None, base_radius_km: float | None = None,
                 elevation_cutoff: float | None = None, observables: str | None = None) -> str:
    """Write a Dataset (tec, optional rms, dims time/lat/lon) as IONEX 1.0 text.

    Values are rounded to the file's precision (10**exponent TECU); NaN becomes 9999. RMS maps are
    written only when `rms` has any finite value.
    """
    if "tec" not in ds:
        raise ValueError("dataset has no 'tec' variable")
    tec = ds["tec"].transpose("time", "lat", "lon")
    times = tec["time"].values.astype("datetime64[s]")
    if len(times) == 0:
        raise ValueError("dataset has no maps")
    lat1, lat2, dlat = _grid(tec["lat"].values, "lat")
    lon1, lon2, dlon = _grid(tec["lon"].values, "lon")
    attrs = ds.attrs
    centre = (centre or attrs.get("centre") or "swx").upper()
    run_by = run_by if run_by is not None else centre
    created = created or dt.datetime.now(dt.UTC)
    height = shell_height_km if shell_height_km is not None else float(attrs.get("shell_height_km", 450.0))
    radius = base_radius_km if base_radius_km is not None else float(attrs.get("base_radius_km", 6371.0))
    mapping = mapping_function or attrs.get("mapping_function") or "NONE"
    scale = 10.0 ** exponent
    interval = int((times[1] - times[0]).astype(int)) if len(times) > 1 else 0
    if len(times) > 2 and len({int(x) for x in np.diff(times).astype(int)}) != 1:
        interval = 0  # uneven spacing, as the format says
    rms = ds["rms"].transpose("time", "lat", "lon").values if "rms" in ds else None
    if rms is not None and not np.isfinite(rms).any():
        rms = None

    def to_ints(a: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            v = np.round(np.asarray(a, dtype=np.float64) / scale)
        bad = ~np.isfinite(v)
        if np.any(v[~bad] >= NO_VALUE) or np.any(v[~bad] <= -1000):
            raise ValueError(f"values do not fit I5 fields at EXPONENT {exponent} (max "
                             f"{np.nanmax(np.abs(a)):g}); use a larger exponent")
        v[bad] = NO_VALUE
        return v.astype(np.int64)

    lines: list[str] = []
    lines.append(_rec(f"{1.0:8.1f}{'':12}{'IONOSPHERE MAPS':<20}{attrs.get('satellite_system', 'GNSS') or 'GNSS':<20}",
                      "IONEX VERSION / TYPE"))
    lines.append(_rec(f"{program[:20]:<20}{run_by[:20]:<20}{created:%d-%b-%y %H:%M}".upper()[:60],
                      "PGM / RUN BY / DATE"))
    desc = description if description is not None else attrs.get("description", "")
    for text in _text_lines(desc) if desc else []:
        lines.append(_rec(text, "DESCRIPTION"))
    lines.append(_rec(_epoch_fields(times[0]), "EPOCH OF FIRST MAP"))
    lines.append(_rec(_epoch_fields(times[-1]), "EPOCH OF LAST MAP"))
    lines.append(_rec(f"{interval:6d}", "INTERVAL"))
    lines.append(_rec(f"{len(times):6d}", "# OF MAPS IN FILE"))
    lines.append(_rec(f"  {mapping:<4}", "MAPPING FUNCTION"))
    cutoff = elevation_cutoff if elevation_cutoff is not None else attrs.get("elevation_cutoff_deg", 0.0)
    cutoff = 0.0 if cutoff is None or (isinstance(cutoff, float) and math.isnan(cutoff)) else cutoff
    lines.append(_rec(f"{cutoff:8.1f}", "ELEVATION CUTOFF"))
    obs = observables if observables is not None else attrs.get("observables_used", "")
    lines.append(_rec(str(obs)[:60], "OBSERVABLES USED"))
    lines.append(_rec(f"{radius:8.1f}", "BASE RADIUS"))
    lines.append(_rec(f"{2:6d}", "MAP DIMENSION"))
    lines.append(_rec(f"  {height:6.1f}{height:6.1f}{0.0:6.1f}", "HGT1 / HGT2 / DHGT"))
    lines.append(_rec(f"  {lat1:6.1f}{lat2:6.1f}{dlat:6.1f}", "LAT1 / LAT2 / DLAT"))
    lines.append(_rec(f"  {lon1:6.1f}{lon2:6.1f}{dlon:6.1f}", "LON1 / LON2 / DLON"))
    lines.append(_rec(f"{exponent:6d}", "EXPONENT"))
    for text in (comments or []) + [f"TEC values in {scale:g} TECU; 9999 if no value available"]:
        for t in _text_lines(text):
            lines.append(_rec(t, "COMMENT"))
    lines.append(_rec("", "END OF HEADER"))
    lat_vals = tec["lat"].values

    records = np.frombuffer("".join(_rec(f"  {la:6.1f}{lon1:6.1f}{lon2:6.1f}{dlon:6.1f}{height:6.1f}",
                                         "LAT/LON1/LON2/DLON/H") for la in lat_vals).encode(),
                            dtype=np.uint8).reshape(len(lat_vals), -1)

    def block(kind: str, data: np.ndarray) -> None:
        rows = _map_rows_text(to_ints(data), records)
        for m in range(len(times)):
            lines.append(_rec(f"{m + 1:6d}", f"START OF {kind} MAP"))
            lines.append(_rec(_epoch_fields(times[m]), "EPOCH OF CURRENT MAP"))
            lines.append(rows[m].tobytes().decode("ascii"))
            lines.append(_rec(f"{m + 1:6d}", f"END OF {kind} MAP"))

    block("TEC", tec.values)
    if rms is not None:
        block("RMS", rms)
    lines.append(_rec("", "END OF FILE"))
    return "".join(lines)


def write_ionex(ds: xr.Dataset, path: str | Path, **kwargs: Any) -> Path:
    """Write `ds` as an IONEX file atomically (temp file + rename); `.gz` names are gzipped."""
    p = Path(path)
    data = format_ionex(ds, **kwargs).encode("ascii")
    if p.name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(p, data)
    return p
