"""The node models on real data: the shared CODE vTEC series at 10°E 10°N/40°N/70°N taken as three nodes
of a one-meridian map, the node models (`swx.science.nodes.NodeRidge`, exactly as the map's) trained on
2015-2016 and every day of 2017 forecast from the day before: skill against persistence, the 27-day
median and the models' prior on the same samples, per latitude and pooled, all days and storm days apart.

    .venv/bin/python benchmarks/bench_real_nodes.py          # writes benchmarks/results/real_nodes.json

The series have no neighbouring nodes: the neighbourhood and global anomaly features are those of the
three nodes, so this measures the node model itself, not the map's spatial features.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from swx.archive import load_indices
from swx.ml.node_model import fit_node_net, predict_node_net
from swx.pipeline.nodes import NET_CONFIG, NET_TRAINING
from swx.science.nodes import KP_STEPS, NodeRidge, issue_inputs, net_inputs, net_training_windows, training_set
from swx.science.series import read_doy_csv
from swx.science.storms import STORM_KP

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWX_SHARED_DATA", REPO.parent / "shared" / "data"))
SERIES = SHARED / "real-series" / "randa-code-10E-3lat"
COLUMNS = {"10N": "VTEC_10N", "40N": "VTEC_40N", "70N": "VTEC_70N"}
EPOCHS = 13  # 2-hourly, both midnights, as a day's map file


def day_maps(series: pd.DataFrame, days: list[dt.date]) -> np.ndarray:
    """(days, 13, 3, 1): each day's 2-hourly values 00..24 UT at the three latitudes (NaN where missing)."""
    out = np.full((len(days), EPOCHS, len(COLUMNS), 1), np.nan, np.float32)
    idx = series.index
    for i, d in enumerate(days):
        times = pd.date_range(pd.Timestamp(d), periods=EPOCHS, freq="2h")
        out[i, :, :, 0] = series.reindex(times).to_numpy(float) if len(idx) else np.nan
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "real_nodes.json"), help="JSON, or -")
    args = ap.parse_args(argv)
    if not SERIES.is_dir():
        raise SystemExit(f"the real series are not at {SERIES} (set SWX_SHARED_DATA)")
    raw = pd.concat([read_doy_csv(SERIES / f) for f in ("Training_data_VTEC.csv", "Test_data_VTEC.csv")])
    series = raw[list(COLUMNS.values())]
    series.index = series.index.tz_localize(None) if series.index.tz is not None else series.index
    series = series[~series.index.duplicated()].sort_index()
    days = [dt.date(2015, 1, 1) + dt.timedelta(days=k) for k in range((dt.date(2017, 12, 31) - dt.date(2015, 1, 1)).days + 1)]
    maps = day_maps(series, days)
    kp = load_indices().kp["kp"]
    kp.index = kp.index.tz_convert("UTC").tz_localize(None) if kp.index.tz is not None else kp.index
    kp_days = np.stack([kp.reindex(pd.date_range(pd.Timestamp(d), periods=KP_STEPS, freq="3h")).to_numpy(float)
                        for d in days])
    doy = np.array([d.timetuple().tm_yday for d in days])
    x, y, issued = training_set(maps, doy, kp_days)
    target_days = np.array([days[i + 1] for i in issued])
    # a target day's file ends with the next midnight: 31 December's would hold 1 January 2017 00 UT
    train = target_days <= dt.date(2016, 12, 30)
    test = target_days >= dt.date(2017, 1, 1)
    t0 = time.perf_counter()
    model = NodeRidge().fit(x[train], y[train])
    fit_s = time.perf_counter() - t0
    # the forecast, the truth and the baselines of every 2017 target day: (days, nodes, E)
    dep = np.stack([model.predict(xi) for xi in x[test]])
    truth = np.stack([maps[i + 1].reshape(EPOCHS, -1).T for i in issued[test]])
    forecast = truth - y[test] + dep  # y = truth - prior
    prior = truth - y[test]
    persistence = np.stack([maps[i].reshape(EPOCHS, -1).T for i in issued[test]])
    median = 4.0 * prior - 3.0 * persistence  # prior = 0.75 persistence + 0.25 median
    # the node network as the map trains it (every 2-hourly window of the nodes before 2017), forecasting
    # each 2017 day from the 22 UT map; the node map averages it with the ridge over its 12 epochs
    lat, lon = np.array([10.0, 40.0, 70.0]), np.array([10.0])
    steps = EPOCHS - 1
    flat = maps[:, :-1].reshape(len(days) * steps, len(COLUMNS))
    times = pd.date_range(pd.Timestamp(days[0], tz="UTC"), periods=len(flat), freq="2h")
    before = times < pd.Timestamp("2016-12-31", tz="UTC")  # windows whose targets end before 2017
    kp_utc = kp.tz_localize("UTC") if kp.index.tz is None else kp
    t1 = time.perf_counter()
    xw, yw, issued_w = net_training_windows(flat[before], times[before], kp_utc, lat, np.repeat(lon, 3),
                                            windows_per_node=100_000)
    val = issued_w >= np.quantile(issued_w, 0.95)
    net = fit_node_net(NET_CONFIG, NET_TRAINING, xw, yw, ~val, val)
    net_s = time.perf_counter() - t1
    wanted = set(int(i) for i in issued[test])
    net_fc = {i: predict_node_net(net, net_inputs(inp, days[i], lat, lon)) for i, inp in issue_inputs(maps, doy, kp_days)
              if i in wanted}
    network = forecast.copy()
    network[:, :, :steps] = np.maximum(np.stack([net_fc[int(i)] for i in issued[test]]), 0.0)
    combined = forecast.copy()
    combined[:, :, :steps] = np.maximum(0.5 * (forecast[:, :, :steps] + network[:, :, :steps]), 0.0)
    storm = np.array([np.nanmax(kp_days[i:i + 2]) >= STORM_KP for i in issued[test]])
    rows = []
    # every epoch of the map file (00..24 UT), and the 12 a station forecast issued at 22 UT covers
    # (00..22 UT: the same samples as `swx evaluate --issue-hour 22` in bench_real_skill.py)
    for epochs, cols in (("00-24", slice(None)), ("00-22", slice(0, EPOCHS - 1))):
        for label, sel in (("all", np.ones(len(storm), bool)), ("storm", storm)):
            rows += _rows(epochs, cols, label, sel, truth, {"nodes": combined, "ridge": forecast, "network": network,
                                                            "prior": prior, "persistence": persistence,
                                                            "median27": median})
    table = pd.DataFrame(rows)
    result = {"train_days": int(train.sum()), "test_days": int(test.sum()), "alpha": model.alpha_,
              "cv_rmse": model.cv_rmse_, "cv_rmse_prior": model.cv_rmse_prior_, "fit_s": round(fit_s, 2),
              "network_windows": int((~val).sum()), "network_s": round(net_s, 1), "rows": rows}
    show = table.set_index(["epochs", "kp_class", "latitude"])
    print(f"node models on the real series: trained on {result['train_days']} days (2015-2016), "
          f"{result['test_days']} target days of 2017, every 2-hourly epoch 00..24 UT of each (and 00..22 apart)")
    print("\nRMSE (TECU; nodes = the mean of the ridge and the network over 00-22 UT, the ridge at 24 UT):\n"
          + show[["days", "nodes", "ridge", "network", "prior", "persistence", "median27"]].round(2).to_string())
    print("\nskill (%):\n" + (100 * show[["skill_vs_persistence", "ridge_skill_vs_persistence",
                                            "network_skill_vs_persistence", "skill_vs_median27", "skill_vs_prior"]]).round(1)
          .to_string())
    if args.out != "-":
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"\nwrote {args.out}")
    return result


def _rows(epochs: str, cols: slice, label: str, sel: np.ndarray, truth: np.ndarray,
          forecasts: dict[str, np.ndarray]) -> list[dict]:
    """RMSE and skill per latitude and pooled over the days `sel` and the target epochs `cols`."""
    out = []
    for k, name in enumerate([*COLUMNS, "pooled"]):
        nodes = slice(None) if name == "pooled" else slice(k, k + 1)

        def rmse(a: np.ndarray) -> float:
            return float(np.sqrt(np.nanmean((a[sel][:, nodes, cols] - truth[sel][:, nodes, cols]) ** 2)))

        r = {"epochs": epochs, "kp_class": label, "latitude": name, "days": int(sel.sum()),
             **{key: rmse(a) for key, a in forecasts.items()}}
        r["skill_vs_persistence"] = 1 - r["nodes"] / r["persistence"]
        r["skill_vs_median27"] = 1 - r["nodes"] / r["median27"]
        r["skill_vs_prior"] = 1 - r["nodes"] / r["prior"]
        r["ridge_skill_vs_persistence"] = 1 - r["ridge"] / r["persistence"]
        r["network_skill_vs_persistence"] = 1 - r["network"] / r["persistence"]
        out.append(r)
    return out


if __name__ == "__main__":
    main()
