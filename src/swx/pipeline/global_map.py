"""The published global map of one run: its members (the node forecast, the station blend extended over
it, persistence and the 27-day median), blended with weights fitted on the maps verified before the
issue day, and its calibrated uncertainty (`swx.science.map_blend`). The members travel in the
product (`member_tec`), so each later run fits its weights on what earlier runs published."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.config import LAT_BANDS
from swx.errors import DataFormatError
from swx.io.maps_netcdf import UNREADABLE_NETCDF
from swx.pipeline.context import Context, archived_maps
from swx.products import unreadable_product
from swx.science.extend import StationValues, extend
from swx.science.map_blend import (
    MEMBERS,
    MapBlendConfig,
    VerifiedMaps,
    blend_members,
    calibrated_sigma,
    calibration_factors,
    fit_map_weights,
)
from swx.store.queries import runs_for_day

log = logging.getLogger(__name__)


#: the columns of a run's map weights (`map_blend_weights`)
MAP_WEIGHT_COLUMNS = ["method", "lat_band", "member", "lead_h", "weight", "n_days"]


@dataclass
class PublishedMap:
    """The map of one method: `tec`, `tec_sigma` (and the members, the model sigma) as a Dataset, and
    its weights (lat_band, member, lead_h, weight, n_days) and calibration days."""

    grid: xr.Dataset
    weights: pd.DataFrame
    calibration_days: int


def _ut_hours(times: np.ndarray) -> np.ndarray:
    t = np.asarray(times, dtype="datetime64[ns]")
    return (t - t[0].astype("datetime64[D]")) / np.timedelta64(1, "h")


def verified_maps(ctx: Context, method: str, target_day: dt.date, latest: dt.date, lat: np.ndarray,
                  lon: np.ndarray, config: MapBlendConfig = MapBlendConfig(), lead_day: int = 1
                  ) -> list[VerifiedMaps]:
    """The maps published for the target days of the trailing window that are verified by the issue
    time, with their members: the newest finished run of each day made from the maps `lead_day` days
    before it (the same lead as the run being made; not a run carried forward from older ones),
    against the truth of days up to `latest`, and never at or after the end of `latest` (the last map
    of `latest`'s file is the next day's first epoch: left out, NaN)."""
    out = []
    first = target_day - dt.timedelta(days=config.window_days + lead_day - 1)
    cutoff = np.datetime64(pd.Timestamp(latest + dt.timedelta(days=1)))
    for k in range((latest - first).days + 1):
        day = first + dt.timedelta(days=k)
        if day > latest:
            break
        runs = runs_for_day(ctx.engine, day, ctx.settings.data_dir, lead_day=lead_day)
        path = next((r.products.get(method) for r in runs.itertuples()
                     if _from_maps_before(r.issue_time, day, lead_day) and r.products.get(method)), None)
        if path is None or not Path(path).exists():
            continue
        truth = archived_maps(ctx, [day])
        if truth is None:
            continue
        try:
            got = _verified_map(path, truth, lat, lon, cutoff)
        except DataFormatError as exc:  # a damaged past product: the weights learn from the others
            log.warning("%s: left out of the map's weights", exc)
            continue
        if got is not None:
            out.append(got)
    return out


def _verified_map(path, truth: xr.DataArray, lat: np.ndarray, lon: np.ndarray, cutoff: np.datetime64
                  ) -> VerifiedMaps | None:
    """A published product's members and map against the truth known by `cutoff` (None when it is of
    another kind or grid); only the variables used are read. A product that cannot be read is a
    DataFormatError (`swx.products.unreadable_product`)."""
    try:
        with xr.open_dataset(path) as f:
            if "member_tec" not in f or list(f["member"].values) != list(MEMBERS):
                return None
            times = f["time"].values
            if (not np.isin(times, truth["time"].values).all() or f["tec"].shape[1:] != truth.shape[1:]
                    or not np.array_equal(f["lat"].values, lat) or not np.array_equal(f["lon"].values, lon)):
                return None  # another grid (the centre changed it): not comparable with today's map
            members, tec = f["member_tec"].values.astype(float), f["tec"].values.astype(float)
            sigma = f["tec_sigma_model"].values.astype(float)
    except UNREADABLE_NETCDF as exc:
        raise unreadable_product(path, exc) from None
    known = truth.sel(time=times).values.astype(float)
    known[times >= cutoff] = np.nan
    return VerifiedMaps(members, tec, sigma, known, _ut_hours(times))


def _from_maps_before(issue_time, target_day: dt.date, lead_day: int) -> bool:
    """A run's map was made from the maps of `lead_day` days before its target day (a run carried
    forward keeps the issue time of its older maps)."""
    return pd.Timestamp(issue_time).date() + dt.timedelta(days=lead_day) == target_day


def publish_map(ctx: Context, method: str, target_day: dt.date, latest: dt.date, issue_time: pd.Timestamp, *,
                node_tec: np.ndarray, node_sigma: np.ndarray, node_train_end: str, persistence: xr.DataArray, median27: np.ndarray,
                node_network_train_end: str = "",
                stations: StationValues, config: MapBlendConfig = MapBlendConfig(), lead_day: int = 1
                ) -> PublishedMap:
    """The published map of `method`: the members, the walk-forward weights and the calibrated sigma,
    both learnt from the verified maps of the same lead day."""
    lat, lon, times = persistence["lat"].values, persistence["lon"].values, persistence["time"].values
    node_prior = persistence.copy(data=node_tec)
    corrected = extend(node_prior, stations, method)["tec"].values.astype(float)
    pers = persistence.values.astype(float)
    med = np.where(np.isfinite(median27), median27, pers)  # too short a history: persistence there
    members = np.stack([node_tec, corrected, pers, med])
    past = verified_maps(ctx, method, target_day, latest, lat, lon, config, lead_day)
    weights, n_days = fit_map_weights(past, lat, lon, len(times), config=config)
    tec = np.maximum(blend_members(members, weights, lat), 0.0)
    factors, n_cal = calibration_factors(past, lat, lon, config=config)
    sigma = calibrated_sigma(node_sigma, factors, lat, lon, _ut_hours(times), config)
    dims = ("time", "lat", "lon")
    grid = xr.Dataset({"tec": (dims, tec.astype(np.float32)), "tec_sigma": (dims, sigma.astype(np.float32)),
                       "member_tec": (("member",) + dims, members.astype(np.float32)),
                       "tec_sigma_model": (dims, np.asarray(node_sigma, np.float32))},
                      coords={"time": times, "lat": lat, "lon": lon, "member": list(MEMBERS)},
                      attrs={"extension_method": method, "n_stations": int(len(stations.lat)), "map_model": "nodes",
                             "map_node_model_train_end": node_train_end,
                             # "" when the node map is the ridge's alone (no network trained before the day)
                             "map_node_network_train_end": node_network_train_end, "map_weights_days": int(n_days),
                             "map_calibration_days": int(n_cal),
                             "map_members": ", ".join(MEMBERS)})
    leads = (times - np.datetime64(pd.Timestamp(issue_time).tz_localize(None))) / np.timedelta64(1, "h")
    b, k, e = weights.shape
    table = pd.DataFrame({"lat_band": np.repeat(LAT_BANDS, k * e), "member": np.tile(np.repeat(MEMBERS, e), b),
                          "lead_h": np.tile(leads, b * k), "weight": weights.ravel(), "n_days": n_days})
    log.info("global map %s (%s): %d verified day(s) for the weights, %d for the calibration", target_day, method,
             n_days, n_cal)
    return PublishedMap(grid, table, n_cal)
