"""Benchmark: training the models of 18 stations in one grouped (batched) pass against a Python loop
over the stations, same data, same epochs, in the same run; on CPU, and on CUDA when present.

    python benchmarks/bench_training.py [--windows 2000] [--epochs 3] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from swx.ml.nets import ModelConfig
from swx.ml.training import StationForecaster, TrainConfig
from swx.science.features import FEATURES


def data(s: int, n: int, f: int = len(FEATURES), seed: int = 0):
    """Random windows with swx's input columns (the departure target reads vTEC and the 27-day median)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(20, 5, (s, n, 12, f)).astype(np.float32)
    y = (x[..., :12, 0] * 0.9 + rng.normal(0, 1, (s, n, 12))).astype(np.float32)
    return x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stations", type=int, default=18)
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    x, y = data(args.stations, args.windows)
    n_tr = int(args.windows * 0.9)
    results = {"device": str(torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")),
               "torch_threads": torch.get_num_threads(), "cpu": f"{os.cpu_count()} cores",
               "stations": args.stations, "windows": args.windows, "epochs": args.epochs}
    # warm-up: the first fit imports torch.optim's machinery (~1.5 s), which is not training time
    StationForecaster(ModelConfig(n_features=x.shape[-1]), TrainConfig(epochs=1), device=args.device).fit(
        x[:1, :64], y[:1, :64], x[:1, 64:96], y[:1, 64:96])
    for arch in ("cnn", "gru", "lstm"):
        cfg = ModelConfig(architecture=arch, units=20, n_features=x.shape[-1])
        tc = TrainConfig(epochs=args.epochs, batch_size=32, patience=args.epochs)
        seeds = list(range(args.stations))
        t = time.perf_counter()
        StationForecaster(cfg, tc, station_seeds=seeds, device=args.device).fit(
            x[:, :n_tr], y[:, :n_tr], x[:, n_tr:], y[:, n_tr:])
        grouped = time.perf_counter() - t
        t = time.perf_counter()
        for s in range(args.stations):
            StationForecaster(cfg, tc, station_seeds=[s], device=args.device).fit(
                x[s:s + 1, :n_tr], y[s:s + 1, :n_tr], x[s:s + 1, n_tr:], y[s:s + 1, n_tr:])
        loop = time.perf_counter() - t
        results[arch] = {"grouped_s": round(grouped, 2), "loop_s": round(loop, 2), "speedup": round(loop / grouped, 1)}
        print(arch, results[arch], flush=True)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
