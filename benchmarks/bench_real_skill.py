"""Skill on real data, through the product's own commands: the shared CODE vTEC series at 10°E
10°N/40°N/70°N imported as three stations (`swx import-series`), models trained through 2016
(`swx train --train-end 2016-12-31`), every 2-hourly issue time of 2017 scored (`swx evaluate`) —
each architecture, the ridge member and the walk-forward blend beside persistence and the 27-day
median, per latitude and pooled, all days and storm days apart; then the forecasts issued at 22 UT
alone (the daily run's schedule, the samples the node models of the map are scored on); then the
second day's models (`--lead-day 2`: hours 26-48 after each issue time, the same training) beside
persistence and the 27-day median known at the issue time.

    .venv/bin/python benchmarks/bench_real_skill.py                       # all four models, 5-member ensembles
    .venv/bin/python benchmarks/bench_real_skill.py --arch cnn --arch ridge --ensemble 5 --out -

Writes benchmarks/results/real_skill.json (or --out) and prints the tables recorded in docs/forecasting.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SWX_SHARED_DATA", REPO.parent / "shared" / "data"))
SERIES = SHARED / "real-series" / "randa-code-10E-3lat"
STATIONS = {"R10N": ("VTEC_10N", 10.0), "R40N": ("VTEC_40N", 40.0), "R70N": ("VTEC_70N", 70.0)}
DAILY_ISSUE_HOUR = 22  # the daily run issues from the map of 22 UT: its forecast covers the next UT day
ANCHOR = {"R10N": 0.13, "R40N": 0.22, "R70N": 0.18}  # the plain ridge regression of the issue, per latitude
SECOND_DAY_ANCHOR = {"R10N": 0.12, "R40N": 0.20, "R70N": 0.15}  # the same ridge, hours 24-48 after the cutoff


def write_station_csvs(folder: Path) -> dict[str, Path]:
    """The shared semicolon file (Year; DOY; Hour; VTEC_10N; VTEC_40N; VTEC_70N; 0 = missing) as one
    time,vtec CSV per station — the format `swx import-series` reads."""
    from swx.science.series import read_doy_csv

    d = pd.concat([read_doy_csv(SERIES / f, zero_is_missing=False)
                   for f in ("Training_data_VTEC.csv", "Test_data_VTEC.csv")])
    out = {}
    for code, (col, _) in STATIONS.items():
        out[code] = folder / f"{code}.csv"
        pd.DataFrame({"time": d.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "vtec": d[col].to_numpy()}).to_csv(out[code], index=False)
    return out


def swx(*args: str, env: dict[str, str]) -> str:
    exe = Path(sys.executable).parent / "swx"
    r = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"swx {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def pooled(rows: pd.DataFrame) -> pd.DataFrame:
    """Per model and Kp class: RMSE per station and pooled over the stations, skill vs persistence."""
    from swx.science.verify import pooled_skill

    st = rows[rows.scope == "station"] if "scope" in rows else rows[rows.station.isin(STATIONS)]
    st = st.rename(columns={"station": "station_code"})
    per = pooled_skill(st, ["station_code", "kp_class"])
    allst = pooled_skill(st, ["kp_class"]).assign(station_code="pooled")
    return pd.concat([per, allst], ignore_index=True)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", action="append", help="models to train (repeat); default lstm, gru, cnn, ridge")
    ap.add_argument("--ensemble", type=int, default=5, help="members per network (Gaussian heads)")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--target", default="departure", help="departure (default) or level")
    ap.add_argument("--no-second-day", dest="second_day", action="store_false",
                    help="skip the second day's models (hours 26-48)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "real_skill.json"), help="JSON, or - for none")
    args = ap.parse_args(argv)
    if not SERIES.is_dir():
        raise SystemExit(f"the real series are not at {SERIES} (set SWX_SHARED_DATA)")
    archs = args.arch or ["lstm", "gru", "cnn", "ridge"]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "SWX_DATA_DIR": tmp, "SWX_DATABASE_URL": "", "SWX_DEVICE": "cpu"}
        swx("db", "upgrade", env=env)
        swx("ingest", "kp", "--source", "bundled", env=env)
        for code, path in write_station_csvs(Path(tmp)).items():
            swx("import-series", str(path), "--station", code, "--lat", str(STATIONS[code][1]), "--lon", "10", env=env)
        stations = [a for code in STATIONS for a in ("--station", code)]
        training = [*stations, *[a for arch in archs for a in ("--arch", arch)], "--train-end", "2016-12-31",
                    "--epochs", str(args.epochs), "--batch-size", "64", "--ensemble", str(args.ensemble), "--target",
                    args.target, *(["--gaussian"] if args.ensemble > 1 else [])]
        t_train = time.perf_counter()
        swx("train", *training, env=env)
        t_eval = time.perf_counter()
        text = swx("evaluate", "--start", "2017-01-01", "--end", "2017-12-31", *stations, "--format", "json", env=env)
        t_done = time.perf_counter()
        # the daily run's schedule: one forecast a day, issued from the 22 UT map (the node models' samples)
        daily_text = swx("evaluate", "--start", "2017-01-01", "--end", "2017-12-31", *stations, "--issue-hour",
                         str(DAILY_ISSUE_HOUR), "--format", "json", env=env)
        # the second day (hours 26-48 after each issue time): its own models, the same training
        second: dict[str, str] = {}
        if args.second_day:
            t2 = time.perf_counter()
            swx("train", *training, "--lead-day", "2", env=env)
            second["train_s"] = str(round(time.perf_counter() - t2, 1))
            second["all"] = swx("evaluate", "--start", "2017-01-01", "--end", "2017-12-31", *stations, "--lead-day",
                                "2", "--format", "json", env=env)
            second["daily"] = swx("evaluate", "--start", "2017-01-01", "--end", "2017-12-31", *stations,
                                  "--issue-hour", str(DAILY_ISSUE_HOUR), "--lead-day", "2", "--format", "json", env=env)
    rows = pd.DataFrame(json.loads(text[text.index("["): text.rindex("]") + 1]))
    daily = pooled(pd.DataFrame(json.loads(daily_text[daily_text.index("["): daily_text.rindex("]") + 1])))
    table = pooled(rows)
    cover = rows[rows.station.isin(STATIONS) & (rows.kp_class == "all")].pivot_table(
        index="model", columns="station", values="coverage95")
    result = {"archs": archs, "ensemble": args.ensemble, "target": args.target, "train_s": round(t_eval - t_train, 1),
              "evaluate_s": round(t_done - t_eval, 1), "total_s": round(t_done - t0, 1),
              "rows": table.replace({np.nan: None}).to_dict(orient="records"),
              "coverage95": cover.round(3).replace({np.nan: None}).to_dict(orient="index"),
              "daily_issue_hour": DAILY_ISSUE_HOUR,
              "daily_rows": daily.replace({np.nan: None}).to_dict(orient="records")}
    if second:
        rows2 = pooled(pd.DataFrame(json.loads(second["all"][second["all"].index("["): second["all"].rindex("]") + 1])))
        daily2 = pooled(pd.DataFrame(json.loads(second["daily"][second["daily"].index("["):
                                                                 second["daily"].rindex("]") + 1])))
        result["second_day"] = {"train_s": float(second["train_s"]),
                                "rows": rows2.replace({np.nan: None}).to_dict(orient="records"),
                                "daily_rows": daily2.replace({np.nan: None}).to_dict(orient="records")}
    show = table[table.kp_class.isin(["all", "storm"])].copy()
    show["skill_persistence"] = (100 * show["skill_persistence"]).round(1)
    show["skill_median27"] = (100 * show["skill_median27"]).round(1)
    wide = show.pivot_table(index=["kp_class", "model"], columns="station_code", values="skill_persistence")
    rmse = show.pivot_table(index=["kp_class", "model"], columns="station_code", values="rmse").round(2)
    print(f"models {archs}, target {args.target}, ensemble {args.ensemble}: train {result['train_s']} s, evaluate {result['evaluate_s']} s")
    print("\nRMSE (TECU), 2017, every 2-hourly issue time:\n" + rmse.to_string())
    print("\nSkill vs persistence (%):\n" + wide.to_string())
    once = daily[daily.kp_class == "all"].pivot_table(index="model", columns="station_code", values="skill_persistence")
    print(f"\nSkill vs persistence (%), only the forecasts issued at {DAILY_ISSUE_HOUR} UT (the daily run's):\n"
          + (100 * once).round(1).to_string())
    print("\n95 % interval coverage:\n" + cover.round(3).to_string())
    print("\nridge anchor of the issue (%): " + ", ".join(f"{k} {100 * v:.0f}" for k, v in ANCHOR.items()))
    if second:
        for label, frame in (("every 2-hourly issue time", rows2), (f"issued at {DAILY_ISSUE_HOUR} UT", daily2)):
            two = frame[frame.kp_class == "all"].pivot_table(index="model", columns="station_code",
                                                             values="skill_persistence")
            print(f"\nSecond day (hours 26-48 after the issue time), skill vs persistence at the same lead (%), "
                  f"{label}:\n" + (100 * two).round(1).to_string())
        print("second-day ridge anchor of the issue (%): " + ", ".join(f"{k} {100 * v:.0f}"
                                                                        for k, v in SECOND_DAY_ANCHOR.items()))
    if args.out != "-":
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"\nwrote {args.out}")
    return result


if __name__ == "__main__":
    main()
