"""ΔTEC: how far the ionosphere is from its recent quiet state — the storm response operators watch.

ΔTEC = TEC - TEC_ref, with TEC_ref the median of the previous 27 days at the same UT (previous days
only, so it can be computed operationally and never uses the day being scored), and the relative
ΔTEC in %. Global ΔTEC is, as in the method, the mean of ΔTEC over the stations. Works on any array
whose first axis is time: station series (time, station) or maps (time, lat, lon).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

REFERENCE_DAYS = 27
#: Fewest previous days at the same UT for a reference (else NaN): a reference from 3 days is noise.
MIN_REFERENCE_DAYS = 14
#: Below this reference (TECU) the relative ΔTEC is undefined (polar night, numerical noise).
MIN_REFERENCE_TEC = 1.0


def median_reference(history: np.ndarray, history_times: np.ndarray, target_times: np.ndarray, *,
                     days: int = REFERENCE_DAYS, min_days: int = MIN_REFERENCE_DAYS) -> np.ndarray:
    """TEC_ref at each target time: the median of `history` at t - 1 day, ..., t - `days` days (the
    same UT on previous days; missing days are skipped, NaN where fewer than `min_days` exist)."""
    history = np.asarray(history)
    # maps are stored in float32: sorted as such (half the work), the median itself in float64
    history = history if history.dtype == np.float32 else history.astype(float)
    h_t = np.asarray(history_times, dtype="datetime64[ns]")
    t_t = np.asarray(target_times, dtype="datetime64[ns]")
    order = np.argsort(h_t)
    h_t, history = h_t[order], history[order]
    stack = np.full((days, len(t_t)) + history.shape[1:], np.nan, dtype=history.dtype)
    for k in range(1, days + 1):
        want = t_t - np.timedelta64(k, "D")
        pos = np.clip(np.searchsorted(h_t, want), 0, max(len(h_t) - 1, 0))
        hit = (h_t[pos] == want) if len(h_t) else np.zeros(len(t_t), bool)
        stack[k - 1][hit] = history[pos[hit]]
    count = (~np.isnan(stack)).sum(axis=0)
    ref = nan_median_first_axis(stack, count)
    ref[count < min_days] = np.nan
    return ref


def nan_median_first_axis(stack: np.ndarray, count: np.ndarray | None = None) -> np.ndarray:
    """np.nanmedian(stack, axis=0), by one sort (NaN sort last) and the middle of each column's finite
    values: numpy's nanmedian goes through masked arrays for short axes, ~20x slower on maps."""
    count = (~np.isnan(stack)).sum(axis=0) if count is None else count
    ordered = np.sort(stack, axis=0)
    lo = np.take_along_axis(ordered, np.maximum(count - 1, 0)[None] // 2, axis=0)[0]
    hi = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, (lo.astype(float) + hi.astype(float)) / 2.0, np.nan)


def delta_tec(tec: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ΔTEC in TECU, relative ΔTEC in % of the reference; NaN where the reference is below
    MIN_REFERENCE_TEC)."""
    tec, reference = np.asarray(tec, float), np.asarray(reference, float)
    d = tec - reference
    with np.errstate(all="ignore"):
        rel = np.where(reference >= MIN_REFERENCE_TEC, 100.0 * d / reference, np.nan)
    return d, rel


def global_dtec(station_dtec: np.ndarray, station_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global ΔTEC per epoch: the mean over stations (axis 1) of ΔTEC and of relative ΔTEC."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(station_dtec, float), axis=1), np.nanmean(np.asarray(station_rel, float), axis=1)


def station_dtec_frame(vtec: pd.DataFrame, target_times: pd.DatetimeIndex | None = None, *,
                       days: int = REFERENCE_DAYS, min_days: int = MIN_REFERENCE_DAYS,
                       tec: pd.DataFrame | None = None) -> pd.DataFrame:
    """Long table (time, station, tec, reference, dtec, dtec_rel) from a time x station table of
    observed vTEC (the reference's history). `tec`, when given (e.g. forecasts), is what is compared
    with the reference instead of the observations at the target times."""
    target = pd.DatetimeIndex(target_times if target_times is not None else vtec.index)
    t_np = naive_utc(target)
    ref = median_reference(vtec.to_numpy(float), naive_utc(pd.DatetimeIndex(vtec.index)), t_np, days=days,
                           min_days=min_days)
    values = (tec if tec is not None else vtec).reindex(target)[list(vtec.columns)].to_numpy(float)
    d, rel = delta_tec(values, ref)
    n_t, n_s = d.shape
    return pd.DataFrame({"time": np.repeat(target, n_s), "station": np.tile(list(vtec.columns), n_t),
                         "tec": values.ravel(), "reference": ref.ravel(), "dtec": d.ravel(),
                         "dtec_rel": rel.ravel()})


def global_dtec_frame(long: pd.DataFrame) -> pd.DataFrame:
    """Global ΔTEC per time from `station_dtec_frame` output: mean over the stations that have a value."""
    g = long.groupby("time")[["dtec", "dtec_rel"]].mean()
    n = long.dropna(subset=["dtec"]).groupby("time")["station"].count()
    return g.assign(n_stations=n.reindex(g.index).fillna(0).astype(int)).rename(
        columns={"dtec": "global_dtec", "dtec_rel": "global_dtec_rel"})


def naive_utc(t: pd.DatetimeIndex) -> np.ndarray:
    """datetime64[ns] (naive, UTC) values of a naive-UTC or aware time index."""
    t = pd.DatetimeIndex(t)
    if t.tz is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    return t.to_numpy().astype("datetime64[ns]")
