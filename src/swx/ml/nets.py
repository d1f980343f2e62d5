"""Station forecasting models — LSTM, GRU and 1-D CNN (kernel size 2) as in the method, and a linear
(ridge) member on the same inputs — written as *grouped* layers: every weight has a leading station
axis, so the models of all stations of one architecture train in one batched pass (group size S),
and a single station is the same code with S = 1. Glorot-normal initialisation and tanh activations;
an optional Gaussian head (mean and sigma) for training with the negative log-likelihood.

Target: the level of vTEC, or (the default) its departure from a baseline known at issue time — a
fixed blend of persistence and the 27-day median — added back on output. The output layer of a
departure model starts at zero, so an untrained model *is* that baseline and training can only
start from its skill.

Shapes: inputs (S, B, T, F) -> mean (S, B, H) [and sigma (S, B, H)].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from swx.config import ARCHITECTURES, LEAD_DAYS, TARGETS, model_family
from swx.errors import InputError
from swx.science.verify import ISSUE_BASELINE_PERSISTENCE_WEIGHT


@dataclass(frozen=True)
class ModelConfig:
    architecture: str = "cnn"
    units: int = 20
    n_features: int = 6
    n_in: int = 12
    n_out: int = 12
    gaussian: bool = False
    target: str = "departure"
    #: a linear path from the flattened inputs straight to the output, beside the network (as LSTNet's
    #: autoregressive component): the linear part of the forecast is learnt at once, the network learns
    #: what is left. Checkpoints written without it load without it.
    linear_skip: bool = True
    persistence_weight: float = ISSUE_BASELINE_PERSISTENCE_WEIGHT  # the departure's baseline (swx.science.verify)
    #: the day after the issue time it forecasts (1: hours 2-24; 2: hours 26-48, from the same inputs
    #: and the same baseline: the last day's values and the 27-day median at the same UT)
    lead_day: int = 1

    def __post_init__(self) -> None:
        if self.lead_day not in LEAD_DAYS:
            raise ValueError(f"lead_day must be one of {LEAD_DAYS}, not {self.lead_day!r}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {self.architecture!r}")
        if not 1 <= self.units <= 1024:
            raise ValueError("units must be in 1..1024")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {self.target!r}")
        if not 0.0 <= self.persistence_weight <= 1.0:
            raise ValueError("persistence_weight must be in [0, 1]")
        if self.architecture == "ridge" and self.gaussian:
            raise ValueError("the ridge member has no Gaussian head (its sigma is its validation RMSE)")

    @property
    def family(self) -> str:
        """The registry's key of this model: the architecture, and its lead day when not the first."""
        return model_family(self.architecture, self.lead_day)

    @property
    def has_linear_path(self) -> bool:
        """A network with its linear path (the ridge member is nothing but one)."""
        return self.linear_skip and self.architecture != "ridge"

    def to_dict(self) -> dict:
        return asdict(self)


def _glorot(s: int, fan_in: int, fan_out: int, generator: torch.Generator) -> torch.Tensor:
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return torch.randn(s, fan_in, fan_out, generator=generator) * std


class GroupedStationModel(nn.Module):
    """S independent station models of one architecture, evaluated together."""

    def __init__(self, config: ModelConfig, n_stations: int, seeds: list[int] | None = None) -> None:
        super().__init__()
        self.config = config
        self.n_stations = n_stations
        seeds = seeds or list(range(n_stations))
        if len(seeds) != n_stations:
            raise ValueError("one seed per station")
        c, u, f = config, config.units, config.n_features
        gates = {"lstm": 4, "gru": 3, "cnn": 1, "ridge": 0}[c.architecture]
        params: dict[str, list[torch.Tensor]] = {}
        for seed in seeds:  # each station initialised from its own seed: same weights alone or grouped
            g = torch.Generator().manual_seed(int(seed))
            if c.architecture == "ridge":  # linear in the flattened inputs (fitted in closed form)
                p = {"head": torch.zeros(c.n_in * f, c.n_out)}
                fan = c.n_in * f
            elif c.architecture == "cnn":
                p = {"w0": _glorot(1, f, u, g)[0], "w1": _glorot(1, f, u, g)[0], "b": torch.zeros(u),
                     "head": _glorot(1, u * (c.n_in - 1), c.n_out, g)[0]}
                fan = u * (c.n_in - 1)
            else:
                p = {"w_ih": _glorot(1, f, gates * u, g)[0], "w_hh": _glorot(1, u, gates * u, g)[0],
                     "b": torch.zeros(gates * u), "head": _glorot(1, u, c.n_out, g)[0]}
                fan = u
            if c.target == "departure":
                p["head"] = torch.zeros_like(p["head"])  # untrained = the baseline
            if c.has_linear_path:
                p["skip"] = torch.zeros(c.n_in * f, c.n_out)
            p["head_b"] = torch.zeros(c.n_out)
            if c.gaussian:
                p["sigma_w"] = _glorot(1, fan, c.n_out, g)[0]
                p["sigma_b"] = torch.zeros(c.n_out)
            for k, v in p.items():
                params.setdefault(k, []).append(v)
        for k, vs in params.items():
            self.register_parameter(k, nn.Parameter(torch.stack(vs)))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """(S, B, T, F) -> (S, B, D) encoding fed to the heads."""
        c = self.config
        s, b, t, f = x.shape
        if c.architecture == "ridge":
            return x.reshape(s, b, t * f)
        if c.architecture == "cnn":
            # kernel size 2: each output step sees two consecutive inputs; (S, B*(T-1), F) @ (S, F, U)
            a = torch.baddbmm(self.b[:, None, :], x[:, :, :-1].reshape(s, -1, f), self.w0)
            a = torch.baddbmm(a, x[:, :, 1:].reshape(s, -1, f), self.w1)
            return torch.tanh(a).reshape(s, b, -1)
        u = c.units
        h = x.new_zeros(s, b, u)
        cell = x.new_zeros(s, b, u)
        xw = torch.baddbmm(self.b[:, None, :], x.reshape(s, b * t, f), self.w_ih).reshape(s, b, t, -1)
        for k in range(t):
            gates_h = torch.bmm(h, self.w_hh)
            if c.architecture == "lstm":
                i, f, g, o = (xw[:, :, k] + gates_h).chunk(4, dim=-1)
                cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(cell)
            else:  # GRU
                xr, xz, xn = xw[:, :, k].chunk(3, dim=-1)
                hr, hz, hn = gates_h.chunk(3, dim=-1)
                r = torch.sigmoid(xr + hr)
                z = torch.sigmoid(xz + hz)
                n = torch.tanh(xn + r * hn)
                h = (1 - z) * n + z * h
        return h

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats = self._features(x)
        mean = torch.baddbmm(self.head_b[:, None, :], feats, self.head)
        if self.config.has_linear_path:
            s, b = x.shape[:2]
            mean = mean + torch.bmm(x.reshape(s, b, -1), self.skip)
        if not self.config.gaussian:
            return mean, None
        raw = torch.baddbmm(self.sigma_b[:, None, :], feats, self.sigma_w)
        return mean, nn.functional.softplus(raw) + 1e-3

    def station(self, index: int) -> dict[str, torch.Tensor]:
        """The parameters of one station (a slice), e.g. to save it alone."""
        return {k: v.detach()[index].clone() for k, v in self.named_parameters()}

    def load_station(self, index: int, params: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.named_parameters():
                v[index].copy_(params[k])


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise InputError("SWX_DEVICE=cuda: no CUDA device is available here (expected auto or cpu on this "
                             "machine)")
        return torch.device("cuda")
    return torch.device("cpu")


def describe_device(preference: str = "auto") -> str:
    """The device training will use, in words for logs: `cuda:0 (NVIDIA H100 80GB HBM3)` or `cpu (2 threads)`."""
    d = pick_device(preference)
    if d.type == "cuda":
        return f"cuda:{torch.cuda.current_device()} ({torch.cuda.get_device_name()})"
    return f"cpu ({torch.get_num_threads()} threads)"
