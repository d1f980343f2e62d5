"""Benchmark: the results database on SQLite and PostgreSQL.

1. Insert 1 million observation rows (18 stations x ~6.3 years of 2-hourly vTEC) through the bulk
   path (`write_observations`), reported as rows/s; then the same again as an idempotent rerun.
2. Time the dashboard's station-series query (with the persistence and 27-day-median baselines) on
   that table (12.7 years x 18 stations) for a 30-day window and for 10 years.

    python benchmarks/bench_store.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from swx.store import queries as q
from swx.store.db import make_engine, upgrade
from swx.store.writes import upsert_stations, write_observations

N_STATIONS = 18


def stations() -> list[dict]:
    out = []
    for lon in (-120, 0, 120):
        for lat in (-85, -50, -20, 20, 50, 85):
            band = "low" if abs(lat) < 30 else "mid" if abs(lat) < 60 else "high"
            out.append(dict(code=f"S{lon:+04d}{lat:+03d}", name="", lat=float(lat), lon=float(lon), sector=str(lon),
                            lat_band=band, surface="ocean" if lon == -120 else "land"))
    return out


def frame(codes: list[str], start: str, steps: int) -> pd.DataFrame:
    t = pd.date_range(start, periods=steps, freq="2h", tz="UTC")
    rng = np.random.default_rng(0)
    parts = [pd.DataFrame({"station": c, "time": t, "vtec": 20 + 10 * np.sin(np.arange(steps) * np.pi / 6)
                           + rng.normal(0, 1, steps), "centre": "cod"}) for c in codes]
    return pd.concat(parts, ignore_index=True)


def run(url: str, schema: str | None) -> dict:
    engine = make_engine(url, schema=schema)
    upgrade(engine)
    upsert_stations(engine, stations())
    codes = [s["code"] for s in stations()]
    steps_1m = 1_000_000 // N_STATIONS
    df = frame(codes, "2010-01-01", steps_1m)
    t = time.perf_counter()
    write_observations(engine, df)
    insert_s = time.perf_counter() - t
    t = time.perf_counter()
    write_observations(engine, df)
    rerun_s = time.perf_counter() - t
    total = q.counts(engine)["observations"]  # 1M rows = 18 stations x 12.7 years, 2-hourly
    end = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

    def timed(days: int) -> float:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            s = q.station_series(engine, codes[7], end - dt.timedelta(days=days), end)
            times.append(time.perf_counter() - t0)
        assert len(s) > 0
        return 1000 * statistics.median(times)

    result = {"rows_inserted": len(df), "insert_rows_per_s": round(len(df) / insert_s),
              "rerun_rows_per_s": round(len(df) / rerun_s), "rows_in_table": total,
              "station_series_30d_ms": round(timed(30), 1), "station_series_10y_ms": round(timed(3650), 1)}
    engine.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", help="PostgreSQL URL (a temporary schema is created and dropped)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.sqlite", None)
    if args.pg:
        schema = f"swx_bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            results["postgresql"] = run(args.pg, schema)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
