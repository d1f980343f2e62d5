"""Benchmark: a backfill of years of simulated history on PostgreSQL (issue 17), in one run.

1. A simulated archive (2-hourly maps, made by swx's simulator and writer) from --start to --end, Kp/F10.7
   from the bundled history (it starts in 2005), models of the four architectures trained on the days up to
   --train-end: the backfill's days up to then stand on the baselines (point in time), the later ones use
   the models.
2. Per-day cost of each stage, one day at a time (the daily path: a chunk of one day) vs in chunks
   (`forecast_days` / `verify_days` on --sample-days days), on the same days.
3. The Prefect backfill flow on --scale-days days with 1 and with 2 Dask workers (LocalCluster), and on an
   existing cluster by address (a scheduler and two workers started through infra/docker/entrypoint.sh on
   127.0.0.1).
4. The whole range (forecast + verify + storms) with 2 workers: the headline figure.
5. The daily incremental update replayed on --update-days days: its per-day cost, extrapolated.

    PYTHONPATH=. python benchmarks/bench_backfill.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        [--start 2005-01-01 --end 2016-12-31] [--data-dir DIR] [--json benchmarks/results/backfill.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="swx-bench-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("SWX_LOG_LEVEL", "WARNING")


def days_between(a: dt.date, b: dt.date) -> list[dt.date]:
    return [a + dt.timedelta(days=k) for k in range((b - a).days + 1)]


def timed(label: str, fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    sec = time.perf_counter() - t0
    print(f"{label}: {sec:.1f} s", flush=True)
    return out, sec


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("SWX_TEST_DATABASE_URL"))
    # 12 years, 4,383 days: the bundled Kp starts on 1 January 2005 and the simulator's storm memory
    # needs the 5 days before a day, so the range starts on the 6th
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2005, 1, 6))
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2017, 1, 5))
    ap.add_argument("--train-end", type=dt.date.fromisoformat, help="last day the models learn from (default: "
                    "--start + 119 days)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--sample-days", type=int, default=20)
    ap.add_argument("--scale-days", type=int, default=120)
    ap.add_argument("--update-days", type=int, default=3)
    ap.add_argument("--skip-full", action="store_true", help="leave out the whole-range backfill")
    ap.add_argument("--data-dir", type=Path, help="reuse (or keep) the archive here")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not args.database_url:
        ap.error("--database-url (a PostgreSQL server) is required")
    from sqlalchemy import create_engine, text

    name = f"swx_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    os.environ["SWX_DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + "/" + name
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="swx-bench-backfill-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["SWX_DATA_DIR"] = str(data_dir)
    os.environ["SWX_GIM_SOURCE"] = "simulated"
    os.environ["SWX_EXTENSION_COMPARE"] = "[]"  # the residual extension only
    result: dict = {"cpu": f"{os.cpu_count()} cores", "start": str(args.start), "end": str(args.end),
                    "days": len(days_between(args.start, args.end))}
    try:
        run(args, result, data_dir)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")


def run(args, result: dict, data_dir: Path) -> None:
    from swx.config import get_settings
    from swx.pipeline.backfill import backfill_chunk_stage, replay_updates, update_days
    from swx.pipeline.context import context
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.forecast import forecast_days
    from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage
    from swx.pipeline.storms import storms_stage
    from swx.pipeline.train import ensure_models
    from swx.pipeline.verify import verify_days

    get_settings.cache_clear()
    s = get_settings()
    migrate_database_stage(s)
    ingest_indices_stage(s)
    train_end = args.train_end or args.start + dt.timedelta(days=119)
    result["train_end"] = str(train_end)
    # the models learn from the first days only: those are archived (and the models trained) first
    _, sec0 = timed(f"simulate and archive {args.start} .. {train_end}", ingest_gims_stage, s,
                    days_between(args.start, train_end))
    _, sec = timed(f"train lstm, gru, cnn, ridge x 18 stations up to {train_end}", ensure_models, s, train_end,
                   epochs=args.epochs)
    result["prepare_models_s"] = round(sec, 1)
    _, sec1 = timed(f"simulate and archive {train_end + dt.timedelta(days=1)} .. {args.end}", ingest_gims_stage, s,
                    days_between(train_end + dt.timedelta(days=1), args.end))
    result["prepare_archive_s"] = round(sec0 + sec1, 1)

    # 2. per-day cost of each stage: one day at a time vs a chunk, on the same days
    mid = args.start + (args.end - args.start) / 2
    sample = days_between(mid, mid + dt.timedelta(days=args.sample_days - 1))
    ctx = context(s)
    forecast_days(ctx, [sample[0] - dt.timedelta(days=1)])  # imports, models loaded, land mask: once per process
    verify_days(ctx, [sample[0] - dt.timedelta(days=1)])
    per_day: dict[str, dict[str, float]] = {"one day at a time": {}, "chunk": {}}
    t = {"forecast": 0.0, "verify": 0.0, "storms": 0.0}
    for d in sample:
        t0 = time.perf_counter()
        forecast_days(ctx, [d])
        t1 = time.perf_counter()
        verify_days(ctx, [d])
        t2 = time.perf_counter()
        storms_stage(s, d - dt.timedelta(days=7), d)  # the daily flow's storms window
        t3 = time.perf_counter()
        t["forecast"] += t1 - t0
        t["verify"] += t2 - t1
        t["storms"] += t3 - t2
    per_day["one day at a time"] = {k: round(v / len(sample), 3) for k, v in t.items()}
    t0 = time.perf_counter()
    forecast_days(ctx, sample, recompute_from=sample[0])
    t1 = time.perf_counter()
    verify_days(ctx, sample)
    t2 = time.perf_counter()
    storms_stage(s, sample[0], sample[-1])
    t3 = time.perf_counter()
    per_day["chunk"] = {"forecast": round((t1 - t0) / len(sample), 3), "verify": round((t2 - t1) / len(sample), 3),
                        "storms": round((t3 - t2) / len(sample), 3)}
    result["per_day_s"] = per_day
    print("per-day seconds:", json.dumps(per_day), flush=True)
    ctx.engine.dispose()

    # 3. the flow: 1 vs 2 LocalCluster workers, then a cluster by address, on the same days
    from flows.backfill import _runner, backfill

    scale = days_between(train_end + dt.timedelta(days=1), train_end + dt.timedelta(days=args.scale_days))
    steps = ["forecast", "verify", "storms"]

    def flow(label: str) -> float:
        get_settings.cache_clear()
        t0 = time.perf_counter()
        out = backfill.with_options(task_runner=_runner())(start=scale[0], end=scale[-1], steps=steps, force=True)
        sec = time.perf_counter() - t0
        print(f"{label}: {len(scale)} days in {sec:.1f} s = {len(scale) / sec * 60:.1f} days/min "
              f"({out['runs']} runs, {len(out['failed'])} failed)", flush=True)
        return sec

    scaling = {}
    for workers in (1, 2):
        os.environ["SWX_DASK_WORKERS"] = str(workers)
        sec = flow(f"{workers} LocalCluster worker(s)")
        scaling[f"{workers} workers"] = {"seconds": round(sec, 1), "days_per_min": round(len(scale) / sec * 60, 1)}
    scaling["speedup_2_vs_1"] = round(scaling["1 workers"]["seconds"] / scaling["2 workers"]["seconds"], 2)
    port = free_port()
    env = {**os.environ, "SWX_PYTHON": sys.executable, "SWX_DASK_ADDRESS": f"tcp://127.0.0.1:{port}",
           "SWX_DASK_NWORKERS": "2"}
    entry = str(REPO / "infra" / "docker" / "entrypoint.sh")
    procs = [subprocess.Popen(["bash", entry, "dask-scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", f"127.0.0.1:{free_port()}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(5)
    procs.append(subprocess.Popen(["bash", entry, "dask-worker", "--host", "127.0.0.1", "--dashboard-address",
                                   f"127.0.0.1:{free_port()}"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        from distributed import Client

        with Client(env["SWX_DASK_ADDRESS"], timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        os.environ["SWX_DASK_ADDRESS"] = env["SWX_DASK_ADDRESS"]
        sec = flow("cluster by address (scheduler + 2 workers via entrypoint.sh)")
        scaling["cluster by address"] = {"seconds": round(sec, 1), "days_per_min": round(len(scale) / sec * 60, 1)}
    finally:
        os.environ.pop("SWX_DASK_ADDRESS", None)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    result["scaling"] = {"days": len(scale), **scaling}

    # 4. the whole range, 2 workers
    if not args.skip_full:
        os.environ["SWX_DASK_WORKERS"] = "2"
        get_settings.cache_clear()
        t0 = time.perf_counter()
        out = backfill.with_options(task_runner=_runner())(start=args.start, end=args.end, steps=steps, force=True)
        sec = time.perf_counter() - t0
        result["full"] = {"seconds": round(sec, 1), "minutes": round(sec / 60, 1), "runs": out["runs"],
                          "degraded": out["degraded"], "failed": len(out["failed"]), "verified": out["verified"],
                          "storm_events": out.get("storms"), "days_per_min": round(result["days"] / sec * 60, 1)}
        print(f"whole range, 2 workers: {result['days']} days in {sec / 60:.1f} min", flush=True)

    # 5. the daily update replayed (walk-forward), then those days forecast
    get_settings.cache_clear()
    s = get_settings()
    upd = days_between(args.end + dt.timedelta(days=1) - dt.timedelta(days=args.update_days), args.end)
    _, sec_u = timed(f"replay the update of {len(upd)} day(s)", replay_updates, s, update_days(upd))
    _, sec_c = timed("then forecast + verify those days", backfill_chunk_stage, s, upd, steps, upd[0], force=True)
    result["replay"] = {"days": len(upd), "update_s_per_day": round(sec_u / len(upd), 1),
                        "forecast_verify_s_per_day": round(sec_c / len(upd), 2),
                        "whole_range_hours_1_worker": round((sec_u + sec_c) / len(upd) * result["days"] / 3600, 1)}
    print("replay:", json.dumps(result["replay"]), flush=True)


if __name__ == "__main__":
    main()
