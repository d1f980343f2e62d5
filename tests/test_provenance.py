"""Provenance helpers: the code version names the commit, the settings hash follows forecast settings
only, and input records carry the archive's checksums."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest

from swx import __version__, provenance
from swx.archive import Archive, sha256_file
from swx.config import Settings


def test_code_version_names_the_commit(monkeypatch):
    monkeypatch.delenv("SWX_CODE_VERSION", raising=False)
    provenance.code_version.cache_clear()
    try:
        if shutil.which("git") is None:
            pytest.skip("git not installed")
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], capture_output=True, text=True,
                              cwd=provenance.__file__.rsplit("/", 1)[0])
        v = provenance.code_version()
        if head.returncode != 0:  # an installed package outside a checkout
            assert v == __version__
        else:
            assert v.startswith(f"{__version__}+g{head.stdout.strip()}")
        monkeypatch.setenv("SWX_CODE_VERSION", "1.2.3+image")
        provenance.code_version.cache_clear()
        assert provenance.code_version() == "1.2.3+image"
    finally:
        provenance.code_version.cache_clear()


def test_settings_hash_tracks_forecast_settings_only(tmp_path):
    a = Settings(data_dir=tmp_path, extension_method="residual")
    assert provenance.settings_hash(a) == provenance.settings_hash(Settings(data_dir=tmp_path / "x", log_level="DEBUG"))
    assert provenance.settings_hash(a) != provenance.settings_hash(Settings(data_dir=tmp_path, extension_method="idw"))


def test_input_records_use_the_archive_checksums(tmp_path):
    import numpy as np
    import xarray as xr

    archive = Archive(tmp_path / "archive")
    day = dt.date(2015, 3, 1)
    ds = xr.Dataset({"tec": (("time", "lat", "lon"), np.ones((1, 2, 2)))},
                    coords={"time": [np.datetime64("2015-03-01T00:00")], "lat": [0.0, 2.5], "lon": [0.0, 5.0]})
    archive.store_gim(ds, "cod", day)
    recs = provenance.input_records(archive, "cod", [day, day + dt.timedelta(days=1)], tmp_path)
    gims = [r for r in recs if r.kind == "GIM"]
    assert len(gims) == 1 and gims[0].day == day  # the missing day is not listed
    assert gims[0].path == "archive/gim/cod/2015/cod_20150301.nc"  # relative to the data folder
    assert gims[0].sha256 == sha256_file(archive.gim_path("cod", day))
    assert any(r.kind == "INDICES" and r.path.startswith("swx.data/") and len(r.sha256) == 64 for r in recs)


def test_an_archived_days_origin_holds_no_secret(tmp_path):
    """A seventh round: the log masked a mirror URL's token, but the archived day's `source_origin`
    attribute kept it in clear (archive files are read by the dashboard and copied with a site)."""
    import numpy as np
    import xarray as xr

    from swx.io.maps_netcdf import read_attrs

    archive = Archive(tmp_path / "archive")
    day = dt.date(2015, 3, 1)
    ds = xr.Dataset({"tec": (("time", "lat", "lon"), np.ones((1, 2, 2)))},
                    coords={"time": [np.datetime64("2015-03-01T00:00")], "lat": [0.0, 2.5], "lon": [0.0, 5.0]})
    archive.store_gim(ds, "cod", day, source_origin="https://h/2015/060/codg0600.15i.Z?token=S3cretMIR")
    attrs = read_attrs(archive.gim_path("cod", day))
    assert attrs["source_origin"] == "https://h/2015/060/codg0600.15i.Z?token=***"
