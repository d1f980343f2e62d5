"""Read functions: the only way the dashboard and reports read the results database.

Every function returns plain data (pandas DataFrames or dicts) with timezone-aware UTC times.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from swx.store import models as m


def _frame(rows, columns: list[str], time_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for c in time_cols:
        if c in df:
            df[c] = pd.to_datetime(df[c], utc=True)
    return df


def stations(engine: Engine) -> pd.DataFrame:
    cols = ["code", "name", "lat", "lon", "sector", "lat_band", "surface", "origin"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.Station, c) for c in cols]).order_by(m.Station.code)).all()
    return _frame(rows, cols)


def latest_run(engine: Engine) -> dict[str, Any] | None:
    """The most recent forecast run (by issue time), or None when there is none yet."""
    table = m.ForecastRun.__table__
    with engine.connect() as conn:
        row = conn.execute(select(table).order_by(table.c.issue_time.desc(), table.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row is not None else None


def runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    cols = ["id", "issue_time", "target_day", "status", "degraded", "reason", "data_source", "flow_run_id",
            "code_version", "settings_hash", "created_at", "finished_at"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.ForecastRun, c) for c in cols])
                            .order_by(m.ForecastRun.issue_time.desc()).limit(limit)).all()
    return _frame(rows, cols, ("issue_time", "created_at", "finished_at"))


def station_series(engine: Engine, code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Observed vTEC of a station in [start, end) with the persistence and 27-day-median baselines
    (computed from the observations: the value 24 h earlier; the median of the 27 previous days at
    the same UT), one row per time and centre."""
    history_start = start - dt.timedelta(days=27)
    with engine.connect() as conn:
        sid = conn.execute(select(m.Station.id).where(m.Station.code == code)).scalar_one_or_none()
        if sid is None:
            raise KeyError(f"unknown station {code!r}")
        rows = conn.execute(select(m.Observation.time, m.Observation.centre, m.Observation.vtec)
                            .where(m.Observation.station_id == sid, m.Observation.time >= history_start,
                                   m.Observation.time < end)
                            .order_by(m.Observation.centre, m.Observation.time)).all()
    df = _frame(rows, ["time", "centre", "vtec"], ("time",))
    if df.empty:
        return df.assign(persistence=pd.Series(dtype=float), median27=pd.Series(dtype=float))
    out = []
    for _, g in df.groupby("centre", sort=False):
        s = g.set_index("time")["vtec"]
        persistence = s.reindex(s.index - pd.Timedelta(hours=24)).to_numpy()
        lagged = pd.concat([s.reindex(s.index - pd.Timedelta(days=k)).reset_index(drop=True)
                            for k in range(1, 28)], axis=1)
        g = g.assign(persistence=persistence, median27=lagged.median(axis=1, skipna=True).to_numpy())
        out.append(g[g["time"] >= pd.Timestamp(start)])
    return pd.concat(out, ignore_index=True)


def station_forecasts(engine: Engine, code: str, start: dt.datetime, end: dt.datetime,
                      run_id: int | None = None) -> pd.DataFrame:
    """Forecasts for a station with valid time in [start, end), all architectures (one run or all)."""
    cols = ["run_id", "architecture", "valid_time", "lead_h", "mean", "sigma", "q025", "q16", "q84", "q975"]
    cond = [m.Station.code == code, m.StationForecast.valid_time >= start, m.StationForecast.valid_time < end]
    if run_id is not None:
        cond.append(m.StationForecast.run_id == run_id)
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.StationForecast, c) for c in cols])
                            .join(m.Station, m.Station.id == m.StationForecast.station_id).where(and_(*cond))
                            .order_by(m.StationForecast.architecture, m.StationForecast.valid_time)).all()
    return _frame(rows, cols, ("valid_time",))


def kp_series(engine: Engine, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    cols = ["time", "kp", "ap", "status", "source"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.KpValue, c) for c in cols])
                            .where(m.KpValue.time >= start, m.KpValue.time < end).order_by(m.KpValue.time)).all()
    return _frame(rows, cols, ("time",))


def global_products(engine: Engine, run_id: int) -> pd.DataFrame:
    cols = ["valid_time", "method", "product_path", "ionex_path", "global_rmse"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.GlobalForecast, c) for c in cols])
                            .where(m.GlobalForecast.run_id == run_id)
                            .order_by(m.GlobalForecast.method, m.GlobalForecast.valid_time)).all()
    return _frame(rows, cols, ("valid_time",))


def skill_table(engine: Engine, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                kp_class: str | None = None) -> pd.DataFrame:
    """Verification rows (models and baselines) joined with station attributes for grouping."""
    cols = ["scope", "station_code", "model", "window_start", "window_end", "kp_class", "n", "rmse", "mae", "bias",
            "skill_persistence", "skill_median27", "coverage68", "coverage95"]
    cond = []
    if start is not None:
        cond.append(m.Verification.window_start >= start)
    if end is not None:
        cond.append(m.Verification.window_end <= end)
    if kp_class is not None:
        cond.append(m.Verification.kp_class == kp_class)
    stmt = (select(*[getattr(m.Verification, c) for c in cols], m.Station.lat_band, m.Station.surface)
            .outerjoin(m.Station, m.Station.code == m.Verification.station_code)
            .order_by(m.Verification.station_code, m.Verification.model))
    if cond:
        stmt = stmt.where(and_(*cond))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, cols + ["lat_band", "surface"], ("window_start", "window_end"))


def storms(engine: Engine) -> pd.DataFrame:
    cols = ["start", "end", "max_kp", "g_class", "peak_pos_dtec", "peak_pos_time", "peak_neg_dtec", "peak_neg_time",
            "stations"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.StormEvent, c) for c in cols]).order_by(m.StormEvent.start.desc())).all()
    return _frame(rows, cols, ("start", "end", "peak_pos_time", "peak_neg_time"))


def model_registry(engine: Engine) -> pd.DataFrame:
    cols = ["id", "architecture", "version", "parent_id", "status", "reason", "val_rmse", "train_start", "train_end",
            "checkpoint_path", "checkpoint_sha256", "created_at"]
    with engine.connect() as conn:
        rows = conn.execute(select(m.Station.code, *[getattr(m.ModelVersion, c) for c in cols])
                            .join(m.Station, m.Station.id == m.ModelVersion.station_id)
                            .order_by(m.Station.code, m.ModelVersion.architecture, m.ModelVersion.version)).all()
    return _frame(rows, ["station"] + cols, ("train_start", "train_end", "created_at"))


def counts(engine: Engine) -> dict[str, int]:
    """Row counts per table (status pages, tests)."""
    out = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            out[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    return out
