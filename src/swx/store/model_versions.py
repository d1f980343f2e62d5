"""The `model_versions` rows of the model registry (swx.ml.registry keeps the checkpoint files): one row per
saved version of a station model, with one active version per station and architecture."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

from swx.store import orm as m
from swx.store.writes import station_ids, upsert

#: what identifies a version row
VERSION_KEY = ("station_id", "architecture", "version")


@dataclass(frozen=True)
class Version:
    id: int
    station: str
    architecture: str
    version: int
    status: str
    path: Path
    sha256: str
    val_rmse: float | None
    parent_id: int | None
    reason: str
    train_end: dt.datetime | None = None  # exclusive end of the data the version depends on (UTC)
    data_source: str = ""  # the centre (or "series") whose data it learnt from; "" when not recorded


def _newest_version(engine: Engine, station: str, architecture: str, *conditions: Any) -> Version | None:
    """The highest-numbered version of (station, architecture) meeting `conditions`, or None."""
    mv, st = m.ModelVersion, m.Station
    stmt = (select(mv.id, st.code, mv.architecture, mv.version, mv.status, mv.checkpoint_path,
                   mv.checkpoint_sha256, mv.val_rmse, mv.parent_id, mv.reason, mv.train_end, mv.data_source)
            .join(st, st.id == mv.station_id)
            .where(st.code == station, mv.architecture == architecture, *conditions))
    with engine.connect() as conn:
        row = conn.execute(stmt.order_by(mv.version.desc()).limit(1)).first()
    if row is None:
        return None
    return Version(row[0], row[1], row[2], row[3], row[4], Path(row[5]), row[6], row[7], row[8], row[9], row[10],
                   row[11] or "")


def find_version(engine: Engine, station: str, architecture: str, version: int | None = None,
                 status: str | None = None) -> Version | None:
    """The newest version of (station, architecture), or that `version`, or the newest with `status`."""
    mv = m.ModelVersion
    conditions = ([mv.version == version] if version is not None else []) + \
                 ([mv.status == status] if status is not None else [])
    return _newest_version(engine, station, architecture, *conditions)


#: versions that served: a candidate never did, a rejected one failed its guardrail
SERVED = ("active", "retired")


def served_versions(engine: Engine, architecture: str, stations: list[str]) -> dict[str, list[Version]]:
    """The versions of `architecture` that served and record their `train_end`, per station, highest
    version first: one read for every issue time a forecast run or a backfill chunk needs."""
    mv, st = m.ModelVersion, m.Station
    stmt = (select(mv.id, st.code, mv.architecture, mv.version, mv.status, mv.checkpoint_path,
                   mv.checkpoint_sha256, mv.val_rmse, mv.parent_id, mv.reason, mv.train_end, mv.data_source)
            .join(st, st.id == mv.station_id)
            .where(st.code.in_(stations), mv.architecture == architecture, mv.status.in_(SERVED),
                   mv.train_end.is_not(None)))
    out: dict[str, list[Version]] = {code: [] for code in stations}
    with engine.connect() as conn:
        for r in conn.execute(stmt.order_by(st.code, mv.version.desc())):
            out[r[1]].append(Version(r[0], r[1], r[2], r[3], r[4], Path(r[5]), r[6], r[7], r[8], r[9], r[10],
                                     r[11] or ""))
    return out


def newest_trained_by(versions: list[Version], end: dt.datetime) -> Version | None:
    """Of `versions` (highest first, as `served_versions` gives them), the newest that depends on no
    data from `end` on (`train_end`, an exclusive end, <= end)."""
    return next((v for v in versions if v.train_end is not None and v.train_end <= end), None)


def next_version(engine: Engine, station: str, architecture: str) -> tuple[int, int]:
    """(station id, the next version number) of (station, architecture); registers the station's id."""
    with engine.begin() as conn:
        sid = station_ids(conn, [station])[station]
        last = conn.execute(select(func.max(m.ModelVersion.version)).where(
            m.ModelVersion.station_id == sid, m.ModelVersion.architecture == architecture)).scalar()
    return sid, (last or 0) + 1


def insert_version(engine: Engine, row: dict[str, Any]) -> None:
    """One version row (upsert on VERSION_KEY: re-saving the same version updates it)."""
    with engine.begin() as conn:
        upsert(conn, m.ModelVersion.__table__, [row], list(VERSION_KEY))


def activate_version(engine: Engine, v: Version, reason: str = "") -> None:
    """Make `v` the active version; the previous active one is retired (one transaction)."""
    with engine.begin() as conn:
        conn.execute(update(m.ModelVersion).where(m.ModelVersion.station_id == select(m.Station.id).where(
            m.Station.code == v.station).scalar_subquery(), m.ModelVersion.architecture == v.architecture,
            m.ModelVersion.status == "active", m.ModelVersion.id != v.id).values(
            status="retired", reason=f"replaced by version {v.version}"))
        conn.execute(update(m.ModelVersion).where(m.ModelVersion.id == v.id).values(status="active", reason=reason))


def reject_version(engine: Engine, v: Version, reason: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(m.ModelVersion).where(m.ModelVersion.id == v.id).values(status="rejected", reason=reason))
