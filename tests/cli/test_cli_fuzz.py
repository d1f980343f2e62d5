"""Fuzzing the command line's arguments: whatever a user types into the options of the commands, the
command ends in a result or one line naming what is wrong (exit 2) — never a traceback. A fixed
budget (CI); on the empty data folder of each test, so no command has work to run."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli_main

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
DAYS = st.sampled_from(["2015-03-17", "2015-3-17", "2015-02-30", "0001-01-01", "9999-12-31", "1994-12-31",
                        "2030-01-01", "", "today", "2015-03-17T00:00", "-1", "20150317"]) | st.text(max_size=12)
NUMBERS = st.sampled_from(["0", "-1", "1", "nan", "inf", "-inf", "1e400", "3.5", "", "x", "99999999999999999999"]) \
    | st.integers(-10**6, 10**6).map(str) | st.floats().map(str)
WORDS = st.sampled_from(["table", "json", "xml", "lstm", "cnn", "ridge", "cod", "COD", "a" * 23, "../x", "", "é"]) \
    | st.text(max_size=8)


def _commands(tmp: str):
    return st.one_of(
        st.tuples(st.just("forecast"), DAYS).map(lambda a: ["forecast", "--day", a[1]]),
        st.tuples(DAYS, DAYS).map(lambda a: ["storms", "--start", a[0], "--end", a[1]]),
        NUMBERS.map(lambda v: ["status", "--max-age-h", v]),
        st.tuples(DAYS, DAYS, WORDS).map(lambda a: ["evaluate", "--start", a[0], "--end", a[1], "--format", a[2]]),
        st.tuples(WORDS, NUMBERS, NUMBERS).map(lambda a: ["train", "--arch", a[0], "--epochs", a[1], "--units", a[2]]),
        st.tuples(NUMBERS, NUMBERS).map(lambda a: ["stations", "dense", "--dlat", a[0], "--dlon", a[1],
                                                   "--out", f"{tmp}/dense.csv"]),
        st.tuples(DAYS, WORDS).map(lambda a: ["ingest", "gims", "--start", a[0], "--centre", a[1], "--source",
                                              "local", "--dir", f"{tmp}/none"]),
        st.tuples(DAYS, NUMBERS).map(lambda a: ["update", "--day", a[0], "--margin", a[1]]),
        WORDS.map(lambda w: ["db", "downgrade", w]),
        st.lists(WORDS, max_size=3),
    )


@FUZZ
@given(data=st.data())
def test_any_arguments_end_in_a_result_or_one_line(data, tmp_path, monkeypatch, capsys):
    argv = data.draw(_commands(str(tmp_path)))
    code, out = run_cli_main(monkeypatch, capsys, argv)
    assert "Traceback" not in out, (argv, out)
    assert code in (0, 1, 2), (argv, code, out)
    if code == 2 and out.startswith("error:"):
        assert len(out.strip().splitlines()) == 1, (argv, out)
