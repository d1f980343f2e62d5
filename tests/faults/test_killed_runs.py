"""SIGKILL, as a lost node or the OOM killer delivers it, at any point of an ingest or a forecast: what
was killed is never shown as finished, and the rerun ends with exactly what an uninterrupted run
leaves (rows and files), nothing lost, duplicated or half-written."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import signal
import time

import pytest
from sqlalchemy import func, select

from swx.archive import Archive, load_indices
from swx.config import get_settings
from swx.io.atomic import remove_stale_parts
from swx.io.gim_names import short_name
from swx.pipeline.ingest import daterange
from swx.sources.simulated import simulated_source
from swx.store import orm as m
from swx.store.db import make_engine
from tests.faults.conftest import ISSUE_DAY, Site, assert_same


def _kill(proc) -> bool:
    """SIGKILL the process group; True when it was still running."""
    running = proc.poll() is None
    if running:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return running


def _count(site: Site, table: str) -> int:
    engine = make_engine(site.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(m.Base.metadata.tables[table])).scalar_one()
    finally:
        engine.dispose()


def _runs(site: Site) -> list[str]:
    engine = make_engine(site.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(m.ForecastRun.status)).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_forecast_killed_at_any_point_reruns_to_what_an_uninterrupted_run_publishes(new_site, kind):
    reference, killed = new_site(kind), new_site(kind)
    done = reference.swx("forecast", "--day", str(ISSUE_DAY))
    assert done.returncode == 0, done.stderr
    expected = reference.snapshot()
    assert _runs(reference) == ["ok"] and len(expected["station_forecasts"]) == 432

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
        if _runs(killed) == ["ok"]:  # killed as it exited: what it shows as finished is whole
            assert_same(killed.snapshot(), expected)
            continue
        caught.append(name)
        assert _runs(killed) == ["running"], f"killed after {name}"
        # never shown as finished: `swx status` says so and fails
        status = killed.swx("status")
        assert status.returncode == 1 and "the latest run has not finished" in status.stdout + status.stderr
    assert len(caught) >= 3, f"killed while writing only after {caught}"

    rerun = killed.swx("forecast", "--day", str(ISSUE_DAY))
    assert rerun.returncode == 0, rerun.stderr
    assert _runs(killed) == ["ok"]
    assert_same(killed.snapshot(), expected)
    # what the killed writers left are hidden part files only, which the ingest stage's sweep removes
    assert all(p.name.startswith(".") for p in killed.data_dir.rglob("*.part"))
    remove_stale_parts(killed.data_dir, max_age_s=0)
    assert not list(killed.data_dir.rglob("*.part"))


def _serve_days(http_server, days: list[dt.date], delay_s: float) -> str:
    """The simulated maps of `days` as IONEX files over HTTP, each answer `delay_s` late: a mirror
    template for SWX_GIM_MIRRORS."""
    settings = get_settings()
    src = simulated_source(settings, load_indices(Archive(settings.archive_dir)))
    for d in days:
        http_server.add(f"/{d:%Y}/{short_name('sim', d)}", body=gzip.compress(src.simulator.ionex(d).encode(), mtime=0),
                        delay_s=delay_s)  # gzip bytes under the .Z name: the magic bytes decide
    return http_server.base + "/{yyyy}/{name}"


def _ingest_env(site: Site, template: str) -> None:
    site.env |= {"SWX_GIM_SOURCE": "remote", "SWX_GIM_CENTRE": "sim", "SWX_GIM_MIRRORS": f'{{"sim": ["{template}"]}}',
                 "SWX_HTTP_RETRIES": "0"}


def _recorded_days(site: Site) -> set[dt.date]:
    engine = make_engine(site.database_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(m.InputFile.day).where(m.InputFile.kind == "GIM")).scalars())
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_ingest_killed_half_way_reruns_to_what_an_uninterrupted_ingest_archives(new_site, http_server, kind,
                                                                                  monkeypatch):
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    days = daterange(dt.date(2015, 3, 19), dt.date(2015, 3, 26))
    template = _serve_days(http_server, days, delay_s=0.4)  # slow enough to be killed in the middle
    reference, killed = new_site(kind), new_site(kind)
    for s in (reference, killed):
        _ingest_env(s, template)
    span = ["ingest", "gims", "--start", str(days[0]), "--end", str(days[-1])]
    done = reference.swx(*span)
    assert done.returncode == 0, done.stdout + done.stderr
    expected = reference.snapshot()
    assert _recorded_days(reference) == set(days)

    proc = killed.start(*span)
    deadline = time.monotonic() + 120
    while len(_recorded_days(killed)) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "the ingest ended before it could be killed"
        time.sleep(0.1)
    assert _kill(proc)
    partly = _recorded_days(killed)
    assert 3 <= len(partly) < len(days)
    # what was recorded is whole: each recorded day's file is in the archive with its checksum
    archive = Archive(killed.data_dir / "archive")
    assert all(archive.has_gim("sim", d) for d in partly)

    rerun = killed.swx(*span)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_same(killed.snapshot(), expected)
