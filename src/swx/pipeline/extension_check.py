"""The extension methods measured on real maps (`swx extension-check`): TARGET rebuilt from its true
values at the catalog stations with PREVIOUS as the persistence prior, scored globally, by band,
land/ocean and with stations left out (docs/extension.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from swx.config import Settings
from swx.errors import InputError
from swx.io.ionex import read_ionex
from swx.pipeline.ingest import header_agencies
from swx.pipeline.nodes import MIN_REFERENCE_DAYS
from swx.plots import plot_forecast_maps
from swx.science.extend import (
    DEFAULT_METHOD,
    extend,
    persistence_prior,
    reconstruction_scores,
    stations_from_maps,
)
from swx.science.nodes import min_training_days
from swx.science.stations import load_catalog

#: stations left out in turn: every third station of the catalog, three folds
FOLDS = 3


def extension_check(settings: Settings, previous: Path, target: Path, methods: list[str] | None = None,
                    plot: Path | None = None) -> pd.DataFrame:
    """Scores of each method (default all) rebuilding `target` (an IONEX file) from the catalog stations,
    `previous` (the day before) as persistence; with `plot`, the first method's map at 12 UT."""
    st = load_catalog(settings.station_catalog)
    lat, lon = np.array([s.lat for s in st]), np.array([s.lon for s in st])
    prev_ds, tgt_ds = read_ionex(previous), read_ionex(target)
    prev, tgt = prev_ds["tec"], tgt_ds["tec"]
    day_prev = np.datetime64(prev["time"].values[0], "D")
    day_tgt = np.datetime64(tgt["time"].values[0], "D")
    if day_tgt - day_prev != np.timedelta64(1, "D"):
        raise InputError(f"{Path(previous).name} holds {day_prev} and {Path(target).name} {day_tgt}: the second "
                         "file must hold the day after the first's (PREVIOUS then TARGET)")
    folds = [np.arange(i, len(st), FOLDS) for i in range(FOLDS)]
    methods = list(dict.fromkeys(methods)) if methods else methods  # a method named twice is scored once
    df = reconstruction_scores(prev, tgt, lat, lon, methods, folds=folds)
    made_by = header_agencies(prev_ds), header_agencies(tgt_ds)
    if all(made_by) and made_by[0] != made_by[1]:  # persistence then measures the centres' difference too
        df.attrs["notes"] = [f"{Path(previous).name} was made by {'/'.join(sorted(made_by[0]))} and "
                             f"{Path(target).name} by {'/'.join(sorted(made_by[1]))}: the persistence figures "
                             "include the difference between the two centres' maps"]
    if plot:
        times = tgt["time"].values[np.isin(tgt["time"].values - np.timedelta64(1, "D"), prev["time"].values)]
        m0 = (methods or [DEFAULT_METHOD])[0]
        g = extend(persistence_prior(prev, times), stations_from_maps(tgt.sel(time=times), lat, lon), m0)
        k = int(np.argmin(np.abs(times - (times[0] + np.timedelta64(12, "h")))))
        plot_forecast_maps(g["tec"].isel(time=k), tgt.sel(time=times[k]), plot,
                           f"{Path(target).name} at {str(times[k])[11:16]} UT rebuilt by '{m0}' from {len(st)} stations",
                           g["tec_sigma"].isel(time=k))
    return df


def configuration_rows(settings: Settings) -> list[tuple[str, str]]:
    """What the rows measure for each map configuration: the seed's (the stations over persistence) is
    rebuilt here; the node map is not, and the reason is said rather than a figure made up."""
    need = min_training_days() + MIN_REFERENCE_DAYS
    rows = [("stations (seed)", "measured above: TARGET rebuilt from its true values at the stations over "
                                "PREVIOUS (the persistence map), as SWX_MAP_MODEL=stations extends them")]
    nodes = ("not measured on two files: it needs a node model trained on at least "
             f"{need} consecutive days of this centre's maps before TARGET and their 27-day median; "
             "measured on the real CODE series instead (docs/extension.md, benchmarks/bench_real_nodes.py)")
    rows.append(("nodes" + (" (published)" if settings.map_model == "nodes" else ""), nodes))
    return rows
