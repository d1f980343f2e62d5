"""The node models' files: the ridge per node (`swx.science.nodes.NodeRidge`), one file per analysis
centre and training end, `models/nodes/<centre>/nodes_<YYYYMMDD>.npz` (the date: the first day the model
never saw), and the network shared by the nodes, `nodes_net2_<YYYYMMDD>.pt` beside it (retrained less
often; the 2 is its input rule, `NET_FORMAT`: a network of an older rule is not read, and the next
update trains one). Both are found point in time as the station models are: a forecast issued from the maps of day D
uses the newest model trained on the maps before D, never one that saw the day it forecasts."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from swx.io.atomic import atomic_write_bytes
from swx.ml.training import StationForecaster, TrainConfig
from swx.ml.nets import ModelConfig
from swx.science.nodes import NodeModelError, NodeRidge, relative_windows

NODE_MODELS = "nodes"
#: the node network's input rule: 2 = windows relative to their level (`relative_windows`)
NET_FORMAT = 2
_NAME = re.compile(r"^nodes_(\d{8})\.npz$")
_NET_NAME = re.compile(rf"^nodes_net{NET_FORMAT}_(\d{{8}})\.pt$")


class NodeModelFileError(NodeModelError):
    """A node model file cannot be read (truncated, another format): the run publishes without it."""


@dataclass(frozen=True)
class NodeModelInfo:
    """What a node model was trained on: its grid, the epochs of a day, and the days."""

    centre: str
    lat: list[float]
    lon: list[float]
    epochs: int  # maps per forecast day (13 for 2-hourly maps with both midnights)
    train_start: str  # ISO date of the first issue day
    train_end: str  # ISO date: the first day whose maps the model never saw (exclusive end)
    n_days: int
    alpha: float
    cv_rmse: float  # out-of-fold RMSE of the departures, TECU
    cv_rmse_prior: float  # the prior's (no departure) on the same days

    @property
    def end(self) -> dt.date:
        return dt.date.fromisoformat(self.train_end)

    @property
    def cv_skill(self) -> float:
        """Out-of-fold skill against the prior (persistence mixed with the 27-day median)."""
        return 1.0 - self.cv_rmse / self.cv_rmse_prior if self.cv_rmse_prior > 0 else float("nan")


def node_model_dir(models_dir: Path, centre: str) -> Path:
    return Path(models_dir) / NODE_MODELS / centre


def node_model_path(models_dir: Path, centre: str, train_end: dt.date) -> Path:
    return node_model_dir(models_dir, centre) / f"nodes_{train_end:%Y%m%d}.npz"


def save_node_model(model: NodeRidge, info: NodeModelInfo, models_dir: Path) -> Path:
    """Write the model atomically (a killed write leaves no half file under the model's name)."""
    buf = io.BytesIO()
    np.savez(buf, coef=model.coef_, mean=model.mean_, scale=model.scale_, sigma=model.sigma_,
             info=np.array(json.dumps(asdict(info))))
    return atomic_write_bytes(node_model_path(models_dir, info.centre, info.end), buf.getvalue())


def load_node_model(path: Path) -> tuple[NodeRidge, NodeModelInfo]:
    try:
        with np.load(path, allow_pickle=False) as f:
            model = NodeRidge()
            model.coef_, model.mean_, model.scale_, model.sigma_ = f["coef"], f["mean"], f["scale"], f["sigma"]
            info = NodeModelInfo(**json.loads(str(f["info"])))
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise NodeModelFileError(f"{path}: not a readable node model ({type(exc).__name__}: {exc})") from exc
    model.alpha_, model.cv_rmse_, model.cv_rmse_prior_, model.n_days_ = (info.alpha, info.cv_rmse,
                                                                          info.cv_rmse_prior, info.n_days)
    return model, info


def _ends(folder: Path, name: re.Pattern) -> list[dt.date]:
    ends = [dt.datetime.strptime(m.group(1), "%Y%m%d").date()
            for p in (folder.iterdir() if folder.is_dir() else []) if (m := name.match(p.name))]
    return sorted(ends)


def node_model_ends(models_dir: Path, centre: str) -> list[dt.date]:
    """The training ends of the centre's node models, oldest first."""
    return _ends(node_model_dir(models_dir, centre), _NAME)


def _newest(ends: list[dt.date], latest: dt.date) -> dt.date | None:
    """Point in time: the newest training end a forecast issued from the maps of `latest` may use (a
    model trained on the maps before `latest`), or None. Not on `latest`'s own maps: a day's file ends
    with the next midnight, the first epoch of the day the forecast is scored on."""
    usable = [e for e in ends if e <= latest]
    return usable[-1] if usable else None


def node_model_at(models_dir: Path, centre: str, latest: dt.date) -> Path | None:
    """The newest node model of `centre` trained on the maps before `latest` (`_newest`), or None."""
    end = _newest(node_model_ends(models_dir, centre), latest)
    return None if end is None else node_model_path(models_dir, centre, end)


def node_net_path(models_dir: Path, centre: str, train_end: dt.date) -> Path:
    return node_model_dir(models_dir, centre) / f"nodes_net{NET_FORMAT}_{train_end:%Y%m%d}.pt"


def node_net_ends(models_dir: Path, centre: str) -> list[dt.date]:
    """The training ends of the centre's node networks, oldest first."""
    return _ends(node_model_dir(models_dir, centre), _NET_NAME)


def node_net_end_at(models_dir: Path, centre: str, latest: dt.date) -> dt.date | None:
    """The training end of the newest node network trained on the maps before `latest`, or None."""
    return _newest(node_net_ends(models_dir, centre), latest)


def node_net_at(models_dir: Path, centre: str, latest: dt.date) -> Path | None:
    """Point in time, as `node_model_at`: the newest node network trained on the maps before `latest`."""
    end = node_net_end_at(models_dir, centre, latest)
    return None if end is None else node_net_path(models_dir, centre, end)


def fit_node_net(config: ModelConfig, training: TrainConfig, x: np.ndarray, y: np.ndarray, train: np.ndarray,
                 val: np.ndarray, *, device: str = "cpu") -> StationForecaster:
    """The network shared by the nodes, trained on the windows `x` (n, steps, NET_FEATURES) and targets
    `y` (n, steps) of `train` (a mask), early-stopped on `val`, all relative to each window's level."""
    xr, yr, _ = relative_windows(x, y)
    net = StationForecaster(config, training, station_seeds=[0], device=device)
    return net.fit(xr[None, train], yr[None, train], xr[None, val], yr[None, val])


def predict_node_net(net: StationForecaster, x: np.ndarray) -> np.ndarray:
    """The node network's forecast (n, steps) in TECU of the windows `x` (n, steps, NET_FEATURES)."""
    xr, _, level = relative_windows(x)
    mean, _ = net.predict(xr[None])
    return mean[0] * level[:, None]


def save_node_net(net: StationForecaster, models_dir: Path, centre: str, train_end: dt.date) -> Path:
    path = node_net_path(models_dir, centre, train_end)
    net.save(path)
    return path


def load_node_net(path: Path) -> StationForecaster:
    try:
        return StationForecaster.load(path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - torch's loader raises unpickling, zip, runtime errors alike
        raise NodeModelFileError(f"{path}: not a readable node network ({type(exc).__name__}: {exc})") from exc
