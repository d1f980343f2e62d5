"""Stage 2 of the method: station forecasts extended to a global map.

Three methods behind one interface (`extend`), measured on the same real days (docs/extension.md):

- ``residual`` (default): a prior map (the frozen-ionosphere map — the latest GIM at the same UT, the
  persistence forecast — or, in the daily forecast, that map mixed with the 27-day median map as the
  station models' own issue-time baseline) corrected by the stations' departures from it, spread by
  Gaussian-process regression (simple kriging) in coordinates where the ionosphere is organised:
  dipole magnetic latitude, local time and UT. Using every epoch of the day at once, each station's
  departures reach the other longitudes along local time. Far from any station the departure falls
  back to zero (the prior), and the posterior variance, with the station forecasts' own sigmas as
  noise (a station whose forecast is poor pulls the map less), is the uncertainty map.
- ``idw``: the same departures spread by plain inverse-distance weighting (the reference to beat).
- ``nequick``: NeQuick-G with its effective ionisation level Az fitted, epoch by epoch, to the station
  values (Cesaroni et al. 2020 style), evaluated on the grid.

Pure computations on arrays; the stage that reads the archive and writes products is `swx.pipeline.forecast`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import pandas as pd
import xarray as xr

from swx.errors import SwxError
from swx.science.features import bilinear_weights
from swx.science.geomag import dipole_latitude, local_time_hours, unit_vectors
from swx.science.verify import map_scores
from swx.sources.nequick import require_nequick

log = logging.getLogger(__name__)

DEFAULT_METHOD = "residual"


class ExtensionError(SwxError):
    """The extension cannot be computed (no station values, grid mismatch...)."""


@dataclass(frozen=True)
class StationValues:
    """vTEC at stations and epochs (forecasts, or true values for a reconstruction test), with their
    1-sigma uncertainty when known. NaN marks a missing value; it is left out of the fit."""

    time: np.ndarray  # datetime64[ns], (n_t,)
    lat: np.ndarray  # (n_s,)
    lon: np.ndarray  # (n_s,)
    value: np.ndarray  # (n_t, n_s) TECU
    sigma: np.ndarray | None = None  # (n_t, n_s) TECU
    codes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n_t, n_s = len(self.time), len(self.lat)
        if np.shape(self.value) != (n_t, n_s):
            raise ExtensionError(f"station values have shape {np.shape(self.value)}, expected ({n_t}, {n_s})")
        if self.sigma is not None and np.shape(self.sigma) != (n_t, n_s):
            raise ExtensionError("station sigmas do not have the shape of the values")

    def subset(self, keep: np.ndarray | list[int]) -> StationValues:
        """The same values at a subset of stations (indices or a boolean mask): leave-stations-out."""
        k = np.asarray(keep)
        k = np.flatnonzero(k) if k.dtype == bool else k
        return replace(self, lat=self.lat[k], lon=self.lon[k], value=self.value[:, k],
                       sigma=None if self.sigma is None else self.sigma[:, k],
                       codes=tuple(self.codes[i] for i in k) if self.codes else ())


def at_points(maps: xr.DataArray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Bilinear values of (time, lat, lon) maps at points: (n_t, n_points); exact at grid nodes."""
    glat, glon = maps["lat"].values, maps["lon"].values
    values = maps.values
    out = np.empty((values.shape[0], len(lat)))
    for k, (la, lo) in enumerate(zip(lat, lon)):
        (i0, i1, j0, j1), (w00, w10, w01, w11) = bilinear_weights(glat, glon, float(la), float(lo))
        out[:, k] = (w00 * values[:, i0, j0] + w10 * values[:, i1, j0] + w01 * values[:, i0, j1]
                     + w11 * values[:, i1, j1])
    return out


def stations_from_maps(maps: xr.DataArray, lat: np.ndarray, lon: np.ndarray, codes: tuple[str, ...] = (),
                       times: np.ndarray | None = None) -> StationValues:
    """Station values read off maps (the truth, for reconstruction tests), at `times` or every epoch."""
    m = maps if times is None else maps.sel(time=times)
    return StationValues(m["time"].values, np.asarray(lat, float), np.asarray(lon, float),
                         at_points(m, lat, lon), None, codes)


def _ut_hours(times: np.ndarray, origin: np.datetime64) -> np.ndarray:
    return (np.asarray(times, dtype="datetime64[ns]") - origin) / np.timedelta64(1, "h")


class Extender(Protocol):
    name: str

    def extend(self, prior: xr.DataArray, stations: StationValues) -> tuple[np.ndarray, np.ndarray]:
        """(tec, sigma) arrays (time, lat, lon) at the prior's epochs."""
        ...


def _departures(prior: xr.DataArray, stations: StationValues) -> tuple[np.ndarray, np.ndarray]:
    """Station value minus the prior map at the station, for every station epoch: (n_t, n_s)."""
    missing = np.setdiff1d(stations.time, prior["time"].values)
    if len(missing):
        raise ExtensionError(f"the prior maps lack the station epochs {[str(t) for t in missing[:3]]}...")
    p = at_points(prior.sel(time=stations.time), stations.lat, stations.lon)
    return stations.value - p, p


def _prior_sigma(dep: np.ndarray, floor: float = 0.5) -> float:
    """The spread of the departures themselves: the persistence error the stations see that day."""
    d = dep[np.isfinite(dep)]
    return float(max(np.sqrt(np.mean(d ** 2)) if len(d) else floor, floor))


@dataclass
class InverseDistance:
    """Departures from persistence spread by inverse great-circle-distance weights (power `power`)."""

    power: float = 2.0
    name: str = "idw"

    def extend(self, prior: xr.DataArray, stations: StationValues) -> tuple[np.ndarray, np.ndarray]:
        dep, _ = _departures(prior, stations)
        lat, lon = prior["lat"].values, prior["lon"].values
        la, lo = np.meshgrid(lat, lon, indexing="ij")
        g = unit_vectors(la.ravel(), lo.ravel())
        s = unit_vectors(stations.lat, stations.lon)
        d = np.arccos(np.clip(g @ s.T, -1.0, 1.0))
        w = 1.0 / np.maximum(d, 1e-6) ** self.power
        tec = prior.values.astype(float).copy()
        sigma = np.empty_like(tec)
        s_prior = _prior_sigma(dep)
        # nearest station distance -> sigma grows from the station's own sigma to the prior spread
        near = d.min(axis=1).reshape(la.shape)
        grow = 1.0 - np.exp(-(near / np.radians(20.0)) ** 2)
        pos = {t: i for i, t in enumerate(stations.time)}
        for k, t in enumerate(prior["time"].values):
            i = pos.get(t)
            if i is None:  # no station value at this epoch: the nearest epochs' departures, linearly
                row = _interp_rows(prior["time"].values[k], stations.time, dep)
                sig_row = None
            else:
                row = dep[i]
                sig_row = None if stations.sigma is None else stations.sigma[i]
            ok = np.isfinite(row)
            if ok.any():
                tec[k] += ((w[:, ok] @ row[ok]) / w[:, ok].sum(axis=1)).reshape(la.shape)
            s0 = 0.0 if sig_row is None else float(np.sqrt(np.nanmean(sig_row ** 2)))
            sigma[k] = np.sqrt(s0 ** 2 * (1 - grow) + s_prior ** 2 * grow)
        return tec, sigma


def _interp_rows(t: np.datetime64, times: np.ndarray, rows: np.ndarray) -> np.ndarray:
    x = (times - times[0]) / np.timedelta64(1, "s")
    xt = (t - times[0]) / np.timedelta64(1, "s")
    out = np.full(rows.shape[1], np.nan)
    for j in range(rows.shape[1]):
        ok = np.isfinite(rows[:, j])
        if ok.any():
            out[j] = np.interp(xt, x[ok], rows[ok, j])
    return out


def _explained_variance(k_rows: np.ndarray, chol_inv: np.ndarray) -> np.ndarray:
    """diag(k K⁻¹ kᵀ) for kernel rows k and K⁻¹ = L⁻ᵀ L⁻¹ (`chol_inv` = L⁻¹, lower triangular): the
    part of the prior variance the stations explain at each node — the posterior variance's main
    cost, done by BLAS's triangular product in float32 (the maps are stored in float32): ~1e-6 of the
    prior variance off float64's, ~1e-5 TECU on the sigma maps (stored to 0.1 TECU in IONEX)."""
    from scipy.linalg.blas import strmm  # scipy.linalg takes ~0.2 s to import: only where maps are made

    v = strmm(1.0, np.asarray(chol_inv, np.float32), np.asarray(k_rows, np.float32), side=1, lower=1, trans_a=1)
    return np.einsum("ij,ij->i", v, v).astype(float)


@dataclass
class ResidualField:
    """Persistence map + Gaussian-process (simple kriging) field of the station departures.

    Covariance: exp(-Δφm²/2Lφ² - ΔLT²/2Lₗₜ² - ΔUT²/2Lᵤₜ²), φm the dipole magnetic latitude, LT local
    time (cyclic), UT over the day, scaled by the departures' own variance; `nugget` (relative) plus
    each station's forecast variance on the diagonal. Defaults chosen on the shared real days, by the
    mean of the full rebuild's and the leave-stations-out RMSE (docs/extension.md shows how flat it is).
    """

    length_lat: float = 15.0  # degrees of magnetic latitude
    length_lt: float = 2.0  # hours of local time
    length_ut: float = 4.0  # hours of UT
    nugget: float = 0.3
    sigma_inflation: float = 1.2
    variance_stride: int | None = None  # None: every node up to 1000 observations, every 3rd beyond
    name: str = "residual"
    chunk: int = 4096
    factored_cells: int = 2 ** 24  # grid nodes x observations up to which the kernel is factored (~0.5 GB peak)

    def _features(self, lat: np.ndarray, lon: np.ndarray, ut: np.ndarray) -> np.ndarray:
        return np.stack([dipole_latitude(lat, lon), local_time_hours(ut, lon), np.broadcast_to(ut, np.shape(lat))],
                        axis=-1).reshape(-1, 3)

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        dlat = (a[:, None, 0] - b[None, :, 0]) / self.length_lat
        dlt = (np.mod(a[:, None, 1] - b[None, :, 1] + 12.0, 24.0) - 12.0) / self.length_lt
        dut = (a[:, None, 2] - b[None, :, 2]) / self.length_ut
        return np.exp(-0.5 * (dlat ** 2 + dlt ** 2 + dut ** 2))

    def extend(self, prior: xr.DataArray, stations: StationValues) -> tuple[np.ndarray, np.ndarray]:
        dep, _ = _departures(prior, stations)
        times = prior["time"].values
        origin = times[0].astype("datetime64[D]")
        ut_obs = _ut_hours(stations.time, origin)
        x_obs = np.concatenate([self._features(stations.lat, stations.lon, np.full(len(stations.lat), u))
                                for u in ut_obs])
        y = dep.reshape(-1)
        noise = np.zeros_like(y) if stations.sigma is None else stations.sigma.reshape(-1) ** 2
        ok = np.isfinite(y) & np.isfinite(noise)
        if not ok.any():
            raise ExtensionError("no finite station departure to spread")
        x_obs, y, noise = x_obs[ok], y[ok], noise[ok]
        s2 = _prior_sigma(y) ** 2
        k = s2 * self._kernel(x_obs, x_obs) + np.diag(self.nugget * s2 + noise)
        chol = np.linalg.cholesky(k)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y))
        chol_inv = np.linalg.inv(chol).astype(np.float32)  # for the variance only: cast once, not per epoch

        lat, lon = prior["lat"].values, prior["lon"].values
        la, lo = np.meshgrid(lat, lon, indexing="ij")
        # The posterior variance costs n_obs^2 per node: with many stations it is computed on every
        # `stride`-th node and interpolated (it is smooth; the mean is always computed everywhere).
        stride = self.variance_stride or (1 if len(y) <= 1000 else 3)
        ii, jj = np.arange(0, len(lat), stride), np.arange(0, len(lon), stride)
        ii, jj = np.union1d(ii, [len(lat) - 1]), np.union1d(jj, [len(lon) - 1])
        cla, clo = np.meshgrid(lat[ii], lon[jj], indexing="ij")
        tec = prior.values.astype(float).copy()
        sigma = np.empty_like(tec)
        # The kernel is a product of a magnetic-latitude, a local-time and a UT factor. On a grid the
        # first does not change with the epoch and the others depend on longitude and UT only: computed
        # once per call and per epoch, the kernel rows are one product (where they fit in memory).
        factored = stride == 1 and la.size * len(y) <= self.factored_cells
        if factored:
            k_lat = np.exp(-0.5 * ((dipole_latitude(la, lo)[..., None] - x_obs[:, 0]) / self.length_lat) ** 2)
        for i, u in enumerate(_ut_hours(times, origin)):
            if factored:
                dlt = (np.mod(local_time_hours(u, lon)[:, None] - x_obs[:, 1] + 12.0, 24.0) - 12.0) / self.length_lt
                k_time = np.exp(-0.5 * (dlt ** 2 + ((u - x_obs[:, 2]) / self.length_ut) ** 2))  # (lon, obs)
                kg = (s2 * k_lat * k_time).reshape(la.size, -1)
                tec[i] += (kg @ alpha).reshape(la.shape)
                sigma[i] = np.sqrt(np.maximum(s2 - _explained_variance(kg, chol_inv), 0.0)).reshape(la.shape)
                continue
            g = self._features(la.ravel(), lo.ravel(), np.full(la.size, u))
            mean = np.empty(la.size)
            var = np.empty(cla.size)
            for a in range(0, la.size, self.chunk):
                kg = s2 * self._kernel(g[a:a + self.chunk], x_obs)
                mean[a:a + self.chunk] = kg @ alpha
                if stride == 1:  # every node: the same kernel rows give the variance
                    var[a:a + self.chunk] = s2 - _explained_variance(kg, chol_inv)
            tec[i] += mean.reshape(la.shape)
            if stride > 1:
                gc = self._features(cla.ravel(), clo.ravel(), np.full(cla.size, u))
                for a in range(0, cla.size, self.chunk):
                    var[a:a + self.chunk] = s2 - _explained_variance(s2 * self._kernel(gc[a:a + self.chunk], x_obs),
                                                                    chol_inv)
            sd = np.sqrt(np.maximum(var, 0.0)).reshape(cla.shape)
            if stride > 1:
                sd = np.stack([np.interp(np.arange(len(lon)), jj, row) for row in sd])
                sd = np.stack([np.interp(np.arange(len(lat)), ii, col) for col in sd.T], axis=1)
            sigma[i] = sd
        # Day-to-day departures scale with the TEC level (crests move more than the polar caps): the
        # posterior sd, of the departures' average size, is scaled by the local level and inflated
        # (chosen on the shared real days: the 1-sigma band then holds 62-80 % of the errors).
        p_st = at_points(prior.sel(time=stations.time), stations.lat, stations.lon)
        level = float(np.sqrt(np.nanmean(p_st ** 2))) or 1.0
        sigma *= self.sigma_inflation * (0.5 + 0.5 * np.maximum(prior.values, 0.0) / level)
        return tec, sigma


@dataclass
class NeQuickFit:
    """NeQuick-G with its effective ionisation level Az fitted to the station values at each epoch
    (weighted least squares, golden-section search over Az), evaluated on the grid."""

    az_min: float = 5.0
    az_max: float = 350.0
    name: str = "nequick"
    iterations: int = 40
    fitted_az: dict = field(default_factory=dict)

    def _model(self, az: float):
        return require_nequick().NeQuick(float(az), 0.0, 0.0)

    @staticmethod
    def _vtec(model, epoch: dt.datetime, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        # compute_vtec takes (epoch, lon, lat), whatever the package README says
        return np.array([model.compute_vtec(epoch, float(o), float(a)) for a, o in zip(lat, lon)])

    def fit_az(self, epoch: dt.datetime, lat: np.ndarray, lon: np.ndarray, value: np.ndarray,
               weight: np.ndarray) -> tuple[float, float]:
        """Az minimising the weighted squared misfit at the stations, and the misfit's RMS."""

        def cost(az: float) -> float:
            r = self._vtec(self._model(az), epoch, lat, lon) - value
            return float(np.sum(weight * r ** 2))

        # coarse scan in log(Az) (the misfit is not convex over the whole range), then golden section
        grid = np.geomspace(self.az_min, self.az_max, 16)
        costs = [cost(a) for a in grid]
        j = int(np.argmin(costs))
        lo, hi = np.log(grid[max(j - 1, 0)]), np.log(grid[min(j + 1, len(grid) - 1)])
        g = (np.sqrt(5) - 1) / 2
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        fc, fd = cost(np.exp(c)), cost(np.exp(d))
        for _ in range(self.iterations):
            if fc < fd:
                hi, d, fd = d, c, fc
                c = hi - g * (hi - lo)
                fc = cost(np.exp(c))
            else:
                lo, c, fc = c, d, fd
                d = lo + g * (hi - lo)
                fd = cost(np.exp(d))
            if hi - lo < 1e-3:
                break
        az = float(np.exp((lo + hi) / 2))
        rms = float(np.sqrt(cost(az) / max(np.sum(weight), 1e-12)))
        return az, rms

    def extend(self, prior: xr.DataArray, stations: StationValues) -> tuple[np.ndarray, np.ndarray]:
        lat, lon = prior["lat"].values, prior["lon"].values
        la, lo = np.meshgrid(lat, lon, indexing="ij")
        times = prior["time"].values
        tec = np.empty((len(times), len(lat), len(lon)))
        sigma = np.empty_like(tec)
        pos = {t: i for i, t in enumerate(stations.time)}
        for k, t in enumerate(times):
            i = pos.get(t)
            row = _interp_rows(t, stations.time, stations.value) if i is None else stations.value[i]
            sig = None if (stations.sigma is None or i is None) else stations.sigma[i]
            ok = np.isfinite(row)
            if not ok.any():
                raise ExtensionError(f"no station value near {t}")
            w = np.ones(ok.sum()) if sig is None else 1.0 / np.maximum(sig[ok], 0.1) ** 2
            epoch = pd.Timestamp(t).to_pydatetime()
            az, rms = self.fit_az(epoch, stations.lat[ok], stations.lon[ok], row[ok], w)
            self.fitted_az[str(t)] = az
            model = self._model(az)
            tec[k] = self._vtec(model, epoch, la.ravel(), lo.ravel()).reshape(la.shape)
            s0 = 0.0 if sig is None else float(np.sqrt(np.nanmean(sig ** 2)))
            sigma[k] = np.sqrt(rms ** 2 + s0 ** 2)
        return tec, sigma


METHODS: dict[str, type] = {"residual": ResidualField, "idw": InverseDistance, "nequick": NeQuickFit}


def make_extender(method: str = DEFAULT_METHOD, **params) -> Extender:
    try:
        return METHODS[method](**params)
    except KeyError:
        raise ExtensionError(f"unknown extension method {method!r}; choose one of {', '.join(METHODS)}") from None


def extend(prior: xr.DataArray, stations: StationValues, method: str = DEFAULT_METHOD, **params) -> xr.Dataset:
    """The global forecast: `tec` and its 1-sigma `tec_sigma` (time, lat, lon) at the prior's epochs.

    `prior` is the map the station departures correct: the persistence forecast (the latest maps at the
    same UT, stamped with the target epochs) or a mix of it with the 27-day median map (it is the
    starting point of ``residual`` and ``idw``; ``nequick`` uses only its grid)."""
    extender = make_extender(method, **params)
    if not len(stations.time) or not np.isfinite(stations.value).any():
        # maps whose epochs are not the forecast's valid times, or no station with a value
        raise ExtensionError(f"no station value at the map's epochs ({len(stations.time)} epoch(s) in common, "
                             f"{int(np.isfinite(stations.value).sum())} value(s)): nothing to spread over the map")
    tec, sigma = extender.extend(prior, stations)
    tec = np.maximum(tec, 0.0)  # vTEC is not negative
    coords = {"time": prior["time"].values, "lat": prior["lat"].values, "lon": prior["lon"].values}
    return xr.Dataset({"tec": (("time", "lat", "lon"), tec.astype(np.float32)),
                       "tec_sigma": (("time", "lat", "lon"), sigma.astype(np.float32))}, coords=coords,
                      attrs={"extension_method": extender.name, "n_stations": int(len(stations.lat))})


def persistence_prior(latest: xr.DataArray, target_times: np.ndarray) -> xr.DataArray:
    """The frozen-ionosphere forecast: each target epoch takes the latest map at the same UT (one day
    earlier), stamped with the target epoch."""
    src = np.asarray(target_times, dtype="datetime64[ns]") - np.timedelta64(1, "D")
    have = latest["time"].values
    missing = np.setdiff1d(src, have)
    if len(missing):
        raise ExtensionError(f"the latest maps lack the epochs {[str(t) for t in missing[:3]]} needed for "
                             "persistence (a day of maps at the target's epochs)")
    out = latest.sel(time=src).copy()
    return out.assign_coords(time=np.asarray(target_times, dtype="datetime64[ns]"))


# ------------------------------------------------------------------------------------ measuring

def reconstruction_scores(previous: xr.DataArray, target: xr.DataArray, lat: np.ndarray, lon: np.ndarray,
                          methods: list[str] | None = None, *, folds: list[np.ndarray] | None = None,
                          codes: tuple[str, ...] = ()) -> pd.DataFrame:
    """How well each method rebuilds a real day of maps from the *true* values at the stations, with
    the previous day's maps as persistence: the extension's own error, apart from the station models'.

    Rows per method (and `persistence`): global RMSE over grid nodes and area-weighted, by latitude band
    and land/ocean; with `folds` (lists of station indices to hold out) also leave-stations-out RMSE
    at the held-out stations, beside persistence's there."""
    times = target["time"].values
    times = times[np.isin(times - np.timedelta64(1, "D"), previous["time"].values)]
    prior = persistence_prior(previous, times)
    truth = target.sel(time=times)
    values = stations_from_maps(truth, lat, lon, codes)
    rows = []
    for method in methods or list(METHODS):
        grid = extend(prior, values, method)
        for r in map_scores(grid["tec"].values, truth.values, truth["lat"].values, truth["lon"].values,
                            persistence=prior.values, sigma=grid["tec_sigma"].values):
            rows.append({"method": method, **r})
        if folds:
            err, err_p = [], []
            for held in folds:
                keep = np.setdiff1d(np.arange(len(lat)), held)
                g = extend(prior, values.subset(keep), method)["tec"]
                err.append(at_points(g, lat[held], lon[held]) - values.value[:, held])
                err_p.append(at_points(prior, lat[held], lon[held]) - values.value[:, held])
            e, ep = np.concatenate(err, axis=1), np.concatenate(err_p, axis=1)
            rows.append({"method": method, "region": "left-out stations", "n": int(e.size),
                         "rmse": float(np.sqrt(np.mean(e ** 2))), "rmse_persistence": float(np.sqrt(np.mean(ep ** 2))),
                         "skill_vs_persistence": 1 - float(np.sqrt(np.mean(e ** 2))) / float(np.sqrt(np.mean(ep ** 2)))})
    return pd.DataFrame(rows)
