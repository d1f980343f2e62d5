"""The stages of the daily cycle as plain functions of (settings, dates) returning small JSON-able
summaries — what the Prefect flows pass between tasks (dates and paths, never arrays) and what the
CLI prints. Each stage is idempotent, so a rerun or a resumed backfill repeats nothing.

ingest -> (update) -> forecast -> verify -> storms, plus the model bootstrap of the offline demo and
the monitoring status.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from swx.archive import Archive
from swx.config import ARCHITECTURES, Settings
from swx.errors import InputError, NotFoundError
from swx.gim.sources import GimSource, LocalDirectorySource, RemoteSource
from swx.ingest import ingest_gims, ingest_indices
from swx.net import Downloader, RetryPolicy

log = logging.getLogger(__name__)


def gim_source(settings: Settings, archive: Archive, kind: str | None = None, directory=None) -> GimSource:
    """The GIM source the settings name (or `kind`): remote mirrors, a local folder, or the simulator."""
    kind = kind or settings.gim_source
    if kind == "simulated":
        from swx.gim.simulate import simulated_source
        from swx.kp import load_indices

        return simulated_source(settings, load_indices(archive))
    if kind == "local":
        folder = directory or settings.gim_local_dir
        if folder is None:
            raise InputError("a local GIM source needs a folder (SWX_GIM_LOCAL_DIR or --dir)")
        return LocalDirectorySource(folder)
    if kind == "remote":
        return RemoteSource(settings.gim_mirrors, downloader(settings))
    raise InputError(f"unknown GIM source {kind!r} (remote, local or simulated)")


class _OnFirstFetch:
    """A GIM source opened when a day is first fetched: a daily run whose day is archived already
    never builds it (the simulator's tables, a download session)."""

    def __init__(self, kind: str, open_source) -> None:
        self.kind, self._open, self._source = kind, open_source, None

    def fetch(self, centre: str, day: dt.date):
        if self._source is None:
            self._source = self._open()
        return self._source.fetch(centre, day)


def downloader(settings: Settings) -> Downloader:
    return Downloader(RetryPolicy(settings.http_timeout_s, settings.http_retries, settings.http_backoff_s),
                      netrc_path=settings.netrc_path)


def migrate_database_stage(settings: Settings) -> str:
    """Create or migrate the configured database to this swx's schema (the main job's first step; a
    deployment runs `swx db upgrade`). Returns its URL, password hidden."""
    from swx.store.db import current_revision, migrated_database

    engine = migrated_database(settings)
    return f"{engine.url.render_as_string(hide_password=True)} at revision {current_revision(engine)}"


def ingest_indices_stage(settings: Settings) -> dict[str, Any]:
    """Kp/F10.7 from the configured source (GFZ, or the bundled history) into the archive and the DB."""
    from swx.store.db import open_database
    from swx.store.sync import record_indices

    engine = open_database(settings)  # a database at another schema stops the stage before any download
    archive = Archive(settings.archive_dir)
    if settings.kp_source == "gfz":
        from swx.kp import fetch_gfz

        tables, source = fetch_gfz(downloader(settings), settings.kp_url, settings.kp_nowcast_url), "GFZ"
    else:
        from swx.indices.history import load_history

        tables, source = load_history(), "bundled history"
    summary = ingest_indices(tables, archive, source)
    record_indices(engine, tables)
    return {"source": source, "rows": summary.rows, "changed": summary.changed, "last": str(summary.last)}


def ingest_stage(settings: Settings, days: list[dt.date]) -> dict[str, Any]:
    """The GIMs of `days` into the archive (skipped when archived and verified) and the DB's input files.
    A missing or broken day is reported, not raised: the forecast then runs degraded."""
    from swx.store.db import open_database
    from swx.store.sync import record_gim_days

    engine = open_database(settings)  # a database at another schema stops the stage before any download
    archive = Archive(settings.archive_dir)
    source = _OnFirstFetch(settings.gim_source, lambda: gim_source(settings, archive))
    centre = settings.centre
    summary = ingest_gims(source, archive, [(centre, d) for d in days])
    record_gim_days(engine, archive, summary)
    out = {"centre": centre, "days": {}}
    for r in summary.results:
        out["days"][str(r.day)] = {"status": r.status, "reason": getattr(r, "reason", "") or ""}
    out["summary"] = summary.one_line(centre)
    return out


def ensure_models(settings: Settings, train_end: dt.date, *, architectures: tuple[str, ...] = ARCHITECTURES,
                  epochs: int = 15, ensemble: int = 1) -> dict[str, Any]:
    """Train the architectures that have no active model for every station (the demo's first run, a new
    station catalog); otherwise nothing. Returns what was trained."""
    from swx.jobs import context, train
    from swx.registry import ModelRegistry

    ctx = context(settings)
    registry = ModelRegistry(settings.models_dir, ctx.engine)
    missing = [a for a in architectures if any(registry.active(s.code, a) is None for s in ctx.stations)]
    if not missing:
        return {"trained": [], "reason": "active models exist"}
    log.info("no active %s models: training them on the archive up to %s", "/".join(missing), train_end)
    df = train(ctx, missing, train_end=train_end, epochs=epochs, ensemble=ensemble, gaussian=ensemble == 1,
               max_windows=settings.train_max_windows)
    quick = df[(df.kp_class == "all") & (df.scope == "station")]
    return {"trained": missing, "test_rmse": {m: float(quick[quick.model == m].rmse.mean()) for m in quick.model.unique()}}


def update_stage(settings: Settings, day: dt.date, *, architectures: list[str] | None = None) -> dict[str, Any]:
    """The daily incremental update with its guardrail. A failure is logged and reported, and the
    previous (active) models keep serving: the registry only changes on an accepted update."""
    from swx.jobs import context, update
    from swx.store.queries import model_registry

    ctx = context(settings)
    reg = model_registry(ctx.engine)
    if len(reg):
        active = reg[reg.status == "active"]
        done = reg[reg.train_end.notna() & (reg.train_end >= pd.Timestamp(day, tz="UTC"))]
        if len(active) and set(zip(active.station, active.architecture)) <= set(zip(done.station, done.architecture)):
            return {"ok": True, "reason": f"already updated for {day}", "accepted": 0, "rejected": 0}
    try:
        df = update(ctx, day, architectures)
    except Exception as exc:  # noqa: BLE001 - any training failure must leave the service running
        log.error("model update for %s failed, previous models kept: %s: %s", day, type(exc).__name__, exc)
        return {"ok": False, "reason": f"{type(exc).__name__}: {exc}", "accepted": 0, "rejected": 0}
    return {"ok": True, "reason": "", "accepted": int(df.accepted.sum()), "rejected": int((~df.accepted).sum())}


def forecast_stage(settings: Settings, issue_day: dt.date, *, methods: list[str] | None = None,
                   flow_run_id: str = "") -> dict[str, Any]:
    from swx.daily import forecast
    from swx.jobs import context

    r = forecast(context(settings), issue_day, methods=methods, flow_run_id=flow_run_id)
    return {"run_id": r.run_id, "issue_time": r.issue_time.isoformat(), "target_day": str(r.target_day),
            "latest_day": str(r.latest_day), "degraded": r.degraded, "reason": r.reason,
            "architectures": r.architectures, "methods": r.methods, "station_rows": len(r.station_forecasts),
            "on_baselines": r.on_baselines,
            "products": {m: [str(nc), str(ix)] for m, (nc, ix) in r.products.items()}}


def verify_stage(settings: Settings, day: dt.date) -> dict[str, Any]:
    """Verify what `day`'s truth allows: the global maps and the station forecasts (every architecture
    and the blend) published for `day`, as they were published."""
    from swx.daily import verify_maps, verify_station_forecasts
    from swx.jobs import context

    ctx = context(settings)
    out: dict[str, Any] = {"day": str(day), "maps": {}, "stations": {}}
    if not ctx.archive.has_gim(ctx.centre, day):
        out["skipped"] = f"no {ctx.centre} GIM for {day} yet"
        return out
    try:
        v = verify_maps(ctx, day)
        g = v[v.station_code == "global"] if len(v) else v
        out["maps"] = {r.model: round(float(r.rmse), 3) for r in g.itertuples()}
    except NotFoundError as exc:
        out["maps_skipped"] = str(exc)
    try:
        df = verify_station_forecasts(ctx, day)
        pooled = df[(df.kp_class == "all") & (df.scope == "station")].groupby("model").rmse.mean()
        out["stations"] = {k: round(float(v), 3) for k, v in pooled.items()}
    except NotFoundError as exc:
        out["stations_skipped"] = str(exc)
    return out


def storms_stage(settings: Settings, start: dt.date, end: dt.date) -> dict[str, Any]:
    from swx.daily import storms
    from swx.jobs import context

    events = storms(context(settings), start, end)
    return {"events": [{"start": str(e.start), "end": str(e.end), "max_kp": e.max_kp, "g_class": e.g_class}
                       for e in events]}


def completed_days(settings: Settings, start: dt.date, end: dt.date) -> set[dt.date]:
    """Issue days in start..end whose forecast run finished (ok or degraded) and whose products exist:
    what a resumed backfill skips."""
    from pathlib import Path

    from swx.store.db import open_database
    from swx.store.queries import finished_products

    rows = finished_products(open_database(settings), start + dt.timedelta(days=1), end + dt.timedelta(days=1))
    good: dict[dt.date, bool] = {}
    for day, nc, ionex in rows:
        good[day] = good.get(day, True) and Path(nc).is_file() and Path(ionex).is_file()
    return {d - dt.timedelta(days=1) for d, ok in good.items() if ok}
