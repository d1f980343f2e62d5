"""Benchmark: time to build one global forecast day (all epochs, mean + uncertainty map) with each
extension method, in the same run, on real GIM days from ../shared, from 18 stations and from the
dense 10° x 20° catalog (306 stations); with the RMSE of each rebuilt day beside its time.

    python benchmarks/bench_extension.py [--repeat 3] [--json benchmarks/results/extension.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from swx.io.ionex import IonexWarning, read_ionex
from swx.science.extend import METHODS, extend, persistence_prior, stations_from_maps
from swx.science.stations import dense_catalog, load_catalog
from swx.science.verify import map_scores

SHARED = Path(os.environ.get("SWX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
DAYS = [("esag0080.20i.Z", "esag0090.20i.Z"), ("codg0080.20i.Z", "codg0090.20i.Z")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dense", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    catalogs = {"18": load_catalog()}
    if args.dense:
        catalogs["dense306"] = dense_catalog()
    rows = []
    for a, b in DAYS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IonexWarning)
            prev, target = read_ionex(SHARED / "ionex" / a)["tec"], read_ionex(SHARED / "ionex" / b)["tec"]
        times = target["time"].values[np.isin(target["time"].values - np.timedelta64(1, "D"), prev["time"].values)]
        prior = persistence_prior(prev, times)
        truth = target.sel(time=times)
        for cat, stations in catalogs.items():
            lat, lon = np.array([s.lat for s in stations]), np.array([s.lon for s in stations])
            values = stations_from_maps(truth, lat, lon)
            for method in METHODS:
                repeat = 1 if (cat != "18" and method != "idw") else args.repeat
                best = float("inf")
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    out = extend(prior, values, method)
                    best = min(best, time.perf_counter() - t0)
                s = map_scores(out["tec"].values, truth.values, truth["lat"].values, truth["lon"].values,
                               persistence=prior.values)[0]
                rows.append(dict(day=b, maps=len(times), stations=len(stations), method=method, seconds=round(best, 3),
                                 rmse=round(s["rmse"], 3), rmse_persistence=round(s["rmse_persistence"], 3)))
                print(f"{b:16s} {len(times):3d} maps {len(stations):4d} stations {method:9s} {best:8.3f} s "
                      f"RMSE {s['rmse']:.3f} (persistence {s['rmse_persistence']:.3f})", flush=True)
    for r in rows:  # ratios against IDW (the plain baseline) in the same run
        base = next(x for x in rows if x["day"] == r["day"] and x["stations"] == r["stations"] and x["method"] == "idw")
        r["time_vs_idw"] = round(r["seconds"] / base["seconds"], 1)
    if args.json:
        args.json.write_text(json.dumps({"cpu": f"{os.cpu_count()} cores", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
