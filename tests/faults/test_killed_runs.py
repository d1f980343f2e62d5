"""SIGKILL, as a lost node or the OOM killer delivers it, at any point of an ingest or a forecast: what
was killed is never shown as finished, and the rerun ends with exactly what an uninterrupted run
leaves (rows and files), nothing lost, duplicated or half-written."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from swx.archive import Archive
from swx.config import get_settings
from swx.io.atomic import remove_stale_parts
from swx.pipeline.days import daterange
from swx.store import orm as m
from tests.faults.conftest import ISSUE_DAY, Site, assert_same, serve_days

#: `swx forecast` publishing a site's first run: degraded (nothing verified yet for its blend), exit 3
PUBLISHED_DEGRADED = 3


def _kill(proc) -> bool:
    """SIGKILL the process group; True when it was still running."""
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return running


def _count(site: Site, table: str) -> int:
    return site.scalars(select(func.count()).select_from(m.Base.metadata.tables[table]))[0]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_forecast_killed_at_any_point_reruns_to_what_an_uninterrupted_run_publishes(new_site, kind):
    reference, killed = new_site(kind), new_site(kind)
    done = reference.swx("forecast", "--day", str(ISSUE_DAY))
    assert done.returncode == PUBLISHED_DEGRADED, done.stderr
    expected = reference.snapshot()
    assert reference.run_statuses() == ["degraded"] and len(expected["station_forecasts"]) == 432

    # killed as it reaches each of its writes, each kill on the rerun of the one before: after the run's
    # row, after the station forecasts, as the products appear, after the global forecasts' rows
    marks = [("the run's row", lambda: _count(killed, "forecast_runs") > 0),
             ("the station forecasts", lambda: _count(killed, "station_forecasts") > 0),
             ("the products", lambda: any((killed.data_dir / "products").rglob("*.nc"))),
             ("the global forecasts' rows", lambda: _count(killed, "global_forecasts") > 0)]
    caught = []
    for name, reached in marks:
        proc = killed.start("forecast", "--day", str(ISSUE_DAY))
        deadline = time.monotonic() + 300
        while proc.poll() is None and not reached():
            assert time.monotonic() < deadline, f"the forecast never reached {name}"
            time.sleep(0.02)
        if not _kill(proc):
            continue
        if killed.run_statuses() == ["degraded"]:  # killed as it exited: what it shows as finished is whole
            assert_same(killed.snapshot(), expected)
            continue
        caught.append(name)
        assert killed.run_statuses() == ["running"], f"killed after {name}"
        # never shown as finished: `swx status` says so and fails
        status = killed.swx("status")
        assert status.returncode == 1 and "the latest run has not finished" in status.stdout + status.stderr
    assert len(caught) >= 3, f"killed while writing only after {caught}"

    rerun = killed.swx("forecast", "--day", str(ISSUE_DAY))
    assert rerun.returncode == PUBLISHED_DEGRADED, rerun.stderr
    assert killed.run_statuses() == ["degraded"]
    assert_same(killed.snapshot(), expected)
    # what the killed writers left are hidden part files only, which the ingest stage's sweep removes
    assert all(p.name.startswith(".") for p in killed.data_dir.rglob("*.part"))
    remove_stale_parts(killed.data_dir, max_age_s=0)
    assert not list(killed.data_dir.rglob("*.part"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_ingest_killed_half_way_reruns_to_what_an_uninterrupted_ingest_archives(new_site, http_server, kind,
                                                                                  monkeypatch):
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    days = daterange(dt.date(2015, 3, 19), dt.date(2015, 3, 26))
    template = serve_days(http_server, days, delay_s=0.4)  # slow enough to be killed in the middle
    reference, killed = new_site(kind), new_site(kind)
    for s in (reference, killed):
        s.use_mirror(template)
    span = ["ingest", "gims", "--start", str(days[0]), "--end", str(days[-1])]
    done = reference.swx(*span)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = reference.snapshot()
    assert reference.recorded_gim_days() == set(days)

    proc = killed.start(*span)
    deadline = time.monotonic() + 120
    while len(killed.recorded_gim_days()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "the ingest ended before it could be killed"
        time.sleep(0.1)
    assert _kill(proc)
    partly = killed.recorded_gim_days()
    assert 3 <= len(partly) < len(days)
    # what was recorded is whole: each recorded day's file is in the archive with its checksum
    archive = Archive(killed.data_dir / "archive")
    assert all(archive.has_gim("sim", d) for d in partly)

    rerun = killed.swx(*span)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_same(killed.snapshot(), expected)
