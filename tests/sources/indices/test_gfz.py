"""GFZ Kp files (text and JSON): real files from ../shared, missing values, status, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from swx.errors import IndexFormatError
from swx.sources.indices.gfz import format_gfz_text, parse_gfz_json, parse_gfz_text, read_gfz_text


def test_storm_excerpt_values(shared_data):
    t = read_gfz_text(shared_data / "kp" / "Kp_ap_Ap_SN_F107_since_1932.EXCERPT_2015-03-10_to_2015-03-31.txt")
    assert len(t.kp) == 22 * 8 and len(t.daily) == 22
    assert t.kp.index.tz is not None and str(t.kp.index.tz) == "UTC"
    day = t.kp.loc["2015-03-17"]
    np.testing.assert_allclose(day.kp.values, [2.0, 4.667, 5.667, 5.333, 7.667, 7.667, 7.333, 7.667])
    np.testing.assert_allclose(day.ap.values, [7, 39, 67, 56, 179, 179, 154, 179])
    assert t.daily.loc["2015-03-17", "Ap"] == 108
    assert (t.kp.status == "definitive").all() and (t.daily.status == "definitive").all()  # D=2
    assert t.kp.index[0] == pd.Timestamp("2015-03-10 00:00", tz="UTC")
    assert t.kp.index[1] - t.kp.index[0] == pd.Timedelta(hours=3)


def test_nowcast_missing_values_and_preliminary_status(shared_data):
    t = read_gfz_text(shared_data / "kp" / "Kp_ap_Ap_SN_F107_nowcast.txt")
    # 2024-02-13: Kp7 and Kp8 are -1.000 (not yet determined) -> absent, not NaN rows
    last_day = t.kp.loc["2024-02-13"]
    assert len(last_day) == 6
    assert last_day.index[-1] == pd.Timestamp("2024-02-13 15:00", tz="UTC")
    assert np.isnan(t.daily.loc["2024-02-13", "Ap"]) and np.isnan(t.daily.loc["2024-02-13", "f107_obs"])
    assert t.daily.loc["2024-02-13", "sn"] == 135
    assert set(t.kp.loc["2024-02-11":].status) == {"preliminary"}  # D=0
    assert set(t.kp.loc[:"2024-01-25"].status) == {"definitive"}  # D=1: Kp definitive
    assert t.daily.loc["2024-01-21", "status"] == "preliminary"  # ... but SN still preliminary


def test_definitive_file(shared_data):
    t = read_gfz_text(shared_data / "kp" / "Kp_ap_Ap_SN_F107_since_2024.txt")
    assert t.kp.index[0] == pd.Timestamp("2024-01-01", tz="UTC") and len(t.daily) == 31


def test_wrong_column_count_names_line():
    text = "# header\n2024 01 21 33623 33623.5 2597 18  0.000  1.333\n"
    with pytest.raises(IndexFormatError, match="9 columns") as err:
        parse_gfz_text(text, "k.txt")
    assert err.value.line == 2


def test_non_numeric_and_out_of_range():
    row = "2024 01 21 33623 33623.5 2597 18 " + " ".join(["1.000"] * 8) + " " + " ".join(["4"] * 8) + " 4 154 178.5 172.9 1"
    assert len(parse_gfz_text("#\n" + row + "\n").kp) == 8
    with pytest.raises(IndexFormatError, match="non-numeric value 'x'"):
        parse_gfz_text("#\n" + row.replace("178.5", "x") + "\n")
    with pytest.raises(IndexFormatError, match="kp 12 on 2024-01-21"):
        parse_gfz_text("#\n" + row.replace("1.000", "12.00", 1) + "\n")
    with pytest.raises(IndexFormatError, match="no data rows"):
        parse_gfz_text("# only a header\n")


@pytest.mark.parametrize("change, message", [
    (("1.000", "8.900"), "kp 8.9 on 2024-01-21"),  # not a third
    ((" 4 154", " 1000000000 154"), r"Ap 1e\+09"),
    (("178.5", "-500.0"), "f107_obs -500"),
    (("2024 01 21", "2300 01 21"), "a day that has not begun"),
    ((" 1\n", " 3\n"), "D flag 3"),
    ((" 4 4 4", " 400 4 4"), r"ap 400 beside Kp 1 on 2024-01-21 \(expected ap 4, the ap of that Kp\)"),  # a fresh round
    (("178.5", "0.0"), r"f107_obs 0 on 2024-01-21 \(expected f107_obs 30 \.\. 3000"),
    ((" 4 154", " 300 154"), r"Ap 300 on 2024-01-21, the mean of its eight ap is 4\.0"),
    (("1.000", "nan"), r"non-numeric value 'nan' \(expected numbers; a missing value is -1\)"),  # a fifth round
    (("2024 01 21", "1931 01 21"), r"a row dated 1931-01-21 \(expected days from 1932-01-01 on"),
])
def test_values_no_gfz_file_holds_are_refused_naming_the_line(change, message):
    """Issue 18: Kp 8.9, ap 1e9, F10.7 -500 and far-future definitive days were accepted."""
    row = "2024 01 21 33623 33623.5 2597 18 " + " ".join(["1.000"] * 8) + " " + " ".join(["4"] * 8) + " 4 154 178.5 172.9 1\n"
    text = "# header\n" + row.replace(*change, 1)
    with pytest.raises(IndexFormatError, match=message) as err:
        parse_gfz_text(text, "Kp.txt")
    assert err.value.line == 2 and "Kp.txt" in str(err.value)


def test_a_day_twice_and_a_definitive_value_for_today_are_refused():
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()

    def row(day, d=1):
        return (f"{day:%Y %m %d} 33623 33623.5 2597 18 " + " ".join(["1.000"] * 8) + " " + " ".join(["4"] * 8)
                + f" 4 154 178.5 172.9 {d}\n")

    with pytest.raises(IndexFormatError, match=r"2024-01-21 00:00 a second time \(first on line 2\)") as err:
        parse_gfz_text("#\n" + row(dt.date(2024, 1, 21)) + row(dt.date(2024, 1, 21)))
    assert err.value.line == 3
    with pytest.raises(IndexFormatError, match="definitive values for .* a day that has not ended"):
        parse_gfz_text("#\n" + row(today, d=1))
    # today's nowcast: fine with a Kp for the intervals begun, -1 for the others (all eight: refused above)
    begun = dt.datetime.now(dt.UTC).hour // 3 + 1
    partial = (f"{today:%Y %m %d} 33623 33623.5 2597 18 " + " ".join(["1.000"] * begun + ["-1.000"] * (8 - begun))
               + " " + " ".join(["4"] * begun + ["-1"] * (8 - begun)) + " -1 154 178.5 172.9 0\n")
    assert len(parse_gfz_text("#\n" + partial).kp) == begun


def test_json_service_response():
    payload = {"meta": {"source": "GFZ Potsdam", "license": "CC BY 4.0"},
               "datetime": ["2022-01-01T00:00:00Z", "2022-01-01T03:00:00Z", "2022-01-01T06:00:00Z"],
               "Kp": [0.333, 1.667, -1.0], "status": ["def", "def", "pre"]}
    t = parse_gfz_json(json.dumps(payload))
    assert list(t.kp.kp) == [0.333, 1.667]  # -1 is missing
    assert list(t.kp.status) == ["definitive", "definitive"]
    assert t.kp.index[1] == pd.Timestamp("2022-01-01 03:00", tz="UTC")
    daily = parse_gfz_json({"datetime": ["2022-01-01T00:00:00Z"], "Fobs": [88.1], "SN": [36]})
    assert daily.daily.loc["2022-01-01", "f107_obs"] == 88.1 and daily.kp.empty


@pytest.mark.parametrize("bad", ["{", '{"Kp": [1]}', '{"datetime": ["2022-01-01T00:00:00Z"], "Kp": [1, 2]}',
                                 '{"datetime": ["nonsense"], "Kp": [1]}',
                                 '{"datetime": ["2022-01-01T00:00:00Z"], "Kp": ["a"]}'])
def test_json_errors(bad):
    with pytest.raises(IndexFormatError):
        parse_gfz_json(bad, "svc.json")


@pytest.mark.parametrize("name", ["Kp_ap_Ap_SN_F107_nowcast.txt", "Kp_ap_Ap_SN_F107_since_2024.txt"])
def test_the_writer_reproduces_gfz_rows_byte_for_byte_and_reads_back(shared_data, name):
    """swx writes GFZ's layout (the simulated feed of issue 19 serves it): on GFZ's own files every data
    row comes out as GFZ wrote it — nowcast (D=0), definitive and missing values alike."""
    path = shared_data / "kp" / name
    tables = read_gfz_text(path)
    text = format_gfz_text(tables)
    rows = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert [line for line in text.splitlines() if not line.startswith("#")] == rows
    back = parse_gfz_text(text, "written")
    pd.testing.assert_frame_equal(back.kp, tables.kp)
    pd.testing.assert_frame_equal(back.daily, tables.daily)


@pytest.mark.parametrize("name", ["Kp_ap_Ap_SN_F107_nowcast.txt", "SW-Last5Years.txt"])
def test_a_compressed_index_file_reads_as_its_plain_text(shared_data, tmp_path, name):
    """A fifth round: a gzipped GFZ or CelesTrak file (as an operator keeps an archive) was called
    corrupt ("non-ASCII byte"); it is read as the file it holds, like a compressed IONEX day."""
    import gzip

    from swx.sources.indices import read_index_file

    plain = shared_data / "kp" / name
    packed = tmp_path / f"{name}.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = read_index_file(plain), read_index_file(packed)
    pd.testing.assert_frame_equal(a.kp, b.kp)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    assert len(b.kp) > 100


def test_a_day_deleted_or_moved_in_a_gfz_file_is_refused_naming_the_line(shared_data):
    """A fifth round: a day deleted from a GFZ file was taken without a word (the day simply absent,
    its storm never measured)."""
    text = (shared_data / "kp" / "Kp_ap_Ap_SN_F107_since_1932.EXCERPT_2015-03-10_to_2015-03-31.txt").read_text()
    lines = text.splitlines(keepends=True)
    i = next(n for n, ln in enumerate(lines) if ln.startswith("2015 03 15"))
    with pytest.raises(IndexFormatError, match=rf"line {i + 1}: 1 day\(s\) missing between 2015-03-14 and 2015-03-16"):
        parse_gfz_text("".join(lines[:i] + lines[i + 1:]), "gap.txt")
    swapped = lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2:]
    with pytest.raises(IndexFormatError, match=r"2015-03-15 after 2015-03-16 \(out of order\)"):
        parse_gfz_text("".join(swapped), "swapped.txt")


def test_a_kp_for_an_interval_of_today_that_has_not_begun_is_refused():
    """A seventh round: a file whose row for today held all eight Kp was taken, the evening's
    intervals (not begun yet) stored as preliminary values."""
    import datetime as dt

    from swx.sources.indices import IndexTables
    from swx.sources.indices.gfz import format_gfz_text

    today = pd.Timestamp(dt.datetime.now(dt.UTC).date(), tz="UTC")
    times = pd.date_range(today, periods=8, freq="3h")
    kp = pd.DataFrame({"kp": 2.0, "ap": 7.0, "status": "preliminary", "source": "gfz"}, index=times)
    daily = pd.DataFrame({"Ap": [7.0], "sn": [50.0], "f107_obs": [150.0], "f107_adj": [150.0], "status": "preliminary",
                          "source": "gfz"}, index=pd.DatetimeIndex([today]))
    text = format_gfz_text(IndexTables(kp, daily))
    if dt.datetime.now(dt.UTC).hour >= 21:
        pytest.skip("every interval of today has begun")
    with pytest.raises(IndexFormatError, match=r"an interval that has not begun"):
        parse_gfz_text(text, "today.txt")


def test_a_missing_mark_never_erases_a_value_already_held():
    """A thirteenth round: a GFZ file whose sunspot number and F10.7 of a day were GFZ's missing marks
    (-1, -1.0) replaced the values the archive held with nothing. The newer file's values win; a value
    it lacks is kept from a measured table that has it, never from a prediction."""
    from swx.sources.indices.tables import IndexTables, merge_tables

    row = "2024 01 21 33623 33623.5 2597 18 " + " ".join(["1.000"] * 8) + " " + " ".join(["4"] * 8) + " 4 154 178.5 172.9 1\n"
    held = parse_gfz_text("# header\n" + row, "old.txt")
    marked = parse_gfz_text("# header\n" + row.replace(" 154 178.5 172.9", " -1 -1.0 172.0"), "new.txt")
    assert np.isnan(marked.daily.iloc[0]["sn"]) and np.isnan(marked.daily.iloc[0]["f107_obs"])
    day = merge_tables(held, marked).daily.iloc[0]
    assert (day["sn"], day["f107_obs"], day["f107_adj"], day["Ap"]) == (154, 178.5, 172.0, 4)
    assert list(merge_tables(held, marked).daily.columns) == list(held.daily.columns)
    predicted = held.daily.assign(status="predicted", source="C", sn=99.0, f107_obs=99.0)
    day = merge_tables(IndexTables(held.kp.iloc[:0], predicted), marked).daily.iloc[0]
    assert np.isnan(day["sn"]) and np.isnan(day["f107_obs"]) and day["status"] == marked.daily.iloc[0]["status"]
