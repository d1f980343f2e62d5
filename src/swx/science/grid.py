"""The map grid products are written on (IONEX's standard 2.5° x 5°), its area weights, and which
cells are land or ocean (verification is reported for both: oceanic regions are the hardest)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import xarray as xr


def area_weights(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """cos(latitude) weights on a (lat, lon) grid; a repeated 180° meridian counts once."""
    w = np.repeat(np.cos(np.radians(lat))[:, None], len(lon), axis=1)
    if len(lon) > 1 and np.isclose((lon[-1] - lon[0]) % 360.0, 0.0):
        w[:, -1] = 0.0
    return w


EARTH_RADIUS_KM = 6371.0
#: how far from every station a grid node is "away from the stations" (the map's skill there is its own)
AWAY_FROM_STATIONS_KM = 2000.0


def away_from_points(lat: np.ndarray, lon: np.ndarray, p_lat: np.ndarray, p_lon: np.ndarray,
                     km: float = AWAY_FROM_STATIONS_KM) -> np.ndarray:
    """True where the (lat, lon) grid node lies farther than `km` (great circle) from every point."""
    from swx.science.geomag import unit_vectors

    la, lo = np.meshgrid(np.asarray(lat, float), np.asarray(lon, float), indexing="ij")
    g = unit_vectors(la.ravel(), lo.ravel())
    p = unit_vectors(np.asarray(p_lat, float), np.asarray(p_lon, float))
    nearest = np.arccos(np.clip(g @ p.T, -1.0, 1.0)).min(axis=1) * EARTH_RADIUS_KM
    return (nearest > km).reshape(la.shape)


#: `land_mask` on the standard IONEX grid (the GIMs' and the products'), shipped: the full-resolution
#: mask takes ~4 s and ~1 GB to load, which every process that verifies a map would pay (tests check it).
LAND_MASK_FILE = "land_ionex_grid.npz"


def _full_resolution_land(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    from global_land_mask import globe  # a 1/120° mask array: loaded when a mask is first asked for

    la, lo = np.meshgrid(lat, lon, indexing="ij")
    lo = ((lo + 180.0) % 360.0) - 180.0  # the package takes -180 .. <180
    la = np.clip(la, -89.99, 89.99)
    return globe.is_land(la, lo)


@lru_cache(maxsize=1)
def _shipped_land() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with resources.files("swx.data").joinpath(LAND_MASK_FILE).open("rb") as f:
        z = np.load(f)
        return z["lat"], z["lon"], z["land"]


@lru_cache(maxsize=8)
def _land(lat: tuple[float, ...], lon: tuple[float, ...]) -> np.ndarray:
    la, lo = np.asarray(lat), np.asarray(lon)
    ship_lat, ship_lon, ship_land = _shipped_land()
    if np.isin(la, ship_lat).all() and np.isin(lo, ship_lon).all():  # the IONEX grid or a part of it
        return ship_land[np.searchsorted(-ship_lat, -la)][:, np.searchsorted(ship_lon, lo)]
    return _full_resolution_land(la, lo)


def land_mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """True where the grid node is on land (GLOBE 1-km land mask, shipped with `global-land-mask`)."""
    return _land(tuple(float(x) for x in lat), tuple(float(x) for x in lon)).copy()


def write_land_mask(path) -> None:
    """Save the full-resolution land mask sampled on the standard IONEX grid (the shipped file)."""
    from swx.io.ionex.header import IONEX_LAT, IONEX_LON

    np.savez_compressed(path, lat=IONEX_LAT, lon=IONEX_LON, land=_full_resolution_land(IONEX_LAT, IONEX_LON))


COASTLINE_FILE = "coastlines_1deg.npz"  # traced by trace_coastlines(1.0), shipped (tests check it matches)


def trace_coastlines(step: float = 1.0) -> list[np.ndarray]:
    """Coastlines as polylines of (lon, lat) vertices, traced from the land mask at `step` degrees."""
    import contourpy  # only to re-trace the shipped coastlines (scripts, tests)

    lat = np.arange(-90 + step / 2, 90.0, step)
    lon = np.arange(-180 + step / 2, 180.0, step)
    gen = contourpy.contour_generator(lon, lat, land_mask(lat, lon).astype(float), line_type="Separate")
    return [np.asarray(seg) for seg in gen.lines(0.5) if len(seg) > 2]


def write_coastlines(path, step: float = 1.0) -> None:
    """Save traced coastlines (all vertices, and where each polyline starts) as a small .npz."""
    segs = trace_coastlines(step)
    starts = np.cumsum([0] + [len(x) for x in segs[:-1]])
    np.savez_compressed(path, vertices=np.concatenate(segs), starts=starts, step=step)


@lru_cache(maxsize=4)
def coastline_segments(step: float = 1.0) -> list[np.ndarray]:
    """Coastlines for maps drawn without tiles or downloads (plots, the dashboard's station map): the
    shipped 1° tracing (loading the full-resolution land mask takes seconds), else traced now."""
    if step == 1.0:
        with resources.files("swx.data").joinpath(COASTLINE_FILE).open("rb") as f:
            z = np.load(f)
            return np.split(z["vertices"], z["starts"][1:])
    return trace_coastlines(step)


def canonical_grid(ds: xr.Dataset) -> xr.Dataset:
    """Maps on swx's orientation, the IONEX GIMs' own: latitudes north to south, longitudes -180 .. 180
    ascending. A 0 .. 360° grid is rolled (its 360° column is its 0°; the 180° column stands at both
    ends, as on the GIMs' grid), a south-to-north one turned: every archived day lines up with the
    others (a forecast reads many days as one array)."""
    lon = ds["lon"].values
    if lon.max() > 180.0:
        wrapped = (lon + 180.0) % 360.0 - 180.0
        first = np.unique(wrapped, return_index=True)[1]
        ds = ds.assign_coords(lon=wrapped).isel(lon=np.sort(first))
        step = float(np.median(np.diff(np.sort(lon)))) if len(lon) > 1 else 360.0
        if np.isclose(ds["lon"].values, -180.0).any() and not np.isclose(ds["lon"].values, 180.0).any() \
                and np.ptp(lon) + step >= 360.0 - 1e-6:  # 0..360 or 0..355: the whole circle
            ds = xr.concat([ds, ds.sel(lon=[-180.0]).assign_coords(lon=[180.0])], dim="lon", combine_attrs="override")
    ds = ds.sortby("lon")
    if ds.sizes["lat"] > 1 and ds["lat"].values[0] < ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    return ds
