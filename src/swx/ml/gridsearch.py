"""Hyper-parameter grid search as in the method (units 5-100, batch 16-128, epochs), run in parallel
with Dask: local processes by default; with a `dask.distributed` Client active (e.g. connected to
`SWX_DASK_ADDRESS`), the same code runs on that cluster. Every combination trains all stations at
once (grouped) and is scored on the validation windows in TECU."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import dask
import numpy as np
import pandas as pd

from swx.io.atomic import atomic_write_text
from swx.ml.nets import ModelConfig
from swx.ml.training import StationForecaster, TrainConfig

METHOD_GRID = {"units": [5, 10, 15, 20, 50, 100], "batch_size": [16, 32, 64, 128], "epochs": [20, 50, 100]}


def _fit_one(x_tr, y_tr, x_va, y_va, architecture: str, units: int, batch_size: int, epochs: int,
             seed: int) -> dict:
    import torch  # in the Dask worker process that runs the task

    torch.set_num_threads(1)  # parallelism comes from Dask's workers
    t = time.perf_counter()
    cfg = ModelConfig(architecture=architecture, units=units, n_features=x_tr.shape[-1])
    est = StationForecaster(cfg, TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed),
                            station_seeds=[seed * 1000 + i for i in range(x_tr.shape[0])], device="cpu")
    est.fit(x_tr, y_tr, x_va, y_va)
    pred, _ = est.predict(x_va)
    rmse = np.sqrt(np.mean((pred - y_va) ** 2, axis=(1, 2)))
    return {"architecture": architecture, "units": units, "batch_size": batch_size, "epochs": epochs,
            "epochs_run": len(est.history["val"]), "val_rmse": float(rmse.mean()),
            "val_rmse_per_station": [float(v) for v in rmse], "seconds": round(time.perf_counter() - t, 2)}


def grid_search(x_tr: np.ndarray, y_tr: np.ndarray, x_va: np.ndarray, y_va: np.ndarray, architecture: str,
                grid: dict[str, list[int]] | None = None, *, seed: int = 0, scheduler: str | None = "processes",
                num_workers: int | None = None) -> pd.DataFrame:
    """Every combination of `grid` (default: the method's), best first. `scheduler=None` uses the
    active Dask client or config (a cluster)."""
    grid = grid or METHOD_GRID
    data = [dask.delayed(a, traverse=False) for a in (x_tr, y_tr, x_va, y_va)]  # shipped once, not per task
    tasks = [dask.delayed(_fit_one)(*data, architecture, u, b, e, seed)
             for u, b, e in itertools.product(grid["units"], grid["batch_size"], grid["epochs"])]
    kwargs = {"scheduler": scheduler} if scheduler else {}
    if num_workers and scheduler in ("processes", "threads"):
        kwargs["num_workers"] = num_workers
    results = dask.compute(*tasks, **kwargs)
    return pd.DataFrame(results).sort_values("val_rmse", ignore_index=True)


def save_results(df: pd.DataFrame, path: str | Path) -> Path:
    """Record a search (JSON rows, atomically)."""
    return atomic_write_text(path, json.dumps(json.loads(df.to_json(orient="records")), indent=1))
