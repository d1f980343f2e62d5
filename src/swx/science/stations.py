"""The station catalog: the virtual stations where vTEC is extracted from the maps and forecast.

The default is the 18 stations of the method (`swx/data/stations.csv`); `SWX_STATION_CATALOG` points
to a CSV of the same columns to use another set (more stations, imported receivers...).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from swx.config import lat_band
from swx.errors import DataFormatError, InputError
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


def parse_catalog(text: str, name: str = "<catalog>") -> list[Station]:
    df = pd.read_csv(io.StringIO(text), comment="#", dtype={"code": str, "name": str, "sector": str})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataFormatError(f"station catalog lacks column(s) {', '.join(missing)}", path=name,
                              expected=",".join(COLUMNS))
    out = []
    for i, r in df.iterrows():
        line = int(i) + 2
        if not (-90 <= r.lat <= 90 and -180 <= r.lon <= 360):
            raise DataFormatError(f"station {r.code}: lat/lon out of range ({r.lat}, {r.lon})", path=name, line=line)
        if r.lat_band not in ("low", "mid", "high") or r.surface not in ("land", "ocean"):
            raise DataFormatError(f"station {r.code}: lat_band {r.lat_band!r} / surface {r.surface!r}", path=name,
                                  line=line, expected="lat_band low/mid/high and surface land/ocean")
        lon = float(r.lon) - 360.0 if r.lon > 180 else float(r.lon)
        out.append(Station(str(r.code), str(r["name"]), float(r.lat), lon, str(r.sector), str(r.lat_band),
                           str(r.surface)))
    codes = [s.code for s in out]
    if len(set(codes)) != len(codes):
        raise DataFormatError("duplicate station codes", path=name)
    return out


def load_catalog(path: str | Path | None = None) -> list[Station]:
    """The catalog at `path`, or the default 18 stations."""
    if path is None:
        return parse_catalog(resources.files("swx.data").joinpath("stations.csv").read_text(), "stations.csv")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
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
    if not (np.isfinite(max_lat) and 0.0 <= max_lat <= 90.0):
        raise InputError(f"maximum latitude {max_lat:g}: expected 0 .. 90 degrees")
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
