"""A simulated GIM source for offline demos and tests: GIM-like maps that behave like the real
ionosphere closely enough to exercise every stage, and are never mistaken for real data.

Three parts, all driven by real indices from the bundled history:

- **Climatology**: NeQuick-G (the `nequick` package, JRC's C code) with its effective ionisation
  level set to the day's observed F10.7. NeQuick costs ~12 µs a point, so it is tabulated once on a
  5° x 10° grid for each month, every 2 h of UT and four ionisation levels, cached on disk, and
  interpolated (month, level: linearly; odd hours: the neighbouring 2-hour maps moved 15° per hour
  in longitude, since the daytime ionosphere follows the Sun).
- **Storms**: the excess of Kp over quiet levels, passed through two causal filters: a short
  positive phase (daytime, mid latitudes) and a longer negative phase (strongest at high latitudes).
- **Day-to-day variability**: a multiplicative log-normal field, smooth in space (15° x 30° knots)
  and correlated in time (slow, ~1.5 day, and fast, ~4 h, parts), defined by the seed and the knot
  index alone, so any day can be generated on its own and is identical whatever the range asked for.

Maps are written as real IONEX files by swx's writer (centre code SIM, a DESCRIPTION saying
SIMULATED) and ingested like any other source.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import multiprocessing
import os
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.config import SIMULATED_CENTRE
from swx.errors import NotFoundError, SwxError
from swx.io.atomic import atomic_path
from swx.io.gim_names import short_name
from swx.io.ionex import IONEX_LAT, IONEX_LON, format_ionex
from swx.sources.gim import RawGim
from swx.sources.indices.tables import IndexTables
from swx.sources.nequick import require_nequick

log = logging.getLogger(__name__)

CENTRE = SIMULATED_CENTRE
DESCRIPTION = ("SIMULATED maps, not observations: swx demo source. NeQuick-G climatology driven by the\n"
               "observed daily F10.7, a Kp-driven storm response and random day-to-day variability.")

# Tabulation grid of the NeQuick climatology (coarse; interpolated to the IONEX grid).
BASIS_LAT = np.arange(-87.5, 87.6, 5.0)
BASIS_LON = np.arange(-180.0, 180.1, 10.0)
BASIS_UT = np.arange(0, 24, 2)
BASIS_AZ = np.array([65.0, 100.0, 150.0, 220.0])
BASIS_VERSION = 1
BASIS_YEAR = 2015  # NeQuick's climatology depends on month and UT; the year only fixes the dates


# The 27-day mean F10.7 range of the level calibration's fit (held at the ends outside it), and the
# F10.7 by which it has faded out above that range: at solar maximum (1999, 2001, 2024 in
# docs/simulated.md) the uncalibrated NeQuick-G level matches the real maps.
LEVEL_F107_RANGE = (70.0, 150.0)
LEVEL_F107_FADED = 200.0
YEAR_DAYS = 365.25


def level_terms(f107_27: np.ndarray, day_of_year: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The level calibration's regressors, defined once for the fit (`swx.sources.realism.level_fit`) and its
    use (`SimulatedSource.level_factor`): ln(F/100) with F held in LEVEL_F107_RANGE, and the season as
    cos/sin of the (fractional, local-hemisphere) day of the year."""
    phase = 2 * np.pi / YEAR_DAYS * np.asarray(day_of_year, float)
    return np.log(np.clip(f107_27, *LEVEL_F107_RANGE) / 100.0), np.cos(phase), np.sin(phase)


def day_of_year(times: pd.DatetimeIndex) -> np.ndarray:
    """Fractional day of the year from 0 (1 January, 00 UT)."""
    return (times.day_of_year - 1 + (times.hour + times.minute / 60) / 24).to_numpy(float)

# Knots of the variability field: 15 deg x 30 deg, every 3 h.
NOISE_LAT = np.arange(-90.0, 90.1, 15.0)
NOISE_LON = np.arange(-180.0, 180.0, 30.0)
NOISE_STEP_H = 3
NOISE_EPOCH = np.datetime64("2000-01-01T00:00", "h")


class SimulationError(SwxError):
    """The simulator cannot produce what was asked (nequick missing, no indices for the day...)."""


@dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulated ionosphere. Defaults are tuned to the real statistics in docs/simulated.md."""

    seed: int = 42
    cadence_min: int = 60  # 60 (25 maps a day, like CODE) or 120 (13 maps, like IGS)
    kp_quiet: float = 2.5  # storm response grows with Kp above this
    pos_gain: float = 0.20  # relative enhancement per unit of Kp above quiet (positive phase)
    pos_lag_h: float = 2.0
    pos_tau_h: float = 5.0
    neg_gain: float = 0.25  # relative depletion per unit of Kp above quiet (negative phase)
    neg_lag_h: float = 8.0
    neg_tau_h: float = 30.0
    slow_sigma: float = 0.12  # log-normal day-to-day variability
    slow_tau_h: float = 30.0
    fast_sigma: float = 0.05
    fast_tau_h: float = 4.0
    lat_boost: float = 2.0  # variability grows towards the poles: sigma * (1 + lat_boost * (lat/90)^2)
    activity_gain: float = 0.5  # and with solar activity: * (1 + gain * max(0, F10.7_27d - 75) / 50)
    floor_tecu: float = 0.5
    # Level calibration, divided out of the climatology: ln(uncalibrated simulated / real) per latitude
    # knot as a + b ln(F/100) + c cos(wd) + s sin(wd) (F the 27-day mean F10.7 held in LEVEL_F107_RANGE,
    # d the day of the year in the local hemisphere's season, w = 2 pi / 365.25), fading out above the
    # range (LEVEL_F107_FADED); linear in |latitude|
    # between the knots, constant beyond; the seasonal part fades to zero at the equator. Fitted by
    # `swx simulate calibrate` on monthly means at 10 E, 2015-2016, of the real CODE series in
    # ../shared (2017 held out); empty: no calibration. docs/simulated.md has the check.
    level_lat: tuple[float, ...] = (10.0, 40.0, 70.0)
    level_fit: tuple[tuple[float, float, float, float], ...] = (
        (-0.024, -0.460, -0.009, -0.041), (-0.049, -0.382, 0.263, -0.044), (-0.098, -0.750, 0.452, -0.130))

    def key(self) -> str:
        return hashlib.sha256(repr(sorted(asdict(self).items())).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------- interpolation

def _linear_matrix(src: np.ndarray, dst: np.ndarray, period: float | None = None) -> np.ndarray:
    """Matrix W with W @ values(src) = linear interpolation at dst (periodic when `period`)."""
    w = np.zeros((len(dst), len(src)))
    if period is None:
        for i, x in enumerate(dst):
            x = float(np.clip(x, src[0], src[-1]))
            j = int(np.clip(np.searchsorted(src, x) - 1, 0, len(src) - 2))
            a = (x - src[j]) / (src[j + 1] - src[j])
            w[i, j], w[i, j + 1] = 1 - a, a
        return w
    n = len(src)
    step = period / n
    for i, x in enumerate(dst):
        pos = ((x - src[0]) % period) / step
        j = int(np.floor(pos)) % n
        a = pos - np.floor(pos)
        w[i, j] += 1 - a
        w[i, (j + 1) % n] += a
    return w


_LAT_W = _linear_matrix(BASIS_LAT, IONEX_LAT)
_LON_W = _linear_matrix(BASIS_LON, IONEX_LON)
_NOISE_LAT_W = _linear_matrix(NOISE_LAT, IONEX_LAT)
_NOISE_LON_W = _linear_matrix(NOISE_LON, IONEX_LON, period=360.0)


# ---------------------------------------------------------------------------------- NeQuick basis

def _basis_slice(args: tuple[int, float]) -> np.ndarray:
    """NeQuick vTEC for one (month, ionisation level) over all tabulated UTs and grid points."""
    month, az = args
    nequick = require_nequick()
    model = nequick.NeQuick(float(az), 0.0, 0.0)
    out = np.empty((len(BASIS_UT), len(BASIS_LAT), len(BASIS_LON)), dtype=np.float32)
    for k, ut in enumerate(BASIS_UT):
        epoch = dt.datetime(BASIS_YEAR, month, 15, int(ut))
        for i, lat in enumerate(BASIS_LAT):
            for j, lon in enumerate(BASIS_LON):
                # compute_vtec takes (epoch, lon, lat), whatever the package README says
                out[k, i, j] = model.compute_vtec(epoch, float(lon), float(lat))
    return out


def build_basis(processes: int | None = None) -> np.ndarray:
    """Tabulate NeQuick-G: array (month 12, UT 12, level 4, lat 36, lon 37) in TECU."""
    require_nequick()
    jobs = [(m, az) for m in range(1, 13) for az in BASIS_AZ]
    processes = processes or min(len(jobs), os.cpu_count() or 1)
    if processes > 1:
        ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
            slices = list(pool.map(_basis_slice, jobs))
    else:
        slices = [_basis_slice(j) for j in jobs]
    arr = np.stack(slices).reshape(12, len(BASIS_AZ), len(BASIS_UT), len(BASIS_LAT), len(BASIS_LON))
    return np.ascontiguousarray(arr.transpose(0, 2, 1, 3, 4))


def load_basis(cache_dir: Path, processes: int | None = None) -> np.ndarray:
    """The tabulated climatology, from the cache or computed once (a few seconds) and cached."""
    path = Path(cache_dir) / f"nequick_basis_v{BASIS_VERSION}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                if int(z["version"]) == BASIS_VERSION:
                    return z["basis"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # truncated or damaged: made anew
            log.warning("unreadable NeQuick cache %s; recomputing", path)
    log.info("tabulating the NeQuick-G climatology (once; cached in %s)", path)
    basis = build_basis(processes)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, basis=basis, version=BASIS_VERSION, lat=BASIS_LAT, lon=BASIS_LON,
                                ut=BASIS_UT, az=BASIS_AZ)
    return basis


# ---------------------------------------------------------------------------------- the simulator

_MONTH_CENTRES = np.array([(dt.date(2015, m, 15) - dt.date(2015, 1, 1)).days + 0.5 for m in range(1, 13)])


def _month_weights(day: dt.date) -> tuple[int, int, float]:
    """Two months (0-based) and the weight of the second, interpolating between mid-month centres."""
    doy = day.timetuple().tm_yday - 1 + 0.5
    centres = _MONTH_CENTRES
    if doy < centres[0]:
        return 11, 0, (doy + 365 - centres[11]) / (centres[0] + 365 - centres[11])
    if doy >= centres[11]:
        return 11, 0, (doy - centres[11]) / (centres[0] + 365 - centres[11])
    m = int(np.searchsorted(centres, doy, side="right") - 1)
    return m, m + 1, (doy - centres[m]) / (centres[m + 1] - centres[m])


def _level_weights(az: float) -> tuple[int, int, float]:
    az = float(np.clip(az, BASIS_AZ[0], BASIS_AZ[-1]))
    j = int(np.clip(np.searchsorted(BASIS_AZ, az) - 1, 0, len(BASIS_AZ) - 2))
    return j, j + 1, (az - BASIS_AZ[j]) / (BASIS_AZ[j + 1] - BASIS_AZ[j])


def _shift_west(field: np.ndarray, columns: int) -> np.ndarray:
    """Move a map (..., lat, 73 lon with both ends) `columns` grid steps westward."""
    core = field[..., :-1]
    moved = np.roll(core, -columns, axis=-1)
    return np.concatenate([moved, moved[..., :1]], axis=-1)


class GimSimulator:
    """Generates simulated GIM days on the IONEX grid from real F10.7 and Kp."""

    def __init__(self, basis: np.ndarray, indices: IndexTables, config: SimulationConfig | None = None) -> None:
        self.config = config or SimulationConfig()
        if self.config.cadence_min not in (60, 120):
            raise ValueError("cadence_min must be 60 or 120")
        # climatology on the IONEX grid: (month, ut, level, 71, 73)
        self.basis = np.einsum("ia,muzab,jb->muzij", _LAT_W, basis, _LON_W, optimize=True).astype(np.float32)
        self.f107 = indices.daily["f107_obs"].dropna()
        self.f107_smooth = self.f107.rolling(27, center=True, min_periods=1).mean()
        kp = indices.kp["kp"].dropna()
        # Kp on an hourly grid (each hour takes the Kp of its 3-hour interval), as plain arrays
        self._kp_t0 = kp.index[0].tz_convert("UTC").tz_localize(None).to_datetime64().astype("datetime64[h]") \
            if len(kp) else NOISE_EPOCH
        hours = ((kp.index.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[h]") - self._kp_t0)
                 .astype(np.int64))
        self._kp_hourly = np.full(int(hours.max()) + 3 if len(kp) else 0, np.nan)
        for k in range(3):
            self._kp_hourly[hours + k] = kp.to_numpy()

    # -- parts -----------------------------------------------------------------------------------
    def f107_for(self, day: dt.date) -> float:
        t = pd.Timestamp(day, tz="UTC")
        if t not in self.f107.index:
            lo, hi = (self.f107.index[0].date(), self.f107.index[-1].date()) if len(self.f107) else (None, None)
            raise SimulationError(f"no observed F10.7 for {day} (the indices cover {lo} .. {hi}); ingest "
                                  "Kp/F10.7 for that period first (swx ingest kp)")
        return float(self.f107.loc[t])

    def climatology(self, times: np.ndarray, day: dt.date) -> np.ndarray:
        """NeQuick-G vTEC (TECU) at `times` (datetime64) with the F10.7 of `day`, (time, 71, 73)."""
        out = np.empty((len(times), len(IONEX_LAT), len(IONEX_LON)), dtype=np.float32)
        l0, l1, wl = _level_weights(self.f107_for(day))
        for k, t in enumerate(times):
            ts = pd.Timestamp(t)
            m0, m1, wm = _month_weights(ts.date())
            hour = ts.hour + ts.minute / 60
            u0 = int(hour // 2) % 12
            u1 = (u0 + 1) % 12
            wu = (hour - 2 * (hour // 2)) / 2

            def at(u: int) -> np.ndarray:
                b = self.basis[:, u]
                month_mix = (1 - wm) * b[m0] + wm * b[m1]
                return (1 - wl) * month_mix[l0] + wl * month_mix[l1]

            dh = hour - 2 * (hour // 2)
            a = _shift_west(at(u0), int(round(dh * 3)))
            b = _shift_west(at(u1), -int(round((2 - dh) * 3)))
            out[k] = (1 - wu) * a + wu * b
        return out

    def storm(self, times: np.ndarray) -> np.ndarray:
        """Relative storm response (e.g. +0.3 = 30 % above climatology), (time, 71, 73)."""
        c = self.config
        t = pd.DatetimeIndex(times).tz_localize("UTC")
        hours = (np.asarray(times, dtype="datetime64[h]") - self._kp_t0).astype(np.int64)
        first = int(hours.min()) - 24 * 5
        if first < 0 or hours.max() >= len(self._kp_hourly) or np.isnan(self._kp_hourly[first:hours.max() + 1]).any():
            raise SimulationError(f"no Kp for the 5 days before {pd.Timestamp(times[0]):%Y-%m-%d} or during the day; "
                                  "ingest Kp for that period first (swx ingest kp)")
        drive = np.clip(self._kp_hourly[first:int(hours.max()) + 1] - c.kp_quiet, 0, None)
        h = np.arange(0, 24 * 5)

        def respond(lag: float, tau: float) -> np.ndarray:
            kern = np.where(h >= lag, np.exp(-(h - lag) / tau), 0.0)
            kern /= kern.sum()
            return np.convolve(drive, kern)[:len(drive)][hours - first]

        pos, neg = respond(c.pos_lag_h, c.pos_tau_h), respond(c.neg_lag_h, c.neg_tau_h)
        lat = IONEX_LAT[None, :, None]
        lon = IONEX_LON[None, None, :]
        ut = (t.hour + t.minute / 60).to_numpy()[:, None, None]
        lt = (ut + lon / 15.0) % 24
        day_side = 0.5 + 0.5 * np.cos((lt - 14.0) / 24.0 * 2 * np.pi)
        w_pos = np.exp(-(((np.abs(lat) - 35.0) / 25.0) ** 2)) * day_side
        w_neg = 0.25 + 0.75 / (1 + np.exp(-(np.abs(lat) - 35.0) / 8.0))
        rel = c.pos_gain * pos[:, None, None] * w_pos - c.neg_gain * neg[:, None, None] * w_neg
        return np.clip(rel, -0.8, 2.0).astype(np.float32)

    def variability(self, times: np.ndarray) -> np.ndarray:
        """Log-normal variability exponent, (time, 71, 73), smooth in space and correlated in time."""
        c = self.config
        hours = (np.asarray(times, dtype="datetime64[h]") - NOISE_EPOCH).astype(np.int64) \
            + (np.asarray(times, dtype="datetime64[m]").astype(np.int64) % 60) / 60.0
        k0 = int(np.floor(hours.min() / NOISE_STEP_H))
        k1 = int(np.ceil(hours.max() / NOISE_STEP_H))
        total = np.zeros((len(times), len(IONEX_LAT), len(IONEX_LON)))
        for sigma, tau, tag in ((c.slow_sigma, c.slow_tau_h, 1), (c.fast_sigma, c.fast_tau_h, 2)):
            phi = np.exp(-NOISE_STEP_H / tau)
            n_taps = int(np.ceil(6 * tau / NOISE_STEP_H))
            taps = phi ** np.arange(n_taps)
            taps *= sigma / np.sqrt((taps ** 2).sum())
            idx = np.arange(k0 - n_taps + 1, k1 + 1)
            z = np.stack([np.random.default_rng([c.seed, tag, int(j) & 0xFFFFFFFF, int(j) >> 32 & 0xFFFF])
                          .standard_normal((len(NOISE_LAT), len(NOISE_LON))) for j in idx])
            knots = np.stack([np.tensordot(taps, z[i:i + n_taps][::-1], axes=1) for i in range(k1 - k0 + 1)])
            pos = hours / NOISE_STEP_H - k0
            i0 = np.clip(np.floor(pos).astype(int), 0, len(knots) - 2)
            a = (pos - i0)[:, None, None]
            coarse = (1 - a) * knots[i0] + a * knots[i0 + 1]
            total += np.einsum("ia,tab,jb->tij", _NOISE_LAT_W, coarse, _NOISE_LON_W, optimize=True)
        total *= 1 + c.lat_boost * (IONEX_LAT[None, :, None] / 90.0) ** 2
        if c.activity_gain:
            days = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[D]")).tz_localize("UTC")
            level = self.f107_smooth.reindex(days, method="nearest").to_numpy()
            total *= (1 + c.activity_gain * np.clip((level - 75.0) / 50.0, 0, None))[:, None, None]
        return total.astype(np.float32)

    def _f107_smooth_on(self, days: pd.DatetimeIndex) -> np.ndarray:
        """The 27-day mean F10.7 on `days` (the nearest day with a value)."""
        idx = self.f107_smooth.index
        if len(idx) < 2:
            return np.full(len(days), float(self.f107_smooth.iloc[0]) if len(idx) else np.nan)
        pos = np.clip(idx.searchsorted(days), 1, len(idx) - 1)
        nearer_left = (days - idx[pos - 1]) <= (idx[pos] - days)
        return self.f107_smooth.to_numpy()[np.where(nearer_left, pos - 1, pos)]

    def level_factor(self, times: np.ndarray) -> np.ndarray:
        """Multiplicative level calibration (time, lat, 1): 1 where the config has none."""
        c = self.config
        days = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[D]")).tz_localize("UTC")
        if not c.level_fit:
            return np.ones((len(times), len(IONEX_LAT), 1), dtype=np.float32)
        f = self._f107_smooth_on(days)
        # the southern hemisphere's seasons are half a year off the northern ones
        local_day = day_of_year(pd.DatetimeIndex(times))[:, None] + np.where(IONEX_LAT < 0, YEAR_DAYS / 2, 0.0)[None, :]
        log_f, cos_d, sin_d = level_terms(f[:, None], local_day)
        coef = np.array(c.level_fit)  # (knot, 4)
        a, b, cs, sn = (np.interp(np.abs(IONEX_LAT), c.level_lat, coef[:, k])[None, :] for k in range(4))
        fade = np.clip(np.abs(IONEX_LAT) / c.level_lat[0], 0.0, 1.0)[None, :]
        log_ratio = a + b * log_f + fade * (cs * cos_d + sn * sin_d)
        hi = LEVEL_F107_RANGE[1]
        weight = np.clip((LEVEL_F107_FADED - f) / (LEVEL_F107_FADED - hi), 0.0, 1.0)[:, None]
        return np.exp(-weight * log_ratio)[:, :, None].astype(np.float32)

    # -- a day -------------------------------------------------------------------------------------
    def times(self, day: dt.date) -> np.ndarray:
        step = self.config.cadence_min
        n = 24 * 60 // step + 1
        return np.datetime64(day, "ns") + np.arange(n) * np.timedelta64(step, "m")

    def day(self, day: dt.date) -> xr.Dataset:
        """One simulated day as a GIM Dataset (same layout as the IONEX reader's)."""
        t = self.times(day)
        clim = self.climatology(t, day)
        tec = clim * self.level_factor(t) * (1 + self.storm(t)) * np.exp(self.variability(t))
        tec = np.round(np.maximum(tec, self.config.floor_tecu), 1).astype(np.float32)
        rms = np.round(0.4 + 0.06 * tec, 1).astype(np.float32)
        return xr.Dataset(
            {"tec": (("time", "lat", "lon"), tec), "rms": (("time", "lat", "lon"), rms)},
            coords={"time": t, "lat": IONEX_LAT, "lon": IONEX_LON},
            attrs={"centre": CENTRE, "description": DESCRIPTION, "satellite_system": "GNSS",
                   "mapping_function": "NONE", "shell_height_km": 450.0, "base_radius_km": 6371.0,
                   "observables_used": "none: simulated",
                   "swx_simulation": f"seed={self.config.seed} config={self.config.key()}"})

    def ionex(self, day: dt.date) -> str:
        created = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        return format_ionex(self.day(day), centre="SIM", program="swx-simulate", run_by="SWX DEMO",
                            created=created, description=DESCRIPTION,
                            comments=["SIMULATED DATA - NOT FOR OPERATIONAL USE",
                                      f"swx simulation seed {self.config.seed}, config {self.config.key()}"])


class SimulatedSource:
    """The simulator behind the GimSource interface; writes each day as an IONEX file (cached)."""

    kind = "simulated"

    def __init__(self, simulator: GimSimulator, folder: str | Path) -> None:
        self.simulator = simulator
        self.folder = Path(folder)

    def path(self, day: dt.date) -> Path:
        cfg = self.simulator.config
        return self.folder / f"seed{cfg.seed}-{cfg.key()}" / f"{day.year:04d}" / (short_name(CENTRE, day, False) + ".gz")

    def fetch(self, centre: str, day: dt.date) -> RawGim:
        if centre.lower() != CENTRE:
            raise NotFoundError(f"the simulated source only produces centre {CENTRE!r}, not {centre!r}", day=day)
        p = self.path(day)
        if not p.is_file():
            data = gzip.compress(self.simulator.ionex(day).encode("ascii"), compresslevel=1, mtime=0)
            with atomic_path(p) as tmp:
                tmp.write_bytes(data)
        return RawGim(CENTRE, day, p.name, p.read_bytes(), str(p), self.kind)


def simulated_source(settings, indices: IndexTables) -> SimulatedSource:
    """The simulated source configured by `settings` (seed, cadence, cache and data folders)."""
    basis = load_basis(settings.resolved_cache_dir)
    config = SimulationConfig(seed=settings.sim_seed, cadence_min=settings.sim_cadence_min)
    return SimulatedSource(GimSimulator(basis, indices, config), settings.data_dir / "simulated")
