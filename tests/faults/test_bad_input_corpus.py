"""A corpus of bad input files, made here from swx's own writer and from real GFZ rows, fed to `swx` as
an operator would feed them (the console entry point): each bad file or day is refused in one line
naming the file, the line and what was expected; the good days beside it are archived all the same;
nothing already good is replaced, and the database and archive keep what they held. (The readers'
own tests, tests/io/test_ionex_errors.py and tests/sources/indices/, go through every case one by one;
here the whole command is held to the rule.)"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from sqlalchemy import select

from swx.archive import Archive
from swx.config import get_settings
from swx.io.gim_names import short_name
from swx.pipeline.days import daterange
from swx.store import queries as q
from swx.store.db import engine_from_settings
from swx.store.orm import InputFile
from tests.helpers import gim_text, run_cli_main

DAYS = daterange(dt.date(2020, 1, 8), dt.date(2020, 1, 14))


def _replace_record(text: str, label: str, record: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next(k for k, ln in enumerate(lines) if ln[60:].startswith(label))
    return "".join(lines[:i] + [record.ljust(60) + label.ljust(20) + "\n"] + lines[i + 1:])


def _tec_value(text: str, value: str) -> tuple[str, int]:
    """The first value of the second map's third row replaced; (text, line number)."""
    lines = text.splitlines(keepends=True)
    starts = [k for k, ln in enumerate(lines) if "START OF TEC MAP" in ln]
    i = starts[1] + 3 + 2 * 5
    lines[i] = value.rjust(5) + lines[i][5:]
    return "".join(lines), i + 1


def _corpus() -> dict[dt.date, tuple[str, str]]:
    """day -> (IONEX text, what its refusal must say); good days say ''."""
    texts = {d: gim_text(d) for d in DAYS}
    bad_value, line = _tec_value(texts[DAYS[3]], "99998")
    return {
        DAYS[0]: (texts[DAYS[0]], ""),
        DAYS[1]: (_replace_record(texts[DAYS[1]], "EXPONENT", f"{99:>6}"), r"line \d+: .*EXPONENT 99"),
        DAYS[2]: (_replace_record(texts[DAYS[2]], "LAT1 / LAT2 / DLAT", "    87.5 -87.5 -1e-7"), "nodes per map"),
        DAYS[3]: (bad_value, rf"line {line}: .*9999.8 TECU"),
        DAYS[4]: (texts[DAYS[4]][: len(texts[DAYS[4]]) // 2], r"line \d+"),  # truncated
        DAYS[5]: ("\x00\x01garbage\n" * 20, "line 1"),
        DAYS[6]: (texts[DAYS[6]], ""),
    }


def test_each_bad_ionex_day_is_refused_naming_file_and_line_and_the_good_days_are_archived(tmp_path, monkeypatch,
                                                                                         capsys):
    folder = tmp_path / "incoming"
    folder.mkdir()
    corpus = _corpus()
    for d, (text, _) in corpus.items():
        (folder / short_name("cod", d, compressed=False)).write_bytes(text.encode("latin-1"))
    code, out = run_cli_main(monkeypatch, capsys, ["ingest", "gims", "--source", "local", "--dir", str(folder),
                                                   "--centre", "cod", "--start", str(DAYS[0]), "--end", str(DAYS[-1])])
    assert code == 1, out
    assert "Traceback" not in out
    archive = Archive(get_settings().archive_dir)
    good = [d for d, (_, why) in corpus.items() if not why]
    assert archive.gim_days("cod") == good
    for d, (_, why) in corpus.items():
        if not why:
            continue
        [line] = [ln for ln in out.splitlines() if re.match(rf"\s*FAILED\s+cod {d}:", ln)]
        assert short_name("cod", d, compressed=False) in line and re.search(why, line), line
    # each day's row was written as it was archived: the good days, only they
    with engine_from_settings(get_settings()).connect() as conn:
        assert set(conn.execute(select(InputFile.day)).scalars()) == set(good)


def test_a_bad_file_never_replaces_a_good_day_even_forced(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "incoming"
    folder.mkdir()
    day = DAYS[1]
    path = folder / short_name("cod", day, compressed=False)
    path.write_text(gim_text(day))
    args = ["ingest", "gims", "--source", "local", "--dir", str(folder), "--centre", "cod", "--start", str(day)]
    assert run_cli_main(monkeypatch, capsys, args)[0] == 0
    archived = Archive(get_settings().archive_dir).gim_path("cod", day)
    before = hashlib.sha256(archived.read_bytes()).hexdigest()
    for text in (_replace_record(gim_text(day), "EXPONENT", f"{99:>6}"), _tec_value(gim_text(day), "99998")[0]):
        path.write_text(text)
        code, out = run_cli_main(monkeypatch, capsys, [*args, "--force"])
        assert code == 1 and re.search(rf"FAILED\s+cod {day}: (cod: )?refused: .*{path.name}, line \d+", out), out
        assert hashlib.sha256(archived.read_bytes()).hexdigest() == before
        assert Archive(get_settings().archive_dir).has_gim("cod", day)


def test_a_day_scaled_by_a_wrong_exponent_or_holding_an_absurd_value_is_refused(tmp_path, monkeypatch, capsys):
    """Files that parse and look global but cannot be the ionosphere: EXPONENT -2 for -1 (every value
    a tenth: a global mean below the deepest solar minimum's), EXPONENT 0 (every value ten times: in
    range, but ten times the day before), one value of 900 TECU. Refused in one line; the good days
    on either side are archived."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    texts = {d: gim_text(d) for d in DAYS[:5]}
    texts[DAYS[1]] = _replace_record(texts[DAYS[1]], "EXPONENT", f"{0:>6}")
    texts[DAYS[2]] = _replace_record(texts[DAYS[2]], "EXPONENT", f"{-2:>6}")
    texts[DAYS[3]] = _tec_value(texts[DAYS[3]], "9000")[0]
    for d, text in texts.items():
        (folder / short_name("cod", d, compressed=False)).write_text(text)
    code, out = run_cli_main(monkeypatch, capsys, ["ingest", "gims", "--source", "local", "--dir", str(folder),
                                                   "--centre", "cod", "--start", str(DAYS[0]), "--end", str(DAYS[4])])
    assert code == 1 and "Traceback" not in out, out
    assert Archive(get_settings().archive_dir).gim_days("cod") == [DAYS[0], DAYS[4]]
    for d, why in ((DAYS[1], rf"maps average 90\.\d TECU over the globe, 10 x the 9\.0 TECU of {DAYS[0]}"),
                   (DAYS[2], r"averages 0\.\d TECU over the globe .*expected a global mean vTEC of 3 \.\. 300"),
                   (DAYS[3], r"holds 900\.0 TECU at .*expected vTEC of at most 400 TECU")):
        [line] = [ln for ln in out.splitlines() if re.match(rf"\s*FAILED\s+cod {d}:", ln)]
        assert short_name("cod", d, compressed=False) in line and re.search(why, line), line


GFZ_ROW = "2024 01 {dd} 33623 33623.5 2597 18 " + " ".join(["1.000"] * 8) + " " + " ".join(["4"] * 8) + \
    " 4 154 178.5 172.9 1\n"


@pytest.mark.parametrize(("change", "message"), [
    (("1.000", "8.900"), "Kp 8.9"),
    (("1.000", "12.000"), "Kp 12"),
    ((" 4 154", " 1000000000 154"), r"Ap 1e\+09"),
    (("178.5", "-500.0"), "f107_obs -500"),
    (("2024 01 22", "2300 01 22"), "a day that has not begun"),
    (("2024 01 22", "2024 01 21"), "a second time"),
])
def test_each_bad_index_file_is_refused_in_one_line_and_nothing_is_written(tmp_path, monkeypatch, capsys, change,
                                                                           message):
    good = tmp_path / "Kp_good.txt"
    good.write_text("# GFZ Kp\n" + GFZ_ROW.format(dd="21"))
    assert run_cli_main(monkeypatch, capsys, ["ingest", "kp", "--source", "file", "--file", str(good)])[0] == 0
    engine = engine_from_settings(get_settings())
    archive_files = {p: p.read_bytes() for p in get_settings().archive_dir.rglob("*") if p.is_file()}
    kp_before = q.kp_series(engine, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2301, 1, 1, tzinfo=dt.UTC))

    bad = tmp_path / "Kp_bad.txt"
    bad.write_text("# GFZ Kp\n" + GFZ_ROW.format(dd="21") + GFZ_ROW.format(dd="22").replace(*change, 1))
    code, out = run_cli_main(monkeypatch, capsys, ["ingest", "kp", "--source", "file", "--file", str(bad)])
    assert code == 2, out
    [line] = [ln for ln in out.splitlines() if "error" in ln.lower()]
    assert "Kp_bad.txt, line 3" in line and re.search(message, line, re.IGNORECASE), line
    assert "Traceback" not in out
    assert {p: p.read_bytes() for p in get_settings().archive_dir.rglob("*") if p.is_file()} == archive_files
    after = q.kp_series(engine, dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2301, 1, 1, tzinfo=dt.UTC))
    assert after.equals(kp_before)
