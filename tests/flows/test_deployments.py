"""The deployment file: every entrypoint loads as a flow, pools and schedule are what the docs say."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint

REPO = Path(__file__).resolve().parents[2]


def test_prefect_yaml_deployments_load(monkeypatch):
    monkeypatch.chdir(REPO)
    spec = yaml.safe_load((REPO / "flows" / "prefect.yaml").read_text())
    deps = {d["name"]: d for d in spec["deployments"]}
    assert set(deps) == {"swx-daily", "swx-backfill", "swx-train"}
    names = {n: load_flow_from_entrypoint(d["entrypoint"]).name for n, d in deps.items()}
    assert names == {"swx-daily": "swx-daily", "swx-backfill": "swx-backfill", "swx-train": "swx-train"}
    assert deps["swx-daily"]["schedules"][0] == {"cron": "30 6 * * *", "timezone": "UTC", "active": True}
    assert deps["swx-daily"]["work_pool"]["name"] == deps["swx-backfill"]["work_pool"]["name"] == "swx-cpu"
    train = deps["swx-train"]["work_pool"]
    assert train["name"] == "swx-gpu" and train["job_variables"]["env"]["SWX_DEVICE"] == "cuda"


def test_flows_serve_registers_the_three_deployments_with_the_schedule(tmp_path):
    """`python -m flows.serve` against a temporary Prefect server: the deployments appear, daily on its UTC cron."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "SWX_DATA_DIR": str(tmp_path)}
        proc = subprocess.Popen([sys.executable, "-m", "flows.serve", "--cron", "45 5 * * *"], cwd=REPO, env=env,
                                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            names: dict = {}
            deadline = time.time() + 120
            while time.time() < deadline and len(names) < 3:
                time.sleep(2)
                assert proc.poll() is None, "flows.serve exited"
                with get_client(sync_client=True) as client:
                    names = {d.name: d for d in client.read_deployments()}
            assert set(names) == {"swx-daily", "swx-backfill", "swx-train"}
            sched = names["swx-daily"].schedules[0].schedule
            assert sched.cron == "45 5 * * *" and sched.timezone in ("UTC", "Etc/UTC")
            assert not names["swx-backfill"].schedules
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def test_a_process_worker_runs_the_daily_and_backfill_deployments(tmp_path, monkeypatch):
    """As operations run them: a Prefect server, the deployments of flows/prefect.yaml registered by
    `entrypoint.sh deploy`, a process worker for the swx-cpu pool started by `entrypoint.sh worker swx-cpu`,
    all on 127.0.0.1. The daily and the backfill deployments are triggered; both runs complete and write
    what the flows write (forecast runs, products, verification)."""
    import datetime as dt
    import os
    import signal
    import subprocess
    import sys

    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from swx.config import get_settings
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.train import ensure_models
    from swx.store import queries as q
    from swx.store.db import open_database
    from tests.helpers import NOTHING_VERIFIED, free_port, simulated_archive, wait_http

    monkeypatch.setenv("SWX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    settings = get_settings()
    migrate_database_stage(settings)  # as `entrypoint.sh migrate` does before the services start
    simulated_archive(settings, dt.date(2015, 2, 10), dt.date(2015, 3, 16))
    ensure_models(settings, dt.date(2015, 3, 10), architectures=("cnn",), second_day=("ridge",), epochs=2)

    entry = REPO / "infra" / "docker" / "entrypoint.sh"
    api = f"http://127.0.0.1:{free_port()}/api"
    env = {**os.environ, "SWX_PYTHON": sys.executable, "PREFECT_HOME": str(tmp_path / "prefect"),
           "PREFECT_API_URL": api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",  # no 06:30 run of its own during the test
           "PREFECT_WORKER_QUERY_SECONDS": "2"}  # the worker picks a triggered run up within 2 s, not 10
    logs = {name: tmp_path / f"{name}.log" for name in ("server", "deploy", "worker")}
    procs = []

    def start(name: str, *args: str) -> subprocess.Popen:
        with logs[name].open("w") as log:
            proc = subprocess.Popen(["bash", str(entry), *args], env=env, cwd=tmp_path, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(proc)
        return proc

    try:
        port = api.rsplit(":", 1)[1].split("/")[0]
        server = start("server", "prefect", "server", "start", "--host", "127.0.0.1", "--port", port)
        wait_http(f"{api}/health", server, timeout=180, log=logs["server"])
        deploy = start("deploy", "deploy")
        assert deploy.wait(timeout=300) == 0, logs["deploy"].read_text()
        start("worker", "worker", "swx-cpu")
        with temporary_settings({PREFECT_API_URL: api}):
            daily = run_deployment("swx-daily/swx-daily", timeout=600,
                                   parameters={"issue_date": "2015-03-16", "update": False, "lookback_days": 1})
            assert daily.state.is_completed(), (daily.state, logs["worker"].read_text()[-3000:])
            back = run_deployment("swx-backfill/swx-backfill", timeout=600,
                                  parameters={"start": "2015-03-12", "end": "2015-03-14",
                                              "steps": ["forecast", "verify"]})
            assert back.state.is_completed(), (back.state, logs["worker"].read_text()[-3000:])
        engine = open_database(settings)
        runs = q.runs(engine)
        # the daily run: the next day and tomorrow (the 17th and the 18th); the backfill: the same for each
        # of its days (the 13th .. 15th, and the 14th .. 16th)
        assert set(runs.target_day) == {dt.date(2015, 3, 13) + dt.timedelta(days=k) for k in range(6)}
        assert sorted(runs.lead_day) == [1] * 4 + [2] * 4
        # the daily run and the backfill's first day each had nothing verified before them: degraded, saying so
        for r in runs.itertuples():
            assert r.status == "ok" or (r.status == "degraded" and r.reason.startswith(NOTHING_VERIFIED)), r
        assert set(runs.flow_run_id) == {str(daily.id), str(back.id)}
        assert all(len(q.global_products(engine, r)) for r in runs.id)
        assert q.unverified_days(engine, dt.date(2015, 3, 13), dt.date(2015, 3, 14)) == set()
        engine.dispose()
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        get_settings.cache_clear()
