"""What every stage works on: the settings, the archive, the stations and the database (`Context`),
the GIM source the settings name, and the archive reads the stages share (station history, station
datasets, recent maps)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.archive import Archive, load_indices
from swx.config import GIM_SOURCES, IMPORTED_CENTRE, PREDICTION_LEAD_DAY, Settings
from swx.errors import InputError, InsufficientDataError
from swx.io.filecache import FileCache
from swx.io.gim_names import product_chain
from swx.io.http import Downloader, RetryPolicy
from swx.ml.dataset import StationDataset, build_dataset
from swx.science.series import long_to_wide, on_two_hour_grid, series_from_archive
from swx.science.stations import Station, load_catalog
from swx.sources.gim import GimSource, LocalDirectorySource, RemoteSource
from swx.sources.simulated import simulated_source
from swx.store.db import open_database
from swx.store.queries import input_file_ids, station_series
from swx.store.queries import stations as db_stations
from swx.store.writes import upsert_stations

log = logging.getLogger(__name__)


@dataclass
class Context:
    settings: Settings
    archive: Archive
    stations: list[Station]
    centre: str
    imported: list[str] = field(default_factory=list)  # codes whose series come from the database

    def source_of(self, code: str) -> str:
        """Where a station's observations come from: its imported series, or this context's centre's
        maps (a station may hold both, and other centres' too: they are never mixed)."""
        return IMPORTED_CENTRE if code in self.imported else self.centre

    @cached_property
    def engine(self):
        """The database (checked to be at this swx's schema) with this context's stations registered (once
        per context)."""
        e = open_database(self.settings)
        upsert_stations(e, [dict(code=s.code, name=s.name, lat=s.lat, lon=s.lon, sector=s.sector,
                                 lat_band=s.lat_band, surface=s.surface) for s in self.stations])
        return e


def context(settings: Settings, codes: list[str] | None = None) -> Context:
    """Stations from the catalog, or — for codes not in it — imported stations from the database
    (`swx import-series`), whose series then come from their stored observations."""
    open_database(settings)  # a database at another schema stops here, before any work
    catalog = load_catalog(settings.station_catalog)
    imported: list[Station] = []
    codes = list(dict.fromkeys(codes)) if codes else codes  # a station given twice is one station
    if codes:
        known = {s.code: s for s in catalog}
        missing = [c for c in codes if c not in known]
        if missing:
            rows = db_stations(open_database(settings)).set_index("code")
            unknown = [c for c in missing if c not in rows.index]
            if unknown:
                named = ", ".join(c if c.strip() else "'' (an empty code)" for c in unknown)
                raise InputError(f"unknown station(s) {named}: not in the catalog "
                                 f"({', '.join(known)}) nor imported (swx import-series)")
            imported = [Station(c, str(rows.loc[c, "name"]), float(rows.loc[c, "lat"]), float(rows.loc[c, "lon"]),
                                str(rows.loc[c, "sector"]), str(rows.loc[c, "lat_band"]), str(rows.loc[c, "surface"]))
                        for c in missing]
        catalog = [known[c] for c in codes if c in known] + imported
    return Context(settings, Archive(settings.archive_dir), catalog, settings.centre, [s.code for s in imported])


def gim_chain(settings: Settings) -> list[str]:
    """The products archived under the settings' centre, best first (`SWX_GIM_CENTRE`, then
    `SWX_GIM_FALLBACKS`, by default its rapid product); the simulator's maps are one product."""
    if settings.simulated:
        return [settings.centre]
    return product_chain(settings.gim_centre, settings.gim_fallbacks)


def check_gim_source(settings: Settings, kind: str | None = None, directory: Path | None = None) -> str:
    """The source kind to use, refused (InputError) when unknown or a local one without a folder —
    before anything is built or downloaded."""
    kind = kind or settings.gim_source
    if kind not in GIM_SOURCES:
        raise InputError(f"unknown GIM source {kind!r} ({', '.join(GIM_SOURCES)})")
    if kind == "local" and (directory or settings.gim_local_dir) is None:
        raise InputError("a local GIM source needs a folder (SWX_GIM_LOCAL_DIR or --dir)")
    if kind == "local" and not Path(directory or settings.gim_local_dir).is_dir():
        raise InputError(f"{directory or settings.gim_local_dir} is not a folder of IONEX files (--dir / "
                         "SWX_GIM_LOCAL_DIR)")
    return kind


def gim_source(settings: Settings, archive: Archive, kind: str | None = None, directory: Path | None = None
               ) -> GimSource:
    """The GIM source the settings name (or `kind`): remote mirrors, a local folder, or the simulator."""
    kind = check_gim_source(settings, kind, directory)
    if kind == "simulated":
        log.info("preparing the simulated source (NeQuick-G tables are computed once and cached)")
        return simulated_source(settings, load_indices(archive))
    if kind == "local":
        return LocalDirectorySource(directory or settings.gim_local_dir)
    return RemoteSource(settings.gim_mirrors, downloader(settings))


class OnFirstFetch:
    """A GIM source opened when a day is first fetched: a daily run whose day is archived already
    never builds it (the simulator's tables, a download session)."""

    def __init__(self, kind: str, open_source) -> None:
        self.kind, self._open, self._source = kind, open_source, None

    def fetch(self, centre: str, day: dt.date):
        if self._source is None:
            self._source = self._open()
        return self._source.fetch(centre, day)

    def others(self, centre: str, day: dt.date):
        """The opened source's further candidate files for the day (a local folder may hold several)."""
        more = getattr(self._source, "others", None)
        return more(centre, day) if more is not None else iter(())

    def close(self) -> None:
        """Close what the source opened (a remote source's download session), if it was opened."""
        closing = getattr(getattr(self._source, "downloader", None), "close", None)
        if closing is not None:
            closing()


def downloader(settings: Settings) -> Downloader:
    return Downloader(RetryPolicy(settings.http_timeout_s, settings.http_retries, settings.http_backoff_s),
                      netrc_path=settings.netrc_path)


def station_history(ctx: Context, start: dt.date, end: dt.date, centre: str | None = None) -> pd.DataFrame:
    """The stations' vTEC on the 2-hour grid from the archived maps of start..end (of `centre`, default
    the context's: another is a rival's forecast maps, e.g. CODE's prediction)."""
    long, report = series_from_archive(ctx.archive, centre or ctx.centre, ctx.stations, start, end)
    if report.days_missing and centre is None:
        changed = [d for d in report.days_missing if ctx.archive.changed_gim(ctx.centre, d)]
        if changed:  # left out like a missing day, but said loudly: the archive was altered
            log.warning("station history %s .. %s: %d archived day(s) changed since they were archived (checksum "
                        "mismatch), left out: %s; archive them again (`swx ingest gims ... --force`)", start, end,
                        len(changed), ", ".join(str(d) for d in changed[:5]))
        gone = [d for d in report.days_missing if d not in changed]
        if gone:
            log.info("station history %s .. %s: %d day(s) missing (%s)", start, end, len(gone),
                     ", ".join(str(d) for d in gone[:5]))
    return on_two_hour_grid(long_to_wide(long))[[s.code for s in ctx.stations]]


def rivals(settings: Settings, lead_day: int | None = None) -> list[str]:
    """The forecast products verified beside swx's (`SWX_GIM_RIVALS`); none with the simulated source.
    With `lead_day`: those verified beside swx's runs of that lead day, the ones made on no more
    information than they were (`PREDICTION_LEAD_DAY`)."""
    got = [] if settings.simulated else list(settings.gim_rivals)
    return got if lead_day is None else [r for r in got if PREDICTION_LEAD_DAY.get(r, 1) == lead_day]


def days_below_final(ctx: Context, days: list[dt.date]) -> dict[dt.date, str]:
    """Of the archived `days`, those holding a map below final (a rapid one), with its product: what a
    training or an update says it used. Only looked up where the settings allow such products."""
    if len(gim_chain(ctx.settings)) < 2:
        return {}
    held = {d: ctx.archive.gim_product(ctx.centre, d) for d in days}
    return {d: str(p) for d, p in held.items() if p is not None and p.level != "final"}


def observations_of(ctx: Context, wide: pd.DataFrame) -> pd.DataFrame:
    """Station values from the maps (time x station) as observation rows (time, station, vtec), each
    pointing to the recorded input file of its day's map: its product and level (a rapid map's values
    point to it until the final replaces it)."""
    obs = wide.stack().dropna().rename("vtec").reset_index()
    obs.columns = ["time", "station", "vtec"]
    if obs.empty:
        return obs
    days = obs["time"].dt.tz_convert("UTC").dt.date
    ids = input_file_ids(ctx.engine, ctx.centre, days.min(), days.max())
    return obs.assign(input_file_id=days.map(ids).astype("Int64"))


def _imported_series(ctx: Context, stations: list[Station], start: dt.date | None, end: dt.date | None
                     ) -> pd.DataFrame:
    engine = ctx.engine
    lo = dt.datetime.combine(start or dt.date(1990, 1, 1), dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine((end or dt.date(2100, 1, 1)) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    cols = {}
    for st in stations:
        s = station_series(engine, st.code, lo, hi, centre=IMPORTED_CENTRE)
        cols[st.code] = s.set_index("time")["vtec"]
    return pd.DataFrame(cols)


def station_dataset(ctx: Context, start: dt.date | None = None, end: dt.date | None = None, *,
                    lead_day: int = 1) -> tuple[StationDataset, pd.DataFrame]:
    """The stations' windows (targets of `lead_day`) and their vTEC table, from the archived maps and
    the imported series."""
    map_stations = [s for s in ctx.stations if s.code not in ctx.imported]
    parts = []
    if map_stations:
        days = ctx.archive.gim_days(ctx.centre)
        if not days:
            raise InsufficientDataError(f"no {ctx.centre} GIMs in the archive {ctx.archive.root}; run `swx run` or "
                             "`swx ingest gims`")
        lo, hi = start or days[0], end or days[-1]
        long, report = series_from_archive(ctx.archive, ctx.centre, map_stations, lo, hi)
        if report.days_read == 0:  # nothing to learn or score from
            raise InsufficientDataError(f"no archived {ctx.centre} maps from {lo} to {hi} (the archive holds "
                                        f"{days[0]} .. {days[-1]})")
        log.info("station series %s .. %s: %s", lo, hi, report)
        below = days_below_final(ctx, [d for d in days if lo <= d <= hi])
        if below:
            log.info("station series %s .. %s: %d day(s) from maps whose finals are not out yet (%s); they are "
                     "replaced when the finals arrive", lo, hi, len(below),
                     ", ".join(f"{d} {p}" for d, p in list(below.items())[:5]) + (" ..." if len(below) > 5 else ""))
        parts.append(long_to_wide(long))
    if ctx.imported:
        parts.append(_imported_series(ctx, [s for s in ctx.stations if s.code in ctx.imported], start, end))
    wide = on_two_hour_grid(pd.concat(parts, axis=1).sort_index())
    return station_windows(ctx, wide, lead_day), wide


def station_windows(ctx: Context, wide: pd.DataFrame, lead_day: int = 1) -> StationDataset:
    """The stations' windows (targets of `lead_day`) from their vTEC table (`station_dataset`'s second
    value): another lead day's windows without reading the archive again."""
    indices = load_indices(ctx.archive)
    return build_dataset(wide, ctx.stations, indices.kp["kp"], f107=indices.daily["f107_obs"], lead_day=lead_day)


#: TEC maps of recently read archive days: each daily run reads the same 28 days for its reference map.
_MAPS_CACHE: FileCache[xr.DataArray] = FileCache(size=64)


def archived_maps(ctx: Context, days: list[dt.date], *, loaded: dict[dt.date, xr.DataArray] | None = None
          ) -> xr.DataArray | None:
    """The archived maps of `days` as one time series (an epoch in two files is taken from the first);
    days already in `loaded` are not read again."""
    parts = []
    for d in days:
        if loaded and d in loaded:
            parts.append(loaded[d])
        elif ctx.archive.has_gim(ctx.centre, d):
            parts.append(_MAPS_CACHE.get([ctx.archive.gim_path(ctx.centre, d)],
                                         lambda: ctx.archive.open_gim_tec(ctx.centre, d)["tec"]))
    if not parts:
        return None
    lat, lon = parts[0]["lat"].values, parts[0]["lon"].values
    same_grid = parts[0].dims == ("time", "lat", "lon") and all(
        p.dims == parts[0].dims and np.array_equal(p["lat"].values, lat) and np.array_equal(p["lon"].values, lon)
        for p in parts[1:])
    if same_grid:  # the usual case: one array, without xarray's alignment (a third of a forecast day's reads)
        out = xr.DataArray(np.concatenate([p.values for p in parts]), dims=parts[0].dims, name=parts[0].name,
                           coords={"time": np.concatenate([p["time"].values for p in parts]),
                                   "lat": lat, "lon": lon},
                           attrs=parts[0].attrs)
    else:
        out = xr.concat(parts, dim="time")
    times = out["time"].values
    if (np.diff(times) > np.timedelta64(0)).all():
        return out
    _, first = np.unique(times, return_index=True)
    return out.isel(time=np.sort(first))
