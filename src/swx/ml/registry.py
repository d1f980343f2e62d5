"""The model registry: every version of every station model saved atomically (checkpoint with its
scalers and metadata, sha256), linked to its parent, loadable by version, with one explicit active
version per station and architecture. Files under `<data_dir>/models`, rows in `model_versions`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from swx.config import data_path, is_dangling_link, recorded_path
from swx.errors import SwxError
from swx.io.filecache import FileCache
from swx.ml.training import StationForecaster
from swx.science.verify import STEP
from swx.store.model_versions import (
    Version,
    activate_version,
    find_version,
    insert_version,
    newest_trained_by,
    next_version,
    reject_version,
    served_versions,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["ModelRegistry", "RegistryError", "Version", "predict_point_in_time", "predict_stations"]

#: models kept loaded (18 stations x 4 architectures, with room for updates)
_LOADED: FileCache[StationForecaster] = FileCache(size=256)


class RegistryError(SwxError, LookupError):
    """No such model version, or a checkpoint that no longer matches its checksum."""


class ModelRegistry:
    def __init__(self, root: str | Path, engine: Engine) -> None:
        self.root = Path(root)  # the data folder's `models` (Settings.models_dir)
        self.data_dir = self.root.parent  # what the recorded checkpoint paths are relative to
        self.engine = engine

    def _row(self, station: str, architecture: str, version: int | None = None,
             status: str | None = None) -> Version | None:
        return find_version(self.engine, station, architecture, version, status)

    def register(self, station: str, forecaster: StationForecaster, *, hyperparameters: dict[str, Any],
                 train_start: dt.datetime | None, train_end: dt.datetime | None, val_rmse: float | None,
                 parent: Version | None = None, status: str = "candidate", reason: str = "",
                 data_source: str = "") -> Version:
        """Save a single-station forecaster as the next version of (station, architecture);
        `data_source`: the centre (or "series") whose data it learnt from."""
        if forecaster.model is None or (forecaster.model.n_stations != 1 and not forecaster.ensemble):
            raise ValueError("register one station's model (one station, or one station's ensemble members)")
        arch = forecaster.model_config.family  # `cnn`, or `cnn@d2` for the second day's model
        sid, version = next_version(self.engine, station, arch)
        path = self.root / station / arch / f"v{version:04d}.pt"
        sha = forecaster.save(path)
        insert_version(self.engine, dict(
            station_id=sid, architecture=arch, version=version, parent_id=parent.id if parent else None,
            hyperparameters=hyperparameters, train_start=train_start, train_end=train_end, val_rmse=val_rmse,
            checkpoint_path=recorded_path(path, self.data_dir), checkpoint_sha256=sha, status=status, reason=reason,
            created_at=dt.datetime.now(dt.UTC), data_source=data_source))
        v = self._row(station, arch, version)
        if v is None:
            raise RegistryError(f"version {version} of {station} {arch} was written but cannot be read back")
        if status == "active":
            self.activate(v, reason or "first version")
        return v

    def active(self, station: str, architecture: str) -> Version | None:
        return self._row(station, architecture, status="active")

    def newest(self, station: str, architecture: str) -> Version | None:
        """The newest version of any status (an update's candidate, accepted or rejected)."""
        return self._row(station, architecture)

    def usable_at(self, station: str, architecture: str, issued_at: dt.datetime) -> Version | None:
        """Point in time: the newest version that served and saw no data after `issued_at` (its
        `train_end`, the exclusive end of what it was trained and accepted on, is at most one step
        later) — what a forecast issued then may use: the active one in daily operation; an older one,
        or none, when a backfill reaches back into or before the training period."""
        return self.usable_versions([station], architecture, [issued_at])[0][0]

    def usable_versions(self, stations: list[str], architecture: str, issue_times: Sequence[dt.datetime]
                        ) -> list[list[Version | None]]:
        """`usable_at` for every station and issue time ([station][time]), from one read of the registry."""
        served = served_versions(self.engine, architecture, list(stations))
        ends = [pd.Timestamp(t) + STEP for t in issue_times]
        return [[newest_trained_by(served[code], end) for end in ends] for code in stations]

    def get(self, station: str, architecture: str, version: int) -> Version:
        v = self._row(station, architecture, version)
        if v is None:
            raise RegistryError(f"no version {version} of the {architecture} model of {station}")
        return v

    def activate(self, v: Version, reason: str = "") -> None:
        """Make `v` the active version; the previous active one is retired (one transaction)."""
        activate_version(self.engine, v, reason)

    def reject(self, v: Version, reason: str) -> None:
        reject_version(self.engine, v, reason)

    def load(self, v: Version, device: str = "auto") -> StationForecaster:
        """The forecaster of a version, after checking the file against its recorded sha256. Loaded
        versions stay in memory for the next stage (the daily forecast loads every active model every
        day) while their file is the same one (inode, size, mtime): a changed file is read and checked again."""
        path = data_path(v.path, self.data_dir)
        if path.exists() and not path.is_file():  # a folder (or a device) where the checkpoint was
            raise RegistryError(f"checkpoint {path} of {v.station} {v.architecture} v{v.version} is "
                                f"{'a folder' if path.is_dir() else 'not a regular file'}: expected the model file "
                                "(restore it from a backup, or retrain)")
        try:
            if not path.is_file():
                raise FileNotFoundError(path)
            return _LOADED.get([path], lambda: StationForecaster.load(path, sha256=v.sha256, device=device),
                               (v.sha256, device))
        except (FileNotFoundError, NotADirectoryError):
            link = next((p for p in (path, *path.parents) if is_dangling_link(p)), None)
            if link is not None:  # a link to nothing, or a loop of links: not a file that went away
                what = "is" if link == path else f"lies under {link}, which is"
                raise RegistryError(f"checkpoint {path} of {v.station} {v.architecture} v{v.version} {what} a link to "
                                    f"{os.readlink(link)}, which leads to no file (a broken link or a loop): restore "
                                    "it from a backup (or mount it), or retrain") from None
            blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
            where = f": {blocked} is a file, where a folder of the models should be" if blocked else ""
            raise RegistryError(f"checkpoint {path} of {v.station} {v.architecture} v{v.version} is missing"
                                f"{where}") from None
        except ValueError as exc:
            raise RegistryError(str(exc)) from None


def predict_stations(registry: ModelRegistry, x: np.ndarray, codes: list[str], architecture: str,
                     device: str = "auto", *, issued_at: dt.datetime | None = None
                     ) -> tuple[np.ndarray, np.ndarray, list[Version]] | None:
    """Forecasts of every station (`x`: (S, N, steps, features) input windows, stations in `codes`
    order) with its `architecture` model — the active one, or with `issued_at` (the earliest issue time
    of the windows) the newest that saw no data after it (point in time) — means and sigmas (S, N, H)
    and the versions used; None when a station has no such model. A point model's sigma is its
    validation RMSE (so the blend and the extension weigh it fairly)."""
    versions = ([registry.active(code, architecture) for code in codes] if issued_at is None
                else [row[0] for row in registry.usable_versions(codes, architecture, [issued_at])])
    if any(v is None for v in versions):
        return None
    means, sigmas = [], []
    for i, v in enumerate(versions):
        mean, sigma = _predict(registry, v, x[i:i + 1], device)
        means.append(mean[0])
        sigmas.append(sigma[0])
    return np.stack(means), np.stack(sigmas), versions


def predict_point_in_time(registry: ModelRegistry, x: np.ndarray, codes: list[str], architecture: str,
                          issue_times: Sequence[dt.datetime], device: str = "auto"
                          ) -> tuple[np.ndarray, np.ndarray, list[list[Version | None]]]:
    """Forecasts of each window n (`x`: (S, N, steps, features), issued at `issue_times[n]`) with the
    newest `architecture` model of each station that saw no data after that issue time — the windows
    that share a model in one batch. Means and sigmas (S, N, H), NaN where a station has no such model,
    and the versions used ([station][window], None there)."""
    versions = registry.usable_versions(codes, architecture, issue_times)
    means = sigmas = None
    for i, row in enumerate(versions):
        for vid in {v.id for v in row if v is not None}:
            idx = np.array([n for n, v in enumerate(row) if v is not None and v.id == vid])
            v = row[idx[0]]
            mean, sigma = _predict(registry, v, x[i:i + 1, idx], device)
            if means is None:
                means = np.full((len(codes), len(row), mean.shape[-1]), np.nan)
                sigmas = np.full_like(means, np.nan)
            means[i, idx], sigmas[i, idx] = mean[0], sigma[0]
    if means is None:
        means = sigmas = np.full((len(codes), len(issue_times), 0), np.nan)
    return means, sigmas, versions


def _predict(registry: ModelRegistry, v: Version, x: np.ndarray, device: str) -> tuple[np.ndarray, np.ndarray]:
    """A version's means and sigmas for `x` (1, N, steps, features); a point model's sigma is its
    validation RMSE. vTEC is never negative: a mean below zero is zero (a physical bound on what is
    published and scored)."""
    mean, sigma = registry.load(v, device).predict(x)
    mean = np.maximum(mean, 0.0)  # NaN stays NaN
    return mean, (sigma if sigma is not None else np.full(mean.shape, v.val_rmse or np.nan))
