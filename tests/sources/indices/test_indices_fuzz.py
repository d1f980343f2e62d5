"""Fuzzing the index readers: whatever is done to a valid GFZ Kp file, a CelesTrak SW file or GFZ's
JSON, the reader returns tables or raises one `IndexFormatError` naming the file — never another
exception. A fixed budget per reader (CI)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swx.errors import IndexFormatError
from swx.sources.indices.celestrak import parse_sw
from swx.sources.indices.gfz import format_gfz_text, parse_gfz_json, parse_gfz_text
from swx.sources.indices.tables import IndexTables, three_hourly

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
JUNK = st.sampled_from(["", " ", "-", "9", "0", "99999", "nan", "1e309", "-1", "\t", "\x00", "é", "#", ";", "\r",
                        "2015", "13", "-99.000", "x"])


def _gfz_text() -> str:
    days = pd.date_range("2015-03-15", periods=4, freq="D", tz="UTC")
    rng = np.random.default_rng(0)
    kp = pd.DataFrame({"kp": np.round(rng.uniform(0, 9, 32) * 3) / 3, "ap": rng.uniform(0, 200, 32).round(),
                       "status": "definitive", "source": "GFZ"}, index=three_hourly(days))
    daily = pd.DataFrame({"Ap": 20.0, "sn": 60.0, "f107_obs": 120.0, "f107_adj": 118.0, "status": "definitive",
                          "source": "GFZ"}, index=days)
    return format_gfz_text(IndexTables(kp, daily))


GFZ = _gfz_text()


def _mutations(lines: list[str]):
    """Up to three edits of a file's lines: drop, duplicate, truncate one, or put junk into one."""
    edit = st.tuples(st.sampled_from(["drop", "dup", "cut", "junk", "swap"]), st.integers(0, len(lines) - 1),
                     st.integers(0, 120), JUNK)
    return st.lists(edit, min_size=1, max_size=3)


def _apply(lines: list[str], edits) -> str:
    out = list(lines)
    for op, i, k, junk in edits:
        i %= max(len(out), 1)
        if not out:
            break
        if op == "drop":
            del out[i]
        elif op == "dup":
            out.insert(i, out[i])
        elif op == "cut":
            out[i] = out[i][:k]
        elif op == "junk":
            out[i] = out[i][:k] + junk + out[i][k + 1:]
        else:
            j = (i + k) % len(out)
            out[i], out[j] = out[j], out[i]
    return "".join(out)


def _check(reader, data, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tables = reader(data, name)
        except IndexFormatError as exc:
            assert name in str(exc) and "\n" not in str(exc), str(exc)
            return
    assert isinstance(tables, IndexTables)
    kp = tables.kp["kp"].to_numpy(dtype=float)
    assert np.all((kp >= 0) & (kp <= 9)), "a Kp outside 0..9 taken as good"


@FUZZ
@example(edits=[("cut", 5, 1, "")])  # a year 22015 in an error line: strftime cannot write it
@given(edits=_mutations(GFZ.splitlines(keepends=True)))
def test_gfz_text_reader_is_total(edits):
    _check(parse_gfz_text, _apply(GFZ.splitlines(keepends=True), edits), "Kp_ap_Ap_SN_F107_fuzz.txt")


@FUZZ
@given(data=st.binary(max_size=400) | st.text(max_size=400))
def test_gfz_text_reader_takes_any_bytes(data):
    _check(parse_gfz_text, data, "Kp_ap_Ap_SN_F107_fuzz.txt")


@FUZZ
@given(payload=st.recursive(st.none() | st.booleans() | st.floats(allow_nan=True) | st.text(max_size=20),
                            lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=5), max_leaves=20))
def test_gfz_json_reader_takes_any_document(payload):
    _check(parse_gfz_json, json.dumps(payload), "kp.json")


@FUZZ
@given(edits=st.lists(st.tuples(st.sampled_from(["drop", "dup", "cut", "junk", "swap"]), st.integers(0, 10_000),
                                st.integers(0, 130), JUNK), min_size=1, max_size=3))
def test_celestrak_sw_reader_is_total(edits, celestrak_lines):
    _check(parse_sw, _apply(celestrak_lines, edits), "SW-fuzz.txt")


@pytest.fixture(scope="module")
def celestrak_lines(shared_data):
    """The head of the real SW-Last5Years.txt (read in place) and a month of its observed rows."""
    lines = (shared_data / "kp" / "SW-Last5Years.txt").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("BEGIN OBSERVED"))
    return lines[:start + 31] + [line for line in lines if line.startswith("END OBSERVED")]


def test_a_celestrak_file_whose_blocks_hold_no_row_is_refused_in_one_line():
    """Found by the fuzzing above: BEGIN OBSERVED ... END OBSERVED with nothing between ended in pandas'
    "No objects to concatenate"."""
    from swx.sources.indices.celestrak import parse_sw

    with pytest.raises(IndexFormatError, match="no data row in any BEGIN ... END block"):
        parse_sw("DATATYPE CssiSpaceWeather\nBEGIN OBSERVED\nEND OBSERVED\n", "SW-empty.txt")
