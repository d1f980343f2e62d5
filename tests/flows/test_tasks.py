"""The I/O tasks retry what waiting can fix (a server, a download) and nothing else."""

from __future__ import annotations

from prefect.states import Failed

from flows.tasks import ingest_gims, ingest_kp, worth_retrying
from swx.errors import FetchError, InputError, SchemaError


def test_a_wrong_schema_or_bad_input_is_not_retried_a_download_is():
    assert not worth_retrying(None, None, Failed(data=SchemaError("the database ...: run `swx db upgrade`")))
    assert not worth_retrying(None, None, Failed(data=InputError("end 2015-03-01 is before start 2015-03-02")))
    assert worth_retrying(None, None, Failed(data=FetchError("HTTP 503", url="https://example.org/x")))
    assert ingest_gims.retries == ingest_kp.retries == 3
    assert ingest_gims.retry_condition_fn is worth_retrying and ingest_kp.retry_condition_fn is worth_retrying


def _netcdf_write_locks() -> tuple[str, str]:
    """The module of the lock xarray takes to write a netCDF file on this worker: as is, and inside a
    backfill task's `_on_this_worker`."""
    from xarray.backends.locks import get_write_lock

    from flows.tasks import _on_this_worker

    outside = type(get_write_lock("a.nc")).__module__
    with _on_this_worker():
        inside = type(get_write_lock("a.nc")).__module__
    return outside, inside


def test_a_backfill_task_on_a_dask_worker_keeps_netcdf_locks_local():
    """On a distributed worker xarray guards each netCDF write with a cluster-wide lock (round trips
    to the scheduler); a backfill chunk, Dask's unit of parallelism, runs its stages without."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        outside, inside = client.submit(_netcdf_write_locks, pure=False).result(timeout=60)
    assert outside.startswith("distributed") and not inside.startswith("distributed")


def test_a_flow_run_without_a_server_gives_its_temporary_prefect_server_time_to_start():
    """Prefect's 20 s were too few under load (the daily flow beside a backfill and 20 dashboard
    sessions, benchmarks/bench_dashboard_load.py): the flows give 120 s unless the operator said."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    code = ("import flows.daily; from prefect.settings import get_current_settings; "
            "print(get_current_settings().server.ephemeral.startup_timeout_seconds)")
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
    got = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo, capture_output=True, text=True, check=True)
    assert got.stdout.strip().splitlines()[-1] == "120"
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"
    got = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo, capture_output=True, text=True, check=True)
    assert got.stdout.strip().splitlines()[-1] == "300"


def test_a_database_fault_in_a_task_is_recorded_as_its_one_line_without_sql_and_retried():
    """Prefect keeps a failed task's exception text and traceback: SQLAlchemy's text quotes the SQL and
    its parameters (issue 18: no SQL parameters in any output)."""
    import traceback

    import pytest
    from prefect import Task
    from sqlalchemy.exc import OperationalError

    import flows.tasks as tasks
    from flows.tasks import _without_sql
    from swx.errors import DatabaseFaultError

    @_without_sql
    def stage(run_id: int) -> None:
        raise OperationalError("DELETE FROM station_forecasts WHERE run_id = %(run_id)s", {"run_id": run_id},
                               Exception("terminating connection due to administrator command"))

    with pytest.raises(DatabaseFaultError) as err:
        stage(7)
    shown = "".join(traceback.format_exception(err.value))
    assert "database: terminating connection due to administrator command" in shown
    assert "DELETE" not in shown and "[SQL" not in shown and "run_id" not in shown
    assert worth_retrying(None, None, Failed(data=err.value))
    every = [v for v in vars(tasks).values() if isinstance(v, Task)]
    assert len(every) >= 10 and all(getattr(t.fn, "__wrapped__", None) is not None for t in every)
