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
