"""The archive's file format for one day of maps: netCDF4 (zlib level 1, shuffle), CF attributes, time as
int64 seconds since 1970. Written and read with netCDF4 directly: xarray's encoding and decoding take
about twice as long (benchmarks/bench_archive.py), and the main job writes and reads hundreds of days. Files stay ordinary CF netCDF
(`xr.open_dataset` reads them: tested equal to what xarray writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

TIME_UNITS = "seconds since 1970-01-01 00:00:00"
TIME_CALENDAR = "proleptic_gregorian"
#: zlib level 1: a third of the time of level 4 for 4 % more bytes on GIM days
COMPRESSION = {"zlib": True, "complevel": 1, "shuffle": True}
_FLOATS = (np.float32, np.float64)
#: what netCDF4 and xarray raise for a file that is not the netCDF it should be (HDF5's errors among them)
UNREADABLE_NETCDF = (OSError, RuntimeError, ValueError)


def _whole_seconds(t: np.ndarray) -> bool:
    return (np.issubdtype(t.dtype, np.datetime64) and not np.isnat(t).any()
            and not (t.astype("datetime64[ns]").astype("int64") % 1_000_000_000).any())


def _plain(ds: xr.Dataset) -> bool:
    """True when the direct writer covers `ds`: 1-D dimension coordinates (time as whole seconds), float
    data variables over them."""
    for name, var in ds.variables.items():
        if name == "time":
            t = var.values
            if var.ndim != 1 or not _whole_seconds(t):
                return False
        elif name in ds.dims:
            if var.ndim != 1 or var.dtype.type not in _FLOATS:
                return False
        elif var.dtype.type not in _FLOATS or not set(var.dims) <= set(ds.dims):
            return False
    return set(ds.dims) <= set(ds.variables)


def write_maps(ds: xr.Dataset, path: Path) -> None:
    """Write `ds` to `path` (not atomically: the caller writes to a temporary path and renames)."""
    if not _plain(ds):  # anything unusual goes the general (slower) way, with the same encoding
        encoding = {v: dict(COMPRESSION) for v in ds.data_vars}
        if "time" in ds.variables and _whole_seconds(ds["time"].values):
            encoding["time"] = {"units": TIME_UNITS, "calendar": TIME_CALENDAR, "dtype": "int64"}
        ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)
        return
    import netCDF4  # the C library, loaded on the first archive file

    with netCDF4.Dataset(path, "w", format="NETCDF4") as f:
        for dim in ds.dims:
            f.createDimension(dim, ds.sizes[dim])
        for dim in ds.dims:
            var = ds[dim]
            if dim == "time":
                v = f.createVariable("time", "i8", ("time",))
                v.setncatts({**var.attrs, "units": TIME_UNITS, "calendar": TIME_CALENDAR})
                v[:] = var.values.astype("datetime64[s]").astype("int64")
            else:
                v = f.createVariable(dim, var.dtype, (dim,))
                v.setncatts(dict(var.attrs))
                v[:] = var.values
        for name, var in ds.data_vars.items():
            v = f.createVariable(name, var.dtype, var.dims, fill_value=var.dtype.type(np.nan), **COMPRESSION)
            v.setncatts(dict(var.attrs))
            v[:] = var.values
        f.setncatts(dict(ds.attrs))


def read_tec(path: Path) -> xr.Dataset | None:
    """Only the TEC maps (time, lat, lon) of a file written by `write_maps`; None for a file in another
    layout (other time units): the caller then reads it through xarray."""
    import netCDF4  # see write_maps

    with netCDF4.Dataset(path) as f:
        f.set_auto_mask(False)
        tvar = f["time"]
        if getattr(tvar, "units", "") not in ("seconds since 1970-01-01", TIME_UNITS):
            return None
        times = np.asarray(tvar[:], dtype="int64").astype("datetime64[s]").astype("datetime64[ns]")
        tec = np.asarray(f["tec"][:])
        fill = getattr(f["tec"], "_FillValue", None)
        if fill is not None and np.isfinite(fill):
            tec = np.where(tec == fill, np.nan, tec)
        lat, lon = np.asarray(f["lat"][:]), np.asarray(f["lon"][:])
    return xr.Dataset({"tec": (("time", "lat", "lon"), tec)}, coords={"time": times, "lat": lat, "lon": lon})


def read_attrs(path: Path) -> dict[str, object]:
    """The global attributes of a netCDF file, without reading its data."""
    import netCDF4  # see write_maps

    with netCDF4.Dataset(path) as f:
        return {k: f.getncattr(k) for k in f.ncattrs()}
