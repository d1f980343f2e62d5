"""Measurement: does a dense station network (10° x 20° nodes, 306 virtual stations) beat extending
from the method's 18 stations, when the station values are *forecasts* (not the truth)?

On the simulated demo archive (2014-12-01 .. 2015-03-31, 2-hourly maps; the simulator is the only
source with enough days here to train 306 station models): one grouped CNN per catalog trained to
2015-03-10, then every day from 2015-03-11 the 24 h station forecasts issued at 22 UT are extended to
the next day's map and scored against that day's (simulated) truth, beside the persistence map.

    python benchmarks/dense_vs_18.py [--epochs 10] [--json benchmarks/results/dense_vs_18.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from swx.archive import Archive, load_indices
from swx.config import Settings
from swx.ml.dataset import split_for_training
from swx.ml.nets import ModelConfig
from swx.ml.training import StationForecaster, TrainConfig
from swx.pipeline.context import Context
from swx.pipeline.context import station_dataset as dataset
from swx.pipeline.days import daterange
from swx.pipeline.ingest import ingest_gims
from swx.science.extend import StationValues, extend, persistence_prior
from swx.science.stations import dense_catalog, load_catalog
from swx.sources.simulated import simulated_source

START, END, TRAIN_END = dt.date(2014, 12, 1), dt.date(2015, 3, 31), dt.date(2015, 3, 10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="swx-dense-"))
    settings = Settings(_env_file=None, data_dir=data_dir, sim_cadence_min=120,
                        cache_dir=Path(os.environ.get("SWX_CACHE_DIR", data_dir / "cache")))
    archive = Archive(settings.archive_dir)
    src = simulated_source(settings, load_indices(archive))
    ingest_gims(src, archive, [("sim", d) for d in daterange(START, END)])
    rows = []
    for name, stations in (("18", load_catalog()), ("dense306", dense_catalog())):
        ctx = Context(settings, archive, stations, "sim")
        t0 = time.perf_counter()
        ds, _ = dataset(ctx, START, END)
        tr, va, _ = split_for_training(ds, TRAIN_END)
        est = StationForecaster(ModelConfig("cnn", units=20, n_features=ds.x.shape[-1]),
                                TrainConfig(epochs=args.epochs, batch_size=32), device="cpu")
        est.fit(*ds.take(tr), *ds.take(va))
        train_s = time.perf_counter() - t0
        # each station model's validation RMSE: its forecast uncertainty when the model gives none
        val_pred, _ = est.predict(ds.x[:, va])
        val_rmse = np.sqrt(np.nanmean((val_pred - ds.y[:, va]) ** 2, axis=(1, 2)))
        lat, lon = np.array([s.lat for s in stations]), np.array([s.lon for s in stations])
        for day in daterange(TRAIN_END + dt.timedelta(days=1), END - dt.timedelta(days=1)):
            issue = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=22)
            k = ds.issue.get_indexer([issue])[0]
            if k < 0:
                continue
            mean, _ = est.predict(ds.x[:, k:k + 1])
            times = pd.DatetimeIndex([issue + pd.Timedelta(hours=2 * j) for j in range(1, 13)]).tz_localize(None).to_numpy()
            with archive.open_gim("sim", day) as today, archive.open_gim("sim", day + dt.timedelta(days=1)) as nxt:
                prior = persistence_prior(today["tec"].load(), times.astype("datetime64[ns]"))
                truth = nxt["tec"].sel(time=times).values
            fc = mean[:, 0].T.astype(float)  # (time, station)
            sigma = np.broadcast_to(val_rmse, fc.shape).astype(float)
            t_ns = times.astype("datetime64[ns]")
            pers = float(np.sqrt(np.mean((prior.values - truth) ** 2)))
            y_st = ds.y[:, k].T  # the true station values of these 12 steps
            p_st = ds.x[:, k, :, 0].T  # persistence at the stations: the inputs 24 h earlier
            st_rmse = float(np.sqrt(np.mean((fc - y_st) ** 2)))
            st_pers = float(np.sqrt(np.mean((p_st - y_st) ** 2)))
            for label, method, sig in (("residual", "residual", None), ("residual+val_sigma", "residual", sigma),
                                       ("idw", "idw", None)):
                t1 = time.perf_counter()
                g = extend(prior, StationValues(t_ns, lat, lon, fc, sig), method)["tec"].values
                rows.append(dict(catalog=name, stations=len(stations), day=str(day + dt.timedelta(days=1)),
                                 method=label, rmse=float(np.sqrt(np.mean((g - truth) ** 2))), rmse_persistence=pers,
                                 station_rmse=st_rmse, station_rmse_persistence=st_pers,
                                 extend_s=time.perf_counter() - t1, train_s=train_s))
        print(f"{name}: trained in {train_s:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    summary = df.groupby(["catalog", "method"]).agg(days=("day", "count"), rmse=("rmse", "mean"),
                                                    rmse_persistence=("rmse_persistence", "mean"),
                                                    station_rmse=("station_rmse", "mean"),
                                                    station_rmse_persistence=("station_rmse_persistence", "mean"),
                                                    extend_s=("extend_s", "mean"), train_s=("train_s", "first"))
    summary["skill_vs_persistence"] = 1 - summary.rmse / summary.rmse_persistence
    print(summary.round(3).to_string())
    if args.json:
        args.json.write_text(json.dumps({"cpu": f"{os.cpu_count()} cores", "epochs": args.epochs,
                                         "summary": summary.reset_index().round(4).to_dict(orient="records"),
                                         "days": df.round(4).to_dict(orient="records")}, indent=1) + "\n")


if __name__ == "__main__":
    main()
