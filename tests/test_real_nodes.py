"""The node models of the map on real data (benchmarks/bench_real_nodes.py): the shared CODE series at
10°E 10°N/40°N/70°N as three nodes, trained on 2015-2016, every day of 2017 forecast from the day before.
They must beat persistence at every latitude and their own prior pooled, on the map file's epochs and on
the 00-22 UT epochs the station forecasts issued at 22 UT are scored on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def test_node_models_beat_persistence_and_their_prior_on_2017(shared_data, tmp_path):
    out = tmp_path / "real_nodes.json"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_real_nodes.py"), "--out", str(out)],
                       capture_output=True, text=True, env={**__import__("os").environ,
                                                            "SWX_SHARED_DATA": str(shared_data)})
    assert r.returncode == 0, r.stdout + r.stderr
    rows = pd.DataFrame(pd.read_json(out, typ="series")["rows"])
    assert set(rows.epochs) == {"00-24", "00-22"}
    allk = rows[rows.kp_class == "all"].set_index(["epochs", "latitude"])
    assert (allk.days == 361).all()
    assert (allk.skill_vs_persistence > 0.10).all(), r.stdout  # every latitude, both epoch sets
    assert (allk.xs("pooled", level="latitude").skill_vs_prior > 0.05).all(), r.stdout
    assert (allk.xs("pooled", level="latitude").skill_vs_persistence > 0.15).all(), r.stdout
    storm = rows[rows.kp_class == "storm"]
    assert len(storm) == 8 and (storm.days > 0).all()
