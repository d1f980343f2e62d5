"""The forecast products: CF netCDF and IONEX (TEC + RMS maps), read back by swx's strict reader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from swx.io.ionex import read_ionex
from swx.products import forecast_dataset, ionex_name, write_products
from swx.science.dtec import median_reference
from swx.science.extend import extend, persistence_prior, stations_from_maps
from swx.science.stations import load_catalog


@pytest.fixture(scope="module")
def product(ionex_dir, tmp_path_factory):
    prev, target = read_ionex(ionex_dir / "esag0080.20i.Z")["tec"], read_ionex(ionex_dir / "esag0090.20i.Z")["tec"]
    st = load_catalog()
    lat, lon = np.array([s.lat for s in st]), np.array([s.lon for s in st])
    times = prev["time"].values + np.timedelta64(1, "D")  # the input GIM's epochs, one day on: 13 maps
    prior = persistence_prior(prev, times)
    truth = target.reindex(time=times)
    sv = stations_from_maps(truth.dropna("time", how="all"), lat, lon)
    grid = extend(prior, sv)
    ref = median_reference(prev.values, prev["time"].values, times, min_days=1)
    ds = forecast_dataset(grid, reference=ref, issue_time=dt.datetime(2020, 1, 9, tzinfo=dt.UTC), method="residual",
                          source="esa", run_id=7, architecture="cnn")
    folder = tmp_path_factory.mktemp("products")
    nc, ionex = write_products(ds, folder, dt.date(2020, 1, 9), "residual")
    return ds, nc, ionex


def test_ionex_product_round_trips_through_the_strict_reader(product):
    ds, _, ionex = product
    assert ionex.name == "SWX0OPSPRD_20200090000_01D_02H_GIM.INX" == ionex_name(dt.date(2020, 1, 9), 7200)
    back = read_ionex(ionex)  # strict: a malformed file raises
    assert back.attrs["centre"] == "swx"  # the name says who made it
    assert back.sizes == {"time": 13, "lat": 71, "lon": 73}
    np.testing.assert_array_equal(back["time"].values, ds["time"].values)
    np.testing.assert_allclose(back["tec"].values, ds["tec"].values, atol=0.05 + 1e-6)  # 0.1 TECU precision
    np.testing.assert_allclose(back["rms"].values, ds["tec_sigma"].values, atol=0.05 + 1e-6)
    text = ionex.read_text()
    assert "FORECAST" in text.split("END OF HEADER")[0]  # the header says it is not an observation
    assert text.count("START OF TEC MAP") == 13 and text.count("START OF RMS MAP") == 13
    assert all(len(line) <= 80 for line in text.splitlines())


def test_netcdf_product_is_cf(product):
    ds, nc, _ = product
    with xr.open_dataset(nc) as f:
        assert f.attrs["Conventions"] == "CF-1.8" and f.attrs["extension_method"] == "residual"
        assert set(f.data_vars) == {"tec", "tec_sigma", "tec_reference", "dtec", "dtec_rel"}
        assert f["tec"].dims == ("time", "lat", "lon")
        # UDUNITS-parsable units (it has no TECU), TECU said beside; the single-layer height
        assert f["tec"].attrs["units"] == "1e16 m-2" and f["tec"].attrs["units_metadata"].startswith("TECU")
        assert f["tec"].attrs["shell_height_km"] == 450.0
        # CF's forecast coordinates: the information cutoff and the lead of every valid time
        assert f["forecast_reference_time"].attrs["standard_name"] == "forecast_reference_time"
        issued = np.datetime64(ds.attrs["issue_time"].rstrip("Z"), "ns")
        assert f["forecast_reference_time"].values == issued
        np.testing.assert_allclose(f["forecast_period"].values, (f["time"].values - issued) / np.timedelta64(1, "h"))
        assert f["forecast_period"].attrs["units"] == "hours"
        assert f["lat"].attrs["standard_name"] == "latitude" and f["lon"].attrs["units"] == "degrees_east"
        np.testing.assert_allclose(f["dtec"].values, f["tec"].values - f["tec_reference"].values, atol=1e-4)
        np.testing.assert_array_equal(f["time"].values, ds["time"].values)
        assert f.attrs["run_id"] == 7 and "cnn" in f.attrs["source"]
        # when the information ends and when the product was made: two times, never one "issued"
        assert f.attrs["information_cutoff"] == ds.attrs["issue_time"]
        made = dt.datetime.strptime(f.attrs["date_created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert abs((dt.datetime.now(dt.UTC) - made).total_seconds()) < 3600
    assert not list(nc.parent.glob("*.part"))  # atomic writes leave no temp files
    import netCDF4

    with netCDF4.Dataset(nc) as raw:  # coordinates carry no fill value (CF)
        assert all("_FillValue" not in raw.variables[c].ncattrs() for c in ("lat", "lon", "forecast_period"))


def test_ionex_description_breaks_between_words(product):
    """The DESCRIPTION records split words ("SIMU|LATED")."""
    _, _, ionex = product
    records = [ln[:60].strip() for ln in Path(ionex).read_text().splitlines() if ln[60:].strip() == "DESCRIPTION"]
    text = " ".join(records)
    assert len(records) > 1 and all(len(r) <= 60 for r in records)
    assert "FORECAST (not an observation)" in text and "1-sigma forecast uncertainty." in text
    assert "information cutoff (newest map used) 2" in text and "issued" not in text
    assert not any(r.endswith(("SIMU", "FORE", "obser")) for r in records)


def _site_products(ds, folder, monkeypatch, **env: str) -> tuple[Path, Path]:
    """The products of `ds`'s maps published by a site with these SWX_PRODUCT_* settings."""
    from swx.config import get_settings
    from swx.products import attribution

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    site = forecast_dataset(ds[["tec", "tec_sigma"]], reference=None, issue_time=dt.datetime(2020, 1, 9, tzinfo=dt.UTC),
                            method="residual", source="esa", publisher=attribution(get_settings()))
    return write_products(site, folder, dt.date(2020, 1, 9), "residual")


def test_the_products_say_who_publishes_them_under_which_licence_and_whom_to_ask(tmp_path, monkeypatch, product):
    """The netCDF carried a placeholder `institution` and no licence or contact; now both products
    carry the site's settings, and a site that set none says so."""
    from swx.config import get_settings
    from swx.errors import SettingsError

    ds, nc, ionex = product  # made without settings: the defaults say the site is not configured
    with xr.open_dataset(nc) as f:
        assert "site not configured" in f.attrs["institution"] and f.attrs["license"].startswith("CC-BY-4.0; ")
        assert "GFZ Potsdam (CC BY 4.0)" in f.attrs["license"] and "none configured" in f.attrs["contact"]
    nc2, ionex2 = _site_products(ds, tmp_path, monkeypatch, SWX_PRODUCT_INSTITUTION="Space Weather Center, Example "
                                 "University", SWX_PRODUCT_LICENSE="CC-BY-4.0", SWX_PRODUCT_CONTACT="ops@example.org")
    with xr.open_dataset(nc2) as f:
        assert f.attrs["institution"] == "Space Weather Center, Example University"
        assert f.attrs["contact"] == "ops@example.org"
    header = Path(ionex2).read_text().split("END OF HEADER")[0]
    comments = " ".join(ln[:60].strip() for ln in header.splitlines() if ln[60:].strip() == "COMMENT")
    assert "Institution: Space Weather Center, Example University" in comments
    assert "Contact: ops@example.org" in comments and "License: CC-BY-4.0" in comments
    read_ionex(ionex2)  # still a strict, valid IONEX file
    monkeypatch.setenv("SWX_PRODUCT_CONTACT", "ops@example.org\nEND OF HEADER")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="SWX_PRODUCT_CONTACT holds a line break"):
        get_settings()


def test_the_netcdf_product_passes_the_cf_checker(product):
    """The products are held to CF-1.8 by the IOOS compliance checker (offline: its standard-name
    table is packaged): no finding of any priority (the published node map: tests/pipeline/
    test_global_map.py)."""
    from tests.helpers import cf_findings

    _, nc, _ = product
    assert cf_findings(nc) == []


def test_a_publisher_named_in_any_language_still_gets_an_ascii_ionex(tmp_path, monkeypatch, product):
    """A seventh round: SWX_PRODUCT_INSTITUTION with an accent failed every forecast (IONEX is ASCII);
    a blank SWX_PRODUCT_CONTACT published a blank contact."""
    ds, _, _ = product
    nc, ionex = _site_products(ds, tmp_path, monkeypatch, SWX_PRODUCT_INSTITUTION="Université de Liège, Institut "
                               "d’Astrophysique", SWX_PRODUCT_CONTACT="   ")
    with xr.open_dataset(nc) as f:
        assert f.attrs["institution"] == "Université de Liège, Institut d’Astrophysique"  # netCDF keeps it
        assert "none configured" in f.attrs["contact"]
    assert "Institution: Universite de Liege, Institut d'Astrophysique" in Path(ionex).read_text()
    read_ionex(ionex)


def test_a_checksum_record_in_capitals_matches_and_a_huge_one_is_not_read_whole(tmp_path):
    """A fourteenth round: a .sha256 rewritten in upper-case hex (which `sha256sum -c` accepts) was
    called a changed product; a record grown to gigabytes was read whole."""
    from swx.archive import (
        changed_since_recorded,
        checksum_path,
        checksum_record_problem,
        record_checksum,
        recorded_checksum,
    )

    path = tmp_path / "p.nc"
    path.write_bytes(b"a product")
    digest = record_checksum(path)
    side = checksum_path(path)
    side.write_text(f"{digest.upper()}  {path.name}\n")
    assert recorded_checksum(path) == digest and not changed_since_recorded(path)
    with side.open("ab") as f:
        f.truncate(2 * 1024 ** 3)  # sparse: 2 GB of NULs after the record
    assert recorded_checksum(path) == "" and changed_since_recorded(path)  # no one record, and not read whole
    assert checksum_record_problem(path) == f"longer than one record ({2 * 1024 ** 3} bytes)"
    # a sixteenth round: records `sha256sum -c` fails on passed, one it reads was called a change
    for record, problem in ((f"{digest}  {path.name} trailing words\n", "a record of"),
                            (f"{digest}  /etc/passwd\n", "a record of '/etc/passwd'"),
                            (f"{digest}  {path.name}\n{' ' * 600}\n{'0' * 64}  {path.name}\n", "2 lines, not one record"),
                            (f"{digest}  {path.name}\n{'0' * 64}  {path.name}\n", "2 lines, not one record"),
                            ("garbage\n", "not a sha256sum record")):
        side.write_text(record)
        assert problem in (checksum_record_problem(path) or ""), (record, checksum_record_problem(path))
        assert recorded_checksum(path) == "" and changed_since_recorded(path)
    for record in (f"SHA256 ({path.name}) = {digest}\n", f"{digest} *{path.name}\r\n"):  # --tag, binary, CRLF
        side.write_text(record)
        assert checksum_record_problem(path) is None and recorded_checksum(path) == digest, record
    side.unlink()
