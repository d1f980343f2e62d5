"""Station datasets: the stations' series aligned on one 2-hour grid, cut into supervised windows,
split chronologically, and scored against the baselines (the rows every verification writes)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from swx.errors import InsufficientDataError
from swx.science.features import feature_matrix, fill_single_gaps, make_windows, persistence_from_windows
from swx.science.stations import Station
from swx.science.verify import HORIZON, score_rows

log = logging.getLogger(__name__)


@dataclass
class StationDataset:
    """Windows of S stations on common issue times: x (S, N, T, F), y (S, N, H)."""

    stations: list[Station]
    x: np.ndarray
    y: np.ndarray
    issue: pd.DatetimeIndex
    #: times where a station's missing value was filled from its neighbours (so known only one step later)
    filled: pd.DatetimeIndex = field(default_factory=lambda: pd.DatetimeIndex([], tz="UTC"))
    #: the day after the issue time the targets y cover (1: hours 2-24; 2: hours 26-48)
    lead_day: int = 1

    @property
    def last_target(self) -> pd.DatetimeIndex:
        return self.issue + HORIZON * self.lead_day

    def take(self, idx: np.ndarray, stations: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        s = slice(None) if stations is None else stations
        return self.x[s][:, idx], self.y[s][:, idx]


def build_dataset(wide: pd.DataFrame, stations: list[Station], kp: pd.Series, n_in: int = 12,
                  n_out: int = 12, f107: pd.Series | None = None, *, require_target: bool = True,
                  lead_day: int = 1) -> StationDataset:
    """From a time x station vTEC table (2-hourly, UTC) to aligned windows (one-step gaps filled and
    counted in the log; longer gaps drop the windows that touch them, for every station). The targets
    are the `n_out` steps of lead day `lead_day` (day 2: the day after the next, hours 26-48)."""
    per_station = []
    gaps = pd.DatetimeIndex(wide.index[:0])
    for st in stations:
        series, filled = fill_single_gaps(wide[st.code])
        if filled:
            log.info("%s: %d isolated missing step(s) filled by interpolation", st.code, filled)
            gaps = gaps.union(wide.index[wide[st.code].isna().to_numpy() & series.notna().to_numpy()])
        per_station.append(make_windows(feature_matrix(series, kp, st.lon, f107), n_in, n_out,
                                        require_target=require_target, skip=(lead_day - 1) * n_out))
    common = per_station[0][2]
    for _, _, issue in per_station[1:]:
        common = common.intersection(issue)
    xs, ys = [], []
    for x, y, issue in per_station:
        pos = issue.get_indexer(common)
        xs.append(x[pos])
        ys.append(y[pos])
    return StationDataset(list(stations), np.stack(xs), np.stack(ys), common, gaps, lead_day)


# ------------------------------------------------------------------------------------ train / evaluate

#: the least history a station model may be trained on: three days gave a ridge of 600 TECU errors,
#: made active without a word
MIN_TRAINING_DAYS = 14
WINDOWS_PER_DAY = 12  # 2-hourly issue times


def split_for_training(ds: StationDataset, train_end: dt.date | None = None, test_fraction: float = 0.01,
                       val_fraction: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The method's chronological split. With `train_end`, training and validation use only windows
    whose targets end by that day, and the test windows start after it; otherwise the last
    `test_fraction` of the windows is the test set. Validation is the last `val_fraction` of the rest."""
    n = len(ds.issue)
    if train_end is not None:
        end = pd.Timestamp(train_end + dt.timedelta(days=1), tz="UTC")
        rest = np.flatnonzero(ds.last_target < end)
        test = np.flatnonzero(ds.issue >= end)
    else:
        n_test = max(1, int(round(n * test_fraction)))
        cut = ds.issue[n - n_test]
        rest = np.flatnonzero(ds.last_target < cut)
        test = np.arange(n - n_test, n)
    n_val = max(1, int(round(len(rest) * val_fraction)))
    need = MIN_TRAINING_DAYS * WINDOWS_PER_DAY
    if len(rest) - n_val < need:
        raise InsufficientDataError(f"only {len(rest)} input windows ({len(rest) / WINDOWS_PER_DAY:.1f} days) before the "
                                    f"test period: a model needs at least {MIN_TRAINING_DAYS} days to learn from "
                                    "(ingest a longer archive, or give a later --train-end)")
    return rest[:-n_val], rest[-n_val:], test


def verification_rows(ds: StationDataset, idx: np.ndarray, predictions: dict[str, np.ndarray],
                      median27: np.ndarray, storms: set[dt.date],
                      sigmas: dict[str, np.ndarray | None] | None = None,
                      climatology: np.ndarray | None = None) -> list[dict]:
    """Scores per station, model (and the two baselines) and Kp class over the windows `idx`."""
    if len(idx) == 0:
        return []
    return score_rows(ds.stations, ds.issue[idx], ds.y[:, idx], persistence_from_windows(ds.x[:, idx], ds.y.shape[-1]),
                      median27, predictions, storms, sigmas, climatology, lead_day=ds.lead_day)


