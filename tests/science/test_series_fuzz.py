"""Fuzzing the series CSV reader (`swx import-series`): any file ends in a series on the 2-hour grid or
one `DataFormatError` naming the file — never another exception. A fixed budget (CI)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from swx.errors import DataFormatError
from swx.science.series import import_series

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GOOD = ["time,vtec\n"] + [f"2015-03-{1 + h // 24:02d}T{h % 24:02d}:00:00Z,{10 + (h % 24) / 2:.1f}\n" for h in range(96)]
JUNK = st.sampled_from(["", ",", ";", "\t", "nan", "inf", "-5", "1e400", "9999", "2015-02-30T00:00:00Z",
                        "0001-01-01", "99999-01-01T00:00:00", "\x00", "é", '"', "#", "\r", "T", "Z", "+25:00"])


def _check(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "receiver.csv"
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                series, counts = import_series(path)
            except DataFormatError as exc:
                assert "receiver.csv" in str(exc) and "\n" not in str(exc), str(exc)
                return
    assert isinstance(series, pd.Series) and series.notna().any()
    values = series.dropna().to_numpy(dtype=float)
    assert np.isfinite(values).all() and (values > 0).all(), "a non-physical vTEC taken as good"
    assert (series.index.hour % 2 == 0).all() and counts["input"] >= len(values)


@FUZZ
@example(edits=[(1, 0, "-5", False)])  # a year -5015: pandas reads it, strftime cannot write it
@given(edits=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 30), JUNK, st.booleans()),
                      min_size=1, max_size=4))
def test_a_damaged_series_file_is_read_or_refused_in_one_line(edits):
    lines = list(GOOD)
    for i, k, junk, drop in edits:
        lines[i] = "" if drop else lines[i][:k] + junk + lines[i][k + 1:]
    _check("".join(lines))


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300))
def test_any_bytes_are_read_or_refused_in_one_line(data):
    _check(data)


def test_a_period_without_an_archived_day_gives_an_empty_series_not_a_broken_frame(tmp_path):
    """A seventh round: `swx evaluate` over 1995 on a site whose maps start in 2015 ended in pandas'
    KeyError ('vtec' not a column): the series of no day had no vtec column."""
    import datetime as dt

    from swx.archive import Archive
    from swx.science.series import long_to_wide, series_from_archive
    from swx.science.stations import load_catalog

    long, report = series_from_archive(Archive(tmp_path), "cod", load_catalog()[:2], dt.date(1995, 1, 1),
                                       dt.date(1995, 1, 2))
    assert report.days_read == 0 and len(report.days_missing) == 2
    wide = long_to_wide(long)
    assert wide.shape == (24, 2) and wide.isna().all().all()
