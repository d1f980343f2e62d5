"""File names by date and the local-folder source."""

from __future__ import annotations

import datetime as dt

import pytest

from swx.errors import NotFoundError
from swx.io.gim_names import GimName, long_name, name_for, parse_name, short_name, url_fields
from swx.io.http import Downloader
from swx.io.ionex import write_ionex
from swx.sources.gim import GimSource, LocalDirectorySource, RemoteSource
from tests.helpers import make_gim


def test_names_switch_at_gps_week_2238():
    assert name_for("cod", dt.date(2022, 11, 26)) == "codg3300.22i.Z"
    assert name_for("cod", dt.date(2022, 11, 27)) == "COD0OPSFIN_20223310000_01D_01H_GIM.INX.gz"
    assert name_for("igs", dt.date(2024, 12, 14)) == "IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz"
    assert short_name("jpl", dt.date(2015, 11, 15)) == "jplg3190.15i.Z"
    assert long_name("esa", dt.date(2023, 1, 1)) == "ESA0OPSFIN_20230010000_01D_02H_GIM.INX.gz"
    with pytest.raises(ValueError, match="no IGS long name"):
        long_name("xyz", dt.date(2023, 1, 1))


def test_url_fields_upper_case_for_code_server():
    f = url_fields("cod", dt.date(2020, 1, 8))
    assert f["NAME"] == "CODG0080.20I.Z" and f["doy"] == "008" and f["yy"] == "20"


@pytest.mark.parametrize("name,expected", [
    ("codg0080.20i.Z", GimName("cod", dt.date(2020, 1, 8))),
    ("CODG0080.20I.Z", GimName("cod", dt.date(2020, 1, 8))),
    ("casg0010.99i.Z", GimName("cas", dt.date(1999, 1, 1))),
    ("IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz", GimName("igs", dt.date(2024, 12, 14))),
    ("COD0OPSRAP_20250010000_01D_01H_GIM.INX.gz", GimName("cor", dt.date(2025, 1, 1))),
    ("UPC0OPSRAP_20250010000_01D_15M_GIM.INX.gz", GimName("uqr", dt.date(2025, 1, 1))),
    # CODE's 1-day prediction is its own product, never CODE's final map (it was archived as `cod`)
    ("COD0OPSPRD_20250010000_01D_01H_GIM.INX.gz", GimName("c1p", dt.date(2025, 1, 1))),
    ("c1pg3000.14i", GimName("c1p", dt.date(2014, 10, 27))),
    ("SWX0OPSPRD_20200090000_01D_02H_GIM.INX", GimName("swx", dt.date(2020, 1, 9))),  # swx's own product
    ("ESA0OPSRAP_20250010000_02D_02H_GIM.INX.gz", GimName("esr", dt.date(2025, 1, 1))),
    ("upcg0010.00i.gnss-lab-ionex_file.00i", GimName("upc", dt.date(2000, 1, 1))),
    ("one_map.gnss-lab.xxi", None),
    ("notes.txt", None),
])
def test_parse_name(name, expected):
    assert parse_name(name) == expected


def test_local_source_finds_files_by_name_recursively(tmp_path):
    (tmp_path / "2020").mkdir()
    write_ionex(make_gim(dt.date(2020, 1, 8)), tmp_path / "2020" / "codg0080.20i.gz")
    write_ionex(make_gim(dt.date(2020, 1, 9)), tmp_path / "codg0090.20i")
    (tmp_path / "README.txt").write_text("not a GIM")
    src = LocalDirectorySource(tmp_path)
    assert isinstance(src, GimSource)
    assert src.available() == [("cod", dt.date(2020, 1, 8)), ("cod", dt.date(2020, 1, 9))]
    raw = src.fetch("cod", dt.date(2020, 1, 8))
    assert raw.source == "local" and raw.origin.endswith("codg0080.20i.gz") and raw.data[:2] == b"\x1f\x8b"
    with pytest.raises(NotFoundError, match="no cod file"):
        src.fetch("cod", dt.date(2020, 1, 10))
    assert [p.name for p in src.unrecognised()] == ["README.txt"]


def test_local_source_on_shared_folder(ionex_dir):
    src = LocalDirectorySource(ionex_dir)
    avail = src.available()
    assert ("cod", dt.date(2020, 1, 8)) in avail and ("igs", dt.date(2024, 12, 14)) in avail
    assert len(avail) == 17  # 18 files, one whose name does not say centre and day
    assert [p.name for p in src.unrecognised()] == ["one_map.gnss-lab.xxi"]


def test_code_prediction_and_the_final_of_its_day_are_two_products(shared_data, tmp_path):
    """The real pair of issue 19: CODE's 1-day prediction (c1pg) and the IGS final of 27 October 2014
    are archived apart, under their own product codes."""
    from swx.archive import Archive
    from swx.pipeline.ingest import ingest_gims

    src = LocalDirectorySource(shared_data / "ionex-predicted")
    assert sorted(src.available()) == [("c1p", dt.date(2014, 10, 27)), ("igs", dt.date(2014, 10, 27))]
    archive = Archive(tmp_path)
    assert ingest_gims(src, archive, src.available()).counts()["fetched"] == 2
    assert archive.gim_days("c1p") == archive.gim_days("igs") == [dt.date(2014, 10, 27)]
    assert archive.gim_days("cod") == []


def test_missing_local_folder_is_a_clear_error(tmp_path):
    with pytest.raises(NotFoundError, match="does not exist"):
        LocalDirectorySource(tmp_path / "nope").available()


def test_remote_source_urls_from_templates():
    src = RemoteSource({"cod": ["http://a/{yyyy}/{NAME}", "https://b/{yyyy}/{doy}/{name}"]}, Downloader())
    assert src.urls("cod", dt.date(2020, 1, 8)) == ["http://a/2020/CODG0080.20I.Z", "https://b/2020/008/codg0080.20i.Z"]
    assert src.urls("cod", dt.date(2023, 6, 1))[1].endswith("/2023/152/COD0OPSFIN_20231520000_01D_01H_GIM.INX.gz")


def test_a_fetched_files_name_never_holds_the_urls_query():
    """A ninth round: a mirror's `?user=bob&p=SECRET` ended in the archived day's `source_file`."""

    class Served:
        def get(self, url: str, day=None) -> bytes:
            return b"bytes"

    src = RemoteSource({"esa": ["https://h/{yyyy}/{name}?user=bob&p=S3cretXYZ"]}, Served())
    raw = src.fetch("esa", dt.date(2020, 1, 8))
    assert raw.name == "esag0080.20i.Z" and raw.data == b"bytes"


def test_the_product_chain_of_a_centre_and_its_levels():
    from swx.errors import InputError
    from swx.io.gim_names import level_rank, product_chain, product_level

    assert product_chain("cod", None) == ["cod", "cor"]  # default: the centre's own rapid product
    assert product_chain("igs", ["igr", "cor", "igr"]) == ["igs", "igr", "cor"]
    assert product_chain("cod", []) == ["cod"]  # research: finals only
    assert [product_level(c) for c in ("cod", "uqr", "c1p", "sim")] == ["final", "rapid", "predicted", "final"]
    assert level_rank("predicted") < level_rank("rapid") < level_rank("final")
    with pytest.raises(InputError, match="c1p is a predicted product"):
        product_chain("cod", ["c1p"])  # a forecast never becomes the truth forecasts are verified against


def test_a_days_file_that_is_a_link_to_nothing_is_named_not_called_missing(tmp_path):
    """An eighth round: a day's file that is a dangling link (an unmounted volume) or a loop of links was
    reported "MISSING: no file for this day"."""
    from swx.errors import IonexFormatError
    from swx.sources.gim import LocalDirectorySource

    (tmp_path / "esag0080.20i").symlink_to(tmp_path / "unmounted" / "esag0080.20i")
    (tmp_path / "esag0090.20i").symlink_to(tmp_path / "esag0090.20i")
    src = LocalDirectorySource(tmp_path)
    assert src.available("esa") == [("esa", dt.date(2020, 1, 8)), ("esa", dt.date(2020, 1, 9))]
    for day, target in ((8, tmp_path / "unmounted" / "esag0080.20i"), (9, tmp_path / "esag0090.20i")):
        with pytest.raises(IonexFormatError, match=f"a link to {target}, which leads to no file") as err:
            src.fetch("esa", dt.date(2020, 1, day))
        assert str(err.value).startswith(f"{tmp_path / f'esag00{day}0.20i'}: a link to")
