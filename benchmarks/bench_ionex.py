"""Benchmark: swx's vectorised IONEX reader against a line-by-line reference, in the same run.

Parses the complete real day files in ../shared/data/ionex from text already in memory (decompression
is not timed), checks both readers agree, and reports ms per file and the speed-up. Optionally also
times spinifex's reader when it is installed (it is not a dependency of swx).

    python benchmarks/bench_ionex.py [--repeat 15] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_ionex import parse_reference  # noqa: E402

from swx.io.compression import decompress  # noqa: E402
from swx.io.ionex import parse_ionex  # noqa: E402

DAY_FILES = ["codg0080.20i.Z", "codg0090.20i.Z", "esag0080.20i.Z", "jplg3190.15i", "igrg3380.10i",
             "IGS0OPSFIN_20243490000_01D_02H_GIM.INX.gz", "CKMG0020.22I.gz"]


def best_ms(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * min(times), 1000 * statistics.median(times)


_SPINIFEX_SNIPPET = r"""
import io, json, sys, time
from spinifex.ionospheric.ionex_parser import _read_ionex_data
out = {}
for path in sys.argv[2:]:
    text = open(path).read()
    _read_ionex_data(io.StringIO(text))
    best = min((lambda t: (_read_ionex_data(io.StringIO(text)), time.perf_counter() - t)[1])(time.perf_counter())
               for _ in range(int(sys.argv[1])))
    out[path] = 1000 * best
print(json.dumps(out))
"""


def time_spinifex(python: str, texts: dict[str, str], repeat: int, tmp: Path) -> dict[str, float]:
    """Best-of-N ms of spinifex's IONEX parser (text in memory, as for swx), run by another interpreter
    that has spinifex installed (it is not a dependency of swx)."""
    import subprocess

    paths = []
    for name, text in texts.items():
        p = tmp / name
        p.write_text(text)
        paths.append(str(p))
    res = subprocess.run([python, "-c", _SPINIFEX_SNIPPET, str(repeat), *paths], capture_output=True, text=True,
                         check=True)
    times = json.loads(res.stdout)
    return {Path(k).name: v for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path,
                    default=Path(os.environ.get("SWX_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--spinifex-python", help="a Python interpreter with spinifex installed: also time its reader")
    args = ap.parse_args()
    folder = args.data / "ionex"
    if not folder.is_dir():
        sys.exit(f"real IONEX files not found in {folder}: set SWX_SHARED_DATA")
    rows = []
    texts: dict[str, str] = {}
    print(f"{'file':45s} {'maps':>4s} {'swx ms':>8s} {'line-by-line ms':>16s} {'speed-up':>8s}")
    for name in DAY_FILES:
        raw = (folder / name).read_bytes()
        text = decompress(raw, name)
        s = text.decode("ascii")
        name = name.removesuffix(".Z").removesuffix(".gz")  # the text is already plain
        texts[name] = s
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = parse_ionex(text, name)
            ref = parse_reference(s)
            np.testing.assert_array_equal(ds.tec.values, ref["tec"])  # same numbers, or no timing
            swx_best, swx_med = best_ms(lambda: parse_ionex(text, name), args.repeat)
        ref_best, ref_med = best_ms(lambda: parse_reference(s), max(3, args.repeat // 3))
        maps = ds.sizes["time"]
        row = {"file": name, "maps": maps, "rms_maps": int(ds.attrs["rms_maps"]), "bytes": len(text),
               "swx_ms": round(swx_best, 3), "swx_median_ms": round(swx_med, 3),
               "reference_ms": round(ref_best, 3), "reference_median_ms": round(ref_med, 3),
               "speedup": round(ref_best / swx_best, 1)}
        rows.append(row)
        print(f"{name:45s} {maps:4d} {swx_best:8.2f} {ref_best:16.2f} {ref_best / swx_best:7.1f}x")
    if args.spinifex_python:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            spx = time_spinifex(args.spinifex_python, texts, args.repeat, Path(tmp))
        print(f"{'file':45s} {'spinifex ms':>11s} {'swx speed-up vs spinifex':>26s}")
        for r in rows:
            r["spinifex_ms"] = round(spx[r["file"]], 3)
            r["speedup_vs_spinifex"] = round(spx[r["file"]] / r["swx_ms"], 1)
            print(f"{r['file']:45s} {r['spinifex_ms']:11.2f} {r['speedup_vs_spinifex']:25.1f}x")
    per25 = [r for r in rows if r["maps"] == 25 and r["rms_maps"] == 25]
    summary = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}",
        "swx_ms_per_25_map_day": round(statistics.mean(r["swx_ms"] for r in per25), 2),
        "reference_ms_per_25_map_day": round(statistics.mean(r["reference_ms"] for r in per25), 2),
        "speedup_vs_line_by_line": round(statistics.mean(r["speedup"] for r in rows), 1),
        **({"spinifex_ms_per_25_map_day": round(statistics.mean(r["spinifex_ms"] for r in per25), 2),
            "speedup_vs_spinifex": round(statistics.mean(r["speedup_vs_spinifex"] for r in rows), 1)}
           if args.spinifex_python else {}),
        "note": "text in memory (decompression not timed); swx time includes the sha256 of the input and "
                "building the xarray.Dataset; best of N runs",
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"files": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
