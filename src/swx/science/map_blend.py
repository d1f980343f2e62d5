"""The published global map: a walk-forward blend of its members, with a calibrated uncertainty.

Members (each a full map of the target day, all known at issue time):

- ``nodes``: the node models' forecast (`swx.science.nodes`), a forecast at every grid node;
- ``corrected``: the node map corrected by the station blend's departures from it, spread by the
  extension (`swx.science.extend`) where the stations see better;
- ``persistence``: the issue day's maps at the same UT;
- ``median27``: the 27-day median map at the same UT.

The weights follow the station blend's rules (`swx.science.blend`): per latitude band and lead (the
map's epoch), weights >= 0 summing to 1 minimising the cos-latitude-weighted squared error over the
maps of the last `window_days` days already verified at issue time (never the day being forecast),
shrunk toward the prior weights by n0 / (n + n0), n the verified days. The prior weights are the
``corrected`` member alone: what is published while nothing is verified yet.

The uncertainty: the node models' out-of-fold RMSE at each node and epoch (`sigma_model`), scaled per
latitude band and local-time bin by how large the published map's errors were against it on the same
verified days (`calibration_factors`), shrunk toward 1 with few days; so the 68 % and 95 %
bands hold what they claim where the map has been verified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from swx.config import LAT_BANDS, lat_bands
from swx.science.blend import simplex_least_squares
from swx.science.geomag import local_time_hours
from swx.science.grid import area_weights
from swx.science.verify import Z68, Z95

MEMBERS = ("nodes", "corrected", "persistence", "median27")
#: what the published map is while no map has been verified: the node map corrected by the stations
PRIOR_MEMBER = "corrected"


@dataclass(frozen=True)
class MapBlendConfig:
    window_days: int = 30  # trailing window of verified maps
    shrink_days: float = 3.0  # n0: n verified days give the fitted weights n / (n + n0)
    # the calibration's n0: one verified day holds thousands of nodes in every cell (chosen on the demo days)
    shrink_calibration_days: float = 1.0
    lt_bins: int = 6  # local-time bins of the calibration (4 h each)


@dataclass(frozen=True)
class VerifiedMaps:
    """One earlier target day, verified: its members (K, E, lat, lon), published map and model sigma
    (E, lat, lon), the truth (E, lat, lon) and the epochs' UT hours (E,)."""

    members: np.ndarray
    published: np.ndarray
    sigma_model: np.ndarray
    truth: np.ndarray
    ut_hours: np.ndarray


def prior_weights(names: tuple[str, ...] = MEMBERS) -> np.ndarray:
    return np.array([1.0 if n == PRIOR_MEMBER else 0.0 for n in names])


def fit_map_weights(past: list[VerifiedMaps], lat: np.ndarray, lon: np.ndarray, n_epochs: int, *,
                    config: MapBlendConfig = MapBlendConfig(), names: tuple[str, ...] = MEMBERS
                    ) -> tuple[np.ndarray, int]:
    """Weights (bands, K, E) for `LAT_BANDS` and the verified days they were fitted on. Each band and
    lead is fitted on the nodes and days where every member and the truth are known (a lead's unknown
    truth is NaN) and shrunk by the days it had."""
    k = len(names)
    prior = prior_weights(names)
    w = np.repeat(np.repeat(prior[None, :, None], n_epochs, axis=2), len(LAT_BANDS), axis=0)
    usable = [p for p in past if p.members.shape[:2] == (k, n_epochs) and np.isfinite(p.truth).any()]
    if not usable:
        return w, 0
    band = lat_bands(lat)
    area = area_weights(lat, lon)
    gram = np.zeros((len(LAT_BANDS), n_epochs, k, k))
    days = np.zeros((len(LAT_BANDS), n_epochs))
    for p in usable:
        err = p.members - p.truth[None]  # (K, E, lat, lon)
        ok = np.isfinite(err).all(axis=0)  # every member and the truth there (an unknown epoch is NaN)
        err = np.where(ok[None], err, 0.0)
        for b, name in enumerate(LAT_BANDS):
            rows = np.broadcast_to((band == name)[:, None], area.shape)
            wt = np.where(ok[:, rows], area[rows], 0.0)  # (E, nodes of the band)
            e = err[:, :, rows] * np.sqrt(wt)[None]
            total = wt.sum(axis=1)
            seen = total > 0
            gram[b, seen] += np.einsum("keg,jeg->ekj", e, e)[seen] / total[seen, None, None]
            days[b] += seen
    if not days.any():
        return w, 0
    gram /= np.maximum(days, 1)[..., None, None]
    fitted = np.moveaxis(simplex_least_squares(gram), 1, 2)  # (bands, K, E)
    keep = (days / (days + config.shrink_days))[:, None, :]  # per band and lead: the days it was fitted on
    return keep * fitted + (1 - keep) * w, int(len(usable))


def _band_index(lat: np.ndarray) -> np.ndarray:
    """The index in LAT_BANDS of each latitude's band."""
    return np.array([LAT_BANDS.index(b) for b in lat_bands(lat)], dtype=int)


def blend_members(members: np.ndarray, weights: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The published map (E, lat, lon) of members (K, E, lat, lon) with weights (bands, K, E)."""
    w = weights[_band_index(lat)]  # (lat, K, E)
    return np.einsum("kelo,lke->elo", members, w)


def _cells(lat: np.ndarray, lon: np.ndarray, ut_hours: np.ndarray, lt_bins: int) -> np.ndarray:
    """The calibration cell (band x local-time bin) of every (epoch, lat, lon): (E, lat, lon) ints."""
    band = _band_index(lat)
    lt = local_time_hours(np.asarray(ut_hours, float)[:, None], np.asarray(lon, float)[None, :])  # (E, lon)
    lt_bin = np.minimum((lt / 24.0 * lt_bins).astype(int), lt_bins - 1)
    return band[None, :, None] * lt_bins + lt_bin[:, None, :]


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    order = np.argsort(x)
    cum = np.cumsum(w[order])
    return float(x[order][min(np.searchsorted(cum, q * cum[-1]), len(x) - 1)])


def calibration_factors(past: list[VerifiedMaps], lat: np.ndarray, lon: np.ndarray, *,
                        config: MapBlendConfig = MapBlendConfig()) -> tuple[np.ndarray, int]:
    """Per calibration cell (bands x LT bins): the factor on sigma_model that makes the published map's
    bands hold what they claim on the verified days: the geometric mean of the factors that would give
    exactly 68.27 % and 95 % coverage there (cos-latitude weighted quantiles of |error| / sigma_model;
    map errors have heavier tails than a Gaussian, so an RMS factor makes the 68 % band too wide),
    shrunk toward 1 (in log) by n / (n + n0); and the days used."""
    n_cells = len(LAT_BANDS) * config.lt_bins
    usable = [p for p in past if np.isfinite(p.truth).any() and p.published.shape == p.truth.shape]
    if not usable:
        return np.ones(n_cells), 0
    area = area_weights(lat, lon)
    z = np.concatenate([(np.abs(p.published - p.truth) / np.maximum(p.sigma_model, 1e-3)).ravel() for p in usable])
    cells = np.concatenate([_cells(lat, lon, p.ut_hours, config.lt_bins).ravel() for p in usable])
    w = np.concatenate([np.broadcast_to(area, p.truth.shape).ravel() for p in usable])
    ok = np.isfinite(z) & (w > 0)
    z, cells, w = z[ok], cells[ok], w[ok]
    log_factor = np.zeros(n_cells)
    for c in range(n_cells):
        sel = cells == c
        if sel.any():
            q68 = _weighted_quantile(z[sel], w[sel], 0.6827) / Z68
            q95 = _weighted_quantile(z[sel], w[sel], 0.95) / Z95
            log_factor[c] = 0.5 * (np.log(max(q68, 1e-3)) + np.log(max(q95, 1e-3)))
    keep = len(usable) / (len(usable) + config.shrink_calibration_days)
    return np.exp(keep * log_factor), len(usable)


def calibrated_sigma(sigma_model: np.ndarray, factors: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                     ut_hours: np.ndarray, config: MapBlendConfig = MapBlendConfig()) -> np.ndarray:
    """sigma_model (E, lat, lon) times its cell's calibration factor."""
    return sigma_model * factors[_cells(lat, lon, ut_hours, config.lt_bins)]
