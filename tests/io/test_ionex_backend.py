"""`xr.open_dataset(path, engine="ionex")` goes through swx's reader."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from swx.errors import IonexFormatError
from swx.io.ionex import read_ionex, write_ionex
from swx.io.ionex.backend import IonexBackendEntrypoint
from tests.helpers import make_gim


def test_engine_is_registered_and_reads_real_file(ionex_dir):
    assert "ionex" in xr.backends.list_engines()
    path = ionex_dir / "esag0090.20i.Z"
    ds = xr.open_dataset(path, engine="ionex")
    ref = read_ionex(path)
    np.testing.assert_array_equal(ds.tec.values, ref.tec.values)
    assert ds.attrs["centre"] == "esa"


def test_drop_variables_and_partial(tmp_path):
    p = write_ionex(make_gim(), tmp_path / "tstg0080.20i")
    ds = xr.open_dataset(p, engine="ionex", drop_variables=["rms"])
    assert "rms" not in ds and "tec" in ds
    text = p.read_text()
    cut = tmp_path / "tstg0090.20i"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(IonexFormatError):
        xr.open_dataset(cut, engine="ionex")
    with pytest.warns(UserWarning):
        assert xr.open_dataset(cut, engine="ionex", allow_partial=True).sizes["time"] >= 1


def test_guess_can_open():
    e = IonexBackendEntrypoint()
    assert e.guess_can_open("codg0080.20i.Z")
    assert e.guess_can_open("/x/IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz")
    assert not e.guess_can_open("data.nc")
