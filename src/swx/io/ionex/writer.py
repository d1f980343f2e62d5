"""Writing IONEX: an `xarray.Dataset` of maps to IONEX 1.1 text (and `.gz`), read back identical."""

from __future__ import annotations

import datetime as dt
import gzip
import math
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from swx.io.atomic import atomic_write_bytes
from swx.io.ionex.header import FIELD, NO_VALUE, SHELL_HEIGHT_KM, TEC_RANGE, VALUES_PER_LINE


def _rec(content: str, label: str) -> str:
    if len(content) > 60:
        raise ValueError(f"IONEX record content longer than 60 columns: {content!r}")
    return f"{content:<60}{label:<20}\n"


def _epoch_fields(t: np.datetime64) -> str:
    ts = dt.datetime.fromisoformat(str(np.datetime_as_string(t, unit="s")))
    return f"{ts.year:6d}{ts.month:6d}{ts.day:6d}{ts.hour:6d}{ts.minute:6d}{ts.second:6d}"


def _text_lines(text: str, width: int = 60) -> list[str]:
    """Text as records of at most `width` characters, broken between words (a word longer than a record
    is cut): "SIMULATED" never split as "SIMU|LATED"."""
    import textwrap

    out: list[str] = []
    for para in text.split("\n"):
        out += textwrap.wrap(para.rstrip(), width, break_on_hyphens=False) or [""]
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
    height = shell_height_km if shell_height_km is not None else float(attrs.get("shell_height_km", SHELL_HEIGHT_KM))
    radius = base_radius_km if base_radius_km is not None else float(attrs.get("base_radius_km", 6371.0))
    mapping = mapping_function or attrs.get("mapping_function") or "NONE"
    scale = 10.0 ** exponent
    interval = int((times[1] - times[0]).astype(int)) if len(times) > 1 else 0
    if len(times) > 2 and len({int(x) for x in np.diff(times).astype(int)}) != 1:
        interval = 0  # uneven spacing, as the format says
    rms = ds["rms"].transpose("time", "lat", "lon").values if "rms" in ds else None
    if rms is not None and not np.isfinite(rms).any():
        rms = None

    lo, hi = TEC_RANGE
    for name, a in (("TEC", tec.values), ("RMS", rms)):
        if a is None:
            continue
        if np.isinf(a).any():
            raise ValueError(f"{name} has infinite values (NaN is written as 9999, no value; inf is an error)")
        finite = np.asarray(a, dtype=np.float64)[np.isfinite(a)]
        if finite.size and (finite.min() < lo - 0.5 * scale or finite.max() > hi):  # what the reader refuses
            raise ValueError(f"{name} values from {finite.min():g} to {finite.max():g} TECU: IONEX readers (swx's "
                             f"too) refuse values outside {lo:g} .. {hi:g} TECU")

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
