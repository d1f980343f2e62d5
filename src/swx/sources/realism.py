"""Summary statistics of GIMs — global mean, diurnal amplitude, latitude profile, 24 h persistence
error — used to compare simulated maps with real ones on the same days."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.config import LAT_BANDS, lat_bands
from swx.errors import DataFormatError, SwxError
from swx.io.gim_names import product_level
from swx.io.ionex import read_ionex
from swx.sources.gim import LocalDirectorySource
from swx.sources.simulated import day_of_year, level_terms


def _weights(lat: np.ndarray) -> np.ndarray:
    return np.cos(np.radians(lat))


def band_mean(field: np.ndarray, lat: np.ndarray, band: str) -> float:
    """Area-weighted mean over a latitude band (both hemispheres) of a (lat, lon) field."""
    sel = lat_bands(lat) == band
    w = _weights(lat[sel])[:, None] * np.isfinite(field[sel])
    return float(np.nansum(field[sel] * w) / w.sum())


def global_mean(field: np.ndarray, lat: np.ndarray) -> float:
    w = _weights(lat)[:, None] * np.isfinite(field)
    return float(np.nansum(field * w) / w.sum())


def day_stats(ds: xr.Dataset) -> dict[str, float]:
    """Statistics of one day of maps (the 24:00 map, if present, is left out)."""
    t = ds["time"].values
    tec = ds["tec"].values[:-1] if (t[-1] - t[0]) >= np.timedelta64(24, "h") else ds["tec"].values
    lat = ds["lat"].values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # grid points with no value at all
        mean_map = np.nanmean(tec, axis=0)
        amplitude = np.nanmax(tec, axis=0) - np.nanmin(tec, axis=0)
    out = {"global_mean": global_mean(mean_map, lat), "max": float(np.nanmax(tec))}
    for band in LAT_BANDS:
        out[f"mean_{band}"] = band_mean(mean_map, lat, band)
        out[f"diurnal_{band}"] = band_mean(amplitude, lat, band)
    return out


def persistence_rmse(today: xr.Dataset, yesterday: xr.Dataset) -> float:
    """Area-weighted RMSE of yesterday's maps used as today's forecast (same UT epochs)."""
    a = today["tec"].values
    b = yesterday["tec"].values
    n = min(len(a), len(b)) - (1 if len(a) in (13, 25) else 0)
    diff = (a[:n] - b[:n]) ** 2
    w = _weights(today["lat"].values)[None, :, None] * np.isfinite(diff)
    return float(np.sqrt(np.nansum(diff * w) / w.sum()))


def compare_with_real(real_dir: str | Path, simulate_day, check=None) -> tuple[pd.DataFrame, list[str]]:
    """One row per usable real IONEX day in `real_dir` (complete files with IGS names): real and
    simulated statistics side by side; `simulate_day(day, cadence_min)` returns a simulated Dataset.
    `check(ds, day, name)` raises a `DataFormatError` for a day that is not a usable global day. Also
    returns one line per file left out, saying why."""
    src = LocalDirectorySource(real_dir)
    rows, skipped = [], []
    real_days: dict[tuple[str, dt.date], xr.Dataset] = {}
    sim_days: dict[tuple[str, dt.date], xr.Dataset] = {}
    for (centre, day), paths in sorted(src.index().items()):
        if product_level(centre) == "predicted":  # a forecast product is no observed ionosphere to match
            skipped.append(f"{paths[0]}: a {centre} prediction, not an observed map")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                real = read_ionex(paths[0])
                if check is not None:
                    check(real, day, str(paths[0]))
            except DataFormatError as exc:
                skipped.append(str(exc))
                continue
        step = int((real.time.values[1] - real.time.values[0]) / np.timedelta64(1, "m"))
        try:
            sim = simulate_day(day, 60 if step <= 60 else 120).sel(time=real.time.values, method="nearest")
        except SwxError as exc:
            skipped.append(f"{paths[0]}: not simulated ({exc})")
            continue

        real_days[(centre, day)], sim_days[(centre, day)] = real, sim
        rs, ss = day_stats(real), day_stats(sim)
        row = {"centre": centre.upper(), "day": day}
        for key in ("global_mean", "mean_low", "mean_mid", "mean_high", "diurnal_low", "diurnal_mid", "diurnal_high"):
            row[f"real_{key}"], row[f"sim_{key}"] = rs[key], ss[key]
        prev = (centre, day - dt.timedelta(days=1))
        if prev in real_days:
            row["real_persistence"] = persistence_rmse(real, real_days[prev])
            row["sim_persistence"] = persistence_rmse(sim, sim_days[prev])
        rows.append(row)
    return pd.DataFrame(rows), skipped


def comparison_markdown(df: pd.DataFrame) -> str:
    """The comparison as a Markdown table: real / simulated per statistic."""
    cols = [("global mean", "global_mean"), ("low-lat mean", "mean_low"), ("mid-lat mean", "mean_mid"),
            ("high-lat mean", "mean_high"), ("diurnal amp. low", "diurnal_low"), ("diurnal amp. mid", "diurnal_mid"),
            ("diurnal amp. high", "diurnal_high"), ("24 h persistence RMSE", "persistence")]
    head = "| centre | day | " + " | ".join(c for c, _ in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for _, r in df.iterrows():
        cells = []
        for _, key in cols:
            a, b = r.get(f"real_{key}"), r.get(f"sim_{key}")
            cells.append("—" if a is None or pd.isna(a) else f"{a:.1f} / {b:.1f}")
        lines.append(f"| {r['centre']} | {r['day']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ a point series against a real one

def simulated_point_series(simulate_day, start: dt.date, end: dt.date, lat: list[float], lon: float) -> pd.DataFrame:
    """Simulated vTEC at grid points (`lat` at one `lon`), every map of every day from start to end
    (the 24:00 map left out); `simulate_day(day)` returns a simulated Dataset."""
    frames = []
    for k in range((end - start).days + 1):
        ds = simulate_day(start + dt.timedelta(days=k))
        frames.append(ds["tec"].isel(time=slice(0, -1)).sel(lat=lat, lon=lon).to_pandas())
    out = pd.concat(frames)
    out.index = pd.DatetimeIndex(out.index).tz_localize("UTC")
    return out


def level_fit(simulated: pd.Series, real: pd.Series, f107_27: pd.Series) -> np.ndarray:
    """Least-squares fit of ln(simulated / real) on monthly means as a + b ln(F/100) + c cos(wd) + s sin(wd)
    (F the monthly mean of the 27-day mean F10.7, d the mean day of the year, w = 2 pi / 365.25): the
    coefficients (a, b, c, s) of `SimulationConfig.level_fit`, for one latitude."""
    both = pd.DataFrame({"sim": simulated, "real": real}).dropna()
    days = both.index.normalize()
    both["f"] = f107_27.reindex(days, method="nearest").to_numpy()
    both["doy"] = day_of_year(both.index)
    monthly = both.groupby([both.index.year, both.index.month]).mean()
    if len(monthly) < 6:
        raise SwxError(f"{len(monthly)} month(s) of overlapping values; the level fit needs at least 6")
    x = np.column_stack([np.ones(len(monthly)), *level_terms(monthly["f"].to_numpy(), monthly["doy"].to_numpy())])
    coef, *_ = np.linalg.lstsq(x, np.log(monthly["sim"] / monthly["real"]).to_numpy(), rcond=None)
    return coef


def point_realism(simulated: pd.DataFrame, real: pd.DataFrame, periods: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Per period and series: the mean and the day-to-day variability (RMSE of the 24 h persistence
    forecast) of the simulated and the real series on the same 2-hourly epochs, and their ratios."""
    rows = []
    for name, (first, last) in periods.items():
        for col in real.columns:
            both = pd.DataFrame({"sim": simulated[col], "real": real[col]}).loc[first:last]
            both = both[both.index.hour % 2 == 0]
            lagged = both.shift(freq="24h").reindex(both.index)
            ok = both.notna().all(axis=1) & lagged.notna().all(axis=1)
            row = {"period": name, "series": col}
            for k in ("real", "sim"):
                row[f"mean_{k}"] = float(both.loc[both[k].notna() & both["real"].notna(), k].mean())
                row[f"persistence_{k}"] = float(np.sqrt(((both[k] - lagged[k])[ok] ** 2).mean()))
            row["mean_ratio"] = row["mean_sim"] / row["mean_real"]
            row["persistence_ratio"] = row["persistence_sim"] / row["persistence_real"]
            rows.append(row)
    return pd.DataFrame(rows)


def realism_markdown(df: pd.DataFrame) -> str:
    """The point comparison as a Markdown table: real / simulated and the ratio."""
    lines = ["| period | series | mean real / sim (TECU) | ratio | 24 h persistence RMSE real / sim (TECU) | ratio |",
             "|---|---|---|---|---|---|"]
    for _, r in df.iterrows():
        lines.append(f"| {r['period']} | {r['series']} | {r['mean_real']:.1f} / {r['mean_sim']:.1f} | "
                     f"{r['mean_ratio']:.2f} | {r['persistence_real']:.2f} / {r['persistence_sim']:.2f} | "
                     f"{r['persistence_ratio']:.2f} |")
    return "\n".join(lines)
