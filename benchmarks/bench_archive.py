"""Benchmark: writing and reading one archived GIM day (netCDF4, zlib 1), the direct netCDF4 path that
swx uses (swx.io.maps_netcdf) against xarray's own encoding and decoding of the same file, as ratios in
one run. The day is a real IONEX file from ../shared (CODE, hourly, 25 maps with their RMS maps).

    python benchmarks/bench_archive.py [--repeats 30] [--out benchmarks/results/archive.json | -]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import xarray as xr

from swx.io.ionex import read_ionex
from swx.io.maps_netcdf import COMPRESSION, TIME_CALENDAR, TIME_UNITS, read_tec, write_maps

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWX_SHARED_DATA", REPO.parent / "shared" / "data"))
DAY = SHARED / "ionex" / "codg0090.20i.Z"


def _ms(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "archive.json"), help="JSON, or - for none")
    args = ap.parse_args()
    ds = read_ionex(DAY)
    encoding = {v: dict(COMPRESSION) for v in ds.data_vars}
    encoding["time"] = {"units": TIME_UNITS, "calendar": TIME_CALENDAR, "dtype": "int64"}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        res = {"day": DAY.name, "maps": int(ds.sizes["time"]), "repeats": args.repeats}
        res["write_xarray_ms"] = _ms(lambda i: ds.to_netcdf(d / f"x{i}.nc", engine="netcdf4", encoding=encoding),
                                     args.repeats)
        res["write_direct_ms"] = _ms(lambda i: write_maps(ds, d / f"y{i}.nc"), args.repeats)

        def read_xarray(i):
            with xr.open_dataset(d / f"y{i}.nc", engine="netcdf4") as f:
                f["tec"].load()

        res["read_xarray_ms"] = _ms(read_xarray, args.repeats)
        res["read_direct_ms"] = _ms(lambda i: read_tec(d / f"y{i}.nc"), args.repeats)
    res["write_speedup"] = round(res["write_xarray_ms"] / res["write_direct_ms"], 2)
    res["read_speedup"] = round(res["read_xarray_ms"] / res["read_direct_ms"], 2)
    print(json.dumps(res, indent=1))
    if args.out != "-":
        Path(args.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
