"""An IONEX 1.0 reader written from the format's description (Schaer, Gurtner & Feltens 1998), apart
from swx's: the tests read swx's files with it, and the real files with both, so that a mistake shared
by swx's reader and writer cannot pass as the format. Plain, slow and strict: every record is checked
where the description fixes it (labels in columns 61-80, the map records' order and counts, values as
I5 sixteen to a line); what the description leaves open is not enforced."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Header records the description makes mandatory (the first must be the version record)
MANDATORY = ("IONEX VERSION / TYPE", "PGM / RUN BY / DATE", "EPOCH OF FIRST MAP", "EPOCH OF LAST MAP", "INTERVAL",
             "# OF MAPS IN FILE", "MAPPING FUNCTION", "ELEVATION CUTOFF", "BASE RADIUS", "MAP DIMENSION",
             "HGT1 / HGT2 / DHGT", "LAT1 / LAT2 / DLAT", "LON1 / LON2 / DLON", "END OF HEADER")
VALUES_PER_LINE = 16
MISSING = 9999


class SpecError(ValueError):
    """The text breaks the IONEX description at `line`."""

    def __init__(self, line: int, what: str) -> None:
        super().__init__(f"line {line}: {what}")


@dataclass
class SpecIonex:
    header: dict[str, list[str]]  # label -> the records' contents (columns 1-60)
    epochs: list[dt.datetime]
    lat: np.ndarray
    lon: np.ndarray
    exponent: int
    tec: np.ndarray  # (maps, lat, lon), TECU, NaN where 9999
    rms: dict[int, np.ndarray] = field(default_factory=dict)  # map number -> (lat, lon)


def text_of(path: Path) -> str:
    """The file's text: plain, gzip, zip or Unix compress (.Z), decompressed here, not by swx."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:2] == b"\x1f\x9d":
        import unlzw3

        data = unlzw3.unlzw(data)
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = z.read(z.namelist()[0])
    return data.decode("ascii")


def _epoch(content: str, n: int) -> dt.datetime:
    fields = [int(float(content[6 * i:6 * i + 6])) for i in range(6)]  # 6I6 (a CAS file writes seconds 0.00)
    try:  # hour 24 and second 60 occur in real files (the next day's 00:00, the next minute): counted on
        return dt.datetime(*fields[:3]) + dt.timedelta(hours=fields[3], minutes=fields[4], seconds=fields[5])
    except ValueError as exc:
        raise SpecError(n, f"epoch {content[:36]!r}: {exc}") from None


def _floats(content: str, n: int, count: int, width: int = 6, skip: int = 2) -> list[float]:
    try:
        return [float(content[skip + width * i:skip + width * (i + 1)]) for i in range(count)]
    except ValueError:
        raise SpecError(n, f"expected {count} numbers of width {width} in {content!r}") from None


def parse(text: str) -> SpecIonex:
    lines = text.splitlines()
    header: dict[str, list[str]] = {}
    n = 0
    for n, line in enumerate(lines, start=1):
        if len(line) > 80:
            raise SpecError(n, f"{len(line)} characters (a record is at most 80)")
        label, content = line[60:].strip(), line[:60]
        # a real CAS file's date runs one character into the label field: the label is still the record's
        label = next((m for m in MANDATORY if label != m and label.endswith(m) and len(label) - len(m) <= 2), label)
        if n == 1 and label != "IONEX VERSION / TYPE":
            raise SpecError(n, f"the first record is {label!r}, not IONEX VERSION / TYPE")
        header.setdefault(label, []).append(content)
        if label == "END OF HEADER":
            break
    else:
        raise SpecError(n, "no END OF HEADER")
    missing = [m for m in MANDATORY if m not in header]
    if missing:
        raise SpecError(n, f"mandatory header records missing: {missing}")
    version = header["IONEX VERSION / TYPE"][0]
    if float(version[:8]) != 1.0 or version[20] != "I":
        raise SpecError(1, f"version {version[:8].strip()} type {version[20]!r}: expected 1.0 and I")
    if header["MAP DIMENSION"][0][:6].strip() != "2":
        raise SpecError(n, "MAP DIMENSION is not 2")
    lat1, lat2, dlat = _floats(header["LAT1 / LAT2 / DLAT"][0], n, 3)
    lon1, lon2, dlon = _floats(header["LON1 / LON2 / DLON"][0], n, 3)
    lat = np.round(np.arange(lat1, lat2 + dlat / 2, dlat), 6)
    lon = np.round(np.arange(lon1, lon2 + dlon / 2, dlon), 6)
    exponent = int(header.get("EXPONENT", ["    -1"])[0][:6])
    n_maps = int(header["# OF MAPS IN FILE"][0][:6])
    epochs: list[dt.datetime] = []
    tec: dict[int, np.ndarray] = {}
    rms: dict[int, np.ndarray] = {}
    i = n  # index of the next line (0-based) after END OF HEADER
    while i < len(lines):
        label = lines[i][60:].strip()
        if label == "END OF FILE":
            break
        kind = {"START OF TEC MAP": "TEC", "START OF RMS MAP": "RMS"}.get(label)
        if kind is None:
            raise SpecError(i + 1, f"expected START OF TEC MAP, START OF RMS MAP or END OF FILE, found {label!r}")
        number = int(lines[i][:6])
        i += 1
        if lines[i][60:].strip() != "EPOCH OF CURRENT MAP":
            raise SpecError(i + 1, "START OF ... MAP not followed by EPOCH OF CURRENT MAP")
        when = _epoch(lines[i][:60], i + 1)
        i += 1
        grid = np.full((len(lat), len(lon)), np.nan)
        exp = exponent
        for row in range(len(lat)):
            head = lines[i][60:].strip()
            if head == "EXPONENT":  # an EXPONENT record may stand inside a map (description, 2.2)
                exp = int(lines[i][:6])
                i += 1
                head = lines[i][60:].strip()
            if head != "LAT/LON1/LON2/DLON/H":
                raise SpecError(i + 1, f"expected LAT/LON1/LON2/DLON/H for latitude {lat[row]}, found {head!r}")
            la, lo1, lo2, dlo, _h = _floats(lines[i][:60], i + 1, 5)
            if (la, lo1, lo2, dlo) != (lat[row], lon1, lon2, dlon):
                raise SpecError(i + 1, f"row at {la} {lo1}..{lo2}/{dlo}: the header's grid says {lat[row]} "
                                       f"{lon1}..{lon2}/{dlon}")
            i += 1
            values: list[int] = []
            while len(values) < len(lon):
                chunk = lines[i]
                if len(chunk.rstrip()) > 5 * VALUES_PER_LINE:
                    raise SpecError(i + 1, "more than 16 values of I5 on a line")
                values += [int(chunk[5 * k:5 * k + 5]) for k in range(len(chunk.rstrip()) // 5)]
                i += 1
            if len(values) != len(lon):
                raise SpecError(i, f"{len(values)} values for {len(lon)} longitudes")
            v = np.array(values, dtype=float)
            grid[row] = np.where(v == MISSING, np.nan, v * 10.0 ** exp)
        if lines[i][60:].strip() != f"END OF {kind} MAP" or int(lines[i][:6]) != number:
            raise SpecError(i + 1, f"expected END OF {kind} MAP {number}")
        i += 1
        if kind == "TEC":
            if number != len(tec) + 1:
                raise SpecError(i, f"TEC map {number} after map {len(tec)}")
            tec[number] = grid
            epochs.append(when)
        else:
            if number not in tec:
                raise SpecError(i, f"RMS map {number} without its TEC map")
            rms[number] = grid
    if len(tec) != n_maps:
        raise SpecError(i, f"{len(tec)} TEC maps, the header says {n_maps}")
    first, last = (_epoch(header[k][0], n) for k in ("EPOCH OF FIRST MAP", "EPOCH OF LAST MAP"))
    if (epochs[0], epochs[-1]) != (first, last):
        raise SpecError(n, f"maps from {epochs[0]} to {epochs[-1]}, the header says {first} to {last}")
    return SpecIonex(header, epochs, lat, lon, exponent, np.stack([tec[k] for k in sorted(tec)]), rms)
