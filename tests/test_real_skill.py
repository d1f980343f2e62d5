"""The published forecast on real data, through the product's commands (benchmarks/bench_real_skill.py):
the shared CODE series at 10°E 10°N/40°N/70°N imported, models trained through 2016, all of 2017 scored
walk-forward by `swx evaluate`. The blend must beat persistence by 20 % pooled, beat the issue's plain
ridge regression at every latitude, and beat the 27-day median everywhere; storm windows are scored apart.
The second day's models (hours 26-48) must beat persistence at the same lead by 17 % pooled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
ANCHOR = {"R10N": 0.13, "R40N": 0.22, "R70N": 0.18}  # the plain ridge regression quoted in the issue
SECOND_DAY_ANCHOR = {"R10N": 0.12, "R40N": 0.20, "R70N": 0.15}  # the same ridge, hours 24-48 after the cutoff


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_blend_beats_persistence_median_and_the_ridge_anchor_on_2017(shared_data, tmp_path):
    out = tmp_path / "real_skill.json"
    # the CNN as a 5-member Gaussian ensemble, the ridge member, the two baselines: the blend of all four
    # models is recorded in docs/forecasting.md (22.8 % pooled); this subset keeps CI within its budget
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_real_skill.py"), "--arch", "cnn",
                        "--arch", "ridge", "--ensemble", "5", "--out", str(out)],
                       capture_output=True, text=True, env={**__import__("os").environ,
                                                            "SWX_SHARED_DATA": str(shared_data)})
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout)
    rows = pd.DataFrame(pd.read_json(out, typ="series")["rows"])
    allk = rows[rows.kp_class == "all"].set_index(["station_code", "model"])
    blend = allk.xs("blend", level="model")
    assert blend.loc["pooled", "skill_persistence"] >= 0.20, r.stdout
    for code, anchor in ANCHOR.items():
        assert blend.loc[code, "skill_persistence"] >= anchor, (code, r.stdout)
        assert blend.loc[code, "skill_median27"] > 0, (code, r.stdout)
    storm = rows[(rows.kp_class == "storm") & (rows.model == "blend")]
    assert len(storm) == 4 and (storm.n > 0).all()  # storm windows reported apart, per station and pooled
    # the second day (hours 26-48 after each issue time), its own models: 17 % pooled against persistence
    # at the same lead, and at each latitude at least the ridge figures for those hours
    second = pd.DataFrame(pd.read_json(out, typ="series")["second_day"]["rows"])
    two = second[(second.kp_class == "all") & (second.model == "blend")].set_index("station_code")
    assert two.loc["pooled", "skill_persistence"] >= 0.17, r.stdout
    for code, anchor in SECOND_DAY_ANCHOR.items():
        assert two.loc[code, "skill_persistence"] >= anchor, (code, r.stdout)
