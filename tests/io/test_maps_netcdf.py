"""The archive's day files: written with netCDF4 directly, read back by xarray exactly as if xarray had
written them (values with NaN, coordinates, attributes), and by the fast TEC reader."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from swx.io.ionex import read_ionex
from swx.io.maps_netcdf import TIME_UNITS, read_tec, write_maps


@pytest.fixture(scope="module")
def real_day(ionex_dir) -> xr.Dataset:
    ds = read_ionex(ionex_dir / "esag0090.20i.Z")
    ds["tec"][0, :3, :4] = np.nan  # missing values must survive
    return ds


def test_direct_writer_reads_back_like_xarrays_own(real_day, tmp_path):
    write_maps(real_day, tmp_path / "direct.nc")
    real_day.to_netcdf(tmp_path / "xarray.nc", engine="netcdf4")
    with xr.open_dataset(tmp_path / "direct.nc") as a, xr.open_dataset(tmp_path / "xarray.nc") as b:
        xr.testing.assert_identical(a.load(), b.load())
        xr.testing.assert_identical(a.load(), real_day)
        assert a["time"].encoding["units"] == TIME_UNITS
        assert a["tec"].encoding["zlib"] and a["tec"].encoding["complevel"] == 1
    assert np.isnan(read_tec(tmp_path / "direct.nc")["tec"].values[0, :3, :4]).all()
    xr.testing.assert_equal(read_tec(tmp_path / "direct.nc")["tec"], real_day["tec"])


def test_unusual_datasets_go_through_xarray_with_the_same_encoding(real_day, tmp_path):
    odd = real_day.assign_coords(time=real_day["time"].values + np.timedelta64(500, "ms"))  # not whole seconds
    odd["flag"] = ("time", np.arange(odd.sizes["time"], dtype="int16"))
    write_maps(odd, tmp_path / "odd.nc")
    with xr.open_dataset(tmp_path / "odd.nc") as back:
        np.testing.assert_array_equal(back["time"].values, odd["time"].values)
        np.testing.assert_array_equal(back["flag"].values, odd["flag"].values)
        assert back["tec"].encoding["complevel"] == 1


def test_fast_reader_declines_files_in_another_layout(real_day, tmp_path):
    other = real_day.copy()
    other.to_netcdf(tmp_path / "hours.nc", encoding={"time": {"units": "hours since 2000-01-01"}})
    assert read_tec(tmp_path / "hours.nc") is None
