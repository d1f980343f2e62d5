"""The IONEX header: its records parsed and checked (every mandatory record, the grid, the epochs),
the format's constants, and the warning category of the reader."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from swx.errors import IonexFormatError

#: The standard IONEX grid of the GIMs and of swx's products: latitudes 87.5 .. -87.5 by -2.5,
#: longitudes -180 .. 180 by 5 (both ends kept).
IONEX_LAT = np.round(np.arange(87.5, -87.6, -2.5), 1)
IONEX_LON = np.round(np.arange(-180.0, 180.1, 5.0), 1)

NO_VALUE = 9999

#: Header records that set the scale, grid or time axis of every map: one of each, never two
ONCE_ONLY = frozenset({"EXPONENT", "LAT1 / LAT2 / DLAT", "LON1 / LON2 / DLON", "HGT1 / HGT2 / DHGT", "INTERVAL",
                       "EPOCH OF FIRST MAP", "EPOCH OF LAST MAP", "# OF MAPS IN FILE", "MAP DIMENSION",
                       "BASE RADIUS"})

#: What a file may claim before anything is allocated: the EXPONENT of its values (GIMs use -1) and a
#: grid of at most 0.1° x 0.1° (real GIMs: 2.5° x 5°, UPC's and JPL's 1° x 1°).
EXPONENT_RANGE = (-6, 3)
MAX_GRID_NODES = 1801 * 3601

#: The years an EPOCH record may hold: IONEX writes four digits (GPS began in 1980); a two-digit year
#: would be read as the year 20 and overflow nanosecond times
EPOCH_YEARS = (1980, 2100)
#: The single-layer height (km) of IONEX maps when a file says nothing else (the GIMs' own)
SHELL_HEIGHT_KM = 450.0
#: The shell height (km) a map may claim: it must fit the F6.1 fields of the grid records (GIMs: 450 or
#: 506.7 km)
HEIGHT_RANGE_KM = (1.0, 9999.9)
#: The Earth's radius a GIM's shell stands on (km): the mean radius is 6371; no centre uses another much
BASE_RADIUS_RANGE_KM = (6300.0, 6400.0)
#: The mapping functions the IONEX format names (or none)
MAPPING_FUNCTIONS = ("NONE", "COSZ", "QFAC", "MSLM")

#: Physical values after scaling: TEC and RMS in TECU (the largest vTEC ever mapped is ~300 TECU).
TEC_RANGE = (0.0, 1000.0)


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


MAP_KINDS = ("TEC", "RMS", "HEIGHT")


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
    hgt: tuple[float, float, float] = (SHELL_HEIGHT_KM, SHELL_HEIGHT_KM, 0.0)
    lat: tuple[float, float, float] = (87.5, -87.5, -2.5)
    lon: tuple[float, float, float] = (-180.0, 180.0, 5.0)
    exponent: int = -1
    aux: list[str] = field(default_factory=list)

    @property
    def lats(self) -> np.ndarray:
        return grid_axis(*self.lat)

    @property
    def lons(self) -> np.ndarray:
        return grid_axis(*self.lon)


def grid_axis(start: float, stop: float, step: float) -> np.ndarray:
    if step == 0:
        return np.array([start])
    n = int(round((stop - start) / step)) + 1
    return np.round(start + step * np.arange(n), 6)


def checked_exponent(value: float, path: str, line: int) -> int:
    """An EXPONENT record's value, refused outside EXPONENT_RANGE (10**400 overflows, 10**99 gives inf)."""
    if value != int(value) or not EXPONENT_RANGE[0] <= value <= EXPONENT_RANGE[1]:
        raise IonexFormatError(f"EXPONENT {value:g}", path=path, line=line,
                               expected=f"a whole number from {EXPONENT_RANGE[0]} to {EXPONENT_RANGE[1]} (GIMs use -1)")
    return int(value)


#: the header records written in fixed F6.1 fields (2X,3F6.1): values that fill their field touch
#: (`  1350.01350.0   0.0`, a shell at 1350 km), so they are read by column, not between blanks
_F61_RECORDS = ("HGT1 / HGT2 / DHGT", "LAT1 / LAT2 / DLAT", "LON1 / LON2 / DLON")


def header_numbers(content: str, path: str, line: int, label: str, count: int | None = None) -> list[float]:
    parts = content.split()
    if label in _F61_RECORDS and len(parts) < 3 and content[20:].strip() == "":
        parts = [content[i:i + 6] for i in (2, 8, 14)]  # the format's columns
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


def header_epoch(values: list[float], path: str, line: int, label: str) -> dt.datetime:
    y, mo, d, h, mi, s = values[:6]
    if not EPOCH_YEARS[0] <= y <= EPOCH_YEARS[1]:
        raise IonexFormatError(f"year {y:g} in {label!r}", path=path, line=line,
                               expected=f"a four-digit year, {EPOCH_YEARS[0]} .. {EPOCH_YEARS[1]}")
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


def check_first_record(first: str, path: str) -> float:
    """Version from the IONEX VERSION / TYPE record, or an error saying this is no IONEX file."""
    label = first[60:].strip()
    if label != "IONEX VERSION / TYPE" and label.upper() == "IONEX VERSION / TYPE":
        raise IonexFormatError(f"header label {label!r} in lower case", path=path, line=1,
                               expected="IONEX's labels in capitals, here 'IONEX VERSION / TYPE'")
    if label != "IONEX VERSION / TYPE":
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


def parse_header(lines: list[str], path: str) -> IonexHeader:
    first = lines[0] if lines else ""
    version = check_first_record(first, path)
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
            elif label.upper() in _HEADER_LABELS:  # read as unknown, a mandatory one was "missing" at the end
                raise IonexFormatError(f"header label {label!r} in lower case", path=path, line=i,
                                       expected=f"IONEX's labels in capitals, here {label.upper()!r}")
        if in_aux:
            hdr.aux.append(raw.rstrip())
            if label == "END OF AUX DATA":
                in_aux = False
            continue
        if label in ONCE_ONLY and label in seen:  # the last would win: every map rescaled or moved, silently
            raise IonexFormatError(f"a second {label!r} record", path=path, line=i,
                                   expected=f"one {label} record in the header")
        seen.add(label)
        if label == "PGM / RUN BY / DATE":
            hdr.program, hdr.run_by, hdr.date = content[:20].strip(), content[20:40].strip(), content[40:60].strip()
        elif label == "DESCRIPTION":
            hdr.description.append(content.rstrip())
        elif label == "COMMENT":
            hdr.comments.append(content.rstrip())
        elif label == "EPOCH OF FIRST MAP":
            hdr.first_epoch = header_epoch(header_numbers(content, path, i, label, 6), path, i, label)
        elif label == "EPOCH OF LAST MAP":
            hdr.last_epoch = header_epoch(header_numbers(content, path, i, label, 6), path, i, label)
            if hdr.first_epoch is not None and hdr.last_epoch < hdr.first_epoch:
                raise IonexFormatError(f"EPOCH OF LAST MAP {hdr.last_epoch:%Y-%m-%d %H:%M} is before EPOCH OF FIRST "
                                       f"MAP {hdr.first_epoch:%Y-%m-%d %H:%M}", path=path, line=i,
                                       expected="the last map's epoch at or after the first's")
        elif label == "INTERVAL":
            hdr.interval = header_numbers(content, path, i, label, 1)[0]
        elif label == "# OF MAPS IN FILE":
            hdr.n_maps = int(header_numbers(content, path, i, label, 1)[0])
        elif label == "MAPPING FUNCTION":
            hdr.mapping_function = content.strip() or "NONE"
        elif label == "ELEVATION CUTOFF":
            hdr.elevation_cutoff = header_numbers(content, path, i, label, 1)[0]
        elif label == "OBSERVABLES USED":
            hdr.observables = content.strip()
        elif label == "# OF STATIONS":
            hdr.n_stations = int(header_numbers(content, path, i, label, 1)[0])
        elif label == "# OF SATELLITES":
            hdr.n_satellites = int(header_numbers(content, path, i, label, 1)[0])
        elif label == "BASE RADIUS":
            hdr.base_radius = header_numbers(content, path, i, label, 1)[0]
        elif label == "MAP DIMENSION":
            hdr.map_dimension = int(header_numbers(content, path, i, label, 1)[0])
        elif label == "HGT1 / HGT2 / DHGT":
            hdr.hgt = tuple(header_numbers(content, path, i, label, 3)[:3])
        elif label == "LAT1 / LAT2 / DLAT":
            hdr.lat = tuple(header_numbers(content, path, i, label, 3)[:3])
        elif label == "LON1 / LON2 / DLON":
            hdr.lon = tuple(header_numbers(content, path, i, label, 3)[:3])
        elif label == "EXPONENT":
            hdr.exponent = checked_exponent(header_numbers(content, path, i, label, 1)[0], path, i)
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
        shape = f"{hdr.map_dimension}-D maps" + (f" on several heights (DHGT {hdr.hgt[2]:g})" if hdr.hgt[2] != 0 else "")
        raise IonexFormatError(f"{shape} are not supported",
                               path=path, expected="2-D maps on a single shell")
    lo_r, hi_r = BASE_RADIUS_RANGE_KM
    if not lo_r <= hdr.base_radius <= hi_r:
        raise IonexFormatError(f"BASE RADIUS {hdr.base_radius:g} km", path=path,
                               expected=f"the Earth's radius, {lo_r:g} .. {hi_r:g} km (6371 on the GIMs)")
    if hdr.mapping_function.upper() not in MAPPING_FUNCTIONS:
        raise IonexFormatError(f"MAPPING FUNCTION {hdr.mapping_function[:20]!r}", path=path,
                               expected=f"one of those the format names: {', '.join(MAPPING_FUNCTIONS)}")
    lo_h, hi_h = HEIGHT_RANGE_KM
    if not (lo_h <= hdr.hgt[0] <= hi_h and hdr.hgt[1] == hdr.hgt[0]):
        raise IonexFormatError(f"HGT1 / HGT2 = {hdr.hgt[0]:g} / {hdr.hgt[1]:g} km", path=path,
                               expected=f"one shell height of {lo_h:g} .. {hi_h:g} km; GIMs use 450 or 506.7")
    for name, (a, b, c), top in (("LAT", hdr.lat, 90.0), ("LON", hdr.lon, 360.0)):
        if not (-180.0 <= min(a, b) and max(abs(a), abs(b)) <= top):
            raise IonexFormatError(f"{name}1/{name}2 = {a:g} {b:g} degrees", path=path,
                                   expected="latitudes within ±90°, longitudes within -180 .. 360°")
    for name, (a, b, c) in (("LAT", hdr.lat), ("LON", hdr.lon)):
        if c != 0 and (b - a) / c < 0:  # the step points away from the end
            raise IonexFormatError(f"{name}1/{name}2/D{name} = {a} {b} {c}: the step runs away from {name}2",
                                   path=path, expected=f"D{name} of the sign of {name}2 - {name}1 "
                                   f"({'-' if b < a else '+'}{abs(c):g})")
        if c == 0 or abs((b - a) / c - round((b - a) / c)) > 1e-6:
            raise IonexFormatError(f"{name}1/{name}2/D{name} = {a} {b} {c} is not a regular grid", path=path,
                                   expected="(end - start) a whole multiple of the step")
    n_lat = int(round((hdr.lat[1] - hdr.lat[0]) / hdr.lat[2])) + 1
    n_lon = int(round((hdr.lon[1] - hdr.lon[0]) / hdr.lon[2])) + 1
    if n_lat * n_lon > MAX_GRID_NODES:
        raise IonexFormatError(f"LAT/LON steps {hdr.lat[2]:g}/{hdr.lon[2]:g} make a {n_lat} x {n_lon} grid "
                               f"({n_lat * n_lon:,} nodes per map)", path=path,
                               expected=f"at most {MAX_GRID_NODES:,} nodes (a 0.1° grid)")
    if hdr.n_maps <= 0:
        raise IonexFormatError(f"# OF MAPS IN FILE is {hdr.n_maps}", path=path, expected="at least 1 map")
    if hdr.interval and hdr.interval != int(hdr.interval):
        warnings.warn(f"{path}: INTERVAL {hdr.interval} is not a whole number of seconds", IonexWarning,
                      stacklevel=3)
    return hdr
