"""The simulator checked against real data: simulated vs real maps on the real days, simulated vs real
vTEC series at their grid points (written up in docs/simulated.md), and the fit of the simulator's
level calibration (`swx simulate compare` / `swx simulate calibrate`)."""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from swx.archive import Archive, load_indices
from swx.config import Settings
from swx.io.atomic import atomic_write_bytes, atomic_write_text
from swx.errors import InputError
from swx.io.ionex import read_ionex
from swx.pipeline.ingest import check_day
from swx.plots import plot_maps
from swx.science.series import doy_column_latitude, read_doy_csv
from swx.sources.indices import read_index_file
from swx.sources.indices.tables import IndexTables
from swx.sources.realism import (
    compare_with_real,
    comparison_markdown,
    level_fit,
    point_realism,
    realism_markdown,
    simulated_point_series,
)
from swx.sources.simulated import GimSimulator, SimulationConfig, load_basis, simulated_source

#: the real day drawn beside its simulated twin in docs/simulated.md
FIGURE_FILE, FIGURE_DAY = "codg0080.20i.Z", dt.date(2020, 1, 8)


def index_tables(settings: Settings, indices: Path | None) -> IndexTables:
    """Kp/F10.7 from a GFZ or CelesTrak file, or the archive's tables over the bundled history."""
    return read_index_file(indices) if indices else load_indices(Archive(settings.archive_dir))


def _real_point_series(files: list[Path]) -> tuple[pd.DataFrame, list[float]]:
    """Real series in the Year; DOY; Hour; VTEC_<lat><N|S> layout, and the latitude of each column."""
    real = pd.concat([read_doy_csv(f) for f in files])
    real = real[~real.index.duplicated()].sort_index()
    lats = [doy_column_latitude(c) for c in real.columns]
    return real, lats


def check_grid_longitude(lon: float) -> None:
    """The simulator's maps are on the GIMs' grid: a point series is read at one of its meridians."""
    wrapped = (lon + 180.0) % 360.0 - 180.0
    if not (np.isfinite(lon) and np.isclose(wrapped / 5.0, round(wrapped / 5.0))):
        raise InputError(f"--lon {lon:g}: expected a meridian of the maps' grid, a multiple of 5 degrees "
                         "(-180 .. 180, or 0 .. 360)")


def simulated_points(settings: Settings, tables: IndexTables, real: pd.DataFrame, lats: list[float], lon: float,
                     calibrated: bool = True) -> pd.DataFrame:
    """The simulator's vTEC at the real series' points and times (2-hourly), columns named as the real ones."""
    lon = (lon + 180.0) % 360.0 - 180.0  # 360 is 0, as on the grid
    config = SimulationConfig(seed=settings.sim_seed, cadence_min=120)
    sim = GimSimulator(load_basis(settings.resolved_cache_dir), tables,
                       config if calibrated else replace(config, level_fit=()))
    points = simulated_point_series(sim.day, real.index[0].date(), real.index[-1].date(), lats, lon)
    points.columns = list(real.columns)
    return points


def _degrees(value: float, positive: str, negative: str) -> str:
    """10°E, 120°W, 40°N: a coordinate as the page's headings write it."""
    wrapped = (value + 180.0) % 360.0 - 180.0 if positive == "E" else value
    return f"{abs(wrapped):g}°{positive if wrapped >= 0 else negative}"


def compare_simulator(settings: Settings, real_dir: Path, out_path: Path, *, indices: Path | None = None,
                      real_series: list[Path] | None = None, lon: float = 10.0) -> tuple[str, str, list[str]]:
    """Write docs/simulated.md (and its figure): the map statistics table and, with `real_series`, the
    point comparison. Returns both markdown parts and a line per real file left out (why). Only usable
    global days are compared (the ingest's rule); none at all is an error, before anything is written."""
    tables = index_tables(settings, indices)
    basis = load_basis(settings.resolved_cache_dir)
    sims = {c: GimSimulator(basis, tables, SimulationConfig(seed=settings.sim_seed, cadence_min=c)) for c in (60, 120)}
    compared, skipped = compare_with_real(real_dir, lambda day, cadence: sims[cadence].day(day), check=check_day)
    if compared.empty:
        why = f": {skipped[0]}" + (f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else "") if skipped else ""
        raise InputError(f"no usable day of real maps in {real_dir}{why}")
    table = comparison_markdown(compared)
    figure = out_path.with_suffix(".png")
    real_file = real_dir / FIGURE_FILE
    if real_file.exists():
        at = f"{FIGURE_DAY}T12:00"
        plot_maps({"real CODE GIM": read_ionex(real_file).tec.sel(time=at),
                   "SIMULATED (swx)": sims[60].day(FIGURE_DAY).tec.sel(time=at)}, figure,
                  f"vTEC on {FIGURE_DAY} 12:00 UT: real vs simulated")
    points, where = "(not computed: run with --real-series)", f"{_degrees(lon, 'E', 'W')}"
    if real_series:
        observed, lats = _real_point_series(real_series)
        simulated = simulated_points(settings, tables, observed, lats, lon)
        first = observed.index[0].year
        periods = {f"Jan-Mar {first}": (f"{first}-01-01", f"{first}-03-31")}
        periods |= {str(y): (f"{y}-01-01", f"{y}-12-31") for y in sorted(set(observed.index.year))}
        points = realism_markdown(point_realism(simulated, observed, periods))
        where += f" ({', '.join(_degrees(lat, 'N', 'S') for lat in lats)})"
    atomic_write_text(out_path, SIMULATED_DOC.format(table=table, figure=figure.name if real_file.exists() else "",
                                                     seed=settings.sim_seed, points=points, where=where))
    return table, points, skipped


def calibrate_simulator(settings: Settings, real_series: list[Path], *, lon: float = 10.0,
                        fit_end: dt.date = dt.date(2016, 12, 31), indices: Path | None = None
                        ) -> list[tuple[float, tuple[float, ...]]]:
    """The level calibration (SimulationConfig.level_fit) per latitude: ln(simulated / real) of the
    uncalibrated simulator's monthly means up to `fit_end`, as a + b ln(F/100) + c cos + s sin."""
    tables = index_tables(settings, indices)
    real, lats = _real_point_series(real_series)
    first = real.index[0].date() if len(real) else None
    real = real.loc[:fit_end.isoformat()]
    if real.empty:
        raise InputError(f"--fit-end {fit_end}: the real series hold nothing up to it"
                         + (f" (they start on {first})" if first else "") + ": expected a day after their start")
    check_grid_longitude(lon)
    sim = simulated_points(settings, tables, real, lats, lon, calibrated=False)
    f27 = tables.daily["f107_obs"].dropna().rolling(27, center=True, min_periods=1).mean()
    return [(lat, tuple(level_fit(sim[col], real[col], f27))) for col, lat in zip(real.columns, lats)]


SIMULATED_DOC = """# The simulated GIM source

`SWX_GIM_SOURCE=simulated` (the default of `make run`) produces GIM-like maps for any day with real
indices: a NeQuick-G climatology driven by the observed daily F10.7, a storm response driven by the
real Kp (positive phase on the dayside at mid latitudes, then a longer negative phase strongest at
high latitudes), and log-normal day-to-day variability correlated in space (15° x 30°) and time
(~30 h and ~4 h). They are written as IONEX files with centre code SIM and a DESCRIPTION that says
SIMULATED, archived with `source_kind = simulated`, and every summary labels them as simulated.

## Simulated vs real on the real days in `../shared/data/ionex`

Each cell is *real / simulated* (TECU). Means are area-weighted daily means over latitude bands
(low < 30°, mid 30-60°, high > 60°, both hemispheres); the diurnal amplitude is the daily max - min
at each grid point, averaged over the band; the persistence RMSE is that of the previous day's maps
used as a forecast (area-weighted). Seed {seed}; this page is written by
`swx simulate compare --real-dir ../shared/data/ionex --indices ../shared/data/kp/SW-All.txt
--real-series ../shared/data/real-series/randa-code-10E-3lat/Training_data_VTEC.csv
--real-series ../shared/data/real-series/randa-code-10E-3lat/Test_data_VTEC.csv --out docs/simulated.md`.

{table}

## Against a year of real vTEC at {where}

The real CODE series in `../shared/data/real-series` against the simulated maps at those grid points
(`--lon`), 2-hourly: the mean and the day-to-day variability (RMSE of the 24 h persistence forecast),
real / simulated and simulated ÷ real. `tests/sources/test_simulated.py` keeps every mean within ±15 %
and every variability within ±30 %.

{points}

**Level calibration.** NeQuick-G driven by F10.7 alone has the wrong level there: uncalibrated, the
simulated means were 18 % / 10 % / 20 % below the real ones in January-March 2015 (40 % below at 70°N in
March), 10-25 % below through 2015 and 5-18 % above in 2017 — too little response to solar activity,
and at mid and high latitudes a winter excess and a summer deficit (the real ionosphere's winter
anomaly and summer depletion are not in the climatology). The simulator divides the climatology by
exp(a + b ln(F/100) + c cos ωd + s sin ωd) per latitude (`SimulationConfig.level_fit`; F the 27-day
mean F10.7 held in 70-150, d the day of the local hemisphere's year), fitted by
`swx simulate calibrate` on the monthly means of 2015-2016 only; 2017 is the held-out check. It is
fitted at one longitude: elsewhere it is the same function of latitude, season and F10.7.

Known differences: NeQuick-G's crests are too strong at solar minimum (January 2020: simulated low- and
mid-latitude means above CODE/ESA) and high latitudes are too quiet by day (the Klobuchar-style CKM maps
have almost no diurnal amplitude there, the real GIMs ~5 TECU). Above the calibration's F10.7 range the
correction fades out (none by F10.7 = 200): at solar maximum (the 1999, 2001 and 2024 days above) the
uncalibrated level matched the real maps, and the calibrated one would overshoot. Fitted at one longitude
over two years, it does not hold across the whole cycle: at the top of its range (F10.7 ≈ 150, the
CAS day of January 1999) the simulated global mean is a third too high, and at the 2020 minimum still
about 30 % too high at low and mid latitudes (it was 40 % before the calibration). At the height of
the cycle the crests overshoot: in October 2014 (F10.7 above 200) single nodes reach 450-590 TECU and
the global mean 60-67 TECU, where real maps peak well below 300; the ingest's ceiling on single values
(400 TECU) therefore applies to measured maps only.

![real vs simulated]({figure})
"""

def write_simulated_day(settings: Settings, day: dt.date, out_path: Path) -> Path:
    """One simulated day as an IONEX file (centre SIM, marked SIMULATED); `.gz` compresses."""
    source = simulated_source(settings, load_indices(Archive(settings.archive_dir)))
    text = source.simulator.ionex(day).encode("ascii")
    if out_path.name.endswith(".gz"):
        text = gzip.compress(text, mtime=0)
    atomic_write_bytes(out_path, text)
    return out_path
