"""From maps and indices to model inputs: station vTEC at 2-hour resolution, Kp on the same grid,
time encodings, supervised windows and scalers fitted on training data only.

Pure computations on arrays and DataFrames; the archive and database wrappers live in
`swx.science.series` and `swx.store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from swx.errors import InsufficientDataError
from swx.science.stations import Station
from swx.science.verify import median27_series, mix_baselines, same_ut_baselines, utc_seconds

#: Input columns of `feature_matrix`, in order ("f107" last when given). The vTEC is column 0 and the
#: 27-day median for t + 24 h column 6: over the last n_out input steps they are the two baselines of
#: the n_out targets (persistence and the 27-day median), known at issue time.
FEATURES = ("vtec", "kp", "lt_sin", "lt_cos", "doy_sin", "doy_cos", "median27_ahead")
VTEC_COLUMN = FEATURES.index("vtec")
MEDIAN_AHEAD_COLUMN = FEATURES.index("median27_ahead")


# ------------------------------------------------------------------------------------ extraction

def bilinear_weights(grid_lat: np.ndarray, grid_lon: np.ndarray, lat: float, lon: float):
    """Indices and weights of the four nodes around (lat, lon); exact at nodes, periodic in longitude.

    The IONEX grid repeats the -180/180 meridian; latitudes may be ascending or descending.
    """
    lat_asc = grid_lat[0] < grid_lat[-1]
    la = grid_lat if lat_asc else grid_lat[::-1]
    if not la[0] - 1e-9 <= lat <= la[-1] + 1e-9:
        raise ValueError(f"latitude {lat} outside the grid {la[0]} .. {la[-1]}")
    i = int(np.clip(np.searchsorted(la, lat, side="right") - 1, 0, len(la) - 2))
    wy = (lat - la[i]) / (la[i + 1] - la[i])
    if not lat_asc:
        i = len(grid_lat) - 1 - i  # index of la[i] in the descending axis
        i0, i1 = i, i - 1
    else:
        i0, i1 = i, i + 1
    lon = ((lon - grid_lon[0]) % 360.0) + grid_lon[0]
    j = int(np.clip(np.searchsorted(grid_lon, lon, side="right") - 1, 0, len(grid_lon) - 2))
    wx = (lon - grid_lon[j]) / (grid_lon[j + 1] - grid_lon[j])
    return (i0, i1, j, j + 1), ((1 - wy) * (1 - wx), wy * (1 - wx), (1 - wy) * wx, wy * wx)


def extract_stations(ds: xr.Dataset, stations: Sequence[Station], var: str = "tec") -> pd.DataFrame:
    """Station vTEC from a day of maps at the even UT hours (hourly maps are subsampled, 2-hourly used
    as they are); bilinear interpolation, exact at grid nodes. Long format: station, time, vtec."""
    times = pd.DatetimeIndex(ds["time"].values)
    keep = (times.minute == 0) & (times.hour % 2 == 0)
    field = ds[var].values[np.flatnonzero(keep)]
    t = times[keep].tz_localize("UTC")
    lat, lon = ds["lat"].values, ds["lon"].values
    nodes, weights = zip(*(bilinear_weights(lat, lon, st.lat, st.lon) for st in stations))
    i0, i1, j0, j1 = (np.array(k) for k in zip(*nodes))
    w00, w10, w01, w11 = (np.array(k)[None, :] for k in zip(*weights))
    v = (w00 * field[:, i0, j0] + w10 * field[:, i1, j0] + w01 * field[:, i0, j1] + w11 * field[:, i1, j1])  # (t, s)
    return pd.DataFrame({"station": np.repeat([st.code for st in stations], len(t)), "time": np.tile(t, len(stations)),
                         "vtec": v.T.reshape(-1).astype(float)})


#: The largest vTEC (TECU) a map or a series may hold as a measurement: the largest ever mapped is about
#: 300 TECU (solar-maximum crests in great storms). The IONEX format holds up to 1000; a value above
#: this is a producer's or an editor's fault, not the ionosphere.
PLAUSIBLE_VTEC_TECU = 400.0
#: The smallest value a series may hold as a vTEC measurement: below the maps' resolution (0.1 TECU) a
#: value is a zero written as a number (1e-320 printed as 0.0), i.e. missing, as zero itself is.
SERIES_MIN_VTEC_TECU = 0.05

#: Values a vTEC series may use for "no value" (missing, as zero and negative values are).
SERIES_FILL_VALUES = (9999.0, 999.9, 999.0, -1.0)


def to_two_hourly(series: pd.Series, *, fill_values: Iterable[float] = SERIES_FILL_VALUES
                  ) -> tuple[pd.Series, dict[str, int]]:
    """A vTEC series (UTC index) on the 2-hour grid: values at even hours are taken as they are when
    the series is hourly or coarser; finer series are averaged over the hour around each even hour.
    Zero (below SERIES_MIN_VTEC_TECU), negative and fill values are missing. Returns the series and
    counts of what was dropped."""
    s = series.astype(float).copy()
    idx = pd.DatetimeIndex(s.index)
    if idx.tz is None:
        raise ValueError("the series must have a timezone-aware (UTC) index")
    s.index = idx.tz_convert("UTC")
    s = s[~s.index.duplicated(keep="last")].sort_index()
    bad = (s < SERIES_MIN_VTEC_TECU) | s.isin(list(fill_values)) | ~np.isfinite(s)
    counts = {"input": int(len(s)), "invalid": int(bad.sum())}
    s = s[~bad]
    if s.empty:
        return pd.Series(dtype=float, index=pd.DatetimeIndex([], tz="UTC", name="time")), counts
    step = pd.Series(s.index).diff().median()
    grid = pd.date_range(s.index[0].ceil("2h"), s.index[-1].floor("2h"), freq="2h", tz="UTC", name="time")
    if step >= pd.Timedelta(hours=1):
        out = s.reindex(grid)
    else:
        shifted = s.copy()
        shifted.index = (s.index + pd.Timedelta(minutes=30)).floor("h")  # [t-30 min, t+30 min) -> t
        hourly = shifted.groupby(level=0).mean()
        out = hourly.reindex(grid)
    counts["missing_steps"] = int(out.isna().sum())
    return out, counts


def fill_single_gaps(series: pd.Series) -> tuple[pd.Series, int]:
    """Fill isolated one-step gaps by linear interpolation; longer gaps stay NaN. Returns the series and
    how many values were filled (so it is never silent)."""
    isolated = series.isna() & series.shift(1).notna() & series.shift(-1).notna()
    filled = series.copy()
    filled[isolated] = ((series.shift(1) + series.shift(-1)) / 2)[isolated]
    return filled, int(isolated.sum())


# ------------------------------------------------------------------------------------ drivers

def kp_on_grid(kp: pd.Series, times: pd.DatetimeIndex) -> np.ndarray:
    """Kp (3-hourly, labelled by interval start) at `times` by nearest neighbour in time to the
    interval centres, i.e. the Kp of the 3-hour interval that holds each time."""
    centres = pd.DatetimeIndex(kp.index) + pd.Timedelta(minutes=90)
    values = pd.Series(kp.to_numpy(dtype=float), index=centres).sort_index()
    return values.reindex(times, method="nearest", tolerance=pd.Timedelta(minutes=91)).to_numpy()


def time_encodings(times: pd.DatetimeIndex, lon: float) -> np.ndarray:
    """sin/cos of local time (UT + lon/15) and of day of year: (len(times), 4)."""
    ut = times.hour + times.minute / 60.0
    lt = (ut + lon / 15.0) % 24.0
    doy = times.day_of_year.to_numpy() - 1 + ut / 24.0
    a, b = 2 * np.pi * lt / 24.0, 2 * np.pi * doy / 365.25
    return np.stack([np.sin(a), np.cos(a), np.sin(b), np.cos(b)], axis=1)


def median27_ahead(vtec: pd.Series) -> np.ndarray:
    """At each time t, the 27-day median at the same UT for t + 24 h: the median of the values at t,
    t - 24 h, ..., t - 26 days. Only values up to t are used, so it is a leak-free input that tells
    the model the recent climatology of the period it forecasts."""
    return same_ut_baselines(utc_seconds(vtec.index), vtec.to_numpy(dtype=float), include_today=True)[1]


def feature_matrix(vtec: pd.Series, kp: pd.Series, lon: float, f107: pd.Series | None = None,
                   median_ahead: bool = True) -> pd.DataFrame:
    """Inputs of one station on its 2-hour grid: vtec, kp, lt_sin, lt_cos, doy_sin, doy_cos,
    [median27 for t + 24 h], [f107]."""
    times = pd.DatetimeIndex(vtec.index)
    enc = time_encodings(times, lon)
    df = pd.DataFrame({"vtec": vtec.to_numpy(dtype=float), "kp": kp_on_grid(kp, times), "lt_sin": enc[:, 0],
                       "lt_cos": enc[:, 1], "doy_sin": enc[:, 2], "doy_cos": enc[:, 3]}, index=times)
    if median_ahead:
        df["median27_ahead"] = median27_ahead(vtec)
        if tuple(df.columns) != FEATURES:
            raise RuntimeError(f"feature columns {tuple(df.columns)} are not FEATURES {FEATURES}")
    if f107 is not None:
        # the previous day's value: the day's own F10.7 is measured at 20 UT, after most issue times
        days = times.normalize() - pd.Timedelta(days=1)
        df["f107"] = pd.Series(f107.to_numpy(dtype=float), index=pd.DatetimeIndex(f107.index)).reindex(days).to_numpy()
    return df


# ------------------------------------------------------------------------------------ windows

def make_windows(features: pd.DataFrame, n_in: int = 12, n_out: int = 12, target: str = "vtec", *,
                 require_target: bool = True, skip: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    """Supervised windows: X = features of steps t-n_in+1 .. t, y = target at t+1+skip .. t+n_out+skip
    (`skip` = 12: the second day after the issue time, hours 26-48). Windows touching a NaN are
    dropped (with `require_target=False` only NaN inputs drop a window: operational forecasts, whose
    targets are in the future). Returns X (N, n_in, F), y (N, n_out), issue times t."""
    values = features.to_numpy(dtype=np.float32)
    y_all = features[target].to_numpy(dtype=np.float32)
    n = len(features)
    if n < n_in + n_out + skip:
        return (np.empty((0, n_in, values.shape[1]), np.float32), np.empty((0, n_out), np.float32),
                pd.DatetimeIndex([], tz="UTC"))
    win_x = np.lib.stride_tricks.sliding_window_view(values, (n_in, values.shape[1]))[:, 0][
        : n - n_in - n_out - skip + 1]
    win_y = np.lib.stride_tricks.sliding_window_view(y_all, n_out)[n_in + skip:][: len(win_x)]
    ok = np.isfinite(win_x).all(axis=(1, 2))
    if require_target:
        ok &= np.isfinite(win_y).all(axis=1)
    issue = pd.DatetimeIndex(features.index[n_in - 1: n_in - 1 + len(win_x)])[ok]
    return np.ascontiguousarray(win_x[ok]), np.ascontiguousarray(win_y[ok]), issue


def chronological_split(n: int, test_fraction: float = 0.01, val_fraction: float = 0.01
                        ) -> tuple[slice, slice, slice]:
    """The method's split: the last `test_fraction` is the test set, the rest split (1 - val) / val
    into training and validation, in time order (never shuffled across the boundaries)."""
    n_test = max(1, int(round(n * test_fraction)))
    n_rest = n - n_test
    n_val = max(1, int(round(n_rest * val_fraction)))
    n_train = n_rest - n_val
    if n_train <= 0:
        raise InsufficientDataError(f"{n} windows are too few to split into training, validation and test")
    return slice(0, n_train), slice(n_train, n_rest), slice(n_rest, n)


@dataclass
class Scaler:
    """Per-feature standardisation fitted on training windows only, saved with the model; with the
    target's own mean and std when the target is not the vTEC level (a departure from a baseline)."""

    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    target_mean: float | None = None
    target_std: float | None = None

    @classmethod
    def fit(cls, x: np.ndarray, target: np.ndarray | None = None) -> Scaler:
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        std = flat.std(axis=0)
        std[std < 1e-9] = 1.0
        out = cls(flat.mean(axis=0).tolist(), std.tolist())
        if target is not None:
            t = np.asarray(target, np.float64)
            out.target_mean, out.target_std = float(t.mean()), float(max(t.std(), 1e-6))
        return out

    @property
    def target_location(self) -> tuple[float, float]:
        """(mean, std) of the target: its own, or the vTEC column's (level targets)."""
        if self.target_mean is None or self.target_std is None:
            return self.mean[0], self.std[0]
        return self.target_mean, self.target_std

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)).astype(np.float32)

    def inverse(self, x: np.ndarray, column: int = 0) -> np.ndarray:
        return x * np.float32(self.std[column]) + np.float32(self.mean[column])

    def to_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std), "target_mean": self.target_mean,
                "target_std": self.target_std}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(list(d["mean"]), list(d["std"]), d.get("target_mean"), d.get("target_std"))


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]


# ------------------------------------------------------------------ baselines read off the windows

def persistence_from_windows(x: np.ndarray, n_out: int, vtec_column: int = 0) -> np.ndarray:
    """With 2-hour steps and 12 inputs, the last 12 inputs are the values 24 h before the 12 targets."""
    if x.shape[-2] < n_out:
        raise ValueError("persistence needs at least as many input steps as output steps")
    return x[..., -n_out:, vtec_column]


def median27_from_windows(x: np.ndarray, n_out: int) -> np.ndarray:
    """The 27-day median at the targets' UT, from the `median27_ahead` input column: at input step t it
    is the reference for t + 24 h, so the last `n_out` steps give it for the `n_out` targets."""
    return x[..., -n_out:, MEDIAN_AHEAD_COLUMN]


def issue_baseline(x: np.ndarray, n_out: int, persistence_weight: float) -> np.ndarray:
    """A fixed blend of the two baselines known at issue time: w * persistence + (1 - w) * 27-day median.
    Models that forecast the departure from it start at its skill."""
    if not 0.0 <= persistence_weight <= 1.0:
        raise ValueError(f"persistence_weight must be in [0, 1], not {persistence_weight}")
    pers = persistence_from_windows(x, n_out)
    if persistence_weight == 1.0:
        return pers
    return mix_baselines(pers, median27_from_windows(x, n_out), persistence_weight)


def baselines_at(wide: pd.DataFrame, times: pd.DatetimeIndex) -> dict[str, pd.DataFrame]:
    """Persistence (the value 24 h earlier) and the 27-day median (previous days, same UT) at `times`
    for every station, from the station history: time x station tables."""
    grid = wide.index.union(times)
    full = wide.reindex(grid)
    out = {"persistence": full.shift(freq=pd.Timedelta(hours=24)).reindex(times)}
    out["median27"] = pd.DataFrame({c: median27_series(full[c]).reindex(times) for c in wide.columns})
    return out
