"""CelesTrak SW files, the bundled history derived from them, and merging sources."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from swx.errors import IndexFormatError
from swx.sources.indices.celestrak import parse_sw, read_sw
from swx.sources.indices.gfz import read_gfz_text
from swx.sources.indices.history import DEFAULT_END, DEFAULT_START, build_history, load_history, parse_history
from swx.sources.indices.tables import IndexTables, kp_label, merge_tables


@pytest.fixture(scope="module")
def sw_all(shared_data):
    return read_sw(shared_data / "kp" / "SW-All.txt")


def test_sw_all_blocks_and_values(sw_all):
    kp = sw_all.kp
    assert kp.index[0] == pd.Timestamp("1957-10-01", tz="UTC")
    assert set(kp.status) == {"observed", "predicted"}
    assert kp.loc["2025-07-20 21:00", "status"] == "observed"
    assert kp.loc["2025-07-21 00:00", "status"] == "predicted"  # the zero-padded "07" row parses
    assert kp.loc["2025-07-21 12:00", "kp"] == pytest.approx(0.667)  # "07" -> 0.7 -> 2 thirds
    assert kp.loc["1957-10-01 00:00", "kp"] == pytest.approx(4.333)  # 43 = 4+
    assert sw_all.daily.loc["2015-03-17", "f107_obs"] == 114.3
    assert sw_all.daily.loc["2015-03-17", "f107_adj"] == 113.2


def test_sw_all_agrees_with_gfz_on_the_storm(sw_all, shared_data):
    gfz = read_gfz_text(shared_data / "kp" / "Kp_ap_Ap_SN_F107_since_1932.EXCERPT_2015-03-10_to_2015-03-31.txt")
    cel = sw_all.kp.loc["2015-03-10":"2015-03-31 21:00"]
    np.testing.assert_allclose(cel.kp.values, gfz.kp.kp.values)
    np.testing.assert_allclose(cel.ap.values, gfz.kp.ap.values)
    np.testing.assert_allclose(sw_all.daily.loc["2015-03-10":"2015-03-31", "Ap"].values, gfz.daily.Ap.values)


def test_last5years_file(shared_data):
    t = read_sw(shared_data / "kp" / "SW-Last5Years.txt", include_predicted=False)
    assert t.kp.index[0] == pd.Timestamp("2021-01-01", tz="UTC") and set(t.kp.status) == {"observed"}


def test_bundled_history_is_exactly_what_sw_all_gives(sw_all, tmp_path):
    bundled = load_history()
    assert bundled.kp.index[0] == pd.Timestamp(DEFAULT_START, tz="UTC")
    assert bundled.kp.index[-1] == pd.Timestamp(DEFAULT_END + " 21:00", tz="UTC")
    ref = sw_all.between(DEFAULT_START, pd.Timestamp(DEFAULT_END) + pd.Timedelta(days=1))
    ref_kp = ref.kp[ref.kp.status == "observed"]
    np.testing.assert_array_equal(bundled.kp.kp.values, ref_kp.kp.values)
    np.testing.assert_array_equal(bundled.kp.ap.values, ref_kp.ap.values)
    np.testing.assert_array_equal(bundled.kp.index, ref_kp.index)
    ref_daily = ref.daily[ref.daily.status == "observed"]
    for c in ("Ap", "sn", "f107_obs", "f107_adj"):
        np.testing.assert_array_equal(bundled.daily[c].values, ref_daily[c].values)
    # rebuilding from the shared file gives the same file, byte for byte
    out = build_history(sw_all, tmp_path / "h.csv.gz")
    assert out.read_bytes() == resources.files("swx.data").joinpath("kp_f107_history.csv.gz").read_bytes()


def test_bundled_history_without_shared_data():
    h = load_history()
    assert h.kp.loc["2015-03-17 12:00", "kp"] == pytest.approx(7.667)
    assert h.daily.loc["2017-09-08", "Ap"] == 106
    assert h.kp.loc["2017-09-08"].kp.max() == pytest.approx(8.333)
    assert "CC BY 4.0" in resources.files("swx.data").joinpath("INDICES_ATTRIBUTION.txt").read_text()
    assert len(h.daily) == (pd.Timestamp(DEFAULT_END) - pd.Timestamp(DEFAULT_START)).days + 1
    assert parse_history(resources.files("swx.data").joinpath("kp_f107_history.csv.gz").read_bytes()).kp.equals(h.kp)


def test_merge_prefers_better_status_then_later_source():
    idx = pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 03:00"], tz="UTC", name="time")
    pre = IndexTables(pd.DataFrame({"kp": [1.0, 2.0], "ap": [4.0, 7.0], "status": "preliminary", "source": "A"},
                                   index=idx), IndexTables.empty().daily)
    defi = IndexTables(pd.DataFrame({"kp": [1.333], "ap": [5.0], "status": "definitive", "source": "B"},
                                    index=idx[:1]), IndexTables.empty().daily)
    m = merge_tables(defi, pre)
    assert list(m.kp.kp) == [1.333, 2.0] and list(m.kp.source) == ["B", "A"]
    newer = IndexTables(pd.DataFrame({"kp": [2.333], "ap": [9.0], "status": "preliminary", "source": "C"},
                                     index=idx[1:]), IndexTables.empty().daily)
    assert merge_tables(pre, newer).kp.loc[idx[1], "source"] == "C"


def test_kp_labels():
    assert [kp_label(x) for x in (0, 1 / 3, 2 / 3, 14 / 3, 5, 7.667, 9)] == ["0o", "0+", "1-", "5-", "5o", "8-", "9o"]


def test_sw_errors():
    with pytest.raises(IndexFormatError, match="no BEGIN OBSERVED"):
        parse_sw("DATATYPE x\n")
    with pytest.raises(IndexFormatError, match="without END"):
        parse_sw("BEGIN OBSERVED\n" + "2025 07 20 2617 24 10 10  7 13 13 13  3 13  83   4   4   3   5   5   5   2   "
                 "5   4 0.1 0 159 155.1 0 132.8 136.9 150.3 128.9 133.2\n")
    with pytest.raises(IndexFormatError, match="non-numeric kp3") as err:
        parse_sw("BEGIN OBSERVED\n" + "2025 07 20 2617 24 10 10  7 1x 13 13  3 13  83   4   4   3   5   5   5   2   "
                 "5   4 0.1 0 159 155.1 0 132.8 136.9 150.3 128.9 133.2\nEND OBSERVED\n", "sw.txt")
    assert err.value.line == 2


ROW = ("2025 07 20 2617 24 10 10  7 13 13 13  3 13  83   4   4   3   5   5   5   2   5   4 0.1 0 159 155.1 0 "
       "132.8 136.9 150.3 128.9 133.2\n")


@pytest.mark.parametrize("row, message, columns", [
    (ROW.replace(" 13 13 13", " 35 13 13", 1), "Kp x 10 = 35", "columns 28-30"),  # not a third
    (ROW.replace(" 10 10  7", "120 10  7", 1), "Kp x 10 = 120", "columns 19-21"),  # Kp 12
    (ROW.replace("   4   4   3", "  -3   4   3", 1), "ap -3 on 2025-07-20", ""),
    (ROW.replace("2025 07 20", "2300 07 20", 1), "a day that has not begun", ""),
    # an eighth round: an impossible redundant field was accepted, an observed F10.7 of 999.9 stored
    (ROW.replace(" 83   4", "999   4", 1), "Kp Sum 999 beside eight Kp x 10 summing to 82", "columns 43-46"),
    (ROW[:112] + " 999.9" + ROW[118:], "F10.7 observed 999.9 beside adjusted 155.1 on 2025-07-20", ""),
])
def test_observed_values_no_celestrak_file_holds_are_refused(row, message, columns):
    """Issue 18: the CelesTrak reader had no range check (Kp 12 and -3 were stored)."""
    with pytest.raises(IndexFormatError, match=message) as err:
        parse_sw("BEGIN OBSERVED\n" + row + "END OBSERVED\n", "sw.txt")
    assert err.value.line == 2 and columns in str(err.value)


def test_predicted_kp_is_rounded_to_thirds_and_may_lie_ahead():
    """CelesTrak's predicted rows hold Kp x 10 such as 22 or 35 (not thirds) and future days: read."""
    future = ROW.replace("2025 07 20", "2300 07 21", 1).replace(" 13 13 13", " 35 13 13", 1)
    t = parse_sw("BEGIN OBSERVED\n" + ROW + "END OBSERVED\nBEGIN DAILY_PREDICTED\n" + future
                 + "END DAILY_PREDICTED\n")
    assert t.kp.loc["2300-07-21 09:00", "kp"] == pytest.approx(3.333) and t.kp.status.iloc[-1] == "predicted"


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r\r\n"], ids=["LF", "CRLF", "CRCRLF"])
def test_line_numbers_are_an_editors_whatever_the_line_ends(end):
    """A sixth round: CR CR LF line ends doubled every line number named in an error."""
    bad = ROW.replace(" 10 10  7", "120 10  7", 1).replace("2025 07 20", "2025 07 22", 1)
    text = "".join(line.rstrip("\n") + end for line in ["DATATYPE x\n", "BEGIN OBSERVED\n", ROW,
                                                         ROW.replace("2025 07 20", "2025 07 21", 1), bad,
                                                         "END OBSERVED\n"])
    with pytest.raises(IndexFormatError, match="Kp x 10 = 120") as err:
        parse_sw(text.encode(), "sw.txt")
    assert err.value.line == 5


@pytest.mark.parametrize("days, message", [
    (("20", "22"), "1 day(s) missing between 2025-07-20 and 2025-07-22"),
    (("21", "20"), "2025-07-20 after 2025-07-21 (out of order)"),
    (("20", "20"), "2025-07-20 after 2025-07-20 (out of order)"),
])
def test_a_day_deleted_moved_or_repeated_in_a_celestrak_file_is_refused_naming_the_line(days, message):
    """A thirteenth round: a day deleted from SW-All.txt was read without a word (a GFZ file's was
    refused): one line per day, in order, as GFZ's."""
    rows = [ROW.replace("2025 07 20", f"2025 07 {d}", 1) for d in days]
    with pytest.raises(IndexFormatError, match=re.escape(message)) as err:
        parse_sw("BEGIN OBSERVED\n" + "".join(rows) + "END OBSERVED\n", "sw.txt")
    assert err.value.line == 3 and "expected one line per day, in order" in str(err.value)


def test_non_ascii_bytes_name_the_line():
    with pytest.raises(IndexFormatError, match="non-ASCII byte") as err:
        parse_sw(b"DATATYPE x\nBEGIN OBSERVED\n\xff\n", "sw.txt")
    assert err.value.line == 3
