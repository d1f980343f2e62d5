"""Benchmark: backfill throughput (days/min) with 1 vs 2 Dask worker processes, same days, same
models, in one run (forecast + verify steps; the archive is ingested beforehand), on the simulated
demo archive with hourly maps, against PostgreSQL (a fresh database on the server of --database-url;
SQLite backfills run in one process, so workers only matter on PostgreSQL).

    PYTHONPATH=. python benchmarks/bench_backfill.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \
        [--days 10] [--json benchmarks/results/backfill.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="swx-bench-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--database-url", default=os.environ.get("SWX_TEST_DATABASE_URL"), required=False)
    args = ap.parse_args()
    if not args.database_url:
        ap.error("--database-url (a PostgreSQL server) is required")
    import uuid

    from sqlalchemy import create_engine, text

    name = f"swx_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    os.environ["SWX_DATABASE_URL"] = args.database_url.rsplit("/", 1)[0] + "/" + name
    os.environ["SWX_DATA_DIR"] = tempfile.mkdtemp(prefix="swx-bench-backfill-")
    from swx.config import get_settings
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage
    from swx.pipeline.train import ensure_models

    get_settings.cache_clear()
    s = get_settings()
    end = s.demo_end - dt.timedelta(days=1)
    start = end - dt.timedelta(days=args.days - 1)
    days = [s.demo_start + dt.timedelta(days=k) for k in range((s.demo_end - s.demo_start).days + 1)]
    migrate_database_stage(s)
    ingest_indices_stage(s)
    ingest_gims_stage(s, days)
    ensure_models(s, start - dt.timedelta(days=1), epochs=10)

    from flows.backfill import backfill

    results = {}
    for workers in (1, 2):
        os.environ["SWX_DASK_WORKERS"] = str(workers)
        get_settings.cache_clear()
        t0 = time.perf_counter()
        backfill.with_options(task_runner=__import__("flows.backfill", fromlist=["_runner"])._runner())(
            start=start, end=end, steps=["forecast", "verify"], chunk_days=args.days, force=True)
        sec = time.perf_counter() - t0
        results[workers] = {"seconds": round(sec, 1), "days_per_min": round(args.days / sec * 60, 2)}
        print(f"{workers} worker(s): {args.days} days in {sec:.1f} s = {args.days / sec * 60:.2f} days/min", flush=True)
    results["speedup_2_vs_1"] = round(results[1]["seconds"] / results[2]["seconds"], 2)
    print(f"2 workers vs 1: {results['speedup_2_vs_1']}x")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if args.json:
        args.json.write_text(json.dumps({"cpu": f"{os.cpu_count()} cores", "days": args.days, **{str(k): v for k, v in
                                                                                                 results.items()}},
                                        indent=1) + "\n")


if __name__ == "__main__":
    main()
