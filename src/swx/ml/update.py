"""The daily incremental update of one station model: a candidate trained a few epochs on from the
active version through the day before `day`, scored walk-forward on `day` against the active one, and
kept only when it is not worse (the guardrail), else rolled back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from swx.errors import InsufficientDataError, NoActiveModelError
from swx.ml.dataset import StationDataset
from swx.ml.registry import ModelRegistry, Version
from swx.ml.training import StationForecaster, TrainConfig
from swx.science.features import persistence_from_windows
from swx.science.verify import HORIZON, STEP, scores


def walk_forward_split(issue: pd.DatetimeIndex, day: dt.date, lead_day: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Windows usable for training at the start of `day` (every target, of lead day `lead_day`, before
    `day`) and the windows that score on `day` (issued at or after its start, all targets inside `day`
    or later): disjoint, and every scored target is later than every trained target."""
    start = pd.Timestamp(day, tz="UTC")
    train = np.flatnonzero(issue + HORIZON * lead_day < start)
    score = np.flatnonzero((issue >= start) & (issue < start + pd.Timedelta(days=1)))
    return train, score


@dataclass
class UpdateDecision:
    station: str
    architecture: str
    day: dt.date
    accepted: bool
    rmse_active: float
    rmse_candidate: float
    rmse_persistence: float
    version: Version
    reason: str


def daily_update(registry: ModelRegistry, ds: StationDataset, station_index: int, architecture: str,
                 day: dt.date, *, margin: float = 0.05, replay_windows: int = 256, epochs: int = 3,
                 learning_rate: float = 5e-4, seed: int = 0, data_source: str = "") -> UpdateDecision:
    """Fine-tune the active model of one station on the newest day (plus a replay sample of recent
    history so it does not forget), then score the active and the candidate models on `day`, which
    neither has seen (walk-forward). The candidate becomes active unless its RMSE on `day` is worse
    than the active model's by more than `margin`; either way the decision and why are recorded."""
    st = ds.stations[station_index]
    active = registry.active(st.code, architecture)
    if active is None:
        raise NoActiveModelError(f"{st.code}: no active {architecture} model to update: run `swx train` first")
    current = registry.load(active)
    train_idx, score_idx = walk_forward_split(ds.issue, day, ds.lead_day)
    if len(score_idx) == 0:
        raise InsufficientDataError(f"no complete forecast window to score on {day} (maps missing around it?)")
    newest_start = pd.Timestamp(day - dt.timedelta(days=1), tz="UTC")
    # what the new version depends on, exclusive: its parent's data, the training windows and the windows
    # of `day` its acceptance is scored on (a forecast issued before that may not use it)
    seen_until = max(ds.last_target[score_idx].max() + STEP,
                     pd.Timestamp(active.train_end) if active.train_end is not None else pd.Timestamp(0, tz="UTC"))
    newest = train_idx[ds.last_target[train_idx] >= newest_start]
    older = np.setdiff1d(train_idx, newest)
    rng = np.random.default_rng(seed)
    replay = rng.choice(older[-replay_windows * 4:], size=min(replay_windows, len(older)), replace=False) \
        if len(older) else older
    fit_idx = np.sort(np.concatenate([newest, replay]))
    x_fit, y_fit = ds.take(fit_idx, [station_index])
    cand = StationForecaster(current.model_config, TrainConfig(epochs=epochs, learning_rate=learning_rate,
                                                               batch_size=32, patience=epochs, seed=seed),
                             device=str(current.device))
    cand.fit(x_fit, y_fit, None, None, init_from=current)
    x_sc, y_sc = ds.take(score_idx, [station_index])
    pa, _ = current.predict(x_sc)
    pc, _ = cand.predict(x_sc)
    s_active = scores(y_sc[0], pa[0], persistence=persistence_from_windows(x_sc[0], y_sc.shape[-1]))
    s_cand = scores(y_sc[0], pc[0])
    worse = s_cand["rmse"] > s_active["rmse"] * (1 + margin)
    reason = (f"walk-forward on {day}: candidate RMSE {s_cand['rmse']:.2f} vs active {s_active['rmse']:.2f} TECU "
              f"(persistence {s_active['rmse_persistence']:.2f}); margin {margin:.0%}")
    v = registry.register(st.code, cand, hyperparameters={"update": "daily", "epochs": epochs, "replay": len(replay),
                                                          "learning_rate": learning_rate},
                          train_start=None, train_end=seen_until.to_pydatetime(),
                          val_rmse=s_cand["rmse"], parent=active, status="candidate", data_source=data_source)
    if worse:
        registry.reject(v, "guardrail: " + reason + "; kept version %d" % active.version)
    else:
        registry.activate(v, "accepted: " + reason)
    return UpdateDecision(st.code, architecture, day, not worse, s_active["rmse"], s_cand["rmse"],
                          s_active["rmse_persistence"], v, reason)
