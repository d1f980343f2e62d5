"""Benchmark: the node models of the global map, in one run on the demo's data folder (after `make run`).

1. Training the node models on two years of archived maps (every node of the grid): wall time, and the
   process's peak memory.
2. The cost of a forecast day with the node map (node forecast, the station-corrected member, the
   blend's weights from the verified maps, the calibration) against the seed's map (the stations
   alone), on the same days of a copy of the data folder: per day and the ratio.

    .venv/bin/python benchmarks/bench_nodes.py [--data-dir var] [--days 5] [--json benchmarks/results/nodes.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("SWX_LOG_LEVEL", "WARNING")


def _context(data_dir: Path, map_model: str):
    from swx.config import get_settings
    from swx.pipeline.context import context

    os.environ["SWX_DATA_DIR"] = str(data_dir)
    os.environ["SWX_MAP_MODEL"] = map_model
    os.environ.pop("SWX_DATABASE_URL", None)
    get_settings.cache_clear()
    return context(get_settings())


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", default=str(REPO / "var"), help="the main job's data folder (make run)")
    ap.add_argument("--days", type=int, default=5, help="forecast days timed per configuration")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "nodes.json"), help="JSON, or -")
    args = ap.parse_args(argv)
    src = Path(args.data_dir)
    if not (src / "archive").is_dir():
        raise SystemExit(f"no archive under {src}: run `make run` first")
    from swx.pipeline.forecast import forecast
    from swx.pipeline.nodes import train_node_model

    out: dict = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        shutil.copytree(src, data, ignore=shutil.ignore_patterns("prefect", "products"))
        ctx = _context(data, "nodes")
        days = ctx.archive.gim_days(ctx.centre)
        end = days[-1] - dt.timedelta(days=args.days + 1)
        t0 = time.perf_counter()
        got = train_node_model(ctx, end)
        out["train_s"] = round(time.perf_counter() - t0, 1)
        out["train_days"] = got["n_days"]
        out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)
        issue_days = [end + dt.timedelta(days=k) for k in range(args.days)]
        for model in ("stations", "nodes"):
            ctx = _context(data, model)
            forecast(ctx, issue_days[0] - dt.timedelta(days=1))  # warm: caches, imports
            t0 = time.perf_counter()
            for d in issue_days:
                forecast(ctx, d)
            out[f"{model}_s_per_day"] = round((time.perf_counter() - t0) / len(issue_days), 2)
        out["ratio"] = round(out["nodes_s_per_day"] / out["stations_s_per_day"], 2)
    print(f"node models: trained on {out['train_days']} days in {out['train_s']} s (peak memory "
          f"{out['peak_rss_gb']} GB, {out['cpus']} CPUs); a forecast day: {out['nodes_s_per_day']} s with the node map, "
          f"{out['stations_s_per_day']} s with the stations' map ({out['ratio']}x)")
    if args.json != "-":
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
