"""The station catalog: the virtual stations where vTEC is extracted from the maps and forecast.

The default is the 18 stations of the method (`swx/data/stations.csv`); `SWX_STATION_CATALOG` points
to a CSV of the same columns to use another set (more stations, imported receivers...).
"""

from __future__ import annotations

import csv
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from swx.config import lat_band
from swx.errors import DataFormatError, InputError
from swx.io.compression import read_file_bytes, text_lines
from swx.io.ionex.header import IONEX_LAT
from swx.science.grid import land_mask

COLUMNS = ["code", "name", "lat", "lon", "sector", "lat_band", "surface"]


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    lat: float
    lon: float
    sector: str
    lat_band: str
    surface: str

    def as_row(self) -> dict:
        return asdict(self)


#: A station code: what the catalog, the database (32 characters) and file names can all hold.
STATION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


#: How far a station may lie from its sector's meridian: half the 120° between the method's sectors.
SECTOR_HALF_WIDTH_DEG = 60.0


#: The highest latitude a station may have: the maps' grid ends there (vTEC is read off it).
MAX_STATION_LAT = float(IONEX_LAT.max())
#: The longest station name the database holds.
STATION_NAME_MAX = 128


def valid_station_name(text: str) -> bool:
    """True for a name the catalog and the database can hold: at most STATION_NAME_MAX printable
    characters (a line break in a name would forge output lines)."""
    return len(text) <= STATION_NAME_MAX and all(ch.isprintable() for ch in text)


def _check_sector(sector: str, lon: float, code: str, name: str, line: int) -> None:
    """A sector is empty (none) or the meridian (degrees east) the station lies near: a sector that
    is not a number, or a meridian more than SECTOR_HALF_WIDTH_DEG from the longitude, is refused."""
    if not sector:
        return
    expected = (f"the sector's meridian in degrees east (-180 .. 360), within {SECTOR_HALF_WIDTH_DEG:g}° of the "
                "station's longitude, or empty")
    try:
        meridian = float(sector)
    except ValueError:
        raise DataFormatError(f"station {code}: sector {sector[:20]!r} is not a meridian", path=name, line=line,
                              expected=expected) from None
    if not -180 <= meridian <= 360:
        raise DataFormatError(f"station {code}: sector {sector[:20]!r} out of range", path=name, line=line,
                              expected=expected)
    apart = abs((lon - meridian + 180.0) % 360.0 - 180.0)
    if apart > SECTOR_HALF_WIDTH_DEG:
        raise DataFormatError(f"station {code}: sector {sector} is {apart:.0f}° from its longitude {lon:g}",
                              path=name, line=line, expected=expected)


def _catalog_rows(text: str, name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (file line number, fields) of each data row: comment and blank lines skipped,
    every row as many fields as the header."""
    rows = []
    for number, raw in enumerate(text_lines(text.lstrip("\ufeff")), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            rows.append((number, [f.strip() for f in next(csv.reader([raw]))]))
        except csv.Error as exc:
            raise DataFormatError(f"not a CSV row: {exc}", path=name, line=number, expected=",".join(COLUMNS)) from None
    if not rows:
        raise DataFormatError("no header and no station", path=name, expected=f"a header {','.join(COLUMNS)} and a "
                              "row per station")
    (_, header), data = rows[0], rows[1:]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataFormatError(f"station catalog lacks column(s) {', '.join(missing)}", path=name, line=rows[0][0],
                              expected=",".join(COLUMNS))
    for number, fields in data:
        if len(fields) != len(header):
            raise DataFormatError(f"{len(fields)} fields where the header has {len(header)}", path=name,
                                  line=number, expected=",".join(header))
    if not data:
        raise DataFormatError("a header and no station", path=name, expected="a row per station")
    return header, data


def parse_catalog(text: str, name: str = "<catalog>") -> list[Station]:
    """The stations of a catalog CSV, each row checked: a code that can be a name (letters, digits,
    `_.-`), a finite latitude and longitude in range, the latitude band of its latitude (low < 30°,
    mid 30-60°, high > 60°), land or ocean; a refusal names the file line."""
    header, data = _catalog_rows(text, name)
    col = {c: header.index(c) for c in COLUMNS}
    out = []
    for line, fields in data:
        r = {c: fields[i] for c, i in col.items()}
        code = r["code"]
        if not STATION_CODE.fullmatch(code):
            raise DataFormatError(f"station code {code[:40]!r}", path=name, line=line,
                                  expected="1 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit")
        pos = {}
        for c in ("lat", "lon"):
            try:
                pos[c] = float(r[c])
            except ValueError:
                raise DataFormatError(f"station {code}: {c} {r[c][:20]!r} is not a number", path=name, line=line,
                                      expected="degrees (latitude -90 .. 90, longitude -180 .. 360)") from None
        lat, lon = pos["lat"], pos["lon"]
        if not (-MAX_STATION_LAT <= lat <= MAX_STATION_LAT and -180 <= lon <= 360):  # NaN fails both
            raise DataFormatError(f"station {code}: lat/lon out of range ({r['lat']}, {r['lon']})", path=name,
                                  line=line, expected=f"latitude -{MAX_STATION_LAT:g} .. {MAX_STATION_LAT:g} (the "
                                                      "maps' grid), longitude -180 .. 360")
        if r["lat_band"] not in ("low", "mid", "high") or r["surface"] not in ("land", "ocean"):
            raise DataFormatError(f"station {code}: lat_band {r['lat_band']!r} / surface {r['surface']!r}", path=name,
                                  line=line, expected="lat_band low/mid/high and surface land/ocean")
        if r["lat_band"] != lat_band(lat):
            raise DataFormatError(f"station {code}: lat_band {r['lat_band']} at latitude {lat:g}", path=name,
                                  line=line, expected=f"{lat_band(lat)} (low < 30°, mid 30-60°, high > 60°)")
        if not valid_station_name(r["name"]):
            raise DataFormatError(f"station {code}: its name holds a control character or is too long", path=name,
                                  line=line, expected=f"a name of at most {STATION_NAME_MAX} printable characters")
        lon = lon - 360.0 if lon > 180 else lon
        _check_sector(r["sector"], lon, code, name, line)
        out.append(Station(code, r["name"], lat, lon, r["sector"], r["lat_band"], r["surface"]))
    codes = [s.code for s in out]
    twice = next((c for c in codes if codes.count(c) > 1), None)
    if twice is not None:
        raise DataFormatError(f"station code {twice} twice", path=name, expected="one row per station")
    return out


def load_catalog(path: str | Path | None = None) -> list[Station]:
    """The catalog at `path`, or the default 18 stations."""
    if path is None:
        return parse_catalog(resources.files("swx.data").joinpath("stations.csv").read_text(), "stations.csv")
    p = Path(path)
    if p.is_dir():
        raise DataFormatError("a folder", path=str(p), expected="a CSV station catalog file (SWX_STATION_CATALOG)")
    try:
        text = read_file_bytes(p).decode("utf-8")  # a pipe or a device is refused, not read forever
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text (byte {exc.start})", path=str(p), expected="a CSV station catalog") from None
    return parse_catalog(text, str(p))


def dense_catalog(dlat: float = 10.0, dlon: float = 20.0, max_lat: float = 80.0) -> list[Station]:
    """Virtual stations on every node of a dlat x dlon grid (default 10° x 20°: 306 stations), with
    latitude band and land/ocean set from the shipped land mask: the dense extension option. Steps are
    whole-degree codes' resolution: 1° .. 180° in latitude, 1° .. 360° in longitude."""
    for what, step, top in (("--dlat", dlat, 180.0), ("--dlon", dlon, 360.0)):
        if not (np.isfinite(step) and 1.0 <= step <= top):
            raise InputError(f"{what} {step:g}: expected a step of 1 .. {top:g} degrees (codes name whole degrees)")
    if not (np.isfinite(max_lat) and 0.0 <= max_lat <= MAX_STATION_LAT):
        raise InputError(f"maximum latitude {max_lat:g}: expected 0 .. {MAX_STATION_LAT:g} degrees (the maps' grid)")
    lats = np.arange(-max_lat, max_lat + 1e-9, dlat)
    lons = np.arange(-180.0, 180.0 - 1e-9, dlon)
    land = land_mask(lats, lons)
    out = []
    for i, la in enumerate(lats):
        for j, lo in enumerate(lons):
            code = f"{'E' if lo >= 0 else 'W'}{abs(lo):03.0f}{'N' if la >= 0 else 'S'}{abs(la):02.0f}"
            out.append(Station(code, f"grid node {la:+.0f} {lo:+.0f}", float(la), float(lo), f"{lo:.0f}",
                               lat_band(float(la)), "land" if land[i, j] else "ocean"))
    return out


def catalog_csv(stations: list[Station]) -> str:
    """The catalog as CSV text (the format `load_catalog` reads)."""
    return pd.DataFrame([s.as_row() for s in stations], columns=COLUMNS).to_csv(index=False)
