"""The IONEX writer: what it writes is valid IONEX that reads back to the same values (to the file's
precision); on a real CODE file it reproduces the map blocks byte for byte."""

from __future__ import annotations

import datetime as dt
import gzip
import warnings

import numpy as np
import pytest
import xarray as xr

from swx.io.compression import decompress
from swx.io.ionex import format_ionex, parse_ionex, read_ionex, write_ionex
from tests.helpers import make_gim


def strict_parse(text: str) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the writer's output needs no tolerance at all
        return parse_ionex(text.encode(), "written.20i")


@pytest.mark.parametrize("name", ["codg0080.20i.Z", "jplg3190.15i", "upcg0010.00i.gnss-lab-ionex_file.00i",
                                  "CKMG0080.09I.gz", "IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz"])
def test_real_files_round_trip(ionex_dir, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = read_ionex(ionex_dir / name)
    back = strict_parse(format_ionex(ds))
    np.testing.assert_array_equal(back.time.values, ds.time.values)
    np.testing.assert_allclose(back.tec.values, ds.tec.values, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(back.rms.values, ds.rms.values, atol=1e-6, equal_nan=True)
    assert back.attrs["rms_maps"] == ds.attrs["rms_maps"]
    assert back.attrs["shell_height_km"] == ds.attrs["shell_height_km"]
    assert back.attrs["mapping_function"] == ds.attrs["mapping_function"]


def test_code_map_blocks_are_reproduced_byte_for_byte(ionex_dir):
    raw = decompress((ionex_dir / "codg0080.20i.Z").read_bytes()).decode("ascii")
    ds = read_ionex(ionex_dir / "codg0080.20i.Z")
    written = format_ionex(ds)
    marker = "     1".ljust(60) + "START OF TEC MAP"
    assert raw[raw.index(marker):] == written[written.index(marker):]


def test_values_are_rounded_to_file_precision_and_nan_is_9999():
    ds = make_gim()
    tec = ds.tec.values.copy()
    tec[0, 0, 0] = 12.34
    tec[1, 5, 7] = np.nan
    ds["tec"] = (("time", "lat", "lon"), tec)
    text = format_ionex(ds)
    assert " 9999" in text
    back = strict_parse(text)
    assert back.tec.values[0, 0, 0] == pytest.approx(12.3)
    assert np.isnan(back.tec.values[1, 5, 7])
    assert int(back.tec.isnull().sum()) == 1


def test_header_records_are_80_columns_with_labels_in_61_80():
    text = format_ionex(make_gim(), description="simulated maps\nsecond line")
    lines = text.splitlines()
    header = lines[: next(i for i, line in enumerate(lines) if "END OF HEADER" in line) + 1]
    assert all(len(line) == 80 for line in header)
    assert lines[0][60:] == "IONEX VERSION / TYPE"
    assert "simulated maps" in text and "second line" in text
    assert sum(1 for line in header if line[60:].strip() == "DESCRIPTION") == 2


def test_without_rms_writes_tec_maps_only():
    ds = make_gim(with_rms=False)
    text = format_ionex(ds)
    assert "START OF RMS MAP" not in text
    back = strict_parse(text)
    assert back.attrs["rms_maps"] == 0


def test_values_that_do_not_fit_i5_are_refused():
    ds = make_gim()
    ds["tec"][0, 0, 0] = 999.0  # 9990 at EXPONENT -1: 9999 would be read as "no value"
    with pytest.raises(ValueError, match="do not fit I5"):
        format_ionex(ds, exponent=-2)
    back = strict_parse(format_ionex(ds, exponent=0))
    assert back.tec.values[0, 0, 0] == 999.0


@pytest.mark.parametrize("value", [5000.0, -1.0, np.inf])
def test_unphysical_values_are_not_written(value):
    """swx never writes a file it (and other readers) would refuse: TEC outside 0 .. 1000 TECU."""
    ds = make_gim()
    ds["tec"][0, 0, 0] = value
    with pytest.raises(ValueError, match=r"refuse values outside 0 \.\. 1000 TECU" if np.isfinite(value) else "infinite"):
        format_ionex(ds, exponent=0)
    ds["tec"][0, 0, 0] = np.nan  # no value: written as 9999
    assert np.isnan(strict_parse(format_ionex(ds)).tec.values[0, 0, 0])


def test_write_is_atomic_and_gzips_by_name(tmp_path):
    ds = make_gim(dt.date(2021, 3, 4))
    p = write_ionex(ds, tmp_path / "tstg0630.21i.gz", created=dt.datetime(2021, 3, 5, tzinfo=dt.UTC))
    assert gzip.decompress(p.read_bytes()).startswith(b"     1.0")
    assert [f.name for f in tmp_path.iterdir()] == ["tstg0630.21i.gz"]  # no temp file left
    back = read_ionex(p)
    np.testing.assert_allclose(back.tec.values, ds.tec.values, atol=1e-6)


def test_hourly_and_uneven_spacing():
    ds = make_gim(hours=1)
    assert strict_parse(format_ionex(ds)).sizes["time"] == 25
    uneven = ds.isel(time=[0, 1, 3, 4])
    text = format_ionex(uneven)
    assert "     0" + " " * 54 + "INTERVAL" in text  # 0 = uneven spacing, as the format says
    back = strict_parse(text)  # INTERVAL 0 declares the uneven spacing: nothing to warn about
    np.testing.assert_array_equal(back.time.values, uneven.time.values)
