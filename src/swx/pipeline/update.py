"""Stage: the daily incremental update of every active station model, with its guardrail. A failure
leaves the previous (active) models serving: the registry only changes on an accepted update."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TypedDict

import pandas as pd

from swx.config import ARCHITECTURES, LEAD_DAYS, Settings, model_family
from swx.errors import NoActiveModelError, reason_of
from swx.io.atomic import exclusive_lock
from swx.ml.registry import ModelRegistry
from swx.ml.update import daily_update
from swx.pipeline.context import Context, context, station_dataset, station_windows
from swx.pipeline.nodes import update_node_model
from swx.store.queries import model_registry

log = logging.getLogger(__name__)


def update(ctx: Context, day: dt.date, architectures: list[str] | None = None, *, margin: float = 0.05,
           epochs: int = 3) -> pd.DataFrame:
    """The daily incremental update of every active station model (see `swx.ml.update.daily_update`):
    trained through the day before `day`, scored walk-forward on `day`, kept or rolled back. The second
    day's models (`cnn@d2`...) are updated on the windows of the day before, whose targets (26-48 h
    ahead) end on the same day as the first day's."""
    with exclusive_lock(ctx.settings.models_dir / UPDATE_LOCK):  # two updates at once: one after the other
        return _update(ctx, day, architectures, margin=margin, epochs=epochs)


#: the file whose lock an update of the station models holds (beside the models)
UPDATE_LOCK = ".update.lock"


def _update(ctx: Context, day: dt.date, architectures: list[str] | None, *, margin: float, epochs: int
            ) -> pd.DataFrame:
    ds, wide = station_dataset(ctx, day - dt.timedelta(days=60), day + dt.timedelta(days=1))
    registry = ModelRegistry(ctx.settings.models_dir, ctx.engine)
    # a model whose newest version (accepted or rejected) depends on the windows issued on `day` was
    # updated for it, or later: a rerun (or a run after a killed one) leaves it alone, never fine-tuning
    # it twice on the same day
    done_after = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    rows = []
    for lead_day in LEAD_DAYS:
        families = [(arch, model_family(arch, lead_day)) for arch in architectures or ARCHITECTURES]
        families = [(arch, f) for arch, f in families if any(registry.active(st.code, f) for st in ds.stations)]
        if not families:
            continue
        windows = ds if lead_day == 1 else station_windows(ctx, wide, lead_day)
        # the windows whose targets, a lead day further, end with the newest maps `day`'s update sees: a
        # second day's model is scored on the windows issued the day before
        scored_on = day - dt.timedelta(days=lead_day - 1)
        for arch, family in families:
            for i, st in enumerate(windows.stations):
                active = registry.active(st.code, family)
                if active is None:
                    continue
                newest = registry.newest(st.code, family) or active
                if newest.train_end is not None and pd.Timestamp(newest.train_end) > done_after:
                    rows.append(dict(station=st.code, architecture=family, day=str(scored_on),
                                     decision="already updated", accepted=False, version=active.version,
                                     rmse_active=None, rmse_candidate=None, rmse_persistence=None))
                    continue
                d = daily_update(registry, windows, i, family, scored_on, margin=margin, epochs=epochs,
                                 data_source=ctx.source_of(st.code))
                rows.append(dict(station=d.station, architecture=d.architecture, day=str(d.day),
                                 decision="accepted" if d.accepted else "rejected", accepted=d.accepted,
                                 version=d.version.version, rmse_active=d.rmse_active,
                                 rmse_candidate=d.rmse_candidate, rmse_persistence=d.rmse_persistence))
    if not rows:
        raise NoActiveModelError("no active models to update: run `swx train` first")
    return pd.DataFrame(rows)


class UpdateSummary(TypedDict):
    """The daily update in four fields: did it run through, why not (or why it was skipped), and how
    many station models took the update or were rolled back."""

    ok: bool
    reason: str
    accepted: int
    rejected: int
    nodes: str  # the node models' refit: what happened (empty when the map does not use them)


def update_stage(settings: Settings, day: dt.date, *, architectures: list[str] | None = None) -> UpdateSummary:
    """The daily incremental update with its guardrail. A failure is logged and reported, and the
    previous (active) models keep serving: the registry only changes on an accepted update."""
    ctx = context(settings)
    nodes = update_nodes(ctx, day) if settings.map_model == "nodes" else ""
    reg = model_registry(ctx.engine)
    if len(reg):
        active = reg[reg.status == "active"]
        # a version updated for `day` depends on the windows issued on `day` (targets into the next day):
        # its train_end is after the start of day + 1; one updated for an earlier day is not
        done = reg[reg.train_end.notna() & (reg.train_end > pd.Timestamp(day + dt.timedelta(days=1), tz="UTC"))]
        if len(active) and set(zip(active.station, active.architecture)) <= set(zip(done.station, done.architecture)):
            return UpdateSummary(ok=True, reason=f"already updated for {day}", accepted=0, rejected=0, nodes=nodes)
    try:
        df = update(ctx, day, architectures)
    except Exception as exc:  # noqa: BLE001 - any training failure must leave the service running
        log.error("model update for %s failed, previous models kept: %s", day, reason_of(exc))
        return UpdateSummary(ok=False, reason=reason_of(exc), accepted=0, rejected=0, nodes=nodes)
    return UpdateSummary(ok=True, reason="", accepted=int((df.decision == "accepted").sum()),
                         rejected=int((df.decision == "rejected").sum()), nodes=nodes)


def update_nodes(ctx: Context, day: dt.date) -> str:
    """Refit the node models on the maps up to `day`; a failure keeps the previous ones serving."""
    try:
        got = update_node_model(ctx, day)
    except Exception as exc:  # noqa: BLE001 - a failed refit must leave the service running
        log.error("node model refit for %s failed, previous node models kept: %s", day, reason_of(exc))
        return f"failed: {reason_of(exc)}"
    return (f"refitted on {got['n_days']} days to {got['train_end']} (out-of-fold skill against their prior "
            f"{got['cv_skill']:+.0%})" if got["trained"] else got["reason"])
