"""Looking at inputs without running the pipeline: an IONEX file checked and summarised, the station
catalog as a table, a dense catalog written (`swx ionex info`, `swx stations …`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from swx.config import Settings
from swx.io.atomic import atomic_write_bytes
from swx.io.ionex import IonexWarning, read_ionex
from swx.science.stations import catalog_csv, dense_catalog, load_catalog


def ionex_summary(path: Path, *, allow_partial: bool = False) -> dict[str, Any]:
    """An IONEX file read strictly: centre, checksum, epochs, maps, grid, value range and the reader's
    warnings (IonexFormatError, naming the line, when it is not valid)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IonexWarning)
        ds = read_ionex(path, allow_partial=allow_partial)
    return {
        "file": str(path), "centre": ds.attrs["centre"], "sha256": ds.attrs["source_sha256"],
        "first": str(ds.time.values[0])[:19] + "Z", "last": str(ds.time.values[-1])[:19] + "Z",
        "maps": int(ds.sizes["time"]), "maps_declared": int(ds.attrs["maps_declared"]),
        "rms_maps": int(ds.attrs["rms_maps"]), "grid": f"{ds.sizes['lat']} x {ds.sizes['lon']}",
        "tec_min": float(ds.tec.min()), "tec_max": float(ds.tec.max()),
        "no_value": int(ds.tec.isnull().sum()), "warnings": [str(w.message) for w in caught],
    }


def station_table(settings: Settings) -> pd.DataFrame:
    """The configured station catalog (SWX_STATION_CATALOG, default the method's 18), one row each."""
    return pd.DataFrame([s.as_row() for s in load_catalog(settings.station_catalog)])


def write_dense_catalog(path: Path, dlat: float = 10.0, dlon: float = 20.0) -> int:
    """A virtual station on every `dlat` x `dlon` node up to ±80°, written as a catalog CSV; returns
    how many."""
    stations = dense_catalog(dlat, dlon)
    atomic_write_bytes(path, catalog_csv(stations).encode())
    return len(stations)
