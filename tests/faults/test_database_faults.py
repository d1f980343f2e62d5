"""The database fails under a run: PostgreSQL connections killed by the server (`pg_terminate_backend`,
as a failover or an operator does) in the middle of a forecast's writes, a database that has become
read-only (a standby, a full or protected disk). The run ends in one line naming the fault, with a
non-zero exit status; nothing it had not finished is shown as published; a rerun once the database
is back publishes what an undisturbed run does."""

from __future__ import annotations

import subprocess
import time

from sqlalchemy import select, text

from swx.store.db import make_engine
from swx.store.orm import ForecastRun
from tests.faults.conftest import ISSUE_DAY, PG_URL, assert_same, one_line_error

#: `swx forecast` publishing a site's first run: degraded (nothing verified yet for its blend), exit 3
PUBLISHED_DEGRADED = 3


def test_connections_killed_while_the_forecast_writes_fail_it_in_one_line_and_a_rerun_publishes(new_site):
    reference, site = new_site("postgresql"), new_site("postgresql")
    assert reference.swx("forecast", "--day", str(ISSUE_DAY)).returncode == PUBLISHED_DEGRADED
    expected = reference.snapshot()

    name = site.database_url.rsplit("/", 1)[1]
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    blocker = make_engine(site.database_url)
    try:
        with blocker.connect() as hold:
            # readers pass, writers wait: the forecast reads, computes, then blocks on its first
            # station-forecast write, inside its run
            hold.execute(text("LOCK TABLE station_forecasts IN SHARE MODE"))
            proc = site.start("forecast", "--day", str(ISSUE_DAY))
            deadline, killed = time.monotonic() + 120, 0
            while not killed:
                assert proc.poll() is None and time.monotonic() < deadline, "the forecast never reached its writes"
                time.sleep(0.1)
                with admin.connect() as c:
                    waiting = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND "
                                             "wait_event_type = 'Lock'"), {"d": name}).scalar_one()
                    if waiting:
                        killed = c.execute(text("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM "
                                                "pg_stat_activity WHERE datname = :d AND pid <> :me) t"),
                                           {"d": name, "me": hold.connection.dbapi_connection.info.backend_pid}
                                           ).scalar_one()
            hold.rollback()
            proc.wait(timeout=120)
            out = site.output.read_text()
    finally:
        blocker.dispose()
        admin.dispose()

    line = one_line_error(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""), "terminating connection")
    assert proc.returncode == 2, out
    # the run is not shown as published: failed with the reason (a fresh connection records it), and
    # `swx status` says so
    assert site.run_statuses() == ["failed"]
    [reason] = site.scalars(select(ForecastRun.reason))
    assert reason.startswith("database: terminating connection") and "[SQL" not in reason and "DELETE" not in reason
    status = site.swx("status")
    assert status.returncode == 1 and "the latest run failed" in status.stdout + status.stderr, line

    rerun = site.swx("forecast", "--day", str(ISSUE_DAY))
    assert rerun.returncode == PUBLISHED_DEGRADED, rerun.stderr
    assert site.run_statuses() == ["degraded"]
    assert_same(site.snapshot(), expected)


def test_a_read_only_database_refuses_the_forecast_in_one_line_and_still_answers_reading_commands(new_site):
    site = new_site("postgresql")
    name = site.database_url.rsplit("/", 1)[1]
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:  # as a hot standby is
            c.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
        before = site.snapshot()
        refused = site.swx("forecast", "--day", str(ISSUE_DAY))
        one_line_error(refused, "read-only transaction")
        assert refused.returncode == 2
        # a thirteenth round: the log said the run was recorded as failed, which the database refused
        said = " ".join((refused.stdout + refused.stderr).split())
        assert "its run is recorded as failed" not in said and "no run could be recorded" in said, said
        assert_same(site.snapshot(), before, tables=tuple(k for k in before if k != "files"))
        assert not list((site.data_dir / "products").rglob("*.nc")), "a product was published without its run"
        status = site.swx("status")  # reading works: no run yet
        assert status.returncode == 1 and "no forecast run" in status.stdout, status.stdout + status.stderr
        with admin.connect() as c:
            c.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off'))
    finally:
        admin.dispose()
    assert site.swx("forecast", "--day", str(ISSUE_DAY)).returncode == PUBLISHED_DEGRADED
    assert site.run_statuses() == ["degraded"]
