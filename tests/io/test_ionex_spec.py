"""swx's IONEX against an independent reader written from the format's description (tests/io/ionex_spec.py):
the real files read the same by both, and what swx writes (its archive round trip and the forecast
product) is valid IONEX 1.0 to the independent reader with the values swx meant."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
import xarray as xr

from swx.io.ionex import IonexWarning, read_ionex, write_ionex
from tests.helpers import make_gim
from tests.io import ionex_spec
from tests.io.test_ionex_real import GOOD


def _swx(path) -> xr.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IonexWarning)
        return read_ionex(path)


def _same_maps(spec: ionex_spec.SpecIonex, ds: xr.Dataset, *, atol: float = 1e-4) -> None:
    """swx's dataset holds the independent reader's maps, node for node (whatever order swx keeps)."""
    assert [np.datetime64(t, "ns") for t in spec.epochs] == list(ds["time"].values)
    tec = ds["tec"].sel(lat=spec.lat, lon=spec.lon, method="nearest")
    np.testing.assert_allclose(tec["lat"].values, spec.lat, atol=1e-6)
    np.testing.assert_allclose(tec["lon"].values, spec.lon, atol=1e-6)
    np.testing.assert_allclose(tec.values, spec.tec, atol=atol, equal_nan=True)
    if spec.rms:
        rms = ds["rms"].sel(lat=spec.lat, lon=spec.lon, method="nearest")
        for number, grid in spec.rms.items():
            np.testing.assert_allclose(rms.values[number - 1], grid, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_real_files_read_the_same_by_swx_and_by_the_description(ionex_dir, name):
    spec = ionex_spec.parse(ionex_spec.text_of(ionex_dir / name))
    _same_maps(spec, _swx(ionex_dir / name))
    assert len(spec.rms) == GOOD[name][3]


def test_what_swx_writes_is_ionex_to_the_independent_reader(tmp_path):
    ds = make_gim(dt.date(2015, 3, 17))
    path = write_ionex(ds, tmp_path / "simg0760.15i", centre="SIM", program="swx test", run_by="SWX",
                       description="written by the test")
    spec = ionex_spec.parse(path.read_text())
    assert spec.epochs[0] == dt.datetime(2015, 3, 17) and spec.epochs[-1] == dt.datetime(2015, 3, 18)
    assert spec.header["EXPONENT"][0][:6].strip() == "-1"
    _same_maps(spec, ds, atol=0.05 + 1e-6)  # the file holds 0.1 TECU


def test_the_forecast_product_is_ionex_to_the_independent_reader(tmp_path):
    from swx.products import forecast_dataset, write_forecast_ionex

    truth = make_gim(dt.date(2020, 1, 9))
    grid = xr.Dataset({"tec": truth["tec"], "tec_sigma": truth["tec"] * 0.2 + 1.0})
    ds = forecast_dataset(grid, reference=None, issue_time=dt.datetime(2020, 1, 8, 22, tzinfo=dt.UTC),
                          method="residual", source="cod", run_id=3, simulated=True)
    path = write_forecast_ionex(ds, tmp_path / "SWX0OPSPRD_20200090000_01D_02H_GIM.INX")
    spec = ionex_spec.parse(path.read_text())
    assert spec.header["PGM / RUN BY / DATE"][0][20:40].strip() == "SWX"
    description = " ".join(c.strip() for c in spec.header["DESCRIPTION"])
    assert "FORECAST (not an observation)" in description and "SIMULATED" in description
    np.testing.assert_allclose(spec.tec, ds["tec"].values, atol=0.05 + 1e-6)
    assert sorted(spec.rms) == list(range(1, 14))  # the 1-sigma as RMS maps, one per TEC map
    np.testing.assert_allclose(np.stack([spec.rms[k] for k in sorted(spec.rms)]), ds["tec_sigma"].values,
                               atol=0.05 + 1e-6)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("END OF TEC MAP", "END OF RMS MAP", 1), "expected END OF TEC MAP 1"),
    (lambda t: t.replace("    13                                                      # OF MAPS IN FILE",
                         "    12                                                      # OF MAPS IN FILE"),
     "13 TEC maps, the header says 12"),
    (lambda t: "\n".join(t.splitlines()[1:]), "not IONEX VERSION / TYPE"),
])
def test_the_independent_reader_is_strict_itself(tmp_path, edit, message):
    """The reader the tests trust refuses what breaks the description (so agreeing with it means something)."""
    path = write_ionex(make_gim(), tmp_path / "a.20i", centre="SIM", program="swx test", run_by="SWX")
    with pytest.raises(ionex_spec.SpecError, match=message):
        ionex_spec.parse(edit(path.read_text()))
