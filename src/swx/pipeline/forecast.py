"""Stage: the forecast of the next UT day — station forecasts from the active models, their published
blend with the baselines, the global map (the extension), ΔTEC against the 27-day reference, the
products (netCDF + IONEX) and every row in the database. Idempotent: a rerun of the same day updates
the same rows and files."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from swx.archive import load_indices, recorded_checksum
from swx.config import (
    ARCHITECTURES, BLEND, LEAD_DAYS, SIMULATED_CENTRE, Settings, data_path, model_family, recorded_path,
)
from swx.errors import DatabaseFaultError, NoActiveModelError, NotFoundError, SwxError, reason_of
from swx.ml.dataset import build_dataset
from swx.ml.registry import ModelRegistry, predict_point_in_time
from swx.pipeline.context import Context, archived_maps, context, observations_of, station_history
from swx.pipeline.global_map import MAP_WEIGHT_COLUMNS, publish_map
from swx.pipeline.nodes import forecast_nodes
from swx.products import attribution, forecast_dataset, withdraw_product, write_products
from swx.provenance import code_version, input_records, settings_hash
from swx.science.blend import (
    BASELINES,
    BlendConfig,
    baseline_share,
    blend_sigma,
    fit_station_weights,
    pooled_prior,
)
from swx.science.dtec import MIN_REFERENCE_DAYS, REFERENCE_DAYS, median_reference, naive_utc, station_dtec_frame
from swx.science.extend import StationValues, extend, persistence_prior
from swx.science.features import PLAUSIBLE_VTEC_TECU, baselines_at
from swx.science.nodes import NodeModelError
from swx.science.timing import Timing
from swx.science.verify import MAP_PRIOR_PERSISTENCE_WEIGHT, STEP, mix_baselines
from swx.store.queries import issued_forecasts, station_series
from swx.store.writes import (
    finish_run,
    record_run_provenance,
    start_run,
    write_blend_weights,
    write_dtec,
    write_global_forecasts,
    write_map_blend_weights,
    write_observations,
    write_station_forecasts,
)

log = logging.getLogger(__name__)
HISTORY_DAYS = 40  # station history read for inputs (12 steps) and the 27-day references


@dataclass
class ForecastResult:
    run_id: int
    issue_time: pd.Timestamp
    target_day: dt.date
    latest_day: dt.date
    architectures: list[str]
    methods: list[str]
    products: dict[str, tuple[Path, Path]]
    degraded: bool = False
    reason: str = ""
    station_forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)
    on_baselines: dict[str, str] = field(default_factory=dict)  # stations whose blend leans on the baselines
    lead_day: int = 1  # the day after its newest maps the run forecasts


#: a run whose newest maps are older than this is not published: a forecast "for tomorrow" from
#: maps a week old is no forecast, and it would stand as the latest run in monitoring
MAX_CARRY_DAYS = 3


#: The reason recorded for a run stopped by Ctrl-C or SIGTERM before it finished
INTERRUPTED = "interrupted before it finished (Ctrl-C or SIGTERM): run the forecast again"

def _latest_day(ctx: Context, archived: list[dt.date], issue_day: dt.date) -> dt.date:
    """The newest archived day up to `issue_day` whose file matches its recorded checksum: a file left
    without (or with a wrong) checksum record, as a killed ingest can leave it, is passed over as a
    missing day is (the run is then degraded), never read. At most MAX_CARRY_DAYS before `issue_day`."""
    for d in reversed([d for d in archived if d <= issue_day]):
        if (issue_day - d).days > MAX_CARRY_DAYS:
            raise NotFoundError(f"the newest {ctx.centre} maps on or before {issue_day} are of {d}, "
                                f"{(issue_day - d).days} days old: a run carries maps forward {MAX_CARRY_DAYS} days "
                                "at most (ingest the missing days first: swx ingest gims / swx run)")
        if ctx.archive.has_gim(ctx.centre, d):
            return d
        log.warning("%s GIM of %s fails its checksum (or has none): passed over; `swx ingest gims --force` "
                    "fetches it again", ctx.centre, d)
    raise NotFoundError(f"no {ctx.centre} GIM on or before {issue_day} in the archive {ctx.archive.root}: "
                        "ingest the maps first (swx ingest gims / swx run)")


#: the columns of the station forecasts table
FORECAST_COLUMNS = ["station", "architecture", "valid_time", "lead_h", "mean", "sigma", "model_version",
                    "model_version_id"]


@dataclass
class MemberForecasts:
    """The models' 24 h forecasts of one run: the table (FORECAST_COLUMNS), the issue time (the data
    time of the newest complete input window) and the valid times."""

    table: pd.DataFrame
    issue: pd.Timestamp
    valid: pd.DatetimeIndex
    sources: dict[str, set[str]] = field(default_factory=dict)  # station -> what its models learnt from
    #: the architectures whose second day's models forecast this run (a run a day further from its
    #: maps: its valid times are carried forward by a day, and these values are for the times carried to)
    second_day: set[str] = field(default_factory=set)


def _no_members() -> pd.DataFrame:
    return pd.DataFrame({"station": pd.Series(dtype=object), "architecture": pd.Series(dtype=object),
                         "valid_time": pd.Series(dtype="datetime64[ns, UTC]"), "lead_h": pd.Series(dtype=float),
                         "mean": pd.Series(dtype=float), "sigma": pd.Series(dtype=float),
                         "model_version": pd.Series(dtype=float), "model_version_id": pd.Series(dtype=float)}
                        )[FORECAST_COLUMNS]


def member_forecasts(ctx: Context, history: pd.DataFrame, latest_days: list[dt.date],
                     architectures: list[str] | None = None, lead_days: list[int] | None = None
                     ) -> list[MemberForecasts | NotFoundError]:
    """For each latest day: 24 h forecasts of every station from the newest complete input window up
    to the end of that day, with each architecture whose point-in-time model (the newest that saw no
    data after the issue time) exists for every station. The input windows of all days are built from
    `history` at once and each model runs once on all the windows it serves; a window never uses a value
    after its issue time. The table is empty when models exist but none was trained on data before the
    issue time (the run then stands on the baselines); a day without a complete window gets a
    NotFoundError. A day whose `lead_days` entry is 2 or more (its run forecasts a day further from
    its maps) takes each architecture's second day's models where every station has one usable then:
    their values are for the valid times carried forward a day (the run shifts them), not a copy of
    the first day's."""
    end = history.index[-1] + STEP
    future = pd.date_range(end, periods=12, freq=STEP, name="time")
    padded = pd.concat([history, pd.DataFrame(index=future, columns=history.columns, dtype=float)])
    indices = load_indices(ctx.archive)
    ds = build_dataset(padded, ctx.stations, indices.kp["kp"], f107=indices.daily["f107_obs"], require_target=False)
    picks: list[int | NotFoundError] = []
    for latest in latest_days:
        first = pd.Timestamp(latest - dt.timedelta(days=HISTORY_DAYS), tz="UTC")
        first_issue = first + (ds.x.shape[2] - 1) * STEP  # the first window of a single run's history
        cutoff = pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC") - STEP
        ok = (ds.issue >= first_issue) & (ds.issue <= cutoff)
        # a value filled from its neighbours is only known once the next one is: not at the issue time
        ok &= ~(ds.issue.isin(ds.filled) & (ds.issue == cutoff))
        # nor from a neighbour before the history a single run reads
        ok &= ~((ds.issue == first_issue) & (first in ds.filled))
        idx = np.flatnonzero(ok)
        picks.append(int(idx[-1]) if len(idx) else NotFoundError(
            f"no complete 24 h input window in the station history up to {latest} (too many missing maps)"))
    chosen = np.array([p for p in picks if not isinstance(p, NotFoundError)], dtype=int)
    issues = ds.issue[chosen]
    registry = ModelRegistry(ctx.settings.models_dir, ctx.engine)
    codes = [st.code for st in ctx.stations]
    valids = [pd.DatetimeIndex([issue + STEP * k for k in range(1, ds.y.shape[-1] + 1)]) for issue in issues]
    rows: list[list[pd.DataFrame]] = [[] for _ in chosen]
    sources: list[dict[str, set[str]]] = [{} for _ in chosen]
    seconds: list[set[str]] = [set() for _ in chosen]
    leads = np.array([(lead_days or [1] * len(latest_days))[k] for k, p in enumerate(picks)
                      if not isinstance(p, NotFoundError)], dtype=int)
    further = np.flatnonzero(leads >= 2)  # the runs a day further from their maps
    for arch in architectures or ARCHITECTURES:
        if not len(chosen):
            break
        means, sigmas, versions = predict_point_in_time(registry, ds.x[:, chosen], codes, arch,
                                                        list(issues.to_pydatetime()), ctx.settings.device)
        if len(further):
            m2, s2, v2 = predict_point_in_time(registry, ds.x[:, chosen[further]], codes, model_family(arch, 2),
                                               list(issues[further].to_pydatetime()), ctx.settings.device)
            for j, n in enumerate(further):
                if m2.shape[-1] and all(v2[i][j] is not None for i in range(len(codes))):
                    if not means.shape[-1]:  # no first-day model at all
                        means = np.full((len(codes), len(chosen), m2.shape[-1]), np.nan)
                        sigmas = np.full_like(means, np.nan)
                    means[:, n], sigmas[:, n] = m2[:, j], s2[:, j]
                    for i in range(len(codes)):
                        versions[i][n] = v2[i][j]
                    seconds[n].add(arch)
        for n, (issue, valid) in enumerate(zip(issues, valids)):
            used = [versions[i][n] for i in range(len(codes))]
            if any(v is None for v in used):
                continue
            for code, v in zip(codes, used):
                sources[n].setdefault(code, set()).add(v.data_source)
            h = len(valid)
            rows[n].append(pd.DataFrame({  # station-major: each station's H leads in turn
                "station": np.repeat(codes, h), "architecture": arch,
                "valid_time": valid[np.tile(np.arange(h), len(codes))],
                "lead_h": np.tile(np.asarray((valid - issue) / pd.Timedelta(hours=1)), len(codes)),
                "mean": means[:, n].ravel(), "sigma": sigmas[:, n].ravel(),
                "model_version": np.repeat([v.version for v in used], h),
                "model_version_id": np.repeat([v.id for v in used], h)}))
    if any(not r for r in rows) and not any(
            all(registry.active(c, arch) is not None for c in codes) for arch in architectures or ARCHITECTURES):
        raise NoActiveModelError("no architecture has active models for every station: run `swx train` first")
    made = iter(zip(rows, issues, valids, sources, seconds))  # the days with a window, in order
    out: list[MemberForecasts | NotFoundError] = []
    for p in picks:
        if isinstance(p, NotFoundError):
            out.append(p)
        else:
            r, issue, valid, src, second = next(made)
            out.append(MemberForecasts(pd.concat(r, ignore_index=True) if r else _no_members(), issue, valid, src,
                                       second))
    return out


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """np.nanmean, NaN where a slice has no value (without numpy's warning about it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


@dataclass
class PublishedBlend:
    forecasts: pd.DataFrame  # station, architecture="blend", valid_time, lead_h, mean, sigma
    weights: pd.DataFrame  # station, member, lead_h, weight, n_samples
    on_baselines: dict[str, str]  # station -> why it runs (mostly) on the baselines
    verified: dict[str, int] = field(default_factory=dict)  # station -> verified forecasts its weights rest on


#: the columns of the published forecasts the blends are fitted on (as `issued_forecasts` reads them)
PUBLISHED_COLUMNS = ["run_id", "target_day", "lead_day", "issue_time", "station", "architecture", "valid_time",
                     "lead_h", "mean", "sigma"]


@dataclass
class VerifiedPast:
    """What a run's blend is fitted on, read once for a chunk of runs: the station forecasts published
    for the target days before (the newest finished run's per day and lead day; each run of the chunk
    replaces its day's as it finishes) and the stored observations with their persistence and 27-day
    median."""

    published: dict[tuple[dt.date, int], pd.DataFrame]  # (target day, lead day) -> its forecasts
    observed: dict[str, pd.DataFrame]  # vtec, persistence, median27: time (naive UTC) x station

    @classmethod
    def read(cls, ctx: Context, first_target: dt.date, last_target: dt.date, config: BlendConfig,
             published_until: dt.date | None = None, lead_days: Iterable[int] | None = None) -> VerifiedPast:
        """For the runs of target days first..last (of `lead_days`: a run learns from its own lead day's
        forecasts only, so only those are read). The forecasts published for target days in the
        trailing window are read up to the target day `published_until` (a self-contained chunk
        computes the later ones itself)."""
        codes = [st.code for st in ctx.stations]
        until = last_target - dt.timedelta(days=1)  # the chunk's own days: replaced as its runs finish
        until = min(until, published_until) if published_until is not None else until
        past = issued_forecasts(ctx.engine, first_target - dt.timedelta(days=config.window_days + 1), until,
                                lead_day=None if lead_days is None else set(lead_days))
        lo = dt.datetime.combine(first_target - dt.timedelta(days=config.window_days + 1), dt.time(), tzinfo=dt.UTC)
        hi = dt.datetime.combine(last_target, dt.time(), tzinfo=dt.UTC)
        observed = {c: {} for c in ("vtec", *BASELINES)}
        for code in codes:
            obs = station_series(ctx.engine, code, lo, hi, centre=ctx.source_of(code))
            obs = obs.set_index(obs["time"].dt.tz_convert("UTC").dt.tz_localize(None))
            for column in observed:
                observed[column][code] = obs[column]
        published = {(day, int(lead)): rows.reset_index(drop=True)
                     for (day, lead), rows in past.groupby(["target_day", "lead_day"])}
        return cls(published, {c: pd.DataFrame(v, columns=codes) for c, v in observed.items()})

    def window(self, first: dt.date, last: dt.date) -> pd.DataFrame:
        """The published forecasts for target days first..last (every lead day)."""
        keys = [k for k in sorted(self.published) if first <= k[0] <= last]
        if not keys:
            return pd.DataFrame(columns=PUBLISHED_COLUMNS)
        return pd.concat([self.published[k] for k in keys], ignore_index=True)

    def add(self, run_id: int, target_day: dt.date, issue_time: pd.Timestamp, fc: pd.DataFrame,
            lead_day: int = 1) -> None:
        """A run of the chunk finished: its forecasts are now the ones published for `target_day` at
        `lead_day`."""
        self.published[(target_day, lead_day)] = fc[
            ["station", "architecture", "valid_time", "lead_h", "mean", "sigma"]].assign(
            run_id=run_id, target_day=target_day, lead_day=lead_day, issue_time=issue_time)[PUBLISHED_COLUMNS]

    def observed_at(self, codes: list[str], times: np.ndarray, carry: int = 0
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The stored observations at `times` (R, H; naive UTC) of each station, and persistence and the
        27-day median as a run `carry` days further from its maps knew them (those stored at the times
        `carry` days before): (R, S, H) arrays (NaN where not stored)."""
        flat = pd.DatetimeIndex(times.ravel())
        out = {}
        for column, table in self.observed.items():
            at = flat if column == "vtec" else flat - pd.Timedelta(days=carry)
            values = table.reindex(index=at, columns=codes).to_numpy(float)  # (R*H, S)
            out[column] = values.reshape(times.shape + (len(codes),)).transpose(0, 2, 1)
        return out.pop("vtec"), out


def blend_station_forecasts(ctx: Context, fc: pd.DataFrame, issue: pd.Timestamp, base_now: dict[str, pd.DataFrame],
                            past: VerifiedPast, config: BlendConfig = BlendConfig(), *,
                            leads: np.ndarray | None = None, lead_day: int = 1) -> PublishedBlend:
    """The published blend of this run's member forecasts `fc` and the two baselines (`base_now`:
    persistence and the 27-day median at the valid times, time x station), per station and lead, with
    weights fitted on the forecasts published for the previous `config.window_days` days whose truth
    is stored (`past`): never on the target day. A run `lead_day` 2 (a day further from its maps: its
    `fc` and `leads` are before they are carried forward) learns from the verified runs of its own
    lead day only, with the baselines as those runs knew them."""
    carry = lead_day - 1
    models = list(dict.fromkeys(fc["architecture"]))
    members = models + list(BASELINES)
    codes = [st.code for st in ctx.stations]
    leads = np.sort(fc["lead_h"].unique()) if leads is None else np.asarray(leads, float)
    valid = pd.DatetimeIndex(issue + pd.to_timedelta(leads, unit="h"))
    target_day = (issue + config.horizon * lead_day - pd.Timedelta(seconds=1)).date()
    stored_leads = leads + 24.0 * carry  # as runs of this lead day stored them

    # this run: (S, K, H) — the models' forecasts, then persistence and the 27-day median at issue time
    now = np.full((len(codes), len(members), len(leads)), np.nan)
    at = fc[fc["architecture"].isin(models)]
    now[pd.Index(codes).get_indexer(at["station"]), pd.Index(members).get_indexer(at["architecture"]),
        np.searchsorted(leads, at["lead_h"])] = at["mean"].to_numpy(float)
    for k, b in enumerate(BASELINES, start=len(models)):
        now[:, k] = base_now[b].reindex(valid)[codes].to_numpy(float).T
    # the members' own sigma: the RMS of theirs, by station and lead (NaN where none has one)
    var = np.full((len(codes), len(models), len(leads)), np.nan)
    var[pd.Index(codes).get_indexer(at["station"]), pd.Index(models).get_indexer(at["architecture"]),
        np.searchsorted(leads, at["lead_h"])] = at["sigma"].to_numpy(float) ** 2
    sig = np.sqrt(_nanmean(var, axis=1))

    # the past: errors (R, S, K, H) of the forecasts published for the window, verified by now
    published = past.window(target_day - dt.timedelta(days=config.window_days), target_day - dt.timedelta(days=1))
    published = published[published["lead_h"].isin(stored_leads) & (published["valid_time"] <= issue)
                          & published["station"].isin(codes)]
    runs = pd.Index(sorted(published["run_id"].unique()))
    errors = np.full((len(runs), len(codes), len(members), len(leads)), np.nan)
    if len(runs):
        r, h = runs.get_indexer(published["run_id"]), np.searchsorted(stored_leads, published["lead_h"])
        mine = published["architecture"].isin(models).to_numpy()
        errors[r[mine], pd.Index(codes).get_indexer(published["station"][mine]),
               pd.Index(members).get_indexer(published["architecture"][mine]), h[mine]] = \
            published["mean"].to_numpy(float)[mine]
        times = np.full((len(runs), len(leads)), np.datetime64("NaT"), "datetime64[ns]")
        times[r, h] = published["valid_time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        truth, base = past.observed_at(codes, times, carry)
        for k, b in enumerate(BASELINES, start=len(models)):
            errors[:, :, k] = base[b]
        errors -= truth[:, :, None, :]

    prior = pooled_prior(errors, config)
    w, rmse, n = fit_station_weights(errors, config, prior)  # (S, K, H), (S, H), (S,)
    # a member without a value here (no 27-day median with too few days archived) takes no weight: the
    # others' weights are scaled to sum to one, and the weights stored are the ones used
    have = np.isfinite(now)
    used = np.where(have, w, 0.0)
    total = used.sum(axis=1, keepdims=True)
    w = np.divide(used, total, out=np.zeros_like(used), where=total > 0)
    mean = np.where(total[:, 0] > 0, np.einsum("skh,skh->sh", w, np.where(have, now, 0.0)), np.nan)
    model_mean = _nanmean(now[:, :len(models)], axis=1)
    mean = np.where(np.isfinite(mean), mean, model_mean)  # no member with weight and value: the models' mean
    sigma = np.stack([blend_sigma(rmse[s], int(n[s]), sig[s], config) for s in range(len(codes))])
    h, k = len(leads), len(members)
    forecasts = pd.DataFrame({"station": np.repeat(codes, h), "architecture": BLEND,
                              "valid_time": valid[np.tile(np.arange(h), len(codes))],
                              "lead_h": np.tile(leads, len(codes)),
                              "mean": mean.ravel(), "sigma": sigma.ravel()})
    weights = pd.DataFrame({"station": np.repeat(codes, k * h), "member": np.tile(np.repeat(members, h), len(codes)),
                            "lead_h": np.tile(stored_leads, len(codes) * k), "weight": w.ravel(),
                            "n_samples": np.repeat(n, k * h)})
    notes = {}
    for s, code in enumerate(codes):
        share = baseline_share(w[s], members)
        if share > 0.5:
            notes[code] = (f"baselines carry {share:.0%} of the weight: the models' errors over the last {n[s]} "
                           "verified forecasts were larger than the baselines'" if n[s] else
                           f"baselines carry {share:.0%} of the weight (no verified forecasts of this station yet: the "
                           "weights pooled over the stations, equal ones when none is verified)")
    return PublishedBlend(forecasts, weights, notes, {code: int(n[s]) for s, code in enumerate(codes)})


class DayFailedError(SwxError):
    """A day of a chunk failed on something other than a domain error (its cause is chained): the
    chunk's other days go on."""


class RunNotRecordedError(DatabaseFaultError):
    """A run failed and the database took no record of it (its start or its failure could not be
    written): monitoring still sees what the run's row held before."""


def _unrecorded(exc: BaseException, what: str) -> RunNotRecordedError:
    return RunNotRecordedError(f"{reason_of(exc)}; {what} could not be recorded in the database (it refused the "
                               "write): monitoring shows the run's row as it last stood (not finished, or an "
                               "earlier attempt's outcome)")


@dataclass
class _Day:
    """One run of a chunk: the issue day (the day whose maps are the newest the run should have), the
    newest archived day on or before it, and the day after the issue day it forecasts (`ahead`: 1,
    the next day; 2, the day after: tomorrow's forecast, published before today has passed)."""

    issue_day: dt.date
    latest: dt.date
    ahead: int = 1

    @property
    def target_day(self) -> dt.date:
        return self.issue_day + dt.timedelta(days=self.ahead)

    @property
    def lag(self) -> int:
        """Days of maps missing: the run is degraded when they are."""
        return (self.issue_day - self.latest).days

    @property
    def lead_day(self) -> int:
        """The day after its newest maps the run forecasts: its `ahead`, or more when maps are missing."""
        return self.ahead + self.lag

    @property
    def carry(self) -> int:
        """Days the forecasts from the newest maps are carried forward to the target day."""
        return self.lead_day - 1


def planned_runs(issue_days: Iterable[dt.date], aheads: Sequence[int] = (1,),
                 skip: Collection[tuple[dt.date, int]] = ()) -> list[tuple[dt.date, int]]:
    """The (issue day, ahead) runs of a chunk, in the order they are made and `forecast_days` returns
    them: day after day, the next day's run before tomorrow's; those in `skip` (already published)
    left out."""
    aheads = sorted(set(aheads))
    return [(d, a) for d in sorted(set(issue_days)) for a in aheads if (d, a) not in skip]


def forecast_days(ctx: Context, issue_days: list[dt.date], *, methods: list[str] | None = None,
                  architectures: list[str] | None = None, flow_run_id: str = "",
                  on_day: Callable[[dt.date], None] | None = None,
                  recompute_from: dt.date | None = None, aheads: Sequence[int] = (1,),
                  skip: Collection[tuple[dt.date, int]] = ()) -> list[ForecastResult | SwxError]:
    """The forecasts for the days after `issue_days`, one run per issue day and `aheads` entry (1: the
    next day; 2: the day after, tomorrow's forecast from today's maps), those in `skip` left out, in the
    order of `planned_runs` — the daily run is a chunk of one day (both leads), a backfill a chunk of
    many. What does not depend on the run is done once for the chunk: the station history read from
    the archive, the input windows of every run, each model run on all the windows it serves, the
    stored observations, the verified past the blends are fitted on and the baselines; the runs then
    publish one by one, each from what existed before its issue time. A run that fails gets its error
    in the list, the others go on; `on_day` is called as each issue day is done.

    `recompute_from` makes a chunk self-contained (backfill chunks run side by side on Dask): the
    member forecasts of the issue days from that day on that the first blends are fitted on — issued
    before the chunk, published by another chunk — are computed here, as that chunk computes them,
    instead of being read from the database, where they may not be yet."""
    s = ctx.settings
    aheads = sorted(set(aheads))
    runs = planned_runs(issue_days, aheads, skip)
    if not runs:
        return []
    archived = ctx.archive.gim_days(ctx.centre)
    plans: list[_Day | SwxError] = []
    latest: dict[dt.date, dt.date | NotFoundError] = {}
    for day, ahead in runs:
        if day not in latest:
            try:
                latest[day] = _latest_day(ctx, archived, day)
            except NotFoundError as exc:
                latest[day] = exc
        got = latest[day]
        plans.append(got if isinstance(got, NotFoundError) else _Day(day, got, ahead))
    days = [p for p in plans if isinstance(p, _Day)]
    if not days:
        for day in dict.fromkeys(d for d, _ in runs):
            if on_day is not None:
                on_day(day)
        return plans
    # each method once, in the order given (`--method residual --method residual` wrote the map twice)
    methods = list(dict.fromkeys(methods or [s.extension_method, *s.extension_compare]))
    config = BlendConfig()
    lead_in = []
    if recompute_from is not None:  # the window before the chunk, and the runs inside it it does not redo
        wanted = set(runs)
        first, last = runs[0][0], runs[-1][0]
        day = max(first - dt.timedelta(days=config.window_days), recompute_from)
        while day < last:
            if archived and archived[0] <= day:
                with contextlib.suppress(NotFoundError):  # no valid day before it: nothing to recompute
                    newest = _latest_day(ctx, archived, day)
                    lead_in += [_Day(day, newest, a) for a in aheads if (day, a) not in wanted]
            day += dt.timedelta(days=1)
    try:
        shared = _chunk_inputs(ctx, days, lead_in, architectures, config, recompute_from)
    except Exception as exc:
        _record_failed(ctx, days, exc, flow_run_id)
        raise
    history, lead_in_members, members, past = shared
    return _publish_days(ctx, plans, runs, history, lead_in, lead_in_members, members, past, config,
                         methods, flow_run_id, on_day)


def _record_failed(ctx: Context, days: list[_Day], exc: BaseException, flow_run_id: str) -> None:
    """What every run of a chunk shares failed before any run row was written: each day gets its run,
    failed with the reason, so monitoring sees the failure instead of the last good run."""
    recorded = []
    with contextlib.suppress(Exception):  # the database itself may be what failed: the error is raised anyway
        for d in days:
            issue = pd.Timestamp(d.latest, tz="UTC") + pd.Timedelta(days=1) - STEP
            run_id = start_run(ctx.engine, issue_time=issue.to_pydatetime(), target_day=d.target_day,
                               flow_run_id=flow_run_id, code_version=code_version(),
                               settings_hash=settings_hash(ctx.settings), data_source=ctx.centre,
                               lead_day=d.lead_day, issue_day=d.issue_day)
            finish_run(ctx.engine, run_id, status="failed", reason=reason_of(exc))
            recorded.append(str(run_id))
    # the reason itself is the raised error's, printed once by whoever catches it (the CLI's error line)
    log.warning("forecasts for %s .. %s failed before publishing: %s", days[0].target_day, days[-1].target_day,
                f"recorded as failed run(s) {', '.join(recorded)}" if recorded else "no run could be recorded")


def _chunk_inputs(ctx: Context, days: list[_Day], lead_in: list[_Day], architectures: list[str] | None,
                  config: BlendConfig, recompute_from: dt.date | None):
    """What the runs of a chunk share: the station history, every run's member forecasts, the stored
    observations and the verified past the blends are fitted on."""
    first, last = min(d.latest for d in days + lead_in), max(d.latest for d in days)
    history = station_history(ctx, first - dt.timedelta(days=HISTORY_DAYS), last)
    every = member_forecasts(ctx, history, [d.latest for d in lead_in + days], architectures,
                             lead_days=[d.lead_day for d in lead_in + days])
    lead_in_members, members = every[:len(lead_in)], every[len(lead_in):]
    # the observed station vTEC the runs start from, into the database: the dashboard, the verification
    # queries and the blends' weights read it there (upsert: reruns change nothing)
    write_observations(ctx.engine, observations_of(ctx, history), centre_default=ctx.centre)
    # read from the database: what was published for the target days before the chunk's and not
    # recomputed here (the lead-in days' and the chunk's own replace theirs as they are made); the
    # lead-in starts at the issue day `recompute_from`, whose target is the next day
    past = VerifiedPast.read(ctx, min(d.target_day for d in days), max(d.target_day for d in days), config,
                             published_until=recompute_from, lead_days={d.lead_day for d in days + lead_in})
    return history, lead_in_members, members, past


def _publish_days(ctx: Context, plans: list[_Day | SwxError], runs: list[tuple[dt.date, int]],
                  history: pd.DataFrame, lead_in: list[_Day], lead_in_members: list, members: list,
                  past: VerifiedPast, config: BlendConfig, methods: list[str], flow_run_id: str,
                  on_day: Callable[[dt.date], None] | None) -> list[ForecastResult | SwxError]:
    """The runs of a chunk, one by one, each from what existed before its issue time."""
    days = [p for p in plans if isinstance(p, _Day)]
    for n, (day, got) in enumerate(zip(lead_in, lead_in_members), start=1):
        if isinstance(got, MemberForecasts):
            past.add(-n, day.target_day, got.issue, _as_published(got, [st.code for st in ctx.stations], day.carry),
                     day.lead_day)
    valid_all = pd.DatetimeIndex(sorted({t for m in members if isinstance(m, MemberForecasts) for t in m.valid}))
    base_all = baselines_at(history, valid_all) if len(valid_all) else {}
    out: list[ForecastResult | SwxError] = []
    by_run = dict(zip([(d.issue_day, d.ahead) for d in days], members))
    for k, (plan, (day, _)) in enumerate(zip(plans, runs)):
        if not isinstance(plan, _Day):
            out.append(plan)
        elif isinstance(got := by_run[(plan.issue_day, plan.ahead)], NotFoundError):
            out.append(got)
        else:
            try:
                out.append(_publish(ctx, plan, history, got, base_all, past, config, methods, flow_run_id))
            except Exception as exc:  # noqa: BLE001 - a bad day never stops the good ones
                # the reason is the caller's to say once: the CLI's error line, a backfill's summary
                log.warning("forecast for %s failed: %s", plan.target_day,
                            "not recorded (the database refused the write)" if isinstance(exc, RunNotRecordedError)
                            else "its run is recorded as failed, with the reason")
                if not isinstance(exc, SwxError):
                    wrapped = DayFailedError(reason_of(exc))
                    wrapped.__cause__ = exc
                    exc = wrapped
                out.append(exc)
        if on_day is not None and (k + 1 == len(runs) or runs[k + 1][0] != day):  # the day's last run
            on_day(day)
    return out


def _as_published(members: MemberForecasts, codes: list[str], carry: int) -> pd.DataFrame:
    """The rows a run publishes, as its blend's fit reads them later: the members' forecasts and the
    blend's valid times and leads (its values are not used), carried forward by `carry` days."""
    leads = np.asarray((members.valid - members.issue) / pd.Timedelta(hours=1))
    blend = pd.DataFrame({"station": np.repeat(codes, len(leads)), "architecture": BLEND,
                          "valid_time": list(members.valid) * len(codes), "lead_h": np.tile(leads, len(codes)),
                          "mean": np.nan, "sigma": np.nan})
    fc = pd.concat([members.table, blend], ignore_index=True) if len(members.table) else blend
    fc["valid_time"] = pd.DatetimeIndex(fc["valid_time"]) + pd.Timedelta(days=carry)
    fc["lead_h"] = fc["lead_h"] + 24.0 * carry
    return fc


def trust_reasons(ctx: Context, latest: dt.date, members: MemberForecasts, blend: PublishedBlend) -> list[str]:
    """Why a run that publishes cannot be trusted as it stands (empty: it can): station models that
    learnt from another source than the maps they forecast from, a member forecasting what no
    ionosphere holds, a 27-day median resting on too few days, a blend whose weights rest on no
    verified forecast."""
    reasons = []
    foreign: dict[str, set[str]] = {}
    for code, learnt in members.sources.items():
        other = learnt - {ctx.source_of(code), ""}
        if other:
            foreign.setdefault(", ".join(sorted(other)), set()).add(code)
    for learnt, codes in foreign.items():
        reasons.append(f"the models of {len(codes)} station(s) learnt from {learnt} data, not the {ctx.centre} maps they "
                       f"forecast from (e.g. {sorted(codes)[0]}): train them on these maps (swx train)")
    fc = members.table
    if len(fc) and fc["mean"].max() > PLAUSIBLE_VTEC_TECU:  # a model gone wrong (trained on too little?)
        worst = fc.loc[fc["mean"].idxmax()]
        reasons.append(f"the {worst['architecture']} forecast reaches {worst['mean']:.0f} TECU at {worst['station']}, "
                       f"above the {PLAUSIBLE_VTEC_TECU:g} TECU no ionosphere holds: retrain it (swx train)")
    held = sum(ctx.archive.has_gim(ctx.centre, latest - dt.timedelta(days=k)) for k in range(REFERENCE_DAYS))
    if held < MIN_REFERENCE_DAYS:
        reasons.append(f"the 27-day median rests on {held} of the {REFERENCE_DAYS} days up to {latest} (at least "
                       f"{MIN_REFERENCE_DAYS} needed): no ΔTEC, and the blend and the map go without it")
    if blend.verified and not any(blend.verified.values()):
        reasons.append("no forecast has been verified yet: the blend's weights are equal, not learnt (they are "
                       "once the first forecasts are verified)")
    return reasons


def _publish(ctx: Context, day: _Day, history: pd.DataFrame, members: MemberForecasts,
             base_all: dict[str, pd.DataFrame], past: VerifiedPast, config: BlendConfig, methods: list[str],
             flow_run_id: str) -> ForecastResult:
    """One run of a chunk: its blend, the global map (the extension), ΔTEC, the products and its rows."""
    s, engine = ctx.settings, ctx.engine
    latest, lag, carry, target_day = day.latest, day.lag, day.carry, day.target_day
    degraded, reason = lag > 0, ""
    if not degraded and carry and not members.table.empty and not members.second_day:
        degraded = True  # tomorrow's run without a second day's model: day-one forecasts a day late
        reason = ("no second day's models (`swx train --lead-day 2`): the first day's forecasts carried forward a "
                  "day")
        log.warning(reason)
    if lag:
        by = (f" by the second day's models ({', '.join(sorted(members.second_day))})"
              + (", the others carried forward" if set(members.table["architecture"]) - members.second_day else "")
              if members.second_day else ", carried forward")
        what = (f"the {ctx.centre} GIM for {day.issue_day} fails its checksum or has no checksum record (changed "
                "or damaged since it was archived; `swx ingest gims --force` archives it again)"
                if ctx.archive.changed_gim(ctx.centre, day.issue_day) else f"no {ctx.centre} GIM for {day.issue_day}")
        reason = f"{what}; forecast from the maps of {latest} ({lag} day(s) old){by}"
        log.warning(reason)
    wide = history.loc[pd.Timestamp(latest - dt.timedelta(days=HISTORY_DAYS), tz="UTC"):
                       pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC") - STEP]
    fc, issue, valid = members.table, members.issue, members.valid
    if fc.empty:  # point in time: every model saw data after this issue time
        degraded = True
        why = (f"no model was trained on data up to {issue:%Y-%m-%d %H:%M} UTC only (a backfill before or inside "
               "the models' training period): forecast from persistence and the 27-day median only")
        reason = f"{reason}; {why}" if reason else why
        log.warning(why)
    shift = pd.Timedelta(days=carry)
    issue_time = issue  # the data time of the inputs (carried-forward runs keep it)
    version, settings_id = code_version(), settings_hash(s)
    try:
        run_id = start_run(engine, issue_time=issue_time.to_pydatetime(), target_day=target_day,
                           flow_run_id=flow_run_id, code_version=version, settings_hash=settings_id,
                           data_source=ctx.centre, lead_day=day.lead_day, issue_day=day.issue_day)
    except Exception as exc:
        raise _unrecorded(exc, "the run") from exc
    products: dict[str, tuple[Path, Path]] = {}  # what this run wrote: removed if it fails
    try:
        blend = blend_station_forecasts(ctx, fc, issue, base_all, past, config,
                                        leads=np.asarray((valid - issue) / pd.Timedelta(hours=1)),
                                        lead_day=day.lead_day)
        fc = pd.concat([fc, blend.forecasts], ignore_index=True)
        for code, why in blend.on_baselines.items():
            log.info("%s runs on the baselines: %s", code, why)
        for why in trust_reasons(ctx, latest, members, blend):
            degraded, reason = True, f"{reason}; {why}" if reason else why
            log.warning(why)
        if carry:  # a day (or more) further from the maps: the valid times and leads carried forward
            fc["valid_time"] = fc["valid_time"] + shift
            fc["lead_h"] = fc["lead_h"] + 24.0 * carry
        write_station_forecasts(engine, run_id, fc)
        write_blend_weights(engine, run_id, blend.weights)
        history_days = [latest - dt.timedelta(days=k) for k in range(HISTORY_DAYS, -1, -1)]
        record_run_provenance(engine, run_id, fc["model_version_id"].dropna().unique(),
                              input_records(ctx.archive, ctx.centre, history_days, s.data_dir))
        archs = [a for a in dict.fromkeys(fc["architecture"]) if a != BLEND]  # the models (the blend is beside)
        primary = s.forecast_architecture if s.forecast_architecture in archs + [BLEND] else BLEND
        if primary != s.forecast_architecture:  # what the operator asked for is not what is published
            why = (f"SWX_FORECAST_ARCHITECTURE={s.forecast_architecture}, but no {s.forecast_architecture} model "
                   f"forecast this run (none active, or none that saw no data after the issue time): the {primary} "
                   "forecasts are published")
            degraded, reason = True, f"{reason}; {why}" if reason else why
            log.warning(why)

        # the prior: the latest day's maps at the same UT, carried to the target day
        latest_maps = archived_maps(ctx, [latest])
        target_times = latest_maps["time"].values + np.timedelta64(1 + carry, "D")
        persistence = persistence_prior(latest_maps.assign_coords(time=latest_maps["time"].values
                                                                  + np.timedelta64(carry, "D")), target_times)
        one = fc[fc.architecture == primary]
        table = one.pivot(index="valid_time", columns="station", values="mean")[[st.code for st in ctx.stations]]
        sig = one.pivot(index="valid_time", columns="station", values="sigma")[[st.code for st in ctx.stations]]
        times = naive_utc(table.index)
        keep = np.isin(times, target_times)
        values = StationValues(times[keep], np.array([st.lat for st in ctx.stations]),
                               np.array([st.lon for st in ctx.stations]), table.to_numpy(float)[keep],
                               sig.to_numpy(float)[keep] if np.isfinite(sig.to_numpy(float)).all() else None,
                               tuple(st.code for st in ctx.stations))

        # the 27-day reference on the grid, from the maps of the previous days
        maps = archived_maps(ctx, [latest - dt.timedelta(days=k) for k in range(27, -1, -1)],
                             loaded={latest: latest_maps})
        ref = median_reference(maps.values, maps["time"].values + np.timedelta64(carry, "D"), target_times)

        # the map's prior: persistence mixed with the 27-day median map (far from every station the map
        # falls back to it, not to persistence alone)
        prior = persistence.copy(data=mix_baselines(persistence.values, ref, MAP_PRIOR_PERSISTENCE_WEIGHT))

        # the node models' forecast at every grid node: what the map stands on away from the stations
        node = None
        if s.map_model == "nodes":
            try:
                node = forecast_nodes(ctx, latest, persistence, ref, target_day)
            except NodeModelError as exc:
                why = f"{exc}: the map is the stations' extension over the baselines' map"
                degraded, reason = True, f"{reason}; {why}" if reason else why
                log.warning(why)

        rows = []
        map_weights = []
        for method in methods:
            if node is not None:
                node_tec, node_sigma, node_info, net_end = node
                published = publish_map(ctx, method, target_day, latest, issue_time, node_tec=node_tec,
                                        node_sigma=node_sigma, node_train_end=node_info.train_end,
                                        node_network_train_end=net_end,
                                        persistence=persistence, median27=ref, stations=values,
                                        lead_day=day.lead_day)
                grid = published.grid
                map_weights.append(published.weights.assign(method=method))
            else:
                grid = extend(prior, values, method).assign_attrs(map_model="stations")
            ds = forecast_dataset(grid, reference=ref, issue_time=issue_time.to_pydatetime(), method=method,
                                  source=ctx.centre, run_id=run_id, architecture=primary,
                                  simulated=ctx.centre == SIMULATED_CENTRE, publisher=attribution(s))
            nc, ionex = write_products(ds, s.data_dir, target_day, method, day.lead_day)
            products[method] = (nc, ionex)
            rows += [dict(run_id=run_id, valid_time=pd.Timestamp(t, tz="UTC").to_pydatetime(), method=method,
                          product_path=recorded_path(nc, s.data_dir),
                          ionex_path=recorded_path(ionex, s.data_dir), global_rmse=None,
                          product_sha256=recorded_checksum(nc), ionex_sha256=recorded_checksum(ionex))
                     for t in target_times]
            log.info("global forecast %s (%s): %s, %s", target_day, method, nc.name, ionex.name)
        written = {Path(p).resolve() for pair in products.values() for p in pair}
        for withdrawn in write_global_forecasts(engine, run_id, rows):  # a rerun's earlier method: not published
            path = data_path(withdrawn, s.data_dir)
            if path.resolve() not in written:  # an older row's spelling of a file this rerun wrote again
                withdraw_product(path)
                log.info("withdrawn: %s (the rerun did not make it again)", withdrawn)
        # always: a rerun that no longer blends (no node model) leaves no weights of an earlier attempt
        write_map_blend_weights(engine, run_id, pd.concat(map_weights, ignore_index=True) if map_weights
                                else pd.DataFrame(columns=MAP_WEIGHT_COLUMNS))

        # ΔTEC at the stations: forecast (expected disturbance) and observed on the latest day
        fwide = table.copy()
        fwide.index = pd.DatetimeIndex(fwide.index)
        f_dtec = station_dtec_frame(wide, pd.DatetimeIndex(fwide.index) - shift, tec=fwide.set_axis(
            pd.DatetimeIndex(fwide.index) - shift))
        f_dtec["time"] = f_dtec["time"] + shift
        obs_times = wide.index[(wide.index >= pd.Timestamp(latest, tz="UTC"))
                               & (wide.index < pd.Timestamp(latest + dt.timedelta(days=1), tz="UTC"))]
        o_dtec = station_dtec_frame(wide, obs_times)
        write_dtec(engine, f_dtec, "forecast")
        write_dtec(engine, o_dtec, "observed")
        status = "degraded" if degraded else "ok"
        finish_run(engine, run_id, status=status, degraded=degraded, reason=reason)
    except BaseException as exc:  # an interruption too (Ctrl-C, SIGTERM): the run is never left "running"
        for written in (p for pair in products.values() for p in pair):  # a failed run publishes nothing
            withdraw_product(Path(written))
        try:
            finish_run(engine, run_id, status="failed", reason=INTERRUPTED if isinstance(exc, KeyboardInterrupt)
                       else reason_of(exc))
        except Exception as unrecorded:
            if isinstance(exc, Exception):  # an interruption stays one: it is what the caller must see
                raise _unrecorded(exc, "its failure") from unrecorded
            log.warning("run %s interrupted; the database refused to record it (%s): it shows as not finished",
                        run_id, reason_of(unrecorded))
        raise
    past.add(run_id, target_day, issue_time, fc, day.lead_day)
    return ForecastResult(run_id, issue_time, target_day, latest, archs, methods, products, degraded, reason, fc,
                          blend.on_baselines, day.lead_day)


def forecast(ctx: Context, issue_day: dt.date, *, methods: list[str] | None = None,
             architectures: list[str] | None = None, flow_run_id: str = "", lead_day: int = 1) -> ForecastResult:
    """The forecast for the day after `issue_day` (`lead_day` 2: the day after that, tomorrow's
    forecast), from the maps of `issue_day` (or, degraded, the latest earlier day when they are
    missing: its forecasts are then carried forward): a chunk of one day of `forecast_days`."""
    [result] = forecast_days(ctx, [issue_day], methods=methods, architectures=architectures, flow_run_id=flow_run_id,
                             aheads=(lead_day,))
    return _made(result)


def _made(result: ForecastResult | SwxError) -> ForecastResult:
    """A run's result, or its failure raised (a failure that is not a domain one as it was raised)."""
    if isinstance(result, DayFailedError):
        raise result.__cause__
    if isinstance(result, Exception):
        raise result
    return result


class ForecastSummary(TypedDict):
    """What a forecast run made, JSON-able (the flows pass it between tasks and into the artifacts)."""

    run_id: int
    issue_time: str
    target_day: str
    lead_day: int  # the day after the newest maps it forecasts: 1, 2 for tomorrow's run (more when maps are late)
    latest_day: str
    degraded: bool
    reason: str
    architectures: list[str]
    methods: list[str]
    station_rows: int
    on_baselines: dict[str, str]
    products: dict[str, list[str]]  # method -> [netCDF path, IONEX path]
    timing: str  # the information cutoff and the publication, for people (swx.science.timing)


def _summary(r: ForecastResult) -> ForecastSummary:
    return ForecastSummary(run_id=r.run_id, issue_time=r.issue_time.isoformat(), target_day=str(r.target_day),
                           lead_day=r.lead_day,
                           latest_day=str(r.latest_day), degraded=r.degraded, reason=r.reason,
                           architectures=r.architectures, methods=r.methods, station_rows=len(r.station_forecasts),
                           on_baselines=r.on_baselines,
                           products={m: [str(nc), str(ix)] for m, (nc, ix) in r.products.items()},
                           timing=Timing(r.issue_time.to_pydatetime(), dt.datetime.now(dt.UTC), r.target_day).describe())


def forecast_stage(settings: Settings, issue_day: dt.date, *, methods: list[str] | None = None,
                   flow_run_id: str = "", lead_day: int = 1) -> ForecastSummary:
    """The forecast for the day after `issue_day`, or the day after that with `lead_day` 2 (see
    `forecast`), summarised."""
    return _summary(forecast(context(settings), issue_day, methods=methods, flow_run_id=flow_run_id,
                             lead_day=lead_day))


class DailyForecasts(TypedDict):
    """The daily run's forecasts: the next day's, and tomorrow's (None when it failed, with the reason)."""

    forecast: ForecastSummary
    ahead: ForecastSummary | None
    ahead_error: str


def daily_forecasts_stage(settings: Settings, issue_day: dt.date, *, flow_run_id: str = "") -> DailyForecasts:
    """The forecasts of the next day and of the day after (tomorrow's) from `issue_day`'s maps, as one
    chunk: the history, the input windows, the members' inference and the verified past are read and
    made once for both runs. The next day's failure is raised (as `forecast_stage` raises it); tomorrow's
    is returned, for the caller to report after the rest of the day's work."""
    first, second = forecast_days(context(settings), [issue_day], flow_run_id=flow_run_id, aheads=LEAD_DAYS)
    made = _summary(_made(first))
    if isinstance(second, ForecastResult):
        return DailyForecasts(forecast=made, ahead=_summary(second), ahead_error="")
    why = str(second) if isinstance(second, DayFailedError) else reason_of(second)  # the cause's line already
    return DailyForecasts(forecast=made, ahead=None, ahead_error=why)
