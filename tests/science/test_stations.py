"""The station catalog: the 18 stations of the method by default, overridable by a CSV."""

from __future__ import annotations

import pytest

from swx.config import lat_band
from swx.errors import DataFormatError
from swx.science.stations import load_catalog


def test_default_catalog_is_the_methods_18_stations():
    st = load_catalog()
    assert len(st) == 18 and len({s.code for s in st}) == 18
    assert sorted({s.lat for s in st}) == [-85, -50, -20, 20, 50, 85]
    assert sorted({s.lon for s in st}) == [-120, 0, 120]
    assert all(s.lat_band == lat_band(s.lat) for s in st)
    by_code = {s.code: s for s in st}
    assert by_code["E000N20"].surface == "land" and by_code["W120S50"].surface == "ocean"
    assert {s.surface for s in st} == {"land", "ocean"}
    assert {s.sector for s in st} == {"-120", "0", "120"}


def test_user_catalog_and_errors(tmp_path):
    p = tmp_path / "cat.csv"
    p.write_text("code,name,lat,lon,sector,lat_band,surface\nTUC,Tucuman,-26.8,294.8,-65,low,land\n")
    [s] = load_catalog(p)
    assert s.code == "TUC" and s.lon == pytest.approx(-65.2)
    p.write_text("code,name,lat,lon,sector,lat_band,surface\nX,x,95,0,0,high,land\n")
    with pytest.raises(DataFormatError, match="out of range"):
        load_catalog(p)
    p.write_text("code,lat,lon\nX,0,0\n")
    with pytest.raises(DataFormatError, match="lacks column"):
        load_catalog(p)


def test_dense_catalog_round_trips_and_knows_land_from_ocean():
    from swx.science.stations import catalog_csv, dense_catalog, parse_catalog

    dense = dense_catalog()
    assert len(dense) == 17 * 18 == 306 and len({s.code for s in dense}) == 306
    again = parse_catalog(catalog_csv(dense), "dense.csv")
    assert again == dense
    by_code = {s.code: s for s in dense}
    assert by_code["E020N00"].surface == "land"  # Congo basin
    assert by_code["W140N00"].surface == "ocean"  # central Pacific
    assert by_code["E100N70"].lat_band == "high" and by_code["W060S20"].lat_band == "low"


HEAD = "# a comment line\ncode,name,lat,lon,sector,lat_band,surface\n"
GOOD = "W120N50,120W 50N,50,-120,-120,mid,land\n"


@pytest.mark.parametrize("text, message", [
    ("", "no header and no station"),
    ("# only a comment\n", "no header and no station"),
    (HEAD, "a header and no station"),
    (HEAD + GOOD + "X1,x,abc,10,10,low,land\n", r"line 4: station X1: lat 'abc' is not a number"),
    (HEAD + GOOD + "X1,extra,10,10,10,low,land,EXTRA,MORE\n", "line 4: 9 fields where the header has 7"),
    (HEAD + ",empty code,10,10,10,low,land\n", "line 3: station code ''"),
    (HEAD + "../../evil code,x,10,10,10,low,land\n", r"line 3: station code '\.\./\.\./evil code'"),
    (HEAD + GOOD.replace(",mid,", ",low,"), r"line 3: station W120N50: lat_band low at latitude 50 \(expected mid"),
    (HEAD + GOOD.replace(",50,", ",95,"), r"line 3: station W120N50: lat/lon out of range"),
    (HEAD + GOOD.replace(",50,", ",nan,"), r"line 3: station W120N50: lat/lon out of range"),
    # a sixth round: the North Pole was taken, then every forecast failed reading it off the maps' grid
    (HEAD + "POLE,pole,90,0,0,high,ocean\n", r"line 3: station POLE: lat/lon out of range .*-87.5 .. 87.5"),
    (HEAD + GOOD + GOOD, "station code W120N50 twice"),
], ids=["empty", "comment-only", "header-only", "lat-abc", "ragged", "empty-code", "path-code", "band", "lat-95",
        "lat-nan", "pole", "twice"])
def test_a_catalog_that_cannot_be_right_is_refused_naming_its_line(tmp_path, text, message):
    """A fresh round: an empty catalog, a ragged row and a latitude `abc` ended in pandas tracebacks; an
    empty code was a station `nan`, a path `../../evil code` a station, a band against the latitude
    taken; a latitude out of range was reported two lines off (comment lines not counted)."""
    p = tmp_path / "cat.csv"
    p.write_text(text)
    with pytest.raises(DataFormatError, match=message) as err:
        load_catalog(p)
    assert "cat.csv" in str(err.value) and "\n" not in str(err.value)


def test_a_folder_as_the_catalog_is_named(tmp_path):
    with pytest.raises(DataFormatError, match="a folder") as err:
        load_catalog(tmp_path)
    assert str(tmp_path) in str(err.value) and "SWX_STATION_CATALOG" in str(err.value)


def test_a_catalog_with_a_byte_order_mark_and_quoted_names_reads():
    from swx.science.stations import parse_catalog

    [s] = parse_catalog("\ufeff" + HEAD + 'TUC,"Tucuman, Argentina",-26.8,294.8,-65,low,land\n')
    assert s.code == "TUC" and s.name == "Tucuman, Argentina" and s.lon == pytest.approx(-65.2)


@pytest.mark.parametrize("row, message", [
    ("W120N50,120W 50N,50,-120,120,mid,land\n", r"line 3: station W120N50: sector 120 is 120° from its longitude -120"),
    ("W120N50,120W 50N,50,-120,west,mid,land\n", r"line 3: station W120N50: sector 'west' is not a meridian"),
    ("W120N50,120W 50N,50,-120,999,mid,land\n", r"line 3: station W120N50: sector '999' out of range"),
    ("W120N50,120W \x1b[31mFAILED,50,-120,-120,mid,land\n", r"station W120N50: its name holds a control character"),
    (f"W120N50,{'x' * 129},50,-120,-120,mid,land\n", r"station W120N50: its name .* is too long"),
], ids=["sector-far", "sector-word", "sector-range", "name-escape", "name-long"])
def test_a_sector_that_is_not_the_stations_meridian_or_a_forged_name_is_refused(tmp_path, row, message):
    """A fifth round: a station at 120°W filed under the 120°E sector, and a name holding a control
    character, were taken as they were (a quoted line break is a ragged row already)."""
    p = tmp_path / "cat.csv"
    p.write_text(HEAD + row)
    with pytest.raises(DataFormatError, match=message) as err:
        load_catalog(p)
    assert "\n" not in str(err.value)


def test_a_sector_near_the_date_line_and_an_empty_sector_are_taken():
    from swx.science.stations import parse_catalog

    a, b = parse_catalog(HEAD + "DL1,date line,10,179,-175,low,ocean\nNOS,no sector,10,10,,low,land\n")
    assert (a.sector, b.sector) == ("-175", "")


def test_a_pipe_as_the_catalog_is_refused_not_read_forever(tmp_path):
    import os

    fifo = tmp_path / "cat.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataFormatError, match="not a regular file") as err:
        load_catalog(fifo)
    assert str(fifo) in str(err.value)
