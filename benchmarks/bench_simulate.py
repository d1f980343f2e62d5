"""Benchmark: a year of simulated hourly GIMs (25 maps a day, IONEX text, gzip), against evaluating
NeQuick-G directly at every grid point of every map, measured on a sample in the same run.

    python benchmarks/bench_simulate.py [--year 2015] [--days 365] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import tempfile
import time
from pathlib import Path

from swx.sources.indices.history import load_history
from swx.sources.simulated import BASIS_YEAR, GimSimulator, SimulationConfig, load_basis


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--year", type=int, default=2015)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        t = time.perf_counter()
        basis = load_basis(Path(cache))
        tabulate_s = time.perf_counter() - t
    sim = GimSimulator(basis, load_history(), SimulationConfig(cadence_min=60))
    day0 = dt.date(args.year, 1, 1)
    t = time.perf_counter()
    size = 0
    for k in range(args.days):
        size += len(gzip.compress(sim.ionex(day0 + dt.timedelta(days=k)).encode(), compresslevel=1, mtime=0))
    year_s = time.perf_counter() - t
    # Direct NeQuick-G: time one full map (71 x 73 points) and scale to the same number of maps.
    import nequick

    model = nequick.NeQuick(120.0, 0.0, 0.0)
    t = time.perf_counter()
    for lat in range(71):
        for lon in range(73):
            model.compute_vtec(dt.datetime(BASIS_YEAR, 3, 15, 12), -180.0 + 5 * lon, 87.5 - 2.5 * lat)
    map_s = time.perf_counter() - t
    maps = args.days * 25
    direct_s = map_s * maps
    result = {
        "cpu": f"{os.cpu_count()} cores",
        "days": args.days, "maps": maps, "gzip_mb": round(size / 1e6, 1),
        "tabulate_nequick_s (once, cached)": round(tabulate_s, 1),
        "simulate_write_s": round(year_s, 1),
        "direct_nequick_s (estimated from one map)": round(direct_s, 0),
        "speedup_vs_direct": round(direct_s / year_s, 0),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
