"""Every real IONEX file in ../shared/data/ionex is read (values checked at known nodes), or rejected
with the right error where it is broken on purpose."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from swx.errors import IonexFormatError
from swx.io.ionex import IonexWarning, read_ionex

# file -> (maps, first epoch, last epoch, rms maps, declared interval s)
GOOD = {
    "codg0080.20i.Z": (25, "2020-01-08T00:00", "2020-01-09T00:00", 25, 3600),
    "codg0090.20i.Z": (25, "2020-01-09T00:00", "2020-01-10T00:00", 25, 3600),
    "esag0080.20i.Z": (13, "2020-01-08T00:00", "2020-01-09T00:00", 13, 7200),
    "esag0090.20i.Z": (13, "2020-01-09T00:00", "2020-01-10T00:00", 13, 7200),
    "esag0100.20i.Z": (13, "2020-01-10T00:00", "2020-01-11T00:00", 13, 7200),
    "IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz": (13, "2024-12-14T00:00", "2024-12-15T00:00", 13, 7200),
    "casg0010.99i.Z": (12, "1999-01-01T01:00", "1999-01-01T23:00", 12, 7200),
    "igrg3380.10i": (13, "2010-12-04T00:00", "2010-12-05T00:00", 13, 7200),
    "igrg3390.10i": (13, "2010-12-05T00:00", "2010-12-06T00:00", 13, 7200),
    "jplg3190.15i": (13, "2015-11-15T00:00", "2015-11-16T00:00", 13, 7200),
    "jplg0010.17i.gz": (13, "2017-01-01T00:00", "2017-01-02T00:00", 13, 7200),
    "CKMG0020.22I.gz": (25, "2022-01-02T00:00", "2022-01-03T00:00", 0, 3600),
    "CKMG0090.21I.gz": (25, "2021-01-09T00:00", "2021-01-10T00:00", 0, 3600),
    "CKMG0080.09I.gz": (13, "2009-01-08T00:00", "2009-01-09T00:00", 0, 7200),
    "upcg0010.00i.gnss-lab-ionex_file.00i": (12, "2000-01-01T01:00", "2000-01-01T23:00", 12, 7200),
    "igsg0010.01i.gnss-lab-no_end_of_file_label.01i": (12, "2001-01-01T01:00", "2001-01-01T23:00", 12, 7200),
}
BROKEN = {"one_map.gnss-lab.xxi", "uqrg0010.25i.truncated.zip"}


def test_the_shared_folder_holds_the_18_files_we_expect(ionex_dir):
    names = {p.name for p in ionex_dir.iterdir() if p.is_file()}
    assert names == set(GOOD) | BROKEN


@pytest.mark.parametrize("name", sorted(GOOD))
def test_real_file_reads_with_expected_structure(ionex_dir, name):
    maps, first, last, rms_maps, interval = GOOD[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IonexWarning)
        ds = read_ionex(ionex_dir / name)
    assert ds.sizes == {"time": maps, "lat": 71, "lon": 73}
    assert str(ds.time.values[0])[:16] == first and str(ds.time.values[-1])[:16] == last
    assert ds.tec.dtype == np.float32 and ds.rms.dtype == np.float32
    assert ds.attrs["rms_maps"] == rms_maps
    assert ds.attrs["interval_s"] == interval
    assert ds.lat.values[0] == 87.5 and ds.lat.values[-1] == -87.5
    assert ds.lon.values[0] == -180.0 and ds.lon.values[-1] == 180.0
    assert ds.attrs["source_file"] == name and len(ds.attrs["source_sha256"]) == 64
    assert ds.tec.attrs["units"] == "TECU"
    if rms_maps == 0:
        assert bool(ds.rms.isnull().all())
    else:
        assert float(ds.rms.min()) >= 0
    # longitude -180 and 180 are the same meridian: the files repeat the value
    np.testing.assert_array_equal(ds.tec.values[..., 0], ds.tec.values[..., -1])


def test_igs_rapid_values_at_known_nodes(ionex_dir):
    with pytest.warns(IonexWarning, match="no END OF FILE"):
        ds = read_ionex(ionex_dir / "igrg3380.10i")
    # map 1 (2010-12-04 00:00), lat 87.5: "42 42 42 42 42 42 41 ..." in 0.1 TECU
    np.testing.assert_allclose(ds.tec.values[0, 0, :8], [4.2, 4.2, 4.2, 4.2, 4.2, 4.2, 4.1, 4.1], rtol=1e-6)
    np.testing.assert_allclose(ds.tec.values[0, 1, 0], 4.5, rtol=1e-6)  # lat 85.0, lon -180
    np.testing.assert_allclose(ds.rms.values[0, 0, :5], [0.7, 0.7, 0.7, 0.7, 0.6], rtol=1e-6)


def test_jpl_and_code_values_at_known_nodes(ionex_dir):
    jpl = read_ionex(ionex_dir / "jplg0010.17i.gz")
    # map 7 = 2017-01-01 12:00, lat -2.5, first 16 longitudes
    assert str(jpl.time.values[6])[:16] == "2017-01-01T12:00"
    row = jpl.tec.sel(lat=-2.5).values[6, :16]
    np.testing.assert_allclose(row, np.array([114, 95, 77, 69, 68, 69, 68, 65, 61, 58, 55, 54, 53, 53, 52, 54]) / 10,
                               rtol=1e-6)
    cod = read_ionex(ionex_dir / "codg0080.20i.Z")
    # map 13 = 2020-01-08 12:00, lat 40.0, second value line = longitudes -100 .. -25
    row = cod.tec.sel(lat=40.0).values[12, 16:32]
    np.testing.assert_allclose(row, np.array([48, 46, 45, 46, 46, 46, 46, 48, 52, 56, 59, 60, 60, 61, 63, 65]) / 10,
                               rtol=1e-6)
    assert float(cod.tec.max()) == pytest.approx(32.9)
    assert float(read_ionex(ionex_dir / "jplg3190.15i").tec.max()) == pytest.approx(101.4)
    assert float(read_ionex(ionex_dir / "IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz").tec.max()) == pytest.approx(121.3)


def test_upc_no_value_9999_becomes_nan_and_60_seconds_epoch_is_read_with_warning(ionex_dir):
    with pytest.warns(IonexWarning, match="22:59:60"):
        ds = read_ionex(ionex_dir / "upcg0010.00i.gnss-lab-ionex_file.00i")
    # 1536 no-value fields in the TEC maps and 1536 in the RMS maps (counted with awk) -> NaN
    assert int(ds.tec.isnull().sum()) == 1536
    assert int(ds.rms.isnull().sum()) == 1536
    np.testing.assert_array_equal(ds.tec.isnull().values, ds.rms.isnull().values)
    assert np.isnan(ds.tec.values[0, 0, 23]) and np.isnan(ds.tec.values[0, 0, 25])  # lat 87.5, lon -65 .. -55
    assert not np.isnan(ds.tec.values[0, 0, 22])
    np.testing.assert_allclose(ds.tec.sel(lat=-87.5).values[0, :4], [19.0, 18.9, 19.3, 20.5], rtol=1e-6)


def test_cas_float_interval_and_overlong_program_record(ionex_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error", IonexWarning)  # nothing lost: no warning wanted
        ds = read_ionex(ionex_dir / "casg0010.99i.Z")
    assert ds.attrs["interval_s"] == 7200.0
    assert ds.attrs["source"] == "GIM_AOE V1.0 LZSH"


def test_missing_end_of_file_is_read_with_a_warning(ionex_dir):
    with pytest.warns(IonexWarning, match="no END OF FILE"):
        ds = read_ionex(ionex_dir / "igsg0010.01i.gnss-lab-no_end_of_file_label.01i")
    assert ds.sizes["time"] == 12


def test_one_map_excerpt_is_refused_strictly_and_read_partially(ionex_dir):
    path = ionex_dir / "one_map.gnss-lab.xxi"
    with pytest.raises(IonexFormatError, match=r"1 TEC maps in file, header says 12") as err:
        read_ionex(path)
    assert "one_map.gnss-lab.xxi" in str(err.value) and "swx ionex info --partial" in str(err.value)
    with pytest.warns(IonexWarning) as caught:
        ds = read_ionex(path, allow_partial=True)
    messages = " | ".join(str(w.message) for w in caught)
    assert "no END OF FILE" in messages and "reading the 1 complete maps" in messages
    assert ds.sizes["time"] == 1 and ds.attrs["partial"] == 1
    assert str(ds.time.values[0])[:16] == "1999-01-02T01:00"


def test_truncated_header_only_zip_is_refused_naming_the_line(ionex_dir):
    with pytest.raises(IonexFormatError, match="no END OF HEADER") as err:
        read_ionex(ionex_dir / "uqrg0010.25i.truncated.zip")
    assert err.value.line == 50
    assert err.value.path.endswith("uqrg0010.25i.truncated.zip")
