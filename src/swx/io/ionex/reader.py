"""Reading IONEX: bytes (plain or compressed) or a file to an `xarray.Dataset` with CF attributes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from swx.errors import IonexFormatError
from swx.io.compression import decode_ascii, decompress, read_file_bytes
from swx.io.gim_names import parse_name
from swx.io.ionex.body import Block, parse_body
from swx.io.ionex.fast import parse_tiled
from swx.io.ionex.header import MAP_KINDS, IonexHeader, IonexWarning, check_first_record, parse_header


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
        if self._hex is None:
            raise RuntimeError("the checksum thread ended without a digest")
        return self._hex


def parse_ionex(data: bytes, name: str = "<bytes>", *, allow_partial: bool = False,
                centre: str | None = None, tiled: bool = True) -> xr.Dataset:
    """Parse IONEX bytes (plain or compressed) into an `xarray.Dataset`.

    Variables `tec` and `rms` (and `height` when present) in TECu/km, float32, dims (time, lat, lon),
    NaN where the file says 9999. `allow_partial=True` keeps the complete maps of a truncated file.
    `tiled=False` skips the fast path for regularly tiled files (both paths give the same result:
    the tests compare them).
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
        check_first_record(head.split("\n", 1)[0], name)
        if lower := re.search(r"(?im)^.{60}(end of header)[ \t]*$", head):  # the header's labels in lower case:
            last = head.count("\n", 0, lower.start()) + 1
            parse_header(head.split("\n")[:last], name)  # named at the first of them
            raise IonexFormatError(f"header label {lower.group(1)!r} in lower case", path=name, line=last,
                                   expected="IONEX's labels in capitals, here 'END OF HEADER'")
        raise IonexFormatError("no END OF HEADER record (truncated or not an IONEX file)", path=name,
                               line=n, expected="END OF HEADER")
    header_text = decode_ascii(text[:hdr_end.end()], name, IonexFormatError, "header")
    hdr_lines = header_text.rstrip("\n").split("\n")
    hdr = parse_header(hdr_lines, name)
    # Warnings about the maps are only worth showing when the file is read: hold them until then.
    with warnings.catch_warnings(record=True) as pending:
        warnings.simplefilter("always")
        fast = parse_tiled(text, hdr_end.end(), hdr, name) if tiled else None
        if fast is None:
            fast = parse_body(text, hdr_end.end(), hdr, name, len(hdr_lines) + 1, allow_partial)
        blocks, values = fast
        ds = _to_dataset(hdr, blocks, values, name, digest.hexdigest(), allow_partial, centre)
    for w in pending:
        warnings.warn(w.message, w.category, stacklevel=2)
    return ds


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _to_dataset(hdr: IonexHeader, blocks: list[Block], values: np.ndarray, name: str, sha: str,
                allow_partial: bool, centre: str | None) -> xr.Dataset:
    by_kind: dict[str, list[int]] = {k: [] for k in MAP_KINDS}
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
                                   + (" (`swx ionex info --partial`, or read_ionex(..., allow_partial=True), reads the complete ones)" if n_tec < hdr.n_maps else ""))
        warnings.warn(f"{name}: {msg}; reading the {n_tec} complete maps", IonexWarning, stacklevel=3)


    def stack(idx: list[int]) -> np.ndarray:
        """The maps of blocks `idx`: a view when they follow each other in the file, else a copy."""
        if idx == list(range(idx[0], idx[0] + len(idx))):
            return values[idx[0]:idx[-1] + 1]
        return values[idx]

    for kind, idx in by_kind.items():  # each kind's maps numbered 1, 2, 3 ... in order, each once
        got = [blocks[j].number for j in idx]
        k = next((k for k, n in enumerate(got) if n != k + 1), None)
        if k is not None:
            said = "a second time" if got[k] in got[:k] else "out of order"
            raise IonexFormatError(f"the {_ordinal(k + 1)} {kind} map is numbered {got[k]} ({said})", path=name,
                                   expected=f"{kind} maps numbered 1, 2, 3 ... in order (START / END OF {kind} MAP)")
    times = [blocks[j].epoch for j in tec_idx]
    numbers = [blocks[j].number for j in tec_idx]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise IonexFormatError("TEC map epochs are not increasing", path=name,
                               expected="one map per epoch in time order")
    if hdr.first_epoch and times[0] != hdr.first_epoch:
        warnings.warn(f"{name}: first map at {times[0]}, header EPOCH OF FIRST MAP {hdr.first_epoch}",
                      IonexWarning, stacklevel=3)
    if hdr.last_epoch and times[-1] != hdr.last_epoch:
        warnings.warn(f"{name}: last map at {times[-1]}, header EPOCH OF LAST MAP {hdr.last_epoch}",
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
    named = parse_name(Path(name).name)
    centre = centre or (named.centre if named else "unknown")
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
    data = read_file_bytes(p, IonexFormatError)
    if not data:
        raise IonexFormatError("empty file", path=str(p), line=1, expected="an IONEX header")
    return parse_ionex(data, str(p), allow_partial=allow_partial, centre=centre)
