"""Training station models: scalers fitted on training windows only, mini-batch Adam, early stopping
on the validation windows, fixed seeds; all stations of one architecture in one batched pass. The
ridge member is fitted in closed form instead, its penalty chosen on the validation windows.

`StationForecaster` is the estimator (fit / predict / save / load); inputs are raw (unscaled)
windows stacked by station: X (S, N, T, F), y (S, N, H), with the vTEC in feature column 0 and the
27-day median ahead in column 6 (`swx.science.features.FEATURES`). Departure models learn y minus the
issue-time baseline (`swx.science.features.issue_baseline`) and add it back in `predict`.
"""

from __future__ import annotations

import copy
import hashlib
import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from swx.io.atomic import atomic_write_bytes
from swx.ml.nets import GroupedStationModel, ModelConfig, pick_device
from swx.science.features import Scaler, issue_baseline

RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # ridge penalties tried (per 1000 windows)
RIDGE_FOLDS = 5
SKIP_RIDGE_ALPHA = 1.0  # the penalty of the ridge start of a network's linear path (per 1000 windows)


def _ridge_solve(a: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights (S, D, H) and unpenalised intercepts (S, H) of y (S, N, H) on a (S, N, D)."""
    mean_a, mean_y = a.mean(axis=1, keepdims=True), y.mean(axis=1, keepdims=True)
    a_c, y_c = a - mean_a, y - mean_y
    gram = a_c.transpose(0, 2, 1) @ a_c + alpha * a.shape[1] / 1000.0 * np.eye(a.shape[-1])
    w = np.linalg.solve(gram, a_c.transpose(0, 2, 1) @ y_c)
    return w, (mean_y - mean_a @ w)[:, 0]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 8
    seed: int = 0


class StationForecaster:
    """24 h ahead forecasts for S stations of one architecture (S = 1 for a single station)."""

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig | None = None, *,
                 station_seeds: list[int] | None = None, device: str = "auto") -> None:
        self.model_config = model_config
        self.train_config = train_config or TrainConfig()
        self.station_seeds = station_seeds
        self.device = pick_device(device)
        self.model: GroupedStationModel | None = None
        self.scalers: list[Scaler] = []
        self.history: dict[str, list] = {}
        self.ensemble = False  # True: the groups are ensemble members of ONE station

    # -- target and scaling -----------------------------------------------------------------------
    def baseline(self, x: np.ndarray) -> np.ndarray | float:
        """What the model's output is added to: the issue-time baseline (departure) or 0 (level)."""
        c = self.model_config
        return issue_baseline(x, c.n_out, c.persistence_weight) if c.target == "departure" else 0.0

    def _scale(self, x: np.ndarray, y: np.ndarray | None = None):
        xs = np.stack([sc.transform(x[s]) for s, sc in enumerate(self.scalers)])
        if y is None:
            return xs, None
        target = y - self.baseline(x)
        ys = np.stack([(target[s] - sc.target_location[0]) / sc.target_location[1]
                       for s, sc in enumerate(self.scalers)]).astype(np.float32)
        return xs, ys

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(self.device)

    def _loss(self, mean: torch.Tensor, sigma: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        """Per-station mean loss, (S,): MSE, or the Gaussian negative log-likelihood."""
        if sigma is None:
            return ((mean - y) ** 2).mean(dim=(1, 2))
        nll = torch.log(sigma) + 0.5 * ((y - mean) / sigma) ** 2 + 0.5 * np.log(2 * np.pi)
        return nll.mean(dim=(1, 2))

    # -- estimator API ----------------------------------------------------------------------------
    def fit(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None,
            *, init_from: StationForecaster | None = None, progress=None) -> StationForecaster:
        """Train (or, with `init_from`, fine-tune starting from that model and its scalers). Without
        validation windows every epoch runs and the final weights are kept (no early stopping)."""
        if x_train.ndim != 4 or y_train.ndim != 3:
            raise ValueError("x must be (stations, windows, steps, features) and y (stations, windows, steps)")
        if init_from is not None and init_from.ensemble:
            n = init_from.model.n_stations
            tile = lambda a: None if a is None else np.concatenate([a] * n, axis=0)  # noqa: E731
            x_train, y_train, x_val, y_val = tile(x_train), tile(y_train), tile(x_val), tile(y_val)
            self.ensemble = True
        s = x_train.shape[0]
        cfg = self.train_config
        torch.manual_seed(cfg.seed)
        if init_from is not None:
            self.scalers = [copy.deepcopy(sc) for sc in init_from.scalers]
            self.model = copy.deepcopy(init_from.model).to(self.device)
        else:
            departure = self.model_config.target == "departure"
            target = y_train - self.baseline(x_train)
            self.scalers = [Scaler.fit(x_train[i], target[i] if departure else None) for i in range(s)]
            self.model = GroupedStationModel(self.model_config, s, self.station_seeds).to(self.device)
        has_val = x_val is not None and y_val is not None and x_val.shape[1] > 0
        if self.model_config.architecture == "ridge" and init_from is None:
            return self._fit_ridge(x_train, y_train, x_val if has_val else None, y_val if has_val else None)
        xs_train, ys_train = self._scale(x_train, y_train)
        if init_from is None and self.model_config.has_linear_path:
            self._start_linear(xs_train, ys_train)
        xt, yt = self._tensor(xs_train), self._tensor(ys_train)
        xv, yv = (self._tensor(a) for a in self._scale(x_val, y_val)) if has_val else (None, None)
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate)
        best = torch.full((s,), float("inf"))
        best_params = {k: v.detach().clone() for k, v in self.model.named_parameters()}
        since = torch.zeros(s, dtype=torch.long)
        n = xt.shape[1]
        rng = np.random.default_rng(cfg.seed)
        self.history = {"train": [], "val": []}
        for epoch in range(cfg.epochs):
            self.model.train()
            order = rng.permutation(n)
            total = torch.zeros(s)
            for start in range(0, n, cfg.batch_size):
                idx = torch.from_numpy(order[start:start + cfg.batch_size]).to(self.device)
                mean, sigma = self.model(xt[:, idx])
                loss = self._loss(mean, sigma, yt[:, idx])
                opt.zero_grad()
                loss.sum().backward()  # stations are independent: the sum keeps each gradient its own
                opt.step()
                total += loss.detach().cpu() * len(idx)
            self.model.eval()
            if not has_val:
                self.history["train"].append((total / n).tolist())
                continue
            with torch.no_grad():
                mean, sigma = self.model(xv)
                val = self._loss(mean, sigma, yv).cpu()
            self.history["train"].append((total / n).tolist())
            self.history["val"].append(val.tolist())
            improved = val < best
            best = torch.where(improved, val, best)
            since = torch.where(improved, torch.zeros_like(since), since + 1)
            with torch.no_grad():
                for k, v in self.model.named_parameters():
                    mask = improved.to(v.device).view(-1, *([1] * (v.dim() - 1)))
                    best_params[k] = torch.where(mask, v.detach(), best_params[k])
            if progress:
                progress(epoch, val)
            if bool((since >= cfg.patience).all()):
                break
        if has_val:
            with torch.no_grad():
                for k, v in self.model.named_parameters():
                    v.copy_(best_params[k])
        self.history["best_val"] = best.tolist()
        return self

    def _fit_ridge(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None,
                   y_val: np.ndarray | None) -> StationForecaster:
        """Closed-form ridge regression of the scaled target on the flattened scaled inputs, per station.
        The penalty is chosen by blocked cross-validation over the training and validation windows
        together (RIDGE_FOLDS contiguous blocks; the n_in + n_out - 1 windows on each side of a block
        are left out of its fit, so no held-out value is an input or a target of a fitted window): one
        short validation season picks penalties that do not carry over to the rest of the year. Then
        the chosen penalty is refitted on all those windows; `history["best_val"]` is its
        cross-validated RMSE in TECU (out of sample: what the ridge member's sigma is made of)."""
        if x_val is not None and y_val is not None:
            x_train, y_train = np.concatenate([x_train, x_val], axis=1), np.concatenate([y_train, y_val], axis=1)
        xs, ys = self._scale(x_train, y_train)
        s, n = xs.shape[:2]
        a = xs.reshape(s, n, -1).astype(np.float64)
        ys = ys.astype(np.float64)
        gap = self.model_config.n_in + self.model_config.n_out - 1
        folds = [np.arange(n)[k * n // RIDGE_FOLDS:(k + 1) * n // RIDGE_FOLDS] for k in range(RIDGE_FOLDS)]
        cv = np.zeros((len(RIDGE_ALPHAS), s))
        if n >= RIDGE_FOLDS * 4 * gap:  # enough windows for the folds and their purged edges
            for fold in folds:
                keep = np.ones(n, bool)
                keep[max(0, fold[0] - gap):fold[-1] + gap + 1] = False
                for k, alpha in enumerate(RIDGE_ALPHAS):
                    w, b = _ridge_solve(a[:, keep], ys[:, keep], alpha)
                    cv[k] += ((a[:, fold] @ w + b[:, None] - ys[:, fold]) ** 2).mean(axis=(1, 2))
        best = cv.argmin(axis=0) if cv.any() else np.full(s, len(RIDGE_ALPHAS) // 2)
        ws, bs = [], []
        for i in range(s):
            w, b = _ridge_solve(a[i:i + 1], ys[i:i + 1], RIDGE_ALPHAS[best[i]])
            ws.append(w[0])
            bs.append(b[0])
        self._set_linear(np.stack(ws), np.stack(bs))
        scale = np.array([sc.target_location[1] for sc in self.scalers])
        self.history = {"alpha": [[RIDGE_ALPHAS[k] for k in best]],
                        "cv_rmse_scaled": np.sqrt(cv / RIDGE_FOLDS).tolist() if cv.any() else [],  # alphas x S
                        "best_val": (np.sqrt(cv[best, np.arange(s)] / RIDGE_FOLDS) * scale).tolist() if cv.any()
                        else [float("nan")] * s}
        return self

    def _start_linear(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Start a network's linear path at the ridge solution on its own training windows, so the
        gradient steps begin from the linear forecast and spend themselves on what it misses."""
        s, n = xs.shape[:2]
        w, b = _ridge_solve(xs.reshape(s, n, -1).astype(np.float64), ys.astype(np.float64), SKIP_RIDGE_ALPHA)
        with torch.no_grad():
            self.model.skip.copy_(torch.from_numpy(w.astype(np.float32)))
            self.model.head_b.copy_(torch.from_numpy(b.astype(np.float32)))

    def _set_linear(self, w: np.ndarray, b: np.ndarray) -> None:
        with torch.no_grad():
            self.model.head.copy_(torch.from_numpy(w.astype(np.float32)))
            self.model.head_b.copy_(torch.from_numpy(b.astype(np.float32)))

    def split(self) -> list[StationForecaster]:
        """One single-station forecaster per station of a grouped one (same weights and scalers)."""
        self._require_model()
        out = []
        for i in range(self.model.n_stations):
            one = StationForecaster(self.model_config, self.train_config, device=str(self.device))
            one.scalers = [copy.deepcopy(self.scalers[i])]
            one.model = GroupedStationModel(self.model_config, 1, [0]).to(self.device)
            one.model.load_station(0, self.model.station(i))
            one.history = {k: ([row[i] for row in v] if v and isinstance(v[0], list) else v)
                           for k, v in self.history.items() if k != "best_val"}
            out.append(one)
        return out

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean (and sigma) in TECU, (S, N, H). An ensemble of one station takes (1, N, T, F) and
        returns the members' mean and the combined sigma."""
        if self.model is None:
            raise RuntimeError("the model is not trained")
        if self.ensemble:
            members = self.model.n_stations
            self.ensemble = False
            try:
                means, sigmas = self.predict(np.concatenate([x] * members, axis=0))
            finally:
                self.ensemble = True
            var = means.var(axis=0, ddof=1) if members > 1 else np.zeros_like(means[0])
            if sigmas is not None:
                var = var + np.mean(sigmas ** 2, axis=0)
            return means.mean(axis=0)[None], np.sqrt(var)[None]
        xs, _ = self._scale(x)
        self.model.eval()
        with torch.no_grad():
            mean, sigma = self.model(self._tensor(xs))
        mean = mean.cpu().numpy()
        loc = [sc.target_location for sc in self.scalers]
        out = np.stack([mean[i] * sd + mu for i, (mu, sd) in enumerate(loc)]) + self.baseline(x)
        if sigma is None:
            return out, None
        sig = sigma.cpu().numpy()
        return out, np.stack([sig[i] * sd for i, (_, sd) in enumerate(loc)])

    def _require_model(self) -> None:
        if self.model is None:
            raise RuntimeError("this forecaster has no model yet: fit or load it first")

    # -- persistence ------------------------------------------------------------------------------
    def state(self) -> dict:
        self._require_model()
        return {"model_config": self.model_config.to_dict(), "train_config": asdict(self.train_config),
                "scalers": [sc.to_dict() for sc in self.scalers],
                "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()},
                "history": self.history, "n_stations": self.model.n_stations, "ensemble": self.ensemble}

    def save(self, path: str | Path) -> str:
        """Write the checkpoint atomically; returns its sha256."""
        buf = io.BytesIO()
        torch.save(self.state(), buf)
        data = buf.getvalue()
        atomic_write_bytes(path, data)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def load(cls, path: str | Path, *, device: str = "auto", sha256: str | None = None) -> StationForecaster:
        data = Path(path).read_bytes()
        if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{path}: checksum mismatch (the checkpoint changed since it was registered)")
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        # checkpoints from before departures hold levels; from before the linear path, none
        config = {"target": "level", "linear_skip": False, **state["model_config"]}
        est = cls(ModelConfig(**config), TrainConfig(**state["train_config"]), device=device)
        est.scalers = [Scaler.from_dict(d) for d in state["scalers"]]
        est.model = GroupedStationModel(est.model_config, int(state["n_stations"])).to(est.device)
        est.model.load_state_dict(state["state_dict"])
        est.history = state["history"]
        est.ensemble = bool(state.get("ensemble", False))
        return est


class EnsembleForecaster:
    """N members of one architecture trained from different seeds, in one grouped pass (members are
    stacked like extra stations). The forecast is the members' mean; its sigma combines the spread
    between members with the members' own sigmas when they have a Gaussian head."""

    def __init__(self, members: list[StationForecaster]) -> None:
        if not members:
            raise ValueError("an ensemble needs members")
        self.members = members

    @classmethod
    def train(cls, n_members: int, model_config: ModelConfig, train_config: TrainConfig, x_train: np.ndarray,
              y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, *, device: str = "auto") -> EnsembleForecaster:
        s = x_train.shape[0]
        seeds = [1000 * (k + 1) + i for k in range(n_members) for i in range(s)]
        grouped = StationForecaster(model_config, train_config, station_seeds=seeds, device=device)
        tile = lambda a: np.concatenate([a] * n_members, axis=0)  # noqa: E731
        grouped.fit(tile(x_train), tile(y_train), tile(x_val), tile(y_val))
        singles = grouped.split()
        members = []
        for k in range(n_members):  # regroup: member k holds every station
            part = singles[k * s:(k + 1) * s]
            m = StationForecaster(model_config, train_config, device=device)
            m.scalers = [p.scalers[0] for p in part]
            m.model = GroupedStationModel(model_config, s, list(range(s))).to(m.device)
            for i, p in enumerate(part):
                m.model.load_station(i, p.model.station(0))
            members.append(m)
        return cls(members)

    def station_members(self, i: int) -> StationForecaster:
        """Station i's members as one forecaster (groups = members), e.g. to register it."""
        first = self.members[0]
        one = StationForecaster(first.model_config, first.train_config, device=str(first.device))
        one.scalers = [copy.deepcopy(m.scalers[i]) for m in self.members]
        one.model = GroupedStationModel(first.model_config, len(self.members), list(range(len(self.members))))
        one.model = one.model.to(one.device)
        for k, m in enumerate(self.members):
            one.model.load_station(k, m.model.station(i))
        one.ensemble = True
        return one

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preds = [m.predict(x) for m in self.members]
        means = np.stack([p[0] for p in preds])
        var = means.var(axis=0, ddof=1) if len(preds) > 1 else np.zeros_like(means[0])
        own = [p[1] for p in preds if p[1] is not None]
        if own:
            var = var + np.mean(np.stack(own) ** 2, axis=0)
        return means.mean(axis=0), np.sqrt(var)
