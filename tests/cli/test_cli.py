"""The `swx` command line, run in-process with Typer's runner and once as a real subprocess."""

from __future__ import annotations

import datetime as dt
import json
import re
import os
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from swx.cli import app
from swx.config import get_settings
from swx.io.ionex import write_ionex
from tests.helpers import make_gim, run_cli_main

runner = CliRunner()


def test_help_reads_well():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("ingest", "ionex", "run", "config"):
        assert cmd in r.output
    r = runner.invoke(app, ["ingest", "gims", "--help"])
    assert r.exit_code == 0 and "--start" in r.output and "--centre" in r.output


def test_ingest_gims_local_then_rerun_skips(ionex_dir, tmp_path):
    args = ["ingest", "gims", "--start", "2020-01-08", "--end", "2020-01-10", "--centre", "esa",
            "--source", "local", "--dir", str(ionex_dir)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "3 fetched, 0 already archived" in r.output
    r = runner.invoke(app, args)
    assert "0 fetched, 3 already archived (skipped)" in r.output


def test_ingest_gims_reports_missing_days_and_exits_non_zero(tmp_path):
    folder = tmp_path / "in"
    write_ionex(make_gim(), folder / "codg0080.20i")
    r = runner.invoke(app, ["ingest", "gims", "--start", "2020-01-08", "--end", "2020-01-09",
                            "--source", "local", "--dir", str(folder)])
    assert r.exit_code == 1
    assert "1 fetched" in r.output and "MISSING cod 2020-01-09" in r.output


def test_ingest_gims_takes_the_rapid_map_then_upgrade_replaces_it_with_the_final(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    write_ionex(make_gim(seed=1), folder / "corg0080.20i")  # only the rapid map of 8 January is out
    args = ["ingest", "gims", "--start", "2020-01-08", "--source", "local", "--dir", str(folder)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "1 fetched" in r.output and "RAPID   cod 2020-01-08: the rapid cor map" in r.output
    write_ionex(make_gim(seed=2), folder / "codg0080.20i")  # the final comes out
    monkeypatch.setenv("SWX_GIM_UPGRADE_DAYS", "1")
    get_settings.cache_clear()
    r = runner.invoke(app, ["ingest", "gims", "--upgrade", "--end", "2020-01-08", "--source", "local", "--dir",
                            str(folder)])
    assert r.exit_code == 0, r.output
    assert "1 upgraded to a better product" in r.output
    assert "UPGRADED cod 2020-01-08: the final cod replaces the rapid cor" in r.output
    assert "upgraded days: 216 observations rewritten" in r.output  # 18 stations x 12 two-hour steps
    r = runner.invoke(app, ["ingest", "gims", "--source", "local", "--dir", str(folder)])
    assert r.exit_code == 2 and "give the first day" in r.output


def test_a_centre_given_on_the_command_line_brings_its_own_rapid_fallback(tmp_path):
    """`--centre igs` takes IGS's rapid map while its final is not out, as SWX_GIM_CENTRE=igs does (it
    reported the day missing)."""
    folder = tmp_path / "in"
    write_ionex(make_gim(seed=1), folder / "igrg0080.20i")
    r = runner.invoke(app, ["ingest", "gims", "--start", "2020-01-08", "--source", "local", "--dir", str(folder),
                            "--centre", "igs"])
    assert r.exit_code == 0, r.output
    assert "RAPID   igs 2020-01-08: the rapid igr map" in r.output


def test_ingest_gims_stores_the_observed_response_of_the_days_archived():
    """Maps ingested by hand (no forecast) still give the Storms page its events: the observed ΔTEC of
    the days archived, against the 27-day reference of the days before, and the storms in their span
    — here the St Patrick's Day storm of 2015 on the simulated archive."""
    from swx.store.queries import configured_engine, dtec_series, storms

    r = runner.invoke(app, ["ingest", "gims", "--start", "2015-02-12", "--end", "2015-03-13", "--source", "simulated"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", "gims", "--start", "2015-03-14", "--end", "2015-03-19", "--source", "simulated"])
    assert r.exit_code == 0, r.output
    assert "observed ΔTEC of 2015-03-14 .. 2015-03-19 stored" in r.output
    engine = configured_engine()
    day = dt.datetime(2015, 3, 18, tzinfo=dt.UTC)
    seen = dtec_series(engine, day, day + dt.timedelta(days=1))
    assert len(seen) == 18 * 12 and seen["dtec"].notna().all()
    events = storms(engine)
    st_patrick = events[events["start"].dt.date == dt.date(2015, 3, 17)]
    assert len(st_patrick) == 1 and st_patrick["g_class"].iloc[0] == 4
    assert st_patrick["peak_neg_dtec"].iloc[0] < 0 < st_patrick["peak_pos_dtec"].iloc[0]


def test_bad_dates_are_usage_errors():
    r = runner.invoke(app, ["ingest", "gims", "--start", "2020-13-01"])
    assert r.exit_code == 2 and "not a date" in r.output
    r = runner.invoke(app, ["ingest", "gims", "--start", "2020-01-09", "--end", "2020-01-08", "--dir", "."])
    assert r.exit_code == 2 and "before start" in r.output


def test_ingest_kp_from_files(shared_data):
    r = runner.invoke(app, ["ingest", "kp", "--file", str(shared_data / "kp" / "Kp_ap_Ap_SN_F107_nowcast.txt")])
    assert r.exit_code == 0, r.output
    assert "190 3-hourly values" in r.output  # 24 days x 8, two missing at the end
    r = runner.invoke(app, ["ingest", "kp", "--source", "bundled"])
    assert r.exit_code == 0 and "60048 3-hourly values" in r.output


def test_ionex_info_json(ionex_dir):
    r = runner.invoke(app, ["ionex", "info", "--json", str(ionex_dir / "jplg3190.15i")])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["maps"] == 13 and info["centre"] == "jpl" and info["tec_max"] == pytest.approx(101.4)


def test_ionex_info_on_broken_file_is_a_clear_error(ionex_dir):
    env = {**os.environ, "SWX_DATA_DIR": "data"}
    p = subprocess.run([sys.executable, "-m", "swx.cli", "ionex", "info", str(ionex_dir / "one_map.gnss-lab.xxi")],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert "error:" in p.stderr and "1 TEC maps in file, header says 12" in p.stderr
    assert "Traceback" not in p.stderr


def test_run_main_job_offline_on_a_local_folder(ionex_dir, monkeypatch):
    monkeypatch.setenv("SWX_GIM_SOURCE", "local")
    r = runner.invoke(app, ["run", "--dir", str(ionex_dir)])
    assert r.exit_code == 1, r.output  # the truncated UQR file failed; the 16 good days are archived
    assert "16 fetched" in r.output and "1 failed" in r.output and "archived COD: 2 day(s), 2020-01-08 .. 2020-01-09" \
        in " ".join(r.output.split())
    assert "FAILED  uqr 2025-01-01" in r.output
    assert "COD: 2 day(s), 50 maps, 2020-01-08 .. 2020-01-09" in r.output
    assert "Kp over the archived days: 0o .. 4-" in r.output
    r2 = runner.invoke(app, ["run", "--dir", str(ionex_dir)])
    assert "0 fetched, 16 already archived" in r2.output and "0 added or updated" in r2.output


def test_config_shows_resolved_database():
    r = runner.invoke(app, ["config"])
    data = json.loads(r.output)
    assert data["resolved_database_url"].startswith("sqlite:///") and data["gim_centre"] == "cod"


SECRET_URLS = {  # issue 18: `swx config` printed the password of some of these
    "postgresql+psycopg://swx:s3cret@db:5432/swx": "s3cret",
    "postgresql+psycopg://swx:p%40ss/w0rd@db/swx": "w0rd",  # @ (escaped) and / in the password
    "postgresql+psycopg://db/swx?user=swx&password=qu3ry": "qu3ry",
    "postgresql+psycopg://swx:it's\"q@db/swx": "it's",  # quotes in the password
}


@pytest.mark.parametrize("url", list(SECRET_URLS))
def test_config_never_prints_a_secret(url, monkeypatch):
    from swx.config import get_settings

    monkeypatch.setenv("SWX_DATABASE_URL", url)
    monkeypatch.setenv("SWX_KP_URL", "https://kp:t0ken@example.org/kp.txt?api_key=k3y")
    get_settings.cache_clear()
    r = runner.invoke(app, ["config"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    for secret in (SECRET_URLS[url], "t0ken", "k3y"):
        assert secret not in r.output
    assert "***" in data["database_url"] and data["resolved_database_url"] == data["database_url"]
    assert data["kp_url"] == "https://kp:***@example.org/kp.txt?api_key=***"


def test_log_lines_and_errors_mask_secrets(monkeypatch, capsys, caplog):
    """Whatever logs a URL (swx, SQLAlchemy, Prefect) or raises with one: masked where the line is made."""
    import logging

    from swx.config import get_settings
    from swx.errors import InputError

    get_settings.cache_clear()
    before = logging.getLogRecordFactory()
    monkeypatch.setattr(logging, "_logRecordFactory", before)  # restored after the test
    r = runner.invoke(app, ["config"])  # sets up the CLI's logging, with the masking
    assert r.exit_code == 0 and getattr(logging.getLogRecordFactory(), "masks_secrets", False)
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(handler.format(record))
    logger = logging.getLogger("sqlalchemy.engine")
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
            logger.info("connecting to %s", "postgresql://swx:s3cret@db/swx")
    finally:
        logger.removeHandler(handler)
    assert seen == ["connecting to postgresql://swx:***@db/swx"]
    try:
        raise RuntimeError("host=db password=pa'ss@w0rd dbname=swx")
    except RuntimeError:
        logger.addHandler(handler)
        try:
            logger.error("failed", exc_info=True)
        finally:
            logger.removeHandler(handler)
    assert "pa'ss" not in seen[-1] and "password=*** dbname=swx" in seen[-1] and "Traceback" in seen[-1]

    def fail(**kwargs):
        raise InputError("cannot reach postgresql://swx:s3cret@db/swx")

    import swx.cli

    monkeypatch.setattr(swx.cli, "app", fail)
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and "s3cret" not in out and "postgresql://swx:***@db/swx" in out


def test_ingest_kp_from_gfz_over_http(http_server, shared_data, monkeypatch):
    kp_dir = shared_data / "kp"
    monkeypatch.setenv("SWX_KP_URL", http_server.add(
        "/app/files/Kp_ap_Ap_SN_F107_since_1932.txt",
        body=(kp_dir / "Kp_ap_Ap_SN_F107_since_1932.EXCERPT_2015-03-10_to_2015-03-31.txt").read_bytes()))
    monkeypatch.setenv("SWX_KP_NOWCAST_URL", http_server.add(
        "/app/files/Kp_ap_Ap_SN_F107_nowcast.txt", body=(kp_dir / "Kp_ap_Ap_SN_F107_nowcast.txt").read_bytes()))
    from swx.config import get_settings

    get_settings.cache_clear()
    r = runner.invoke(app, ["ingest", "kp", "--source", "gfz"])
    assert r.exit_code == 0, r.output
    assert "366 3-hourly values from GFZ" in r.output  # 22 x 8 definitive + 190 nowcast
    from swx.archive import Archive

    kp = Archive(get_settings().archive_dir).load_indices().kp
    assert kp.loc["2015-03-17 12:00", "kp"] == pytest.approx(7.667) and kp.loc["2015-03-17 12:00", "status"] == "definitive"
    assert kp.loc["2024-02-13 15:00", "status"] == "preliminary"


def test_ingest_kp_from_gfz_when_the_server_is_down(http_server, monkeypatch):
    monkeypatch.setenv("SWX_KP_URL", http_server.url("/app/files/missing.txt"))
    monkeypatch.setenv("SWX_HTTP_RETRIES", "0")
    from swx.config import get_settings

    get_settings.cache_clear()
    r = runner.invoke(app, ["ingest", "kp", "--source", "gfz"])
    assert r.exit_code != 0
    assert isinstance(r.exception, Exception) and "HTTP 404" in str(r.exception)


def test_log_lines_off_a_terminal_are_whole_lines(tmp_path, monkeypatch, capsys):
    """Off a terminal (a file, a pipe, journald) log lines wrapped at 80 columns and split file paths."""
    folder = tmp_path / ("a-long-folder-name-" * 4) / "incoming"
    folder.mkdir(parents=True)
    write_ionex(make_gim(), folder / "codg0080.20i")
    code, text = run_cli_main(monkeypatch, capsys, ["ingest", "gims", "--source", "local", "--dir", str(folder),
                                                    "--centre", "cod", "--start", "2020-01-08"])
    assert code == 0, text
    [line] = [ln for ln in text.splitlines() if "archived 13 maps" in ln]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO     cod 2020-01-08: archived 13 maps of cod \(final\) "
                    "from ", line) and line.endswith(str(folder / "codg0080.20i")), line


def test_run_with_a_folder_says_what_it_archived_and_fails_on_a_bad_file(tmp_path, monkeypatch):
    """`swx run --dir` listed the storms of the whole simulated archive but not the real days it took,
    counted every archived file as "in this run", and exited 0 beside a FAILED file."""
    monkeypatch.setenv("SWX_DEMO_START", "2015-03-16")
    monkeypatch.setenv("SWX_DEMO_END", "2015-03-17")
    folder = tmp_path / "real"
    folder.mkdir()
    for day in (dt.date(2020, 1, 8), dt.date(2020, 1, 9)):
        write_ionex(make_gim(day, seed=day.day), folder / f"codg{day.timetuple().tm_yday:03d}0.20i")
    (folder / "codg0100.20i").write_text("not an IONEX file\n")
    r = runner.invoke(app, ["run", "--dir", str(folder)])
    assert r.exit_code == 1, r.output
    text = " ".join(r.output.split())
    assert "archived SIM: 2 day(s), 2015-03-16 .. 2015-03-17" in text
    assert "archived COD: 2 day(s), 2020-01-08 .. 2020-01-09" in text
    assert "FAILED cod 2020-01-10" in text and "1 file(s) failed" in text
    assert "4 input files (4 new in this run)" in text


def test_run_main_job_default_is_the_simulated_demo(monkeypatch):
    monkeypatch.setenv("SWX_DEMO_START", "2015-03-16")
    monkeypatch.setenv("SWX_DEMO_END", "2015-03-19")
    r = runner.invoke(app, ["run"])
    assert r.exit_code == 0, r.output
    assert "4 fetched" in r.output
    assert "SIM: 4 day(s), 52 maps, 2015-03-16 .. 2015-03-19 — SIMULATED data, not observations" in r.output
    assert "Kp over 2015-03-16 .. 2015-03-19: " in r.output and "8-" in r.output
    assert "2015-03-17: max Kp 8- (G4)" in r.output
    assert "4 input files (4 new in this run), 60048 Kp values" in r.output
    assert "archived SIM: 4 day(s), 2015-03-16 .. 2015-03-19" in r.output
    again = runner.invoke(app, ["run"])
    assert "0 fetched, 4 already archived (skipped)" in again.output
    assert "4 input files (0 new in this run), 60048 Kp values" in again.output  # idempotent
    from swx.config import get_settings
    from swx.store.db import engine_from_settings
    from swx.store.queries import counts

    engine = engine_from_settings(get_settings())
    assert engine.url.get_backend_name() == "sqlite" and str(get_settings().data_dir) in str(engine.url)
    with engine.connect() as conn:
        kinds = conn.exec_driver_sql("SELECT DISTINCT source_kind, centre FROM input_files").all()
    assert kinds == [("simulated", "sim")] and counts(engine)["daily_indices"] == 7506


def test_simulate_day_writes_ionex(tmp_path):
    out = tmp_path / "simg0760.15i.gz"
    r = runner.invoke(app, ["simulate", "day", "--date", "2015-03-17", "--out", str(out)])
    assert r.exit_code == 0, r.output
    from swx.io.ionex import read_ionex

    ds = read_ionex(out)
    assert ds.sizes["time"] == 13 and "SIMULATED" in ds.attrs["description"]  # 2-hourly by default, like IGS


def test_simulate_compare_writes_the_docs_table(ionex_dir, shared_data, tmp_path):
    out = tmp_path / "simulated.md"
    r = runner.invoke(app, ["simulate", "compare", "--real-dir", str(ionex_dir), "--out", str(out),
                            "--indices", str(shared_data / "kp" / "SW-All.txt")])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "| COD | 2020-01-09 |" in text and "SIMULATED" in text
    assert (tmp_path / "simulated.png").stat().st_size > 10_000
    row = next(line for line in text.splitlines() if line.startswith("| ESA | 2020-01-10 |"))
    real_p, sim_p = (float(x) for x in row.split("|")[-2].split("/"))
    assert 1.2 < real_p < 2.2 and 1.2 < sim_p < 2.2  # solar-minimum persistence, real and simulated
    assert "left out: " in r.output and "uqrg0010.25i.truncated.zip, line 50" in r.output  # said, not dropped
    assert "## Against a year of real vTEC at 10°E\n" in text  # the --lon compared (it always said 10°E)
    from swx.pipeline.simulator_check import _degrees

    assert [_degrees(100, "E", "W"), _degrees(240, "E", "W"), _degrees(-70, "N", "S")] == ["100°E", "120°W", "70°S"]


def test_simulate_compare_never_writes_a_tracked_file_by_default(ionex_dir, shared_data, tmp_path, monkeypatch):
    """The README's own example overwrote docs/simulated.md (its default --out), dropping the point
    comparison: the default is now the data folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    r = runner.invoke(app, ["simulate", "compare", "--real-dir", str(ionex_dir),
                            "--indices", str(shared_data / "kp" / "SW-All.txt")])
    assert r.exit_code == 0, r.output
    written = get_settings().data_dir / "simulated.md"
    assert written.is_file() and f"wrote {written}" in " ".join(r.output.split())
    assert not any((tmp_path / "docs").iterdir())


def test_simulate_compare_on_no_usable_real_day_is_one_line_and_writes_nothing(shared_data, tmp_path, monkeypatch,
                                                                               capsys):
    """A folder whose only day is all 9999 gave a table of "—", NumPy warnings and exit status 0."""
    from swx.io.ionex import write_ionex

    folder = tmp_path / "real"
    folder.mkdir()
    write_ionex(make_gim(dt.date(2020, 1, 8)).pipe(lambda ds: ds.assign(tec=ds.tec * np.nan)), folder / "codg0080.20i")
    out = tmp_path / "simulated.md"
    code, text = run_cli_main(monkeypatch, capsys, ["simulate", "compare", "--real-dir", str(folder), "--out", str(out),
                                                    "--indices", str(shared_data / "kp" / "SW-All.txt")])
    assert code == 2 and "Traceback" not in text and "Warning" not in text, text
    [line] = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert f"no usable day of real maps in {folder}" in line and "codg0080.20i: TEC map 1 (2020-01-08 00:00 UT) has values at 0%" \
        in line, line
    assert not out.exists() and not out.with_suffix(".png").exists()


def test_simulate_compare_leaves_a_prediction_out_naming_it(shared_data, tmp_path, monkeypatch, capsys):
    """A seventh round: CODE's 1-day prediction (c1pg) was compared and written as a real centre's map."""
    import shutil

    folder = tmp_path / "real"
    folder.mkdir()
    shutil.copy(shared_data / "ionex-predicted" / "c1pg3000.14i", folder)
    out = tmp_path / "simulated.md"
    code, text = run_cli_main(monkeypatch, capsys, ["simulate", "compare", "--real-dir", str(folder), "--out", str(out),
                                                    "--indices", str(shared_data / "kp" / "SW-All.txt")])
    assert code == 2 and "c1pg3000.14i: a c1p prediction, not an observed map" in text, text
    assert not out.exists()


def test_simulate_calibrate_fits_the_level_of_a_real_series(shared_data, tmp_path):
    """Six months of the real CODE series at 10E: one row of coefficients per latitude column."""
    src = shared_data / "real-series" / "randa-code-10E-3lat" / "Training_data_VTEC.csv"
    lines = src.read_text().splitlines()
    part = tmp_path / "first-half-2015.csv"
    part.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if int(ln.split(";")[1]) <= 181]) + "\n")
    r = runner.invoke(app, ["simulate", "calibrate", "--real-series", str(part), "--fit-end", "2015-06-30"])
    assert r.exit_code == 0, r.output
    rows = [ln for ln in r.output.splitlines() if ln.strip().startswith("│") and any(c.isdigit() for c in ln)]
    assert [ln.split("│")[1].strip() for ln in rows] == ["10", "40", "70"]
    # the fit is of the uncalibrated simulator (the shipped calibration left out), finite and of a sane size
    solar = [float(ln.split("│")[3]) for ln in rows]
    assert all(-3 < b < 3 for b in solar)


def test_import_series_refuses_bad_input_before_registering_anything(tmp_path, monkeypatch, capsys):
    """Issue 18: the station was registered before the file was read (an orphan per failed import);
    absurd positions, codes, values, times and local-time offsets were accepted."""
    good = tmp_path / "rx.csv"
    good.write_text("time,vtec\n" + "".join(f"2017-01-01T{h:02d}:00:00Z,{10 + h}\n" for h in range(24)))
    new = ["--lat", "-26.8", "--lon", "-65.2"]
    for args, message in ((["--station", "", *new], "station code ''"),
                          (["--station", "X" * 300, *new], "1 to 32 letters"),
                          (["--station", "TUC", "--lat", "-26.8", "--lon", "400"], "--lon 400"),
                          (["--station", "TUC", "--lat", "91", "--lon", "-65.2"], "--lat 91"),
                          (["--station", "TUC", *new, "--surface", "mars"], "land or ocean")):
        code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(good), *args])
        assert code == 2 and message in out, (args, out)

    def rows(text: str) -> str:
        return "time,vtec\n" + text

    cases = {
        "huge.csv": (rows("2017-01-01T00:00:00Z,10\n2017-01-01T02:00:00Z,1e308\n"), "vTEC 1e+308 TECU", 3),
        "absurd.csv": (rows("2017-01-01T00:00:00Z,10\n2017-01-01T02:00:00Z,950\n"),
                       "vTEC 950 TECU at 2017-01-01 02:00 UTC (expected 0 .. 400 TECU", 3),
        "year.csv": (rows("-5015-01-01T00:00:00Z,10\n"), "-5015-01-01 00:00 UTC is before the era", 2),
        "leap.csv": (rows("2015-06-30T22:00:00Z,10\n2015-06-30T23:59:60Z,11\n"),
                     "'2015-06-30T23:59:60Z' is not an ISO 8601 UTC time", 3),
        "header-again.csv": (rows("2015-06-30T22:00:00Z,10\ntime,vtec\n2015-06-30T23:00:00Z,11\n"),
                             "'time' is not an ISO 8601 UTC time", 3),
        "date-only.csv": (rows("2015-03-01T00:00:00Z,20.0\n2015-03-02,20.0\n"), "'2015-03-02' is a date without a time",
                          3),
        "vtec-twice.csv": ("time,vtec,vtec\n2015-03-01T00:00:00Z,15.4,99\n", "two columns named vtec", 1),
        "future.csv": (rows("2017-01-01T00:00:00Z,10\n2300-01-01T02:00:00Z,12\n"), "has not come yet", 3),
        "twice.csv": (rows("2017-01-01T00:00:00Z,10\n2017-01-01T00:00:00Z,11\n"), "a second time (first on line 2)",
                      3),
        "offset.csv": (rows("".join(f"2017-01-01T{h:02d}:00:00+05:00,{10 + h}\n" for h in range(0, 24, 2))),
                       "local-time offset", None),
    }
    for name, (text, message, line) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(path), "--station", "TUC", *new])
        assert code == 2 and message in out and name in out, (name, out)
        assert (f"line {line}" in out) if line else True, (name, out)
        assert len([ln for ln in out.splitlines() if ln.startswith("error:")]) == 1 and "Traceback" not in out
    from swx.config import get_settings
    from swx.store.db import engine_from_settings
    from swx.store.queries import stations

    assert "TUC" not in set(stations(engine_from_settings(get_settings()))["code"])  # no orphan station


def test_a_series_column_naming_another_latitude_than_its_station_is_refused(tmp_path, monkeypatch, capsys):
    """An eleventh round: a column `VTEC_70N` (a position name the help invites) imported with `--lat
    10` was stored as the observations of a station at 10°N. A column naming the station's latitude,
    or none, is imported."""
    from swx.store.db import engine_from_settings
    from swx.store.queries import stations

    run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    hours = "".join(f"2017-01-01T{h:02d}:00:00Z,{10 + h}\n" for h in range(0, 24, 2))
    far, near = tmp_path / "far.csv", tmp_path / "near.csv"
    far.write_text("time,VTEC_70N\n" + hours)
    near.write_text("time,vtec_10.5n\n" + hours)
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(far), "--station", "I20", "--lat", "10",
                                                   "--lon", "10"])
    assert code == 2 and "its column 'VTEC_70N' names latitude 70°, but station I20 is at 10°" in out, out
    assert "I20" not in set(stations(engine_from_settings(get_settings())).code)  # nothing registered
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(near), "--station", "I21", "--lat", "10",
                                                   "--lon", "10"])
    assert code == 0 and "I21: 12 values" in out, out


def test_import_series_never_ignores_what_it_is_given_for_a_known_station(tmp_path, monkeypatch, capsys):
    """A fresh round: --surface and --name given for a station already registered were ignored without
    a word; a new station's surface was "land" unless told (a receiver on a Pacific atoll...)."""
    from swx.store.db import engine_from_settings
    from swx.store.queries import stations

    p = tmp_path / "rx.csv"
    p.write_text("time,vtec\n" + "".join(f"2017-01-01T{h:02d}:00:00Z,{10 + h}\n" for h in range(24)))
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "RCV1", "--lat", "40",
                                                   "--lon", "10", "--surface", "land", "--name", "First"])
    assert code == 0, out
    for args, message in ((["--surface", "ocean"], "registered with surface 'land', not 'ocean'"),
                          (["--name", "Second"], "registered with name 'First', not 'Second'")):
        code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "RCV1", *args])
        assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "RCV1", "--name", "First"])
    assert code == 0, out  # what is registered may be given again
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "PAC", "--lat", "0",
                                                   "--lon", "-140"])
    assert code == 0, out
    held = stations(engine_from_settings(get_settings())).set_index("code")
    assert held.loc["RCV1", "name"] == "First" and held.loc["RCV1", "surface"] == "land"
    assert held.loc["PAC", "surface"] == "ocean"  # the central Pacific, from the land mask
    for bad in ("Two\nlines", "", "x" * 129):  # a fifth round: a line break in a name was stored
        code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "NEW1", "--lat", "0",
                                                       "--lon", "0", "--name", bad])
        assert code == 2 and "--name" in out and "printable" in out and len(out.strip().splitlines()) == 1, out
    assert "NEW1" not in set(stations(engine_from_settings(get_settings()))["code"])


def test_two_imports_registering_one_new_station_at_two_positions_never_both_land(tmp_path, monkeypatch, capsys):
    """Eleventh round: two `import-series` at once for one new code, at two positions, both saw it new,
    both registered it (the second position overwrote the first) and both wrote their rows under it.
    The registration never overwrites: the import that finds the code taken meanwhile at another
    position refuses, having written nothing. Shown for the interleaving itself (this import read the
    stations before the other registered it), then with two real processes at once."""
    import os
    import subprocess
    import sys

    from swx.pipeline import ingest
    from swx.store.db import engine_from_settings
    from swx.store.queries import station_series, stations
    from swx.store.writes import register_station

    p = tmp_path / "rx.csv"
    p.write_text("time,vtec\n" + "".join(f"2017-01-01T{h:02d}:00:00Z,{10 + h}\n" for h in range(24)))
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 0, out
    engine = engine_from_settings(get_settings())
    before = stations(engine)  # what this import read: RACE not registered yet
    register_station(engine, dict(code="RACE", name="RACE", lat=40.0, lon=10.0, sector="", lat_band="mid",
                                  surface="land", origin="imported"))  # the other import, meanwhile
    monkeypatch.setattr(ingest, "known_stations", lambda _engine: before)
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(p), "--station", "RACE", "--lat", "-30",
                                                   "--lon", "10"])
    assert code == 2 and "station RACE was registered meanwhile" in out and "40°N 10°E" in out, out
    assert "Traceback" not in out and sum("registered meanwhile" in line for line in out.splitlines()) == 1
    held = stations(engine).set_index("code").loc["RACE"]
    assert (held["lat"], held["lon"]) == (40.0, 10.0)  # never overwritten
    t0, t1 = dt.datetime(2017, 1, 1, tzinfo=dt.UTC), dt.datetime(2017, 1, 2, tzinfo=dt.UTC)
    assert station_series(engine, "RACE", t0, t1).empty  # and nothing written under it
    monkeypatch.undo()

    env = {**os.environ, "SWX_DATA_DIR": str(get_settings().data_dir)}
    procs = [subprocess.Popen([sys.executable, "-m", "swx.cli", "import-series", str(p), "--station", "BOTH",
                               "--lat", lat, "--lon", "20"], env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for lat in ("50", "-50")]
    outs = [pr.communicate(timeout=300)[0] for pr in procs]
    assert sorted(pr.returncode for pr in procs) == [0, 2], outs  # one lands, the other is refused
    won = next(lat for pr, lat in zip(procs, (50.0, -50.0)) if pr.returncode == 0)
    assert stations(engine).set_index("code").loc["BOTH", "lat"] == won


def test_import_series_creates_the_station_and_counts_missing(tmp_path):
    p = tmp_path / "rx.csv"
    p.write_text("time,vtec\n" + "".join(f"2017-01-01T{h:02d}:00:00Z,{0 if h == 4 else 10 + h}\n" for h in range(24)))
    r = runner.invoke(app, ["import-series", str(p), "--station", "TUC"])
    assert r.exit_code == 2 and "give --lat and --lon" in r.output
    r = runner.invoke(app, ["import-series", str(p), "--station", "TUC", "--lat", "-26.8", "--lon", "-65.2"])
    assert r.exit_code == 0, r.output
    assert "TUC: 11 values on the 2-hour grid from 24 rows (1 zero/negative/fill values" in r.output
    from swx.config import get_settings
    from swx.store.db import engine_from_settings
    from swx.store.queries import stations

    st = stations(engine_from_settings(get_settings())).set_index("code")
    assert st.loc["TUC", "origin"] == "imported" and st.loc["TUC", "lat_band"] == "low"


@pytest.mark.parametrize("argv, message", [
    (["stations", "dense", "--out", "{tmp}/dense.csv", "--dlat", "-10"], "--dlat -10: expected a step of 1 .. 180"),
    (["stations", "dense", "--out", "{tmp}/dense.csv", "--dlon", "nan"], "--dlon nan"),
    (["storms", "--start", "2015-03-20", "--end", "2015-03-10"], "ends (2015-03-10) before it starts (2015-03-20)"),
    (["status", "--max-age-h", "nan"], "--max-age-h nan: expected a finite number of hours above 0"),
    (["status", "--max-age-h", "-1"], "--max-age-h -1"),
    (["status", "--max-age-h", "1e400"], "--max-age-h inf: expected a finite number of hours above 0"),
])
def test_arguments_that_cannot_be_right_are_refused_in_one_line(argv, message, tmp_path, monkeypatch, capsys):
    """Issue 18: these wrote an empty catalog, said "no storm", or were taken as given, all with exit 0."""
    code, out = run_cli_main(monkeypatch, capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    assert not (tmp_path / "dense.csv").exists()


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"]])
def test_reading_commands_never_create_or_migrate_a_database(argv, tmp_path, monkeypatch, capsys):
    """Issue 18: `swx status` with a mistyped SQLite URL made its folders and an empty database, then
    said "no run yet"."""
    typo = tmp_path / "vra" / "swx.sqlite"
    monkeypatch.setenv("SWX_DATABASE_URL", f"sqlite:///{typo}")
    from swx.config import get_settings

    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, argv)
    flat = "".join(out.split())  # the console may wrap the line inside the path
    assert code != 0 and f"nodatabaseat{typo}" in flat and "swxdbupgrade" in flat, out
    assert not typo.parent.exists()


def test_a_database_that_cannot_be_reached_is_one_line_without_sql(tmp_path, monkeypatch, capsys):
    """Issue 18: every error a user can meet ends as one line: here PostgreSQL down (nothing listens on
    the port), then a data folder that cannot be written."""
    import socket

    with socket.socket() as s:  # a free port: nothing answers there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SWX_DATABASE_URL", f"postgresql+psycopg://swx:s3cret@127.0.0.1:{port}/swx")
    from swx.config import get_settings

    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["db", "current"])
    assert code == 2 and out.startswith("error: database:") and "OperationalError" in out, out
    assert len(out.strip().splitlines()) == 1 and "[SQL" not in out and "s3cret" not in out
    # a thirteenth round: the monitoring probe got no JSON and exit 2; it gets its verdict, unhealthy
    code, out = run_cli_main(monkeypatch, capsys, ["status", "--json"])
    doc = json.loads(out[:out.rindex("}") + 1])
    assert code == 1 and doc["verdict"] == "unhealthy" and doc["problem"].startswith("the database cannot be read (")
    assert "OperationalError" in doc["problem"] and "[SQL" not in out and "s3cret" not in out
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 1 and "unhealthy: the database cannot be read" in " ".join(out.split()) and "s3cret" not in out
    blocked = tmp_path / "ro"
    blocked.write_text("a file where the data folder should be")
    monkeypatch.delenv("SWX_DATABASE_URL")
    monkeypatch.setenv("SWX_DATA_DIR", str(blocked))
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 2 and out.startswith("error:") and str(blocked) in out and "Traceback" not in out, out


def test_debug_shows_the_traceback_the_one_line_hides(monkeypatch, capsys):
    """The one-line error is for operators; `swx --debug` keeps the traceback for a bug report, its
    secrets masked as everywhere."""
    import swx.cli
    from swx.cli.app import SHOW_TRACEBACKS
    from swx.errors import InputError

    code, out = run_cli_main(monkeypatch, capsys, ["--debug", "config"])
    assert code == 0 and SHOW_TRACEBACKS["on"]  # the option is taken

    def fail(debug: bool):
        def app(**kwargs):
            SHOW_TRACEBACKS["on"] = debug  # what the --debug callback does
            raise InputError("cannot reach postgresql://swx:s3cret@db/swx")
        return app

    monkeypatch.setattr(swx.cli, "app", fail(True))
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 1 and "Traceback (most recent call last)" in out and "InputError" in out
    assert "s3cret" not in out and "postgresql://swx:***@db/swx" in out
    monkeypatch.setattr(swx.cli, "app", fail(False))
    code, out = run_cli_main(monkeypatch, capsys, ["status"])  # without it: one line again
    assert code == 2 and out.startswith("error: cannot reach") and "Traceback" not in out


def test_extension_check_measures_the_seed_and_says_why_not_the_node_map(ionex_dir, monkeypatch):
    """On two real consecutive days the seed's configuration is scored; the node map, which needs months
    of maps, is named with the reason instead of a figure."""
    monkeypatch.setenv("SWX_MAP_MODEL", "nodes")
    get_settings.cache_clear()
    r = runner.invoke(app, ["extension-check", str(ionex_dir / "codg0080.20i.Z"), str(ionex_dir / "codg0090.20i.Z"),
                            "--method", "idw"])
    assert r.exit_code == 0, r.output
    assert "idw" in r.output and "global" in r.output
    assert "stations (seed): measured above" in r.output
    assert "nodes (published): not measured on two files" in r.output and "consecutive days" in r.output
    assert "note:" not in r.output  # one centre's two days
    # a seventh round: two centres' maps scored against each other without a word
    r = runner.invoke(app, ["extension-check", str(ionex_dir / "codg0080.20i.Z"), str(ionex_dir / "esag0090.20i.Z"),
                            "--method", "idw"])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "note: codg0080.20i.Z was made by AIUB and esag0090.20i.Z by ESA: the persistence figures include the " \
           "difference between the two centres' maps" in said, said


def test_train_nodes_trains_the_ridges_and_the_network_up_to_the_day_asked(monkeypatch):
    """`swx train-nodes` on an archive of 2-hourly maps: both node models trained on the maps up to the
    day asked (the file dated the first day they never saw), and the summary says what they are."""

    from swx.ml.node_model import node_model_ends, node_net_ends
    from swx.pipeline import nodes
    from tests.helpers import node_map_site

    monkeypatch.setattr(nodes, "NET_NODES", 12)  # the command's wiring, not the network's skill
    ctx = node_map_site(monkeypatch, dt.date(2014, 10, 20), dt.date(2015, 3, 18), ridge_end=dt.date(2015, 3, 8),
                        node_end=None)
    r = runner.invoke(app, ["train-nodes", "--train-end", "2015-03-10", "--days", "130"])
    assert r.exit_code == 0, r.output
    assert node_model_ends(ctx.settings.models_dir, "sim") == [dt.date(2015, 3, 11)]
    assert node_net_ends(ctx.settings.models_dir, "sim") == [dt.date(2015, 3, 11)]
    out = " ".join(r.output.split())
    got = re.search(r"node models trained on (\d+) issue days up to 2015-03-10", out)
    assert got and 100 < int(got.group(1)) <= 130, out  # the first days serve the 27-day median
    assert "nodes_net2_20150311.pt" in out and "out-of-fold skill" in out
    r = runner.invoke(app, ["train-nodes", "--days", "20"])
    assert r.exit_code != 0 and "130" in r.output


@pytest.mark.parametrize("argv, message", [
    (["train", "--arch", "lstm", "--epochs", "-1"], "Invalid value for '--epochs'"),
    (["train", "--arch", "lstm", "--units", "0"], "Invalid value for '--units'"),
    (["train", "--ensemble", "0"], "Invalid value for '--ensemble'"),
    (["train", "--arch", "transformer"], "'transformer': expected lstm, gru, cnn, ridge"),
    (["train", "--target", "ratio"], "'ratio': expected departure, level"),
    (["train", "--train-end", "9999-12-31"], "--train-end: 9999-12-31: expected a day from 1995-01-01 to tomorrow"),
    (["forecast", "--day", "2030-01-01"], "--day: 2030-01-01: expected a day from 1995-01-01 to tomorrow"),
    (["forecast", "--day", "0001-01-01"], "--day: 0001-01-01: expected a day from 1995-01-01"),
    (["forecast", "--day", "2015-03-10", "--method", "kriging"], "'kriging': expected residual, idw, nequick"),
    (["evaluate", "--start", "2015-03-01", "--end", "2015-03-02", "--format", "xml"], "'xml': expected table, json"),
    (["evaluate", "--start", "2015-03-05", "--end", "2015-03-02"], "2015-03-02 is before start 2015-03-05"),
    (["verify-maps", "--day", "2015-03-10", "--format", "xml"], "'xml': expected table, json"),
    (["gridsearch", "--workers", "0"], "Invalid value for '--workers'"),
    (["gridsearch", "--arch", "ridge"], "'ridge': expected lstm, gru, cnn"),
    (["gridsearch", "--units", "0"], "--units: 0: expected a number from 1"),
    (["update", "--day", "2015-03-10", "--margin", "nan"], "--margin: nan: expected a number from 0 to 1"),
    (["backfill", "--start", "2015-03-01", "--end", "2015-03-02", "--chunk-days", "0"], "'--chunk-days'"),
    (["backfill", "--start", "2015-03-01", "--end", "2015-03-02", "--step", "publish"], "'publish': expected ingest"),
    (["ingest", "gims", "--start", "2020-01-01", "--centre", "abcdefghijklmnopqrstuvw"], "not a centre or product code"),
    (["ingest", "gims", "--start", "2020-01-01", "--source", "ftp"], "'ftp': expected remote, local, simulated"),
    (["db", "upgrade", "nosuch"], "revision 'nosuch': not a migration of this swx"),
    # a fresh round
    (["ingest", "gims", "--source", "simulated", "--dir", "/tmp", "--start", "2015-03-01"],
     "a folder is read by the local source, not the simulated one"),
    (["stations", "dense", "--out", ""], "is a folder: expected a file name"),
    (["simulate", "day", "--date", "2015-03-01", "--out", "simg0600.15i.Z"], "not Unix compress"),
    (["simulate", "compare", "--real-dir", "/etc/hostname"], "--real-dir: /etc/hostname is a file: expected a folder"),
    (["no-such-command"], "No such command 'no-such-command'"),
])
def test_an_argument_that_cannot_be_right_stops_the_command_before_it_runs(argv, message, monkeypatch, capsys):
    """Arguments that switched the guardrails off (an untrained model registered with --epochs -1, a
    forecast of 2030 from the maps of 2015, --format xml taken as a table) or ended in a traceback:
    one line naming the argument and what it expects, exit 2, and nothing written."""
    from swx.config import get_settings

    code, out = run_cli_main(monkeypatch, capsys, argv)
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    assert out.startswith("error: ") and "Traceback" not in out
    assert not (get_settings().data_dir / "models").exists() and not (get_settings().data_dir / "archive").exists()


@pytest.mark.parametrize("env, message", [
    ({"SWX_HTTP_RETRIES": "-1"}, "SWX_HTTP_RETRIES: Input should be greater than or equal to 0"),
    ({"SWX_HTTP_RETRIES": "1100"}, "SWX_HTTP_RETRIES: Input should be less than or equal to 100"),
    ({"SWX_DEMO_START": "1420070400"}, "SWX_DEMO_START: '1420070400' is not a day (expected YYYY-MM-DD)"),
    ({"SWX_STORM_QUIET_GAP_H": "1e-320"}, "SWX_STORM_QUIET_GAP_H: Input should be greater than or equal to 3"),
    ({"SWX_LOG_LEVEL": "LOUD"}, "SWX_LOG_LEVEL: Input should be 'DEBUG', 'INFO'"),
    ({"SWX_GIM_MIRRORS": "not json"}, "SWX_GIM_MIRRORS: not valid JSON"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["htps://host/{yyyy}/{name}"]}'}, "is not an http(s) URL template"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://host/{year}/{name}"]}'}, "unknown field(s) year"),
    ({"SWX_GIM_CENTRE": "a-centre-of-23-letters!"}, "SWX_GIM_CENTRE: 'a-centre-of-23-letters!' is not a centre"),
    ({"SWX_GIM_FALLBACKS": '["../x"]'}, "SWX_GIM_FALLBACKS: '../x' is not a centre"),
    ({"SWX_EXTENSION_COMPARE": '["kriging"]'}, "SWX_EXTENSION_COMPARE: unknown method(s) 'kriging'"),
    ({"SWX_DATABASE_URL": "postgresql://swx:s3cret@db:port/swx"}, "SWX_DATABASE_URL: not a database URL"),
    ({"SWX_DATABASE_URL": "mysql://swx:s3cret@db/swx"}, "SWX_DATABASE_URL: a mysql database"),
    ({"SWX_DEVICE": "cuda"}, "SWX_DEVICE=cuda: no CUDA device is available here"),
    # a fresh round
    ({"SWX_DATABASE_URL": "postgresql+psycopg://u:s3cret\nRET@db/swx"}, "SWX_DATABASE_URL holds a line break"),
    ({"SWX_DATA_DIR": "/tmp/x\nFAILED y"}, "SWX_DATA_DIR holds a line break or another control character"),
    ({"SWX_DATABASE_URL": "sqlite://"}, "an in-memory SQLite database keeps nothing between commands"),
    ({"SWX_SIM_SEED": "-1"}, "SWX_SIM_SEED: Input should be greater than or equal to 0"),
    ({"SWX_DEMO_START": "1900-01-01", "SWX_DEMO_END": "1900-01-02"}, "SWX_DEMO_START 1900-01-01 is before the first"),
    ({"SWX_DEMO_END": "2099-01-01"}, "SWX_DEMO_END 2099-01-01 is after tomorrow"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["ftp://127.0.0.1/{yyyy}/{name}"]}'}, "is not an http(s) URL template"),
    ({"SWX_DATA_DIR": "/etc/hostname"}, "SWX_DATA_DIR: /etc/hostname is a file: expected a folder"),
    ({"SWX_CACHE_DIR": "/etc/hostname"}, "SWX_CACHE_DIR: /etc/hostname is a file: expected a folder"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://h/{yyyy}/{doy:%Y}"]}'}, "field(s) doy with a format or a conversion"),
    # a twelfth round: accepted, then blanks and quotes in the URL fetched
    ({"SWX_GIM_MIRRORS": '{"cod": ["http://127.0.0.1/{yyyy:>10}/{name!r}"]}'},
     "field(s) name, yyyy with a format or a conversion"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["http://ghp_s3cret@h/{yyyy}/{name}"]}'}, "sends credentials over plain http"),
    ({"SWX_GIM_FALLBACKS": '["c1p"]'}, "SWX_GIM_FALLBACKS: c1p is a predicted product, not a map of what happened"),
    # an eighth round: accepted, then a hundred thousand processes, or a netrc passed over without a word
    ({"SWX_GIM_MIRRORS": '{"esa": ["http://127.0.0.1:1/{name}?user=bob&p=S3cr3tXYZ"]}'},
     "sends credentials over plain http"),  # a ninth round: any query over plain http may hold one
    ({"SWX_KP_URL": "http://127.0.0.1:1/kp.txt?S3cr3tXYZ"}, "sends credentials over plain http"),  # a tenth round
    ({"SWX_DATABASE_URL": "sqlite:////tmp/ro.sqlite?mode=ro"}, "an SQLite URL's options (?mode=ro, ...) are ignored"),
    ({"SWX_DASK_WORKERS": "100000"}, "SWX_DASK_WORKERS: Input should be less than or equal to 256"),
    ({"SWX_EARTHDATA_NETRC": "/tmp"}, "SWX_EARTHDATA_NETRC: /tmp is a folder: expected a netrc file"),
    ({"SWX_EARTHDATA_NETRC": "/nonexistent/netrc"}, "SWX_EARTHDATA_NETRC: /nonexistent/netrc is missing"),
    ({"SWX_GIM_CENTRE": "C2P"}, "SWX_GIM_CENTRE: c2p is a predicted product"),
    # a fourteenth round: the setting named twice
    ({"SWX_GIM_CENTRE": "c1p"}, "error: SWX_GIM_CENTRE: c1p is a predicted product, not a map of what happened"),
    ({"SWX_FORECAST_ARCHITECTURE": "rnn"}, "error: SWX_FORECAST_ARCHITECTURE must be one of"),
    # a fifteenth round: the OS's error, no setting named
    ({"SWX_STATION_CATALOG": "/nonexistent.csv"}, "error: SWX_STATION_CATALOG: /nonexistent.csv is missing: "
                                                  "expected a CSV of stations"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://a/{name}?token=s3cret"], "cod": ["https://b/{name}"]}'},
     "error: SWX_GIM_MIRRORS: the key(s) 'cod' given twice"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://a/{name}?token=s3cret"], "COD ": ["https://b/{name}"]}'},
     "error: SWX_GIM_MIRRORS: the key(s) 'cod' given twice"),  # a sixteenth round: one centre in two spellings
    ({"swx_gim_mirrors": '{"cod": ["https://a/{name}?token=s3cret"], "cod": ["https://b/{name}"]}'},
     "error: SWX_GIM_MIRRORS: the key(s) 'cod' given twice"),  # a seventeenth round: the name in lower case
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://a/{name}"]}', "Swx_Gim_Mirrors": '{"cod": ["https://b/{name}"]}'},
     "error: SWX_GIM_MIRRORS: set 2 times in different spellings"),
])
def test_a_setting_that_cannot_be_right_is_one_line_naming_it(env, message, monkeypatch, capsys):
    """Bad settings ended in pydantic, SQLAlchemy or torch tracebacks; now one line names the variable
    and what it expects, and never echoes a password."""
    import torch

    if "SWX_DEVICE" in env and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 2 and message in out and len(out.strip().splitlines()) == 1, out
    assert "s3cret" not in out and "Traceback" not in out
    assert not any(f"{key}: {key}" in out for key in env), out  # named once


def test_a_home_folder_a_bad_env_file_and_a_deleted_working_directory(tmp_path, monkeypatch, capsys):
    """A fresh round: `~/x` made a folder named `~` in the working directory; a .env that is not UTF-8
    and a working directory deleted under swx ended in tracebacks or an error naming nothing."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWX_DATA_DIR", "~/swx-data")
    get_settings.cache_clear()
    assert get_settings().data_dir == tmp_path / "home" / "swx-data"
    monkeypatch.delenv("SWX_DATA_DIR")
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / ".env").write_bytes(b"SWX_LOG_LEVEL=INFO\nSWX_SIM_SEED=4\xff2\n")
    monkeypatch.chdir(folder)
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and out.strip() == "error: .env: not UTF-8 text (byte 33) (expected SWX_NAME=value lines in UTF-8)"
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 2 and "the working directory no longer exists" in out and len(out.strip().splitlines()) == 1


def test_an_env_file_that_cannot_be_read_as_meant_is_refused_and_a_misspelt_setting_is_named(tmp_path, monkeypatch,
                                                                                            capsys, caplog):
    """A fifth round: a `.env` line python-dotenv cannot parse was dropped with a warning (the database
    URL it held fell back to the default: another database); a pipe as `.env` hung every command; a
    misspelt `SWX_` variable was ignored without a word."""
    import os

    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.chdir(folder)
    env = folder / ".env"
    env.write_text("SWX_LOG_LEVEL=INFO\n\nSWX_DATABASE_URL=\"postgresql://swx:s3cret@db/swx\n# a comment\n")
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and out.strip().startswith("error: .env, line 3: cannot be parsed"), out
    assert "s3cret" not in out and len(out.strip().splitlines()) == 1
    env.unlink()
    env.symlink_to(tmp_path / "not-mounted" / "secret.env")  # a seventh round: taken as no .env at all
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and "which does not exist" in out, out
    env.unlink()
    os.mkfifo(env)
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])  # returns: a pipe is never opened
    assert code == 2 and ".env in" in out and "not a regular file" in out, out
    env.unlink()
    env.write_text("SWX_LOG_LEVEL=INFO\n# a sixth round: the second silently won\nSWX_LOG_LEVEL=WARNING\n")
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    said = out + caplog.text  # a warning: on stderr, or in the log's handler once logging is set up
    assert code == 0 and ".env sets SWX_LOG_LEVEL twice (lines 1 and 3): line 3's value is used" in said, said
    for text, line in (("SWX_DATA_DIR\n", 1), ("SWX_GIM_CENTRE=esa\nSWX_GIM_CENTRE\n", 2)):  # an eighth round:
        env.write_text(text)  # a name without `=` was dropped without a word: the default in force
        get_settings.cache_clear()
        code, out = run_cli_main(monkeypatch, capsys, ["config"])
        assert code == 2 and f"error: .env, line {line}: " in out and "without a value" in out, out
    env.write_text("SWX_DATABASE_URL=${UNSET_DB_R7}\n")  # a seventh round: empty, silently the default
    monkeypatch.delenv("UNSET_DB_R7", raising=False)
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    said = out + caplog.text
    assert code == 0 and ".env, line 1: ${UNSET_DB_R7} is not set: it is replaced by nothing in SWX_DATABASE_URL" in said, said
    env.write_text("SWX_DATA_DRI=/elsewhere\n")
    monkeypatch.setenv("SWX_LOG_LEVL", "DEBUG")
    monkeypatch.setenv("SWX_TEST_DATABASE_URL", "postgresql://ok")  # read by the tests: not a setting, not warned
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 0
    assert "SWX_DATA_DRI is not a swx setting and is ignored (did you mean SWX_DATA_DIR?)" in out
    assert "SWX_LOG_LEVL is not a swx setting and is ignored (did you mean SWX_LOG_LEVEL?)" in out
    assert "SWX_TEST_DATABASE_URL" not in out


def test_secrets_in_mirror_templates_are_masked_wherever_they_are_printed(monkeypatch, capsys):
    """A fresh round: `?key=`, `?pass=`, `&auth=` and a token as the user name were printed in clear by
    `swx config` and in the FAILED line of an ingest."""
    from swx.config import mask_secrets

    for url, secret in (("https://h/{yyyy}/{name}?key=SEKRET1", "SEKRET1"), ("https://ghp_SEKRET2@h/{name}", "SEKRET2"),
                        ("https://h/{name}?pass=SEKRET3&auth=SEKRET4", "SEKRET3"),
                        ("https://h/{name}#access_token=SEKRET5", "SEKRET5")):  # in the fragment
        assert secret not in mask_secrets(url) and "SEKRET4" not in mask_secrets(url)
    assert mask_secrets("postgresql+psycopg://swx@db/swx") == "postgresql+psycopg://swx@db/swx"  # a user is no secret
    # a sixth round: bearer keys (a JWT, session ids, an OAuth code) were printed in clear
    for url in ("https://h/f.txt?jwt=eyJhbGciOiJIUzI1NiJ9.SEKRET6", "https://h/f.txt?session=SEKRET6",
                "https://h/f.txt?sid=SEKRET6", "https://h/f.txt;jsessionid=SEKRET6", "https://h/f?access_code=SEKRET6",
                "https://h/f?code=SEKRET6&x=1", "https://h/f?pw=SEKRET6", "https://h/f?ticket=ST-SEKRET6",
                "https://h/f?hmac=SEKRET6"):  # and a seventh: pw=, a CAS ticket, an HMAC
        assert "SEKRET6" not in mask_secrets(url), url
    assert mask_secrets("method=residual sidebar=2 encode=1") == "method=residual sidebar=2 encode=1"  # not keys
    # an eighth round: a key percent-encoded (a server decodes `pass%77ord` to `password`), or twice
    for url in ("https://h/f?pass%77ord=SEKRET7", "https://h/f?%70assword=SEKRET7&x=1", "https://h/f?to%256Ben=SEKRET7",
                "postgresql+psycopg://u@db:1/x?pass%77ord=SEKRET7", "https://h/f?api%5Fkey=SEKRET7"):
        assert "SEKRET7" not in mask_secrets(url), url
    # a ninth round: keys no list knows (`p=`, `cred=`, `pin=`): every value of a URL's query is masked
    for url in ("https://h/{name}?user=bob&p=SEKRET8", "https://h/f?cred=SEKRET8", "https://h/f?pin=SEKRET8#x=1"):
        assert "SEKRET8" not in mask_secrets(url) and "?user=***" not in url, url
    assert mask_secrets("https://h/f?method=idw") == "https://h/f?method=***"  # in a URL: masked too
    # a tenth round: a query or fragment without `key=` (`?TOKEN`, `#TOKEN`, `?x=1&TOKEN`)
    for url in ("https://h/kp.txt?SEKRET9", "https://h/kp#SEKRET9", "https://h/kp?&=SEKRET9", "https://h/kp?x=1&SEKRET9"):
        assert "SEKRET9" not in mask_secrets(url), url
    assert mask_secrets("run with method=idw") == "run with method=idw"  # outside a URL: a known key only
    monkeypatch.setenv("SWX_GIM_MIRRORS", '{"esa": ["http://127.0.0.1:1/{name}?%70assword=SEKRET7"]}')
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])  # never sent over plain http either
    assert code == 2 and "sends credentials over plain http" in out and "SEKRET7" not in out, out
    monkeypatch.setenv("SWX_GIM_MIRRORS", '{"cod": ["https://127.0.0.1:1/{yyyy}/{name}?key=SEKRET1"]}')
    monkeypatch.setenv("SWX_GIM_FALLBACKS", "[]")
    monkeypatch.setenv("SWX_HTTP_RETRIES", "0")
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 0 and "key=***" in out and "SEKRET1" not in out
    code, out = run_cli_main(monkeypatch, capsys, ["ingest", "gims", "--source", "remote", "--start", "2020-01-08"])
    assert code == 1 and "FAILED" in out and "key=***" in out and "SEKRET1" not in out, out


def test_nothing_printed_or_logged_leaks_a_secret_or_forges_a_line(monkeypatch, capsys, caplog):
    """Every output path goes through the one mask: the results on stdout (the ingest summary printed a
    mirror's user:password@ and ?token= unmasked) and the messages on stderr; a value logged with a
    line break (a file name) cannot forge a second log line."""
    import logging

    from swx.cli.app import console, out
    from swx.config import install_secret_masking

    url = "https://swx:s3cret@mirror.example/ionex/2020/codg0080.20i.Z?token=t0ken&x=1"
    out.print(f"cod 2020-01-08 fetched from {url}")
    out.print_json(data={"origin": url, "days": [url]})
    console.print(f"refused {url}")
    captured = capsys.readouterr()
    for text in (captured.out, captured.err):
        assert "s3cret" not in text and "t0ken" not in text and "swx:***@mirror.example" in text, text
    assert "token=***" in captured.out

    before = logging.getLogRecordFactory()
    monkeypatch.setattr(logging, "_logRecordFactory", before)  # restored after the test
    install_secret_masking()
    with caplog.at_level(logging.INFO, logger="swx.test"):
        logging.getLogger("swx.test").error("%s: refused", "codg0080.20i\nERROR cod 2020-01-09: FAILED")
        # a fifteenth round: a path (not a str) with a break was logged raw by import-series
        logging.getLogger("swx.test").info("%s: %s", pathlib.Path("in/nl\nFAILED x.csv"), {"input": 2})
    first, second = caplog.records
    assert "\n" not in first.getMessage() and "codg0080.20i\\nERROR" in first.getMessage()
    assert second.getMessage() == "in/nl\\nFAILED x.csv: {'input': 2}"


@pytest.mark.parametrize("env, message", [
    ({"SWX_GIM_MIRRORS": '{"cod": ["http://swx:s3cret@mirror.example/{yyyy}/{name}"]}'},
     "sends credentials over plain http: use https"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["ftp://mirror.example/{yyyy}/{name}?token=s3cret"]}'},
     "is not an http(s) URL template"),
    ({"SWX_DATABASE_URL": "postgresql+psycopg://swx:p@ss@s3cret@db/swx"}, "its password holds a raw '@'"),
    ({"SWX_KP_URL": "http://alice:s3cret@kp.example/kp.txt"}, "SWX_KP_URL: 'http://alice:***@kp.example/kp.txt' sends credentials over plain http"),
    ({"SWX_HTTP_TIMEOUT_S": "inf"}, "SWX_HTTP_TIMEOUT_S: Input should be a finite number"),
    ({"SWX_STORM_QUIET_GAP_H": "inf"}, "SWX_STORM_QUIET_GAP_H: Input should be a finite number"),
    ({"SWX_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test"}, "the driver 'asyncpg'"),
    # an eleventh round: JSON's "\n" in a mirror's password, a blank in its user name (the mask stopped there)
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://u:Sec\\nrets3cret@127.0.0.1:1/{name}"]}'}, "holds a blank, a line break"),
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://a b:s3cret@127.0.0.1:1/{name}"]}'}, "percent-encode it in the URL"),
    # an eleventh round: the centre as its own rival was scored at 0.00 TECU as a rival's skill
    ({"SWX_GIM_RIVALS": '["COD"]'}, "SWX_GIM_RIVALS: cod is not a predicted product (expected c1p, c2p)"),
])
def test_credentials_that_would_travel_or_print_in_clear_are_refused(env, message, monkeypatch, capsys):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and message in out and "s3cret" not in out and len(out.strip().splitlines()) == 1, out


@pytest.mark.parametrize("env, secret", [
    ({"SWX_GIM_MIRRORS": '{"cod": ["https://mirror.example/{name}?auth_token=s3cret"]}'}, "s3cret"),
    ({"SWX_DATABASE_URL": "postgresql+psycopg://postgres:Db s3cret@127.0.0.1:5432/test"}, "s3cret"),
    ({"SWX_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test?sslpassword=s3cret&sslmode=disable"},
     "s3cret"),
    # an eleventh round: a user name with a blank, a mirror password with raw @ (masked to its first @ only)
    ({"SWX_DATABASE_URL": "postgresql+psycopg://a b:s3cret@127.0.0.1:5432/test"}, "s3cret"),
    ({"SWX_GIM_MIRRORS": '{"esa": ["https://user:p@ss@s3cret@127.0.0.1:18443/{name}"]}'}, "s3cret"),
])
def test_config_masks_every_kind_of_secret(env, secret, monkeypatch):
    """A fresh round found these printed in clear: a token under another key name, a password with a
    space, libpq's sslpassword."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    r = runner.invoke(app, ["config"])
    assert r.exit_code == 0 and secret not in r.output and "***" in r.output, r.output


def test_an_empty_data_folder_setting_is_the_default_not_the_working_directory(monkeypatch):
    monkeypatch.setenv("SWX_DATA_DIR", "")
    get_settings.cache_clear()
    assert str(get_settings().data_dir) == "var"


def test_a_folder_where_the_sqlite_file_should_be_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    """`swx.sqlite` a folder: every command said "no database" or "unable to open database file"."""
    monkeypatch.setenv("SWX_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SWX_DATABASE_URL", raising=False)
    (tmp_path / "swx.sqlite").mkdir()
    for args in (["db", "current"], ["db", "upgrade"], ["status"]):
        code, out = run_cli_main(monkeypatch, capsys, args)
        assert code == 2 and f"the SQLite database {tmp_path / 'swx.sqlite'} is a folder" in out, (args, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    assert (tmp_path / "swx.sqlite").is_dir() and not any((tmp_path / "swx.sqlite").iterdir())


def test_a_closed_standard_output_is_refused_not_written_to_nowhere(tmp_path):
    """`swx config >&-` printed nothing and exited 0: an answer lost while the exit status says done."""
    import shlex

    env = {**os.environ, "SWX_DATA_DIR": str(tmp_path)}
    r = subprocess.run(["sh", "-c", f"{shlex.quote(sys.executable)} -m swx.cli config >&-"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip() == "error: standard output is closed (expected a terminal, a " \
        "file or a pipe to write to)", r.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
@pytest.mark.parametrize("args", ["config", "--help", "db current"])
def test_a_full_standard_output_is_named(tmp_path, args):
    """`swx config > /dev/full` said "[Errno 28] No space left on device" without naming what was full."""
    import shlex

    env = {**os.environ, "SWX_DATA_DIR": str(tmp_path)}
    r = subprocess.run(["sh", "-c", f"{shlex.quote(sys.executable)} -m swx.cli {args} > /dev/full"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: standard output: No space left on device (what swx printed is lost: write it to another file)"], r.stderr


def test_a_data_folder_or_database_that_is_a_link_to_nothing_is_named(tmp_path, monkeypatch, capsys):
    """An eighth round: `swx.sqlite` linking to itself (or the data folder) ended in "RuntimeError:
    Symlink loop"; linking to an unmounted volume, `swx db upgrade` made a new empty database there."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "swx.sqlite").symlink_to(site / "swx.sqlite")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    monkeypatch.setenv("SWX_DATA_DIR", str(site))
    get_settings.cache_clear()
    for args in (["status"], ["db", "upgrade"], ["config"]):
        code, out = run_cli_main(monkeypatch, capsys, args)
        assert code == 2 and "Traceback" not in out and len(out.strip().splitlines()) == 1, out
        assert f"SWX_DATA_DIR: {site / 'swx.sqlite'} is a link to {site / 'swx.sqlite'}, which leads to no file" in out
    (site / "swx.sqlite").unlink()
    (site / "swx.sqlite").symlink_to(tmp_path / "unmounted" / "db" / "swx.sqlite")
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 2 and "which leads to no file (a volume not mounted, or a loop of links)" in out, out
    assert not (tmp_path / "unmounted").exists()  # no new empty database where the volume should be
    monkeypatch.setenv("SWX_DATA_DIR", str(loop))
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 2 and f"SWX_DATA_DIR: {loop} is a link to {loop}, which leads to no folder" in out, out


def test_an_address_space_limit_is_one_line_not_a_traceback(tmp_path):
    """A ninth round: under `ulimit -v` loading torch's libraries ended in an ImportError traceback."""
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (700 * 2**20, resource.RLIM_INFINITY))

    env = {**os.environ, "SWX_DATA_DIR": str(tmp_path / "site")}
    env.pop("SWX_DATABASE_URL", None)
    r = subprocess.run([sys.executable, "-m", "swx.cli", "train", "--arch", "cnn"], env=env, capture_output=True,
                       text=True, timeout=300, preexec_fn=limited)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "(a memory or address-space limit, e.g. `ulimit -v`, or too little free memory?)" in r.stderr, r.stderr


def test_a_file_size_limit_is_named_not_called_a_disk_fault(tmp_path):
    """A sixth round: under `ulimit -f` the database's refusal read "disk I/O error" and an archive write
    "[Errno 27] File too large", neither naming the limit."""
    import resource

    def limited():
        resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, resource.RLIM_INFINITY))

    env = {**os.environ, "SWX_DATA_DIR": str(tmp_path / "site")}
    env.pop("SWX_DATABASE_URL", None)
    swx = [sys.executable, "-m", "swx.cli"]
    assert subprocess.run([*swx, "db", "upgrade"], env=env, capture_output=True, timeout=120).returncode == 0
    r = subprocess.run([*swx, "ingest", "kp", "--source", "bundled"], env=env, capture_output=True, text=True,
                       timeout=300, preexec_fn=limited)
    assert r.returncode == 2 and "disk I/O error" in r.stderr, r.stderr
    assert "may write files of at most 204800 bytes: a file-size limit, `ulimit -f`" in r.stderr, r.stderr
    r = subprocess.run([*swx, "ingest", "gims", "--source", "simulated", "--start", "2015-03-01"], env=env,
                       capture_output=True, text=True, timeout=300, preexec_fn=limited)
    said = " ".join((r.stdout + r.stderr).split())
    assert r.returncode != 0 and "File too large: this process may write files of at most 204800 bytes" in said, said
    assert "Traceback" not in said


def test_devices_names_with_line_breaks_and_mismatched_days_are_one_line(tmp_path, ionex_dir, monkeypatch, capsys):
    """/dev/zero read whole exhausted the memory; a file name with a line break and an escape sequence
    forged a second error line; extension-check given the days in the wrong order crashed, and given
    the same day twice scored one epoch as if it were a day."""
    for argv in (["ionex", "info", "/dev/zero"], ["ingest", "kp", "--file", "/dev/zero"]):
        code, out = run_cli_main(monkeypatch, capsys, argv)
        assert code == 2 and "/dev/zero: not a regular file" in out and len(out.strip().splitlines()) == 1, out
    odd = tmp_path / "x\nerror: forged line\x1b[31m.i"
    odd.write_text("")
    code, out = run_cli_main(monkeypatch, capsys, ["ionex", "info", str(odd)])
    assert code == 2 and len(out.strip().splitlines()) == 1 and "\\nerror: forged line\\x1b[31m" in out, out
    for files in (("codg0090.20i.Z", "codg0080.20i.Z"), ("codg0080.20i.Z", "codg0080.20i.Z"),
                  ("jplg0010.17i.gz", "codg0080.20i.Z")):
        code, out = run_cli_main(monkeypatch, capsys, ["extension-check", *(str(ionex_dir / f) for f in files)])
        assert code == 2 and "must hold the day after the first's" in out and "Traceback" not in out, out


def test_import_series_never_moves_a_station_nor_stores_a_column_it_was_not_asked_for(tmp_path, monkeypatch, capsys):
    """A fresh round: a position given for a known station was ignored silently; a time,lat,lon,vtec file
    stored the latitude as vTEC; a value 'abc' was counted as a fill value; a 1500 time was stored."""
    t = pd.date_range("2015-03-01", periods=48, freq="2h", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    good = tmp_path / "good.csv"
    pd.DataFrame({"time": t, "vtec": 12.5}).to_csv(good, index=False)
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(good), "--station", "XX1", "--lat", "10",
                                                   "--lon", "10"])
    assert code == 0, out
    code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(good), "--station", "XX1", "--lat", "-45",
                                                   "--lon", "100"])
    assert code == 2 and "station XX1 is registered at 10°N 10°E, not -45°N 100°E" in out, out
    named = tmp_path / "named.csv"
    pd.DataFrame({"time": t, "lat": 46.5, "lon": 7.5, "VTEC": 12.5}).to_csv(named, index=False)
    from swx.science.series import import_series

    series, _ = import_series(named)
    assert (series.dropna() == 12.5).all()
    capsys.readouterr()  # its log line
    cases = {"unnamed.csv": (pd.DataFrame({"time": t, "a": 1.0, "b": 2.0}), "none named vtec"),
             "text.csv": (pd.DataFrame({"time": t, "vtec": ["abc"] + [12.5] * 47}), "vTEC 'abc' is not a number"),
             "y1500.csv": (pd.DataFrame({"time": ["1500-01-01T00:00:00Z", *t[1:]], "vtec": 12.5}),
                           "1500-01-01 00:00 UTC is before the era of global maps"),
             "dmy.csv": (pd.DataFrame({"time": ["08/01/2020", "13/01/2020"], "vtec": 12.5}), "is not an ISO 8601 UTC time"),
             "notime.csv": (pd.DataFrame({"time": [t[0], None, t[2]], "vtec": 12.5}), "a row without a time"),
             # an eighth round: a second column that names another quantity was stored as vTEC by position
             "rms.csv": (pd.DataFrame({"time": t, "rms": 1.5}), "the second column is named 'rms', which does not say vTEC"),
             "vtec_rms.csv": (pd.DataFrame({"time": t, "vtec_rms": 1.5}), "named 'vtec_rms', which does not say vTEC"),
             "stec.csv": (pd.DataFrame({"epoch": t, "stec": 40.0}), "named 'stec', which does not say vTEC"),
             "noheader.csv": (pd.DataFrame({t[0]: t[1:], "12.5": 12.5}), "named '12.5', which does not say vTEC"),
             # a tenth round: another unit, a model's values, local times
             "mtecu.csv": (pd.DataFrame({"time": t, "vtec_mtecu": 12500.0}), "named 'vtec_mtecu', which does not say"),
             "model.csv": (pd.DataFrame({"time": t, "vtec_model": 12.5}), "named 'vtec_model', which does not say"),
             "local.csv": (pd.DataFrame({"local_time": t, "vtec": 12.5}), "the time column is named 'local_time'")}
    for name, (frame, message) in cases.items():
        frame.to_csv(tmp_path / name, index=False)
        code, out = run_cli_main(monkeypatch, capsys, ["import-series", str(tmp_path / name), "--station", "XX2",
                                                       "--lat", "1", "--lon", "1"])
        assert code == 2 and message in out and name in out and len(out.strip().splitlines()) == 1, (name, out)


def test_a_second_rounds_findings_are_one_line(tmp_path, monkeypatch, capsys):
    """A catalog that is not text (a traceback), --source beside --file (ignored), an inverted demo
    window (accepted), verify --json on a day without maps (exit 0 or 1 where the table says 2)."""
    bad = tmp_path / "catalog.csv"
    bad.write_bytes(b"garbage\x00\xff\nzzz\n")
    monkeypatch.setenv("SWX_STATION_CATALOG", str(bad))
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["stations", "list"])
    assert code == 2 and "catalog.csv: not UTF-8 text" in out and len(out.strip().splitlines()) == 1, out
    monkeypatch.delenv("SWX_STATION_CATALOG")
    monkeypatch.setenv("SWX_DEMO_START", "2015-01-01")
    monkeypatch.setenv("SWX_DEMO_END", "2014-01-01")
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["config"])
    assert code == 2 and "SWX_DEMO_END 2014-01-01 is before SWX_DEMO_START 2015-01-01" in out, out
    monkeypatch.delenv("SWX_DEMO_START")
    monkeypatch.delenv("SWX_DEMO_END")
    get_settings.cache_clear()
    kp = tmp_path / "Kp_ap_Ap_SN_F107_since_2024.txt"
    kp.write_text("")
    code, out = run_cli_main(monkeypatch, capsys, ["ingest", "kp", "--source", "gfz", "--file", str(kp)])
    assert code == 2 and "a file is the source" in out, out
    run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    code, out = run_cli_main(monkeypatch, capsys, ["verify", "--day", "2020-01-08", "--json"])
    assert code == 2 and '"skipped"' in out and "error: no sim GIM for 2020-01-08" in out, out


@pytest.mark.parametrize("command", [["forecast", "--day", "2015-03-14"], ["verify-maps", "--day", "2015-03-15"],
                                     ["evaluate", "--start", "2015-03-01", "--end", "2015-03-02"]])
@pytest.mark.parametrize("where", ["{tmp}", "", "/dev/null"])
def test_a_plot_path_that_cannot_be_a_png_is_refused_before_any_work(command, where, tmp_path, monkeypatch, capsys):
    """A fifth round: `--plot` naming a folder or nothing was found out only after the whole forecast
    had run (and been published)."""
    target = where.replace("{tmp}", str(tmp_path))
    code, out = run_cli_main(monkeypatch, capsys, [*command, "--plot", target])
    assert code == 2 and "--plot" in out and len(out.strip().splitlines()) == 1, out
    assert "a folder" in out or "not a regular file" in out, out
    from swx.store.db import engine_from_settings
    from swx.store.queries import latest_run

    assert latest_run(engine_from_settings(get_settings())) is None, "nothing ran"


@pytest.mark.parametrize("argv, where", [
    (["forecast", "--day", "2015-03-14", "--plot"], "products/2015/074/swx_forecast_20150315_residual.nc"),
    (["verify-maps", "--day", "2015-03-15", "--plot"], "archive/gim/sim/2015/sim_20150315.nc"),
    (["stations", "dense", "--out"], "swx.sqlite"),
    (["stations", "dense", "--out"], "models/E000N50/cnn/v0001.pt"),
])
def test_an_output_path_never_names_what_swx_published_or_keeps(argv, where, monkeypatch, capsys):
    """An eleventh round: `--plot` naming the run's own netCDF product replaced it with a PNG (status
    still "ok"); `stations dense --out swx.sqlite` replaced the results database with a CSV."""
    target = get_settings().data_dir / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"kept")
    code, out = run_cli_main(monkeypatch, capsys, [*argv, str(target)])
    assert code == 2 and "swx would overwrite what it published or keeps" in out, out
    assert len(out.strip().splitlines()) == 1 and target.read_bytes() == b"kept"


def test_relative_revisions_past_the_ends_are_one_line_and_minus_one_can_be_typed(monkeypatch, capsys):
    """A sixth round: `swx db upgrade +5` at head and `swx db downgrade -- -99` ended in alembic's
    traceback; `swx db downgrade -1`, the form its own help gives, was "No such option: -1"."""
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade", "+5"])
    assert code == 2 and "revision '+5'" in out and "the database is at 0011" in out, out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    code, out = run_cli_main(monkeypatch, capsys, ["db", "downgrade", "--", "-99"])
    assert code == 2 and "revision '-99'" in out and "Traceback" not in out, out
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade", "0005"])  # a seventh round: silently nothing
    assert code == 2 and "revision 0005: the database is at 0011, newer; `swx db downgrade 0005` goes back" in out, out
    code, out = run_cli_main(monkeypatch, capsys, ["db", "downgrade", "-1"])
    assert code == 0 and "at revision 0010" in out, out
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 0 and "at revision 0011" in out, out


def test_ctrl_c_and_sigterm_end_a_command_in_one_line_with_the_shells_status(monkeypatch, capsys):
    """A sixth round: Ctrl-C and SIGTERM ended a command with nothing said; now one line and 130 / 143."""
    import signal

    from swx import cli
    from swx.pipeline import status as stage

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(stage, "run_status", stopped)
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 130 and out.strip() == "interrupted (Ctrl-C): what finished is kept; run the command again to do the rest"

    def terminated(*args, **kwargs):
        cli._terminated(signal.SIGTERM, None)

    monkeypatch.setattr(stage, "run_status", terminated)
    monkeypatch.setitem(cli._SIGNAL, "name", "Ctrl-C")
    code, out = run_cli_main(monkeypatch, capsys, ["status"])
    assert code == 143 and out.strip().startswith("interrupted (SIGTERM)")


def test_a_terminal_that_cannot_show_unicode_gets_replacement_characters_not_a_traceback(tmp_path):
    """A sixth round: PYTHONIOENCODING=ascii made `swx --help` and `swx status` end in UnicodeEncodeError."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "SWX_DATA_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "swx.cli", "--help"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "Usage" in r.stdout, r.stderr


def test_storms_over_a_period_without_kp_is_not_called_quiet(monkeypatch, capsys):
    """A sixth round: `swx storms` over a year the indices do not cover said "no storm", exit 0."""
    code, out = run_cli_main(monkeypatch, capsys, ["storms", "--start", "1996-01-01", "--end", "1996-12-31"])
    assert code == 2 and "no Kp for 1996-01-01 .. 1996-12-31 (Kp is held from" in out and "no storm" not in out


def test_an_option_taking_one_value_given_twice_is_refused(monkeypatch, capsys):
    """A sixth round: `swx forecast --day 2015-03-01 --day 2015-03-05` ran for the 5th, the 1st silently
    dropped (click keeps the last). Repeatable options and flags may still be repeated."""
    for argv in (["forecast", "--day", "2015-03-01", "--day", "2015-03-05"],
                 ["forecast", "--day=2015-03-01", "--day", "2015-03-05"],
                 ["storms", "--start", "2015-03-01", "--end", "2015-03-02", "--start", "2015-03-03"]):
        code, out = run_cli_main(monkeypatch, capsys, argv)
        assert code == 2 and "given more than once: give it once" in out and len(out.strip().splitlines()) == 1, out
    code, out = run_cli_main(monkeypatch, capsys, ["-v", "-v", "config"])  # a flag twice: harmless
    assert code == 0, out


@pytest.mark.parametrize("folder", ["d?x=1", "d%41b", "d#frag"])
def test_a_data_folder_whose_name_holds_url_characters_gets_its_database_inside(tmp_path, monkeypatch, capsys, folder):
    """A sixth round: SWX_DATA_DIR `d?x=1` made the database the file `d` (the rest read as a URL query)
    and `d%41b` put it in `dAb`, while swx said it was in the folder named."""
    monkeypatch.delenv("SWX_DATABASE_URL", raising=False)
    monkeypatch.setenv("SWX_DATA_DIR", str(tmp_path / folder))
    get_settings.cache_clear()
    code, out = run_cli_main(monkeypatch, capsys, ["db", "upgrade"])
    assert code == 0 and "at revision" in out, out
    assert (tmp_path / folder / "swx.sqlite").is_file() and sorted(p.name for p in tmp_path.iterdir()) == [folder]


@pytest.mark.parametrize("name", ["x[/]y.15i", "[bold]z.15i", "[red]a[/red].15i"])
def test_a_path_that_looks_like_markup_is_printed_as_it_is(tmp_path, monkeypatch, capsys, name):
    """A seventh round: `--out 'x[/]y.15i'` ended in Rich's MarkupError after the file was written, and
    `[bold]z.15i` was reported as `z.15i`: every value printed is text, never console markup."""
    out_path = tmp_path / name
    code, out = run_cli_main(monkeypatch, capsys, ["simulate", "day", "--date", "2015-03-01", "--out", str(out_path)])
    assert code == 0 and f"wrote {out_path} (SIMULATED" in out and "Traceback" not in out, out
    assert out_path.is_file()


@pytest.mark.parametrize("extra, message", [
    (["--fit-end", "2016-12-31"], "--fit-end 2016-12-31: the real series hold nothing up to it (they start on 2017-01-01)"),
    (["--fit-end", "2017-06-30", "--lon", "7"], "--lon 7: expected a meridian of the maps' grid, a multiple of 5"),
])
def test_simulate_calibrate_refuses_a_fit_it_cannot_make_in_one_line(shared_data, monkeypatch, capsys, extra, message):
    """A seventh round: a --fit-end before the series' start and a --lon off the 5-degree grid ended in
    IndexError / KeyError tracebacks."""
    series = shared_data / "real-series" / "randa-code-10E-3lat" / "Test_data_VTEC.csv"
    code, out = run_cli_main(monkeypatch, capsys, ["simulate", "calibrate", "--real-series", str(series), *extra])
    assert code == 2 and message in out and "Traceback" not in out, out


def test_a_database_url_naming_a_link_to_nothing_is_named(tmp_path, monkeypatch, capsys):
    """A fifteenth round: SWX_DATABASE_URL naming a link to a missing file was "run swx db upgrade to
    create it" in `swx status`, then "unable to open database file" in the upgrade."""
    link = tmp_path / "dangling.sqlite"
    link.symlink_to("/nonexistent/x.sqlite")
    monkeypatch.setenv("SWX_DATABASE_URL", f"sqlite:///{link}")
    get_settings.cache_clear()
    for args in (["status"], ["db", "upgrade"]):
        code, out = run_cli_main(monkeypatch, capsys, args)
        assert code == 2 and len(out.strip().splitlines()) == 1, out
        assert f"SWX_DATABASE_URL: {link} is a link to /nonexistent/x.sqlite, which leads to no file" in out, out
    assert link.is_symlink() and not pathlib.Path("/nonexistent/x.sqlite").exists()
