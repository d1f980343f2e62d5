"""Verification: skill always against baselines on the same data — persistence (the value 24 h
earlier) and the 27-day running median at the same UT (previous days only) — with RMSE, MAE, bias,
correlation, skill scores, and for forecasts with a sigma the interval coverage, the CRPS of the
Gaussian (mean, sigma) forecast (scoringrules) and the histogram of its PIT values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from swx.config import lat_bands
from swx.science.dtec import MIN_REFERENCE_DAYS, REFERENCE_DAYS
from swx.science.grid import area_weights, land_mask
from swx.science.stations import Station

Z68, Z95 = 0.9945578832, 1.959963985  # two-sided normal quantiles of the 68.27 % and 95 % intervals
#: The time grid of station forecasting: 2-hourly values, forecasts 24 h ahead (t + STEP .. t + HORIZON).
STEP = pd.Timedelta(hours=2)
HORIZON = pd.Timedelta(hours=24)
PIT_BINS = 10  # the PIT histogram: flat when the forecast distribution is calibrated


def _valid(y: np.ndarray, *preds: np.ndarray) -> np.ndarray:
    ok = np.isfinite(y)
    for p in preds:
        ok &= np.isfinite(p)
    return ok


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    ok = _valid(y, p)
    return float(np.sqrt(np.mean((y[ok] - p[ok]) ** 2)))


def scores(y: np.ndarray, pred: np.ndarray, *, persistence: np.ndarray | None = None,
           median27: np.ndarray | None = None, sigma: np.ndarray | None = None) -> dict[str, float]:
    """Scores of `pred` against `y`, on the points where every given forecast exists (same data)."""
    return scores_of_models(y, {"pred": pred}, persistence=persistence, median27=median27,
                            sigmas=None if sigma is None else {"pred": sigma})["pred"]


def _flat(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, float).ravel()


def scores_of_models(y: np.ndarray, preds: dict[str, np.ndarray], *, persistence: np.ndarray | None = None,
                     median27: np.ndarray | None = None, sigmas: dict[str, np.ndarray | None] | None = None
                     ) -> dict[str, dict[str, float]]:
    """`scores` of several forecasts of the same `y` at once (each on the points where it, `y` and the
    given baselines exist): one pass over (models, points) arrays instead of one per model."""
    flat = _flat  # any shape: the points are pooled
    y, persistence, median27 = flat(y), flat(persistence), flat(median27)
    names = list(preds)
    p = np.stack([flat(preds[m]) for m in names]) if names else np.empty((0, len(y)))
    ok = _valid(y, *[a for a in (persistence, median27) if a is not None])[None, :] & np.isfinite(p)
    n = ok.sum(axis=1)
    count = np.maximum(n, 1)
    err = np.where(ok, p - y, 0.0)
    mse = (err ** 2).sum(axis=1) / count
    out_rmse = np.sqrt(mse)
    mae = np.abs(err).sum(axis=1) / count
    bias = err.sum(axis=1) / count
    # correlation: undefined for a constant series
    yy = np.where(ok, y, 0.0)
    pp = np.where(ok, p, 0.0)
    dy = np.where(ok, y - (yy.sum(axis=1) / count)[:, None], 0.0)
    dp = np.where(ok, p - (pp.sum(axis=1) / count)[:, None], 0.0)
    syy, spp = (dy ** 2).sum(axis=1), (dp ** 2).sum(axis=1)
    defined = (n > 1) & (syy > 0) & (spp > 0)
    corr = np.where(defined, np.clip((dy * dp).sum(axis=1) / np.sqrt(np.where(defined, syy * spp, 1.0)), -1, 1),
                    np.nan)
    ref_rmse = {}
    for name, ref in (("persistence", persistence), ("median27", median27)):
        if ref is not None:
            ref_rmse[name] = np.sqrt((np.where(ok, np.asarray(ref, float) - y, 0.0) ** 2).sum(axis=1) / count)
    sig = None
    if sigmas is not None and any(sigmas.get(m) is not None for m in names):
        sig = np.stack([np.full(len(y), np.nan) if sigmas.get(m) is None else flat(sigmas[m]) for m in names])
        good = ok & np.isfinite(sig) & (sig > 0)
        cover68 = (ok & (np.abs(err) <= Z68 * sig)).sum(axis=1) / count
        cover95 = (ok & (np.abs(err) <= Z95 * sig)).sum(axis=1) / count
        prob = probabilistic_scores_by_row(np.broadcast_to(y, p.shape)[good], p[good], sig[good],
                                           np.nonzero(good)[0], len(names))
    out: dict[str, dict[str, float]] = {}
    for i, m in enumerate(names):
        r = {"n": int(n[i]), "rmse": float(out_rmse[i]) if n[i] else float("nan"),
             "mae": float(mae[i]) if n[i] else float("nan"), "bias": float(bias[i]) if n[i] else float("nan"),
             "corr": float(corr[i])}
        for name, values in ref_rmse.items():
            rr = float(values[i]) if n[i] else float("nan")
            r[f"rmse_{name}"] = rr
            r[f"skill_vs_{name}"] = 1 - r["rmse"] / rr if rr > 0 else float("nan")
        if sig is not None and sigmas.get(m) is not None:
            r["coverage68"] = float(cover68[i]) if n[i] else float("nan")
            r["coverage95"] = float(cover95[i]) if n[i] else float("nan")
            if good[i].any():
                r.update(prob[i])
        out[m] = r
    return out


def probabilistic_scores_by_row(y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, row: np.ndarray,
                                rows: int) -> list[dict]:
    """Mean CRPS (TECU) of Gaussian forecasts N(mean, sigma) and the counts of their PIT values
    Φ((y - mean) / sigma) in PIT_BINS equal bins, for several forecasts in one call: the points are
    flat, `row` says whose each is (0 .. rows-1)."""
    import scoringrules as sr  # heavy (numba): loaded by the probabilistic scores only
    from scipy.stats import norm  # scipy.stats takes ~0.3 s to import: only for these scores

    crps = np.asarray(sr.crps_normal(y, mean, sigma), float) if len(y) else np.empty(0)
    pit = norm.cdf((y - mean) / sigma)
    edges = np.linspace(0.0, 1.0, PIT_BINS + 1)  # np.histogram's bins: [a, b), the last one [a, b]
    bins = np.clip(np.searchsorted(edges, pit, side="right") - 1, 0, PIT_BINS - 1)
    hist = np.bincount(row * PIT_BINS + bins, minlength=rows * PIT_BINS).reshape(rows, PIT_BINS)
    total = np.bincount(row, weights=crps, minlength=rows)
    count = np.bincount(row, minlength=rows)
    return [{"crps": float(total[i] / count[i]) if count[i] else float("nan"),
             "pit_hist": [int(c) for c in hist[i]]} for i in range(rows)]


#: the issue-time baseline the networks forecast the departure from: this weight on persistence, the
#: rest on the 27-day median (each alone is worse than the mix, on the real series as on the simulated
#: one: docs/forecasting.md)
ISSUE_BASELINE_PERSISTENCE_WEIGHT = 0.5
#: the global map's prior leans more on persistence: the area-weighted map error is dominated by low
#: latitudes, where on the real CODE series (10°N, 2015-2017) 0.75 gives an RMSE of 3.26 TECU against
#: 3.35 at 0.5 and 3.50 for persistence alone (docs/extension.md)
MAP_PRIOR_PERSISTENCE_WEIGHT = 0.75


def mix_baselines(persistence, median27, persistence_weight: float = ISSUE_BASELINE_PERSISTENCE_WEIGHT):
    """w * persistence + (1 - w) * 27-day median, persistence alone where the median is missing."""
    mixed = persistence_weight * persistence + (1.0 - persistence_weight) * median27
    return np.where(np.isfinite(median27), mixed, persistence)


def same_ut_baselines(seconds: np.ndarray, values: np.ndarray, days: int = 27, *,
                      include_today: bool = False, min_days: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """For samples at `seconds` (UTC epoch seconds): the value 24 h earlier, and the median at the same
    UT over `days` days — the days before the sample's day (a baseline for that time), or, with
    `include_today`, the sample's day and the days before it (the reference for t + 24 h, known at t) —
    where at least `min_days` of them hold a value (NaN elsewhere).

    Works on a day x time-of-day table, so both are a shift and a rolling median down its columns
    (missing values skipped)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    if len(seconds) == 0:
        return np.empty(0), np.empty(0)
    day, sod = seconds // 86400, seconds % 86400
    table = pd.DataFrame({"day": day, "sod": sod, "v": np.asarray(values, dtype=float)}).pivot_table(
        index="day", columns="sod", values="v", aggfunc="last", dropna=False)
    table = table.reindex(np.arange(day.min(), day.max() + 1))
    rows, cols = day - day.min(), table.columns.get_indexer(sod)
    median = table.rolling(days, min_periods=min_days).median()
    if not include_today:
        median = median.shift(1)
    return table.shift(1).to_numpy()[rows, cols], median.to_numpy()[rows, cols]


def utc_seconds(index: pd.Index) -> np.ndarray:
    """UTC epoch seconds of a (naive UTC or aware) time index."""
    t = pd.DatetimeIndex(index)
    t = t.tz_convert("UTC").tz_localize(None) if t.tz is not None else t
    return t.to_numpy().astype("datetime64[s]").astype(np.int64)


def median27_series(series: pd.Series, days: int = REFERENCE_DAYS) -> pd.Series:
    """The 27-day median baseline: the median of the previous `days` days at the same UT (previous days
    only: usable operationally), where at least MIN_REFERENCE_DAYS of them hold a value — the rule
    of the maps' reference (a "27-day median" of two days is none)."""
    s = series.sort_index()
    _, med = same_ut_baselines(utc_seconds(s.index), s.to_numpy(dtype=float), days, min_days=MIN_REFERENCE_DAYS)
    return pd.Series(med, index=s.index, name="median27")


def windows_reference(issue_times: pd.DatetimeIndex, n_out: int, reference: pd.Series) -> np.ndarray:
    """A reference series (e.g. the 27-day median) at the target times of each window: (N, n_out)."""
    return np.stack([reference.reindex(issue_times + k * STEP).to_numpy(dtype=float) for k in range(1, n_out + 1)],
                    axis=1)


def climatology_series(series: pd.Series, half_window_days: int = 15) -> pd.Series:
    """A climatology at each time: the mean, over the *earlier* years of the series, of the values at the
    same UT within +-`half_window_days` days of the same day of year (NaN where no earlier year has
    data). Only past years are used, so it is a fair operational baseline."""
    s = series.sort_index()
    t = pd.DatetimeIndex(s.index)
    frame = pd.DataFrame({"year": t.year, "doy": np.minimum(t.day_of_year, 365), "sod": t.hour * 3600 + t.minute * 60,
                          "v": s.to_numpy(dtype=float)})
    out = np.full(len(frame), np.nan)
    years = sorted(frame.year.unique())
    tables = {}
    for y in years:  # per year: a 365 x time-of-day table, smoothed over +-half_window days (cyclic)
        g = frame[frame.year == y].pivot_table(index="doy", columns="sod", values="v", aggfunc="mean")
        g = g.reindex(range(1, 366))
        w = 2 * half_window_days + 1
        padded = pd.concat([g.iloc[-half_window_days:], g, g.iloc[:half_window_days]])
        tables[y] = padded.rolling(w, center=True, min_periods=1).mean().iloc[half_window_days:-half_window_days]
    for y in years:
        earlier = [tables[e] for e in years if e < y]
        if not earlier:
            continue
        clim = pd.concat(earlier).groupby(level=0).mean()
        sel = (frame.year == y).to_numpy()
        cols = clim.columns.get_indexer(frame.sod[sel])
        vals = clim.to_numpy()[frame.doy[sel].to_numpy() - 1, np.maximum(cols, 0)]
        out[sel] = np.where(cols >= 0, vals, np.nan)
    return pd.Series(out, index=s.index, name="climatology")


# ------------------------------------------------------------------------------------ maps

def map_scores(forecast: np.ndarray, truth: np.ndarray, lat: np.ndarray, lon: np.ndarray, *,
               persistence: np.ndarray | None = None, sigma: np.ndarray | None = None,
               regions: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Scores of forecast maps (time, lat, lon) against the true maps: one row for the globe, one per
    latitude band and one each for land and ocean. `rmse` is over grid nodes (how GIMs are compared);
    `rmse_area`, the interval coverage and the CRPS weight nodes by cos(latitude) (the globe's area).
    `regions`: more rows, name -> (lat, lon) mask (e.g. the nodes away from the stations)."""
    f, y = np.asarray(forecast, float), np.asarray(truth, float)
    shape = f.shape[-2:]
    extra = regions
    regions = {"global": np.ones(shape, bool)}
    bands = np.repeat(lat_bands(lat)[:, None], len(lon), axis=1)
    for b in ("low", "mid", "high"):
        regions[f"lat_band:{b}"] = bands == b
    land = land_mask(lat, lon)
    regions["surface:land"], regions["surface:ocean"] = land, ~land
    regions = regions | (extra or {})
    w_area = area_weights(lat, lon)
    rows = []
    for region, sel in regions.items():
        sel3 = np.broadcast_to(sel, f.shape)
        ok = sel3 & np.isfinite(f) & np.isfinite(y)
        if persistence is not None:
            ok &= np.isfinite(persistence)
        err = (f - y)[ok]
        w = np.broadcast_to(w_area, f.shape)[ok]
        row = {"region": region, "n": int(ok.sum()), "rmse": float(np.sqrt(np.mean(err ** 2))),
               "rmse_area": float(np.sqrt(np.sum(w * err ** 2) / np.sum(w))), "bias": float(np.mean(err)),
               "mae": float(np.mean(np.abs(err)))}
        if persistence is not None:
            ep = (np.asarray(persistence, float) - y)[ok]
            rp = float(np.sqrt(np.mean(ep ** 2)))
            row.update(rmse_persistence=rp, mae_persistence=float(np.mean(np.abs(ep))),
                       bias_persistence=float(np.mean(ep)),
                       rmse_area_persistence=float(np.sqrt(np.sum(w * ep ** 2) / np.sum(w))))
            row["skill_vs_persistence"] = 1 - row["rmse"] / rp if rp > 0 else float("nan")
        if sigma is not None:
            s = np.broadcast_to(sigma, f.shape)[ok]
            row["coverage68"] = float(np.sum(w * (np.abs(err) <= Z68 * s)) / np.sum(w))
            row["coverage95"] = float(np.sum(w * (np.abs(err) <= Z95 * s)) / np.sum(w))
            row["crps"] = _crps_normal_mean(y[ok], f[ok], s, w)
        rows.append(row)
    return rows


def _crps_normal_mean(y: np.ndarray, mean: np.ndarray, sigma: np.ndarray, weights: np.ndarray) -> float:
    """The weighted mean CRPS (TECU) of Gaussian forecasts N(mean, sigma)."""
    import scoringrules as sr  # heavy (numba): loaded by the probabilistic scores only

    if not len(y):
        return float("nan")
    crps = np.asarray(sr.crps_normal(y, mean, np.maximum(sigma, 1e-6)), float)
    return float(np.sum(weights * crps) / np.sum(weights))


def pooled_skill(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Verification rows (one per station, model, window and Kp class, as stored) pooled over `by`:
    RMSE from the sample-weighted mean square, MAE sample-weighted, and the skill scores against the
    persistence and 27-day-median rows of the same stations, windows and Kp class (same data)."""
    cols = by + ["model", "n", "rmse", "mae"]
    df = rows[[c for c in dict.fromkeys(cols + ["station_code", "window_start", "kp_class"]) if c in rows]].copy()
    df = df[df["n"] > 0]
    df["sse"] = df["rmse"] ** 2 * df["n"]
    df["sae"] = df["mae"] * df["n"]
    keys = list(dict.fromkeys(by + ["model"]))
    g = df.groupby(keys, dropna=False)[["n", "sse", "sae"]].sum()
    out = pd.DataFrame({"n": g["n"].astype(int), "rmse": np.sqrt(g["sse"] / g["n"]), "mae": g["sae"] / g["n"]})
    if "crps" in rows:  # sample-weighted over the rows that have one (forecasts with a sigma)
        c = rows.loc[df.index, ["crps"]].assign(n=df["n"], **{k: df[k] for k in keys})
        c = c[c["crps"].notna()]
        c["scrps"] = c["crps"].astype(float) * c["n"]
        cg = c.groupby(keys, dropna=False)[["scrps", "n"]].sum()
        out["crps"] = (cg["scrps"] / cg["n"]).reindex(out.index)
    match = [c for c in ("station_code", "window_start", "kp_class") if c in df]
    for base in ("persistence", "median27"):
        ref = df[df["model"] == base][match + ["sse"]].rename(columns={"sse": "sse_ref"})
        joined = df.merge(ref, on=match, how="inner")  # each model's rows where the baseline has the same data
        r = joined.groupby(keys, dropna=False)[["sse", "sse_ref"]].sum()
        out[f"skill_{base}"] = 1 - np.sqrt(r["sse"] / r["sse_ref"]).reindex(out.index)
    return out.reset_index()


def pooled_map_skill(rows: pd.DataFrame) -> pd.DataFrame:
    """Map verification rows (scope "global": model, station_code = region, window_start, n, rmse_area,
    coverage68/95, crps) pooled over the verified days, per model and region: the cos-latitude weighted
    RMSE over every epoch of the days the persistence map was scored too, its skill against that map on
    them, the days it beat it, the interval coverage and the CRPS (over the days that have them). One
    row per (model, region)."""
    maps = rows[rows["model"].str.startswith("map:") & rows["rmse_area"].notna()]
    pers = maps[maps["model"] == "map:persistence"].set_index(["station_code", "window_start"])["rmse_area"]
    out = []
    for (model, region), g in maps.groupby(["model", "station_code"]):
        p = pers.reindex(pd.MultiIndex.from_arrays([g["station_code"], g["window_start"]])).to_numpy(float)
        ok = np.isfinite(p)
        n = g["n"].to_numpy(float)
        mine = g["rmse_area"].to_numpy(float)
        same = ok if ok.any() else np.ones(len(g), bool)  # beside persistence: on the days it has too
        rmse = float(np.sqrt(np.sum(n[same] * mine[same] ** 2) / np.sum(n[same])))
        rp = float(np.sqrt(np.sum(n[ok] * p[ok] ** 2) / np.sum(n[ok]))) if ok.any() else float("nan")
        cov = {}
        for c in ("coverage68", "coverage95", "crps"):
            v = g[c].to_numpy(float)
            have = np.isfinite(v)
            cov[c] = float(np.sum(n[have] * v[have]) / np.sum(n[have])) if have.any() else float("nan")
        out.append(dict(model=model, region=region, days=len(g), rmse=rmse, rmse_persistence=rp,
                        skill_persistence=1 - rmse / rp if ok.any() and rp > 0 else float("nan"),
                        days_better=int((mine[ok] < p[ok]).sum()), days_compared=int(ok.sum()), **cov))
    return pd.DataFrame(out, columns=["model", "region", "days", "rmse", "rmse_persistence", "skill_persistence",
                                      "days_better", "days_compared", "coverage68", "coverage95", "crps"])


def rolling_rmse(rows: pd.DataFrame, days: int = 7) -> pd.DataFrame:
    """Daily pooled RMSE per model (all stations) and its trailing `days`-day pooled RMSE, with the
    skill against persistence over the same trailing windows: is incremental learning helping?"""
    df = rows[rows["n"] > 0].copy()
    df["day"] = pd.to_datetime(df["window_start"], utc=True).dt.floor("D")
    df["sse"] = df["rmse"] ** 2 * df["n"]
    daily = df.groupby(["model", "day"])[["sse", "n"]].sum()
    out = []
    for model, g in daily.groupby(level="model"):
        g = g.droplevel("model").asfreq("D", fill_value=0) if len(g) > 1 else g.droplevel("model")
        roll = g.rolling(days, min_periods=1).sum()
        frame = pd.DataFrame({"model": model, "day": g.index, "rmse": np.sqrt(g["sse"] / g["n"].where(g["n"] > 0)),
                              f"rmse_{days}d": np.sqrt(roll["sse"] / roll["n"].where(roll["n"] > 0)),
                              "_sse": roll["sse"].to_numpy()})
        out.append(frame)
    if not out:
        return pd.DataFrame(columns=["model", "day", "rmse", f"rmse_{days}d", f"skill_{days}d"])
    res = pd.concat(out, ignore_index=True)
    ref = res[res["model"] == "persistence"].set_index("day")["_sse"]
    res[f"skill_{days}d"] = 1 - np.sqrt(res["_sse"] / res["day"].map(ref))
    return res.drop(columns="_sse")


def score_rows(stations: list[Station], issue: pd.DatetimeIndex, truth: np.ndarray, persistence: np.ndarray,
               median27: np.ndarray, predictions: dict[str, np.ndarray], storms: set[dt.date],
               sigmas: dict[str, np.ndarray | None] | None = None,
               climatology: np.ndarray | None = None, lead_day: int = 1) -> list[dict]:
    """Verification rows from forecasts issued at `issue` (N) for S stations and H steps: `truth`,
    `persistence`, `median27` and each prediction are (S, N, H). Per station, then per group of
    stations (latitude band, land/ocean) with the errors pooled; per Kp class (all, quiet, storm:
    a window is a storm window when its issue or target day is a storm day); every model beside the
    two baselines on the same samples. `lead_day` 2: the forecasts of hours 26-48 after the issue
    time, beside the baselines known at the issue time (the last day's values, the 27-day median)."""
    rows: list[dict] = []
    if len(issue) == 0:
        return rows
    horizon = HORIZON * lead_day
    storm = np.array([(t + horizon).date() in storms or t.date() in storms for t in issue])
    w_start, w_end = issue.min().to_pydatetime(), (issue.max() + horizon).to_pydatetime()
    groups: list[tuple[str, str, list[int]]] = [("station", st.code, [s]) for s, st in enumerate(stations)]
    for attr in ("lat_band", "surface"):
        for value in sorted({getattr(st, attr) for st in stations}):
            members = [s for s, st in enumerate(stations) if getattr(st, attr) == value]
            groups.append(("group", f"{attr}:{value}", members))
    for scope, code, members in groups:
        y = np.concatenate([truth[s] for s in members])
        pers = np.concatenate([persistence[s] for s in members])
        med = np.concatenate([median27[s] for s in members])
        sel_storm = np.concatenate([storm] * len(members))
        st0 = stations[members[0]]
        band = st0.lat_band if scope == "station" or code.startswith("lat_band") else ""
        surface = st0.surface if scope == "station" or code.startswith("surface") else ""
        for kp_class, sel in (("all", np.ones(len(y), bool)), ("quiet", ~sel_storm), ("storm", sel_storm)):
            if not sel.any():
                continue
            candidates = {**{k: np.concatenate([v[s] for s in members]) for k, v in predictions.items()},
                          "persistence": pers, "median27": med}
            if climatology is not None:
                clim = np.concatenate([climatology[s] for s in members])
                if np.isfinite(clim[sel]).all():  # only where earlier years cover the whole period
                    candidates["climatology"] = clim
            sig_all = {}
            for model in candidates:
                sig = (sigmas or {}).get(model)
                sig_all[model] = np.concatenate([sig[s] for s in members])[sel] if sig is not None else None
            every = scores_of_models(y[sel], {k: v[sel] for k, v in candidates.items()}, persistence=pers[sel],
                                     median27=med[sel], sigmas=sig_all)
            for model, r in every.items():
                if r["n"] == 0:
                    continue
                rows.append(dict(scope=scope, station_code=code, model=model, window_start=w_start,
                                 window_end=w_end, kp_class=kp_class, n=r["n"], rmse=r["rmse"], mae=r["mae"],
                                 bias=r["bias"], corr=r["corr"], skill_persistence=None if model == "persistence"
                                 else r["skill_vs_persistence"],
                                 skill_median27=None if model == "median27" else r["skill_vs_median27"],
                                 coverage68=r.get("coverage68"), coverage95=r.get("coverage95"),
                                 crps=r.get("crps"), pit_hist=r.get("pit_hist"), lat_band=band, surface=surface,
                                 lead_day=lead_day))
    return rows


def station_rmse_by_model(rows: pd.DataFrame) -> pd.Series:
    """Each model's (and baseline's) RMSE averaged over the stations, all Kp classes: verification rows
    in one number per model, for logs and summaries."""
    if rows.empty or not {"kp_class", "scope", "model", "rmse"} <= set(rows.columns):
        return pd.Series(dtype=float)  # nothing scored (no verifying value at the forecast's times)
    one = rows[(rows.kp_class == "all") & (rows.scope == "station")]
    return one.groupby("model", sort=False).rmse.mean()

