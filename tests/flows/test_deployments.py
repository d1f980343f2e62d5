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
