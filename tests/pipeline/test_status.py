"""`swx status`: the latest run as JSON for monitoring; non-zero exit when there is none, it failed,
or it is too old."""

from __future__ import annotations

import datetime as dt
import json
import time

from typer.testing import CliRunner

from swx.cli import app
from swx.config import get_settings
from swx.pipeline.status import run_status
from swx.store.db import open_database
from swx.store.writes import finish_run, start_run

runner = CliRunner()


def _json(output: str) -> dict:
    return json.loads(output[output.index("{"): output.rindex("}") + 1])


def test_no_run_yet_is_unhealthy():
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 1
    assert _json(r.stdout)["status"] == "none" and "make run" in _json(r.stdout)["problem"]


def test_latest_run_document_and_exit_codes():
    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2015, 3, 16, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 17),
                    data_source="sim")
    finish_run(engine, rid, status="degraded", degraded=True, reason="no sim GIM for 2015-03-16")
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 0, r.output
    doc = _json(r.stdout)
    assert doc["run_id"] == rid and doc["status"] == "degraded" and doc["degraded"] and doc["simulated"]
    assert doc["reason"] == "no sim GIM for 2015-03-16" and doc["target_day"] == "2015-03-17"
    assert {"station_forecasts", "active_models", "global", "map_skill", "station_skill", "storms"} <= set(doc)
    # without --json: a short summary people read, not a dump of Python dicts
    r = runner.invoke(app, ["status"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith(f"run {rid}: forecast for 2015-03-17, issued 2015-03-16T22:00:00")
    assert "DEGRADED (degraded: no sim GIM for 2015-03-16)" in lines[0] and "SIMULATED" in lines[1]
    assert lines[-1].strip() == "healthy" and not any("{" in line for line in lines)
    # too old: a monitor must notice a scheduler that stopped
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=48)
    doc, healthy = run_status(settings, now=later)
    assert not healthy and "old" in doc["problem"]
    time.sleep(0.5)
    r = runner.invoke(app, ["status", "--max-age-h", "0.0001"])  # 0.36 s
    assert r.exit_code == 1

    rid2 = start_run(engine, issue_time=dt.datetime(2015, 3, 17, 22, tzinfo=dt.UTC), target_day=dt.date(2015, 3, 18))
    finish_run(engine, rid2, status="failed", reason="FileNotFoundError: models")
    r = runner.invoke(app, ["status", "--json"])
    assert r.exit_code == 1 and "failed" in _json(r.stdout)["problem"]


def test_rapid_maps_older_than_the_upgrade_window_are_named_with_the_command_that_upgrades_them():
    from swx.pipeline.status import summary_lines
    from swx.store.writes import record_input_files

    settings = get_settings()
    engine = open_database(settings)
    rid = start_run(engine, issue_time=dt.datetime(2025, 10, 30, 22, tzinfo=dt.UTC), target_day=dt.date(2025, 10, 31),
                    data_source="cod")
    finish_run(engine, rid, status="ok")
    rows = [dict(kind="GIM", centre="cod", day=day, path=f"archive/gim/cod/2025/cod_{day:%Y%m%d}.nc", sha256="0" * 64,
                 maps=25, source_kind="remote", product=product, level=level)
            for day, product, level in [(dt.date(2025, 10, 1), "cor", "rapid"), (dt.date(2025, 10, 2), "cod", "final"),
                                        (dt.date(2025, 10, 25), "cor", "rapid")]]  # the last: inside the 14 days
    record_input_files(engine, rows)
    doc, healthy = run_status(settings, max_age_h=1e6)
    assert healthy and doc["rapid_days_past_upgrade"] == ["2025-10-01"]
    assert "  1 day(s) still on rapid maps, older than the daily run looks back (2025-10-01 .. 2025-10-01): swx " \
           "ingest gims --upgrade --start 2025-10-01 --end 2025-10-01" in summary_lines(doc)
