"""Every command that cannot do its work says why in one line (`error: ...`) and exits non-zero, without a
traceback: on an empty data folder, and for a station or a day swx does not know."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli_main as _run

EMPTY = [
    (["train"], "no sim GIMs in the archive"),
    (["evaluate", "--start", "2015-03-16", "--end", "2015-03-17"], "no sim GIMs in the archive"),
    (["update", "--day", "2015-03-16"], "no sim GIMs in the archive"),
    (["forecast", "--day", "2015-03-16"], "no sim GIM on or before 2015-03-16"),
    (["verify-maps", "--day", "2015-03-16"], "no sim GIM for 2015-03-16"),
    (["verify", "--day", "2015-03-16"], "no sim GIM for 2015-03-16"),
]
UNKNOWN_STATION = [
    (["train", "--station", "NOPE1"], "unknown station(s) NOPE1"),
    (["evaluate", "--start", "2015-03-16", "--end", "2015-03-17", "--station", "NOPE1"], "unknown station(s) NOPE1"),
    (["update", "--day", "2015-03-16", "--station", "NOPE1"], "unknown station(s) NOPE1"),
]


@pytest.mark.parametrize(("argv", "why"), EMPTY + UNKNOWN_STATION, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_a_command_that_cannot_work_says_why_in_one_line(monkeypatch, capsys, argv, why):
    code, text = _run(monkeypatch, capsys, argv)
    assert code not in (0, None)
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    assert why in errors[0], errors[0]


@pytest.mark.parametrize("day", ["2015-13-01", "2015-W13", "20150328", "2015-W13-6", "2015-3-28"])
def test_a_day_that_is_not_a_date_is_refused_as_a_usage_error(monkeypatch, capsys, day):
    """A thirteenth round: `--start 2015-W12 --end 2015-W13` ran, reading each ISO week as its Monday."""
    monkeypatch.setenv("TERMINAL_WIDTH", "200")  # the usage panel must not wrap the message
    code, text = _run(monkeypatch, capsys, ["forecast", "--day", day])
    assert code == 2 and "Traceback" not in text and f"{day!r} is not a date (YYYY-MM-DD)" in text
