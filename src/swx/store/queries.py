"""Read functions: the only way the dashboard and reports read the results database.

Every function returns plain data (pandas DataFrames or dicts) with timezone-aware UTC times.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from sqlalchemy import Engine, Float, Integer, and_, cast, func, or_, select, true

from swx.archive import (
    ARCHIVED_AT,
    SHA256_HEX,
    checksum_path,
    read_checksum_record,
    sha256_file,
)
from swx.config import EXTENSION_METHODS, LEAD_DAYS, SIMULATED_CENTRE, data_path, get_settings
from swx.config import lead_span as lead_span  # for the dashboard, which reads swx through here
from swx.io.gim_names import PREDICTED_LABELS
from swx.io.maps_netcdf import UNREADABLE_NETCDF
from swx.science.blend import MODEL_ORDER
from swx.science.dtec import MIN_REFERENCE_DAYS
from swx.science.grid import AWAY_FROM_STATIONS_KM, coastline_segments
from swx.science.map_blend import MEMBERS, MapBlendConfig
from swx.science.storms import STORM_KP, at_least, forecast_capture, g_class  # noqa: F401 - forecast_capture: for the pages
from swx.science.timing import run_timing  # noqa: F401 - for the pages
from swx.science.verify import Z68, Z95, pooled_map_skill, pooled_skill, rolling_rmse, same_ut_baselines
from swx.sources.indices.tables import NOWCAST, kp_label, worst_status  # noqa: F401 - kp_label: for the pages
from swx.errors import DataFormatError, InputError, NotFoundError, SwxError, reason_of  # noqa: F401 - SwxError: for the pages
from swx.store import orm as m
from swx.store.db import SchemaError, database_error_line, engine_from_settings, missing_sqlite_file
from swx.store.query_arguments import checked_query


def configured_engine() -> Engine:
    """The database of the process's settings (SWX_DATABASE_URL, or the embedded SQLite file), for
    readers such as the dashboard that open it only through these queries. A reader never creates it:
    a missing SQLite file is a SchemaError (the dashboard shows "no runs yet")."""
    engine = engine_from_settings(get_settings())
    if (missing := missing_sqlite_file(engine)) is not None:
        raise SchemaError(f"no database at {missing}: run `make run` or `swx db upgrade` first")
    return engine


def database_state() -> tuple[str, str]:
    """What a reader finds (kind, what to do): "ok" (runs stored), "empty" (a database without runs),
    "missing" (no database yet), "schema" (a database that is not swx's at this revision: another
    application's, or one to migrate) or "down" (it cannot be read: server down, refused).
    The dashboard must never show an outage as an empty system."""
    settings = get_settings()
    try:
        engine = configured_engine()
    except SchemaError as exc:
        return "missing", str(exc)
    except InputError as exc:  # the configured database cannot be one (a folder where the file should be)
        return "down", str(exc)
    try:
        run = latest_run(engine, lead_day=None)
    except SchemaError as exc:  # it answers, but is not swx's at this revision: a repair, not an outage
        return "schema", str(exc)
    except Exception as exc:  # noqa: BLE001 - whatever stops the read is the outage's reason
        line = database_error_line(exc) or reason_of(exc)
        return "down", (f"{line} — {settings.display_database_url}. Check that the database server is up and "
                        "reachable, that SWX_DATABASE_URL names it, and `swx status` from this host")
    return ("ok", "") if run is not None else ("empty", "")


def _frame(rows, columns: list[str], time_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=columns)
    for c in time_cols:
        if c in df:
            df[c] = pd.to_datetime(df[c], utc=True)
    return df


@checked_query
def stations(engine: Engine) -> pd.DataFrame:
    cols = ["code", "name", "lat", "lon", "sector", "lat_band", "surface", "origin"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.Station, c) for c in cols]).order_by(m.Station.code)).all()
    return _frame(rows, cols)


@checked_query
def latest_run(engine: Engine, lead_day: int | None = 1, issue_day: dt.date | None = None
               ) -> dict[str, Any] | None:
    """The run monitoring and the console judge: of the newest daily run (issue day), its forecast of
    the next day — 1, by default (from the issue day's maps, or degraded, from older ones carried
    forward) — or of the day after (2, tomorrow's forecast); the newest run of any kind with None. None
    when there is none yet. With `issue_day`, that daily run's (tomorrow's forecast beside the next
    day's it is judged with, not one made by hand for a later day)."""
    table = m.ForecastRun.__table__
    day = func.coalesce(table.c.issue_day, table.c.target_day)
    stmt = select(table).order_by(day.desc(), table.c.issue_time.desc(), table.c.id.desc()).limit(1)
    if lead_day is not None and (isinstance(lead_day, bool) or not isinstance(lead_day, int) or lead_day < 1):
        raise InputError(f"lead day {lead_day!r}: expected a whole number of days from 1")
    if issue_day is not None:
        if not isinstance(issue_day, dt.date) or isinstance(issue_day, dt.datetime):
            raise InputError(f"issue day {issue_day!r}: expected a date")
        stmt = stmt.where(table.c.issue_day == issue_day)
    if lead_day is not None:  # the lead counted from the issue day (a run carried forward keeps its day's)
        ahead = _days_between(table.c.target_day, table.c.issue_day, engine.dialect.name)
        stmt = stmt.where(or_(table.c.issue_day.is_(None), ahead == lead_day))
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return dict(row._mapping) if row is not None else None


@checked_query
def tomorrows_run(engine: Engine) -> dict[str, Any] | None:
    """Tomorrow's forecast (lead day 2) of the daily run monitoring judges (`latest_run`), not one made
    by hand for a later day; the newest of that lead where no next-day run exists. None when none."""
    judged = latest_run(engine)
    return latest_run(engine, lead_day=2, issue_day=judged["issue_day"] if judged else None)


def _days_between(later, earlier, dialect: str):
    """Whole days from one date column to another, in SQL."""
    if dialect == "postgresql":
        return later - earlier  # date - date: an integer of days
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


@checked_query
def runs(engine: Engine, limit: int = 50) -> pd.DataFrame:
    """The newest `limit` runs (a positive number), newest issue first."""
    if limit < 1:
        raise InputError(f"runs: limit={limit}: expected a number of runs from 1")
    cols = ["id", "issue_time", "target_day", "lead_day", "status", "degraded", "reason", "data_source", "flow_run_id",
            "code_version", "settings_hash", "created_at", "finished_at"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.ForecastRun, c) for c in cols])
                            .order_by(m.ForecastRun.issue_time.desc(), m.ForecastRun.lead_day,
                                      m.ForecastRun.id.desc()).limit(limit)).all()
    return _frame(rows, cols, ("issue_time", "created_at", "finished_at"))


def _epoch_seconds(col, dialect: str):
    """A UTC timestamp column as seconds since 1970 in SQL: no per-row datetime objects in Python."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", col), Float)
    return cast(func.strftime("%s", col), Integer)


_PG_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("t", ">f8"), ("l2", ">i4"), ("v", ">f8")])


def _pg_series(conn, station_id: int, start: dt.datetime, end: dt.datetime, only: str | None) -> pd.DataFrame:
    """PostgreSQL fast path: the series of each centre (or of `only`) as binary COPY, decoded by numpy."""
    centres = conn.execute(select(m.Observation.centre).where(
        m.Observation.station_id == station_id, m.Observation.time >= start, m.Observation.time < end)
        .distinct()).scalars().all()
    raw = conn.connection.driver_connection
    frames = []
    for centre in sorted(c for c in centres if only is None or c == only):
        sql = ("COPY (SELECT extract(epoch FROM time)::float8, vtec FROM observations WHERE station_id = %s "
               "AND centre = %s AND time >= %s AND time < %s ORDER BY time) TO STDOUT (FORMAT BINARY)")
        with raw.cursor() as cur:
            with cur.copy(sql, (station_id, centre, start, end)) as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
        body = data[19:-2]  # signature + flags + extension length; trailer
        rec = np.frombuffer(body, dtype=_PG_ROW)
        frames.append(pd.DataFrame({"t": rec["t"].astype(float), "centre": centre, "vtec": rec["v"].astype(float)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["t", "centre", "vtec"])


def _sqlite_series(conn, station_id: int, start: dt.datetime, end: dt.datetime, only: str | None) -> pd.DataFrame:
    """SQLite fast path: one key-ordered range scan per centre, epoch seconds computed by SQLite, plain
    tuples straight into numpy (UTCDateTime stores naive UTC ISO text)."""
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    raw = conn.connection.driver_connection
    args = (station_id, start.astimezone(dt.UTC).strftime(fmt), end.astimezone(dt.UTC).strftime(fmt))
    centres = [r[0] for r in raw.execute("SELECT DISTINCT centre FROM observations WHERE station_id = ? "
                                         "AND time >= ? AND time < ?", args).fetchall()]
    frames = []
    for centre in sorted(c for c in centres if only is None or c == only):
        rows = raw.execute("SELECT CAST(strftime('%s', time) AS INTEGER), vtec FROM observations WHERE station_id = ? "
                           "AND time >= ? AND time < ? AND centre = ? ORDER BY time", (*args, centre)).fetchall()
        a = np.array(rows, dtype=float).reshape(-1, 2)
        frames.append(pd.DataFrame({"t": a[:, 0].astype(np.int64), "centre": centre, "vtec": a[:, 1]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["t", "centre", "vtec"])


@checked_query
def station_series(engine: Engine, code: str, start: dt.datetime, end: dt.datetime, *,
                   centre: str | None = None) -> pd.DataFrame:
    """Observed vTEC of a station in [start, end) with the persistence and 27-day-median baselines
    (computed from the observations: the value 24 h earlier; the median of the 27 previous days at
    the same UT), one row per time and centre (the source: a centre's maps or an imported series);
    `centre` keeps that source's alone. Each source's baselines are its own."""
    history_start = start - dt.timedelta(days=27)
    with engine.connect() as conn:
        sid = conn.execute(select(m.Station.id).where(m.Station.code == code)).scalar_one_or_none()
        if sid is None:
            raise NotFoundError(f"unknown station {code!r}: `swx stations list` lists them")
        if conn.dialect.name == "postgresql":
            rows = _pg_series(conn, sid, history_start, end, centre)
        elif conn.dialect.name == "sqlite":
            rows = _sqlite_series(conn, sid, history_start, end, centre)
        else:
            secs = _epoch_seconds(m.Observation.time, conn.dialect.name)
            rows = conn.execute(select(secs, m.Observation.centre, m.Observation.vtec)
                                .where(m.Observation.station_id == sid, m.Observation.time >= history_start,
                                       m.Observation.time < end,
                                       true() if centre is None else m.Observation.centre == centre)
                                .order_by(m.Observation.centre, m.Observation.time)).all()
    if len(rows) == 0:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "centre": pd.Series(dtype=str),
                             "vtec": pd.Series(dtype=float), "persistence": pd.Series(dtype=float),
                             "median27": pd.Series(dtype=float)})
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows, columns=["t", "centre", "vtec"])
    df["t"] = np.rint(df["t"].to_numpy(dtype=float)).astype(np.int64)
    start_s = int(start.timestamp())
    out = []
    for centre, g in df.groupby("centre", sort=False):
        # the baselines of the blend and the pages: a 27-day median only where 14 of the days hold values
        persistence, median27 = same_ut_baselines(g["t"].to_numpy(), g["vtec"].to_numpy(),
                                                  min_days=MIN_REFERENCE_DAYS)
        keep = g["t"].to_numpy() >= start_s
        out.append(pd.DataFrame({"time": pd.to_datetime(g["t"].to_numpy()[keep], unit="s", utc=True),
                                 "centre": centre, "vtec": g["vtec"].to_numpy()[keep],
                                 "persistence": persistence[keep], "median27": median27[keep]}))
    return pd.concat(out, ignore_index=True)


@checked_query
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


@checked_query
def issued_forecasts(engine: Engine, first_target_day: dt.date, last_target_day: dt.date,
                     lead_day: int | Iterable[int] | None = None) -> pd.DataFrame:
    """The station forecasts that were published for target days in [first, last]: of each day and
    lead day (the day after the run's maps it forecasts: 1, or 2 for tomorrow's run), the newest
    finished run's (ok or degraded); of one lead day (or some) only with `lead_day`. Columns: run_id,
    target_day, lead_day, issue_time, station, architecture, valid_time, lead_h, mean, sigma. What the
    blend is fitted on, and what is verified, once the truth has arrived."""
    r, f = m.ForecastRun, m.StationForecast
    cols = ["run_id", "target_day", "lead_day", "issue_time", "station", "architecture", "valid_time", "lead_h",
            "mean", "sigma"]
    cond = [r.target_day >= first_target_day, r.target_day <= last_target_day, r.status.in_(["ok", "degraded"])]
    if lead_day is not None:
        leads = [lead_day] if isinstance(lead_day, int) else list(lead_day) if isinstance(lead_day, Iterable) else []
        if not leads or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in leads):
            raise InputError(f"lead day(s) {lead_day!r}: expected whole numbers of days from 1")
        cond.append(r.lead_day.in_(sorted(set(leads))))
    with engine.connect() as conn:
        newest = conn.execute(select(r.target_day, r.lead_day, func.max(r.id))
                              .where(*cond).group_by(r.target_day, r.lead_day)).all()
        ids = [row[2] for row in newest]
        if not ids:
            return pd.DataFrame(columns=cols)
        rows = conn.execute(select(f.run_id, r.target_day, r.lead_day, r.issue_time, m.Station.code, f.architecture,
                                   f.valid_time, f.lead_h, f.mean, f.sigma)
                            .join(r, r.id == f.run_id).join(m.Station, m.Station.id == f.station_id)
                            .where(f.run_id.in_(ids))).all()
    return _frame(rows, cols, ("valid_time", "issue_time"))


@checked_query
def blend_weights(engine: Engine, run_id: int) -> pd.DataFrame:
    """The blend weights of a run: station, member, lead_h, weight, n_samples."""
    b = m.BlendWeight
    with engine.connect() as conn:
        rows = conn.execute(select(m.Station.code, b.member, b.lead_h, b.weight, b.n_samples)
                            .join(m.Station, m.Station.id == b.station_id).where(b.run_id == run_id)
                            .order_by(m.Station.code, b.member, b.lead_h)).all()
    return _frame(rows, ["station", "member", "lead_h", "weight", "n_samples"])


@checked_query
def map_blend_weights(engine: Engine, run_id: int) -> pd.DataFrame:
    """The global map's blend weights of a run: method, lat_band, member, lead_h, weight, n_days."""
    b = m.MapBlendWeight
    cols = ["method", "lat_band", "member", "lead_h", "weight", "n_days"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(b, c) for c in cols]).where(b.run_id == run_id)
                            .order_by(b.method, b.lat_band, b.member, b.lead_h)).all()
    return _frame(rows, cols)


@checked_query
def run_map_scores(engine: Engine, run_id: int) -> pd.DataFrame:
    """The verification of a run's global maps (scope "global"): region, model, rmse, rmse_area, coverage68,
    coverage95, crps, skill_persistence; empty until the day's GIM is in."""
    v = m.Verification
    cols = ["station_code", "model", "rmse", "rmse_area", "coverage68", "coverage95", "crps", "skill_persistence"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(v, c) for c in cols]).where(v.run_id == run_id, v.scope == "global")
                            .order_by(v.model, v.station_code)).all()
    return _frame(rows, cols).rename(columns={"station_code": "region"})


#: what the map pages say of the map's blend and regions (defined in swx.science, read here)
MAP_WINDOW_DAYS = MapBlendConfig().window_days
AWAY_KM = AWAY_FROM_STATIONS_KM


def _verification_rows(rows: object, what: str, needed: Iterable[str]) -> pd.DataFrame:
    """`rows` as verification rows (`skill_table`'s) holding `needed`: anything else is an InputError
    naming `what` and the columns it lacks."""
    if not isinstance(rows, pd.DataFrame):
        raise InputError(f"{what}: rows={type(rows).__name__}: expected verification rows (skill_table's DataFrame)")
    if missing := [c for c in dict.fromkeys(needed) if c not in rows.columns]:
        raise InputError(f"{what}: the rows have no column(s) {', '.join(map(str, missing))}: expected verification "
                         "rows as skill_table gives them")
    return rows


def map_skill(rows: pd.DataFrame) -> pd.DataFrame:
    """Verification rows (`skill_table`) of the global maps pooled over their days, per model and region
    (`swx.science.verify.pooled_map_skill`): per region the published maps first, then the members of
    the blend, the persistence map last."""
    rows = _verification_rows(rows, "map_skill", ["scope", "model", "station_code", "window_start", "n", "rmse",
                                                   "rmse_area"])
    pooled = pooled_map_skill(rows[rows["scope"] == "global"]) if len(rows) else pooled_map_skill(rows)
    members = {f"map:{m}" for m in MEMBERS if m != "persistence"}
    rank = np.where(pooled["model"] == "map:persistence", 2, np.where(pooled["model"].isin(members), 1, 0))
    return pooled.assign(_rank=rank).sort_values(["region", "_rank", "model"]).drop(columns="_rank") \
        .reset_index(drop=True)


@checked_query
def station_forecast_bands(engine: Engine, code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The freshest forecast of each architecture per valid time in [start, end) (the shortest lead
    among the runs), with its 68 % and 95 % intervals: the stored quantiles where the model has them,
    else mean ± 0.99/1.96 sigma (Gaussian), cut at zero TEC (a physical bound)."""
    fc = station_forecasts(engine, code, start, end)
    cols = ["architecture", "valid_time", "run_id", "lead_h", "mean", "lo68", "hi68", "lo95", "hi95"]
    if fc.empty:
        return pd.DataFrame(columns=cols)
    fc = fc.sort_values(["architecture", "valid_time", "lead_h", "run_id"], ascending=[True, True, True, False])
    fc = fc.drop_duplicates(["architecture", "valid_time"], keep="first").reset_index(drop=True)
    sigma = fc["sigma"].astype(float)
    fc["mean"] = fc["mean"].astype(float).clip(lower=0.0)  # vTEC is never negative: nor a band's lower end
    for name, q_lo, q_hi, z in (("68", "q16", "q84", Z68), ("95", "q025", "q975", Z95)):
        fc[f"lo{name}"] = fc[q_lo].astype(float).fillna(fc["mean"] - z * sigma).clip(lower=0.0)
        fc[f"hi{name}"] = fc[q_hi].astype(float).fillna(fc["mean"] + z * sigma)
    return fc[cols]


@checked_query
def dtec_series(engine: Engine, start: dt.datetime, end: dt.datetime, kind: str = "observed",
                codes: list[str] | None = None) -> pd.DataFrame:
    """ΔTEC (vs the 27-day median) per station and time in [start, end), of some or all stations."""
    _check_kind(kind)
    d = m.DeltaTec
    stmt = (select(m.Station.code, d.time, d.dtec, d.dtec_rel).join(m.Station, m.Station.id == d.station_id)
            .where(d.time >= start, d.time < end, d.kind == kind, d.reference == "median27"))
    if codes is not None:
        stmt = stmt.where(m.Station.code.in_(codes))
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(m.Station.code, d.time)).all()
    return _frame(rows, ["station", "time", "dtec", "dtec_rel"], ("time",))


#: the kinds of stored ΔTEC: derived from the maps of the day, or from a run's forecast
DTEC_KINDS = ("observed", "forecast")


def _check_kind(kind: str) -> None:
    if kind not in DTEC_KINDS:  # a typo would read as "no data"
        raise InputError(f"ΔTEC kind {str(kind)[:20]!r}: expected one of {', '.join(DTEC_KINDS)}")


@checked_query
def dtec_days(engine: Engine, first: dt.date, last: dt.date, kind: str = "observed") -> set[dt.date]:
    """The UT days in first..last with any ΔTEC of `kind` stored."""
    _check_kind(kind)
    d = m.DeltaTec
    lo = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    with engine.connect() as conn:
        times = conn.execute(select(d.time).distinct().where(d.time >= lo, d.time < hi, d.kind == kind,
                                                             d.reference == "median27")).scalars()
        return {t.astimezone(dt.UTC).date() for t in times}


@checked_query
def kp_series(engine: Engine, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """3-hourly Kp in [start, end), with its NOAA G class, whether it is at storm level (Kp >= 5-) and
    whether it is a nowcast (a value the definitive one replaces later)."""
    cols = ["time", "kp", "ap", "status", "source"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.KpValue, c) for c in cols])
                            .where(m.KpValue.time >= start, m.KpValue.time < end).order_by(m.KpValue.time)).all()
    out = _frame(rows, cols, ("time",))
    kp = out["kp"].astype(float)
    out["g_class"] = [0 if np.isnan(k) else g_class(k) for k in kp]
    out["storm"] = at_least(kp, STORM_KP).to_numpy()
    out["nowcast"] = out["status"].isin(NOWCAST).to_numpy()
    return out


def _file(recorded: str | None, data_dir: Path | None) -> str | None:
    """A recorded file path (relative to the data folder) as the file's path: under `data_dir`, by
    default the configured data folder."""
    if recorded is None or recorded == "":
        return recorded
    return str(data_path(recorded, data_dir if data_dir is not None else get_settings().data_dir))


@checked_query
def global_products(engine: Engine, run_id: int, data_dir: Path | None = None) -> pd.DataFrame:
    """The global products of a run, per valid time and method (file paths under the data folder)."""
    cols = ["valid_time", "method", "product_path", "ionex_path", "global_rmse"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.GlobalForecast, c) for c in cols])
                            .where(m.GlobalForecast.run_id == run_id)
                            .order_by(m.GlobalForecast.method, m.GlobalForecast.valid_time)).all()
    rows = [(t, k, _file(nc, data_dir), _file(ix, data_dir), r) for t, k, nc, ix, r in rows]
    return _frame(rows, cols, ("valid_time",))


@checked_query
def failed_run_for_day(engine: Engine, target_day: dt.date, lead_day: int = 1) -> dict[str, Any] | None:
    """The newest run of `lead_day` for `target_day` when it failed (what a verification finds nothing
    published of, and says why), else None."""
    r = m.ForecastRun.__table__
    with engine.connect() as conn:
        row = conn.execute(select(r).where(r.c.target_day == target_day, r.c.lead_day == lead_day)
                           .order_by(r.c.issue_time.desc(), r.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row is not None and row.status == "failed" else None


@checked_query
def runs_for_day(engine: Engine, target_day: dt.date, data_dir: Path | None = None, *,
                 lead_day: int | None = 1) -> pd.DataFrame:
    """Finished runs whose forecast is for `target_day`, with their products per method (newest first):
    of one lead day (the day after the run's maps it forecasts; 1 by default, every lead day with None)."""
    r, g = m.ForecastRun, m.GlobalForecast
    cond = [r.target_day == target_day, r.status != "failed"]
    if lead_day is not None:
        cond.append(r.lead_day == lead_day)
    with engine.connect() as conn:
        rows = conn.execute(select(r.id, r.issue_time, r.status, r.lead_day, g.method, g.product_path)
                            .join(g, g.run_id == r.id).where(*cond)
                            .distinct().order_by(r.issue_time.desc(), r.id.desc())).all()
    out: dict[int, dict[str, Any]] = {}
    for run_id, issue, status, lead, method, path in rows:
        entry = out.setdefault(run_id, dict(run_id=run_id, issue_time=issue, status=status, lead_day=lead,
                                            products={}))
        entry["products"][method] = _file(path, data_dir)
    return pd.DataFrame(list(out.values()), columns=["run_id", "issue_time", "status", "lead_day", "products"])


@checked_query
def gim_file(engine: Engine, centre: str, day: dt.date, data_dir: Path | None = None) -> str | None:
    """The archived GIM file of a centre and day, as recorded at ingest (None when not in yet)."""
    f = m.InputFile
    with engine.connect() as conn:
        path = conn.execute(select(f.path).where(f.kind == "GIM", f.centre == centre, f.day == day)).scalar_one_or_none()
    return _file(path, data_dir)


@checked_query
def input_file_ids(engine: Engine, centre: str, first: dt.date, last: dt.date) -> dict[dt.date, int]:
    """The recorded GIM input files of a centre for days first..last, by day: what each observation
    written from those maps points to (its product and level)."""
    f = m.InputFile
    with engine.connect() as conn:
        rows = conn.execute(select(f.day, f.id).where(f.kind == "GIM", f.centre == centre, f.day >= first,
                                                       f.day <= last)).all()
    return {d: int(i) for d, i in rows}


@checked_query
def truth_levels(engine: Engine, first: dt.date, last: dt.date) -> dict[dt.date, set[str]]:
    """The levels of the truth the maps of days first..last were verified against (`verification.
    truth_level` of the global map rows), by day: a day whose map has since been upgraded is stale."""
    v = m.Verification
    lo = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(v.window_start, v.truth_level).distinct()
                            .where(v.scope == "global", v.window_start >= lo, v.window_start < hi)).all()
    out: dict[dt.date, set[str]] = {}
    for start, level in rows:
        out.setdefault(start.date(), set()).add(level)
    return out


@checked_query
def days_below_final(engine: Engine, centre: str, before: dt.date) -> list[dt.date]:
    """The days before `before` whose recorded map of `centre` is still below final (a rapid one)."""
    f = m.InputFile
    with engine.connect() as conn:
        return list(conn.execute(select(f.day).where(f.kind == "GIM", f.centre == centre, f.level != "final",
                                                     f.day < before).order_by(f.day)).scalars())


#: the kinds of input file the database records (input_files.kind)
INPUT_FILE_KINDS = ("GIM", "KP")


@checked_query
def input_files(engine: Engine, kind: str = "GIM") -> pd.DataFrame:
    """The recorded input files of a kind (INPUT_FILE_KINDS): centre, day, product, level, maps, source
    kind, sha256, path."""
    if kind not in INPUT_FILE_KINDS:
        raise InputError(f"input_files: kind={kind!r}: expected one of {', '.join(INPUT_FILE_KINDS)}")
    f = m.InputFile
    cols = ["centre", "day", "product", "level", "maps", "source_kind", "sha256", "path"]
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(f, c) for c in cols]).where(f.kind == kind)
                            .order_by(f.centre, f.day)).all()
    return _frame(rows, cols)


@checked_query
def observation_products(engine: Engine, code: str, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Which product each observation of a station came from: time, centre, product and level (empty
    product where it was not written from a recorded map, e.g. an imported series)."""
    o, f = m.Observation, m.InputFile
    with engine.connect() as conn:
        sid = conn.execute(select(m.Station.id).where(m.Station.code == code)).scalar_one_or_none()
        rows = [] if sid is None else conn.execute(
            select(o.time, o.centre, f.product, f.level).outerjoin(f, f.id == o.input_file_id)
            .where(o.station_id == sid, o.time >= start, o.time < end).order_by(o.time, o.centre)).all()
    df = _frame(rows, ["time", "centre", "product", "level"], ("time",))
    return df.fillna({"product": "", "level": ""})


@checked_query
def global_dtec(engine: Engine, start: dt.datetime, end: dt.datetime, kind: str = "observed") -> pd.DataFrame:
    """Global ΔTEC per time (the method's mean over stations) of observed or forecast ΔTEC."""
    _check_kind(kind)
    d = m.DeltaTec
    with engine.connect() as conn:
        rows = conn.execute(select(d.time, func.avg(d.dtec), func.avg(d.dtec_rel), func.count())
                            .where(d.time >= start, d.time < end, d.kind == kind, d.reference == "median27")
                            .group_by(d.time).order_by(d.time)).all()
    return _frame(rows, ["time", "global_dtec", "global_dtec_rel", "n_stations"], ("time",))


@checked_query
def global_map(engine: Engine, valid_time: dt.datetime, method: str | None = None,
               data_dir: Path | None = None) -> dict[str, Any] | None:
    """The global forecast product valid at `valid_time` from the most recent run that has one
    (optionally of one extension method): run id, paths of the netCDF and IONEX products, RMSE."""
    if method is not None and method not in EXTENSION_METHODS:
        raise InputError(f"global_map: method={method!r}: expected one of {', '.join(EXTENSION_METHODS)} or None")
    if valid_time.tzinfo is None:  # the database's times are UTC-aware: a naive one is ambiguous
        raise InputError(f"valid time {valid_time:%Y-%m-%d %H:%M} has no time zone: give it in UTC")
    g, r = m.GlobalForecast, m.ForecastRun
    stmt = (select(g.run_id, g.valid_time, g.method, g.product_path, g.ionex_path, g.global_rmse, r.issue_time,
                   r.data_source)
            .join(r, r.id == g.run_id).where(g.valid_time == valid_time)
            .order_by(r.issue_time.desc(), g.run_id.desc()).limit(1))
    if method is not None:
        stmt = stmt.where(g.method == method)
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["product_path"], out["ionex_path"] = _file(out["product_path"], data_dir), _file(out["ionex_path"], data_dir)
    return out


@checked_query
def skill_table(engine: Engine, *, start: dt.datetime | None = None, end: dt.datetime | None = None,
                kp_class: str | None = None, published: bool = False, lead_day: int | None = 1) -> pd.DataFrame:
    """Verification rows (models and baselines) joined with station attributes for grouping. With
    `published`, only the scores of forecasts as they were published by a run (not re-runs of models
    over a period, e.g. `swx train`'s test windows or `swx evaluate`). Those of one lead day (default
    the first: hours 2-24 after the cutoff), or of every lead day with `lead_day=None`."""
    cols = ["scope", "station_code", "model", "window_start", "window_end", "kp_class", "n", "rmse", "mae", "bias",
            "corr", "skill_persistence", "skill_median27", "coverage68", "coverage95", "crps", "pit_hist", "truth_level",
            "rmse_area", "lead_day"]
    cond = [] if lead_day is None else [m.Verification.lead_day == lead_day]
    if start is not None:
        cond.append(m.Verification.window_start >= start)
    if end is not None:
        cond.append(m.Verification.window_end <= end)
    if kp_class is not None:
        cond.append(m.Verification.kp_class == kp_class)
    if published:
        cond.append(m.Verification.run_id.is_not(None))
    stmt = (select(*[getattr(m.Verification, c) for c in cols], m.Station.lat_band, m.Station.surface)
            .outerjoin(m.Station, m.Station.code == m.Verification.station_code)
            .order_by(m.Verification.station_code, m.Verification.model))
    if cond:
        stmt = stmt.where(and_(*cond))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, cols + ["lat_band", "surface"], ("window_start", "window_end"))


@checked_query
def verification_span(engine: Engine) -> tuple[dt.datetime, dt.datetime] | None:
    """First window start and last window end of the stored verification (None when there is none)."""
    v = m.Verification
    with engine.connect() as conn:
        lo, last = conn.execute(select(func.min(v.window_start), func.max(v.window_start))).one()  # index only
        if lo is None:
            return None
        hi = conn.execute(select(func.max(v.window_end)).where(v.window_start == last)).scalar_one()
    return lo, hi


@checked_query
def storms(engine: Engine) -> pd.DataFrame:
    """The storm events, newest first, with `kp_status`: "nowcast" when any Kp of the event is still a
    nowcast (its G class may change when GFZ's definitive values come), else the Kp's status."""
    cols = ["start", "end", "max_kp", "g_class", "peak_pos_dtec", "peak_pos_time", "peak_neg_dtec", "peak_neg_time",
            "stations"]
    k = m.KpValue
    with engine.connect() as conn:
        rows = conn.execute(select(*[getattr(m.StormEvent, c) for c in cols]).order_by(m.StormEvent.start.desc())).all()
        spans = [conn.execute(select(k.status).distinct().where(k.time >= r.start, k.time <= r.end)).scalars().all()
                 for r in rows]
    out = _frame(rows, cols, ("start", "end", "peak_pos_time", "peak_neg_time"))
    worst = [worst_status(s) for s in spans]
    out.insert(4, "kp_status", ["nowcast" if w in NOWCAST else w for w in worst])
    return out


@checked_query
def model_registry(engine: Engine, *, recent: int | None = None) -> pd.DataFrame:
    """Model versions with their station, ordered by station, architecture and version. With `recent`,
    the active versions and the `recent` newest others (a registry updated daily grows by 54 rows a
    day: the dashboard shows what is in use and what happened lately)."""
    if recent is not None and recent < 0:
        raise InputError(f"model_registry: recent={recent}: expected a number of versions from 0, or None")
    cols = ["id", "architecture", "version", "parent_id", "status", "reason", "val_rmse", "train_start", "train_end",
            "checkpoint_path", "checkpoint_sha256", "created_at"]
    mv = m.ModelVersion
    stmt = select(m.Station.code, *[getattr(mv, c) for c in cols]).join(m.Station, m.Station.id == mv.station_id)
    with engine.connect() as conn:
        if recent is None:
            rows = conn.execute(stmt.order_by(m.Station.code, mv.architecture, mv.version)).all()
        else:
            rows = (conn.execute(stmt.where(mv.status == "active")).all()
                    + conn.execute(stmt.where(mv.status != "active").order_by(mv.id.desc()).limit(recent)).all())
    df = _frame(rows, ["station"] + cols, ("train_start", "train_end", "created_at"))
    return df.sort_values(["station", "architecture", "version"], ignore_index=True)


@checked_query
def run_provenance(engine: Engine, run_id: int) -> dict[str, Any]:
    """What a run was made of: its row (code version, settings hash, flow run), the model versions
    (station, architecture, version, checkpoint checksum) and the input files with checksums."""
    r, mv, rm, ri = m.ForecastRun, m.ModelVersion, m.RunModel, m.RunInput
    with engine.connect() as conn:
        row = conn.execute(select(r.__table__).where(r.id == run_id)).first()
        if row is None:
            raise KeyError(f"no forecast run {run_id}")
        models = conn.execute(select(m.Station.code, mv.architecture, mv.version, mv.status, mv.val_rmse,
                                     mv.checkpoint_sha256, mv.created_at)
                              .join(rm, rm.model_version_id == mv.id).join(m.Station, m.Station.id == mv.station_id)
                              .where(rm.run_id == run_id).order_by(mv.architecture, m.Station.code)).all()
        inputs = conn.execute(select(ri.kind, ri.name, ri.day, ri.level, ri.sha256, ri.path)
                              .where(ri.run_id == run_id).order_by(ri.kind, ri.day, ri.name)).all()
    run = dict(row._mapping)
    inputs = _frame(inputs, ["kind", "name", "day", "level", "sha256", "path"])
    if run.get("data_source") == SIMULATED_CENTRE and not inputs.empty:  # a simulated map is no centre's final
        inputs.loc[inputs["kind"] == "GIM", "level"] = "simulated"
    return dict(run=run,
                models=_frame(models, ["station", "architecture", "version", "status", "val_rmse",
                                       "checkpoint_sha256", "created_at"], ("created_at",)),
                inputs=inputs)


@checked_query
def counts(engine: Engine) -> dict[str, int]:
    """Row counts per table (status pages, tests)."""
    out = {}
    with engine.connect() as conn:
        for table in m.Base.metadata.sorted_tables:
            out[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    return out


@checked_query
def finished_products(engine: Engine, first_target: dt.date, last_target: dt.date,
                      data_dir: Path | None = None, *, lead_day: int = 1) -> list[tuple[dt.date, str, str]]:
    """(target day, netCDF path, IONEX path, their sha256 as published) of every global product of the runs for those target days
    that finished (ok or degraded), of one lead day (default 1: a run from the day before's maps; a
    run carried forward from older maps is not the day's forecast once the maps are in)."""
    r, g = m.ForecastRun, m.GlobalForecast
    with engine.connect() as conn:
        rows = conn.execute(select(r.target_day, g.product_path, g.ionex_path, g.product_sha256, g.ionex_sha256)
                            .join(g, g.run_id == r.id)
                            .where(r.target_day >= first_target, r.target_day <= last_target,
                                   r.lead_day == lead_day, r.status.in_(["ok", "degraded"]))).all()
    return [(d, _file(nc, data_dir), _file(ionex, data_dir), nc_sha, ix_sha) for d, nc, ionex, nc_sha, ix_sha in rows]


@checked_query
def unverified_days(engine: Engine, first_target: dt.date, last_target: dt.date) -> set[dt.date]:
    """Target days in [first, last] where the newest finished run of some lead day has no station
    verification rows yet (never verified, or published again since)."""
    if not all(isinstance(d, dt.date) and not isinstance(d, dt.datetime) for d in (first_target, last_target)):
        raise InputError(f"target days {first_target!r} .. {last_target!r}: expected two dates")
    r, v = m.ForecastRun, m.Verification
    with engine.connect() as conn:
        newest = conn.execute(select(r.target_day, func.max(r.id))
                              .where(r.target_day >= first_target, r.target_day <= last_target,
                                     r.status.in_(["ok", "degraded"])).group_by(r.target_day, r.lead_day)).all()
        if not newest:
            return set()
        scored = set(conn.execute(select(v.run_id).where(v.run_id.in_([run for _, run in newest]), v.scope == "station")
                                  .distinct()).scalars())
    return {day for day, run in newest if run not in scored}


#: the days before a run's target day whose verified maps `swx status` averages
RECENT_DAYS = 7


@checked_query
def run_overview(engine: Engine, run_id: int, day0: dt.datetime, data_dir: Path | None = None,
                 lead_day: int = 1) -> dict[str, Any]:
    """What `swx status` reports of a run: station forecast counts per architecture, the active models,
    the run's global products (with their mean verified RMSE), its map scores, the published maps' scores
    of `lead_day` over the RECENT_DAYS before `day0` (00 UT of the next day's target: swx's beside the
    rivals made on the same information and persistence at the same lead, on the days all of them were
    scored), the station scores of that lead in the windows around `day0` and the storm events of the
    week before."""
    sf, g, v, mv, se = m.StationForecast, m.GlobalForecast, m.Verification, m.ModelVersion, m.StormEvent
    with engine.connect() as conn:
        if conn.execute(select(m.ForecastRun.id).where(m.ForecastRun.id == run_id)).first() is None:
            raise InputError(f"no forecast run {run_id}")
        out: dict[str, Any] = {"station_forecasts": {a: int(n) for a, n in conn.execute(
            select(sf.architecture, func.count()).where(sf.run_id == run_id).group_by(sf.architecture)).all()}}
        out["active_models"] = {a: {"stations": int(n), "latest_version": int(vmax)} for a, n, vmax in conn.execute(
            select(mv.architecture, func.count(), func.max(mv.version)).where(mv.status == "active")
            .group_by(mv.architecture)).all()}
        out["products"] = [(k, _file(nc, data_dir), _file(ix, data_dir), r) for k, nc, ix, r in conn.execute(
            select(g.method, g.product_path, g.ionex_path, func.avg(g.global_rmse))
            .where(g.run_id == run_id).group_by(g.method, g.product_path, g.ionex_path)).all()]
        out["map_skill"] = [tuple(r) for r in conn.execute(
            select(v.model, v.rmse, v.skill_persistence, v.n)
            .where(v.run_id == run_id, v.station_code == "global", v.kp_class == "all")).all()]
        recent = pd.DataFrame(conn.execute(
            select(v.model, v.station_code, v.window_start, v.n, v.rmse_area, v.coverage68, v.coverage95, v.crps)
            .where(v.scope == "global", v.station_code == "global", v.kp_class == "all", v.run_id.is_not(None),
                   v.lead_day == lead_day, v.window_start >= day0 - dt.timedelta(days=RECENT_DAYS),
                   v.window_start < day0)).all(),
            columns=["model", "station_code", "window_start", "n", "rmse_area", "coverage68", "coverage95", "crps"])
        # on the same days only: the days every model shown was scored on (a rival misses some)
        common = recent.groupby("window_start")["model"].nunique()
        recent = recent[recent["window_start"].isin(common[common == recent["model"].nunique()].index)]
        # pooled as the Skill and Global map pages pool them (one rule: pooled_map_skill)
        out["map_skill_recent"] = [(r.model, r.rmse, None if pd.isna(r.skill_persistence) else r.skill_persistence,
                                    r.days) for r in pooled_map_skill(recent).itertuples()]
        rows = pd.DataFrame(conn.execute(
            select(v.model, v.station_code, v.window_start, v.kp_class, v.n, v.rmse, v.mae)
            .where(v.scope == "station", v.kp_class == "all", v.lead_day == lead_day,
                   v.window_end >= day0 - dt.timedelta(days=2), v.window_start <= day0)).all(), columns=["model", "station_code", "window_start", "kp_class", "n",
                                                              "rmse", "mae"])
        # pooled as the dashboard and the main job's summary pool them (one rule: pooled_skill)
        pooled = pooled_skill(rows, []) if len(rows) else pd.DataFrame(columns=["model", "rmse", "skill_persistence"])
        out["station_skill"] = [(r.model, float(r.rmse), None if pd.isna(r.skill_persistence)
                                 else float(r.skill_persistence)) for r in pooled.itertuples()]
        out["storms"] = [tuple(r) for r in conn.execute(
            select(se.start, se.end, se.max_kp, se.g_class)
            .where(se.end >= day0 - dt.timedelta(days=7), se.start < day0 + dt.timedelta(days=1))
            .order_by(se.start)).all()]
    return out


@checked_query
def last_verified(engine: Engine, before: dt.date, method: str, lead_day: int = 1) -> dict[str, Any] | None:
    """How the newest forecast of `lead_day` verified before `before` did (target day < before): the
    published map (`map:<method>`) against the persistence map at the same lead (cos-latitude weighted
    RMSE over the globe), and the published station blend against persistence (stations pooled). None
    when nothing is verified."""
    if method not in EXTENSION_METHODS:
        raise InputError(f"last_verified: method={method!r}: expected one of {', '.join(EXTENSION_METHODS)}")
    v = m.Verification
    cutoff = dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC)
    maps = [f"map:{method}", "map:persistence"]
    with engine.connect() as conn:
        day = conn.execute(select(func.max(v.window_start)).where(
            v.scope == "global", v.station_code == "global", v.kp_class == "all", v.model == maps[0],
            v.run_id.is_not(None), v.lead_day == lead_day, v.window_start < cutoff)).scalar()
        if day is None:
            return None
        day = pd.Timestamp(day).tz_convert("UTC") if pd.Timestamp(day).tzinfo else pd.Timestamp(day, tz="UTC")
        scored = dict(conn.execute(select(v.model, func.coalesce(v.rmse_area, v.rmse)).where(
            v.scope == "global", v.station_code == "global", v.kp_class == "all", v.model.in_(maps),
            v.lead_day == lead_day, v.window_start == day.to_pydatetime())).all())
        # the stations' windows of that target day (issued 2 h before its 00 UT)
        st = pd.DataFrame(conn.execute(select(v.model, v.station_code, v.window_start, v.kp_class, v.n, v.rmse, v.mae)
                                       .where(v.scope == "station", v.kp_class == "all", v.lead_day == lead_day,
                                              v.model.in_(["blend", "persistence"]),
                                              v.run_id.is_not(None), v.window_end > day.to_pydatetime(),
                                              v.window_start < (day + pd.Timedelta(days=1)).to_pydatetime())).all(),
                          columns=["model", "station_code", "window_start", "kp_class", "n", "rmse", "mae"])
    out: dict[str, Any] = {"day": day.date(), "map_rmse": scored.get(maps[0]),
                           "map_persistence_rmse": scored.get("map:persistence"),
                           "station_rmse": None, "station_persistence_rmse": None, "station_skill": None}
    if len(st):
        pooled = pooled_skill(st, []).set_index("model")
        if "blend" in pooled.index:
            out["station_rmse"] = float(pooled.loc["blend", "rmse"])
            sk = pooled.loc["blend", "skill_persistence"]
            out["station_skill"] = None if pd.isna(sk) else float(sk)
        if "persistence" in pooled.index:
            out["station_persistence_rmse"] = float(pooled.loc["persistence", "rmse"])
    a, b = out["map_rmse"], out["map_persistence_rmse"]
    out["map_skill"] = None if a is None or not b else 1 - a / b
    return out


#: what `run_verdict` reads of a run (a row of forecast_runs, as `latest_run` returns it)
RUN_FIELDS = frozenset({"id", "data_source", "created_at", "status", "reason", "degraded", "target_day"})


@checked_query
def run_verdict(engine: Engine, run: dict[str, Any] | None, *, now: dt.datetime, max_age_h: float,
                method: str) -> dict[str, Any]:
    """What the console says of the latest run, one rule for `swx status` and the dashboard: "ok"
    (trustworthy), "degraded" (published, but not to be trusted as it stands: each reason), or
    "unhealthy" (none, failed, unfinished, or older than `max_age_h`). A run is degraded by what it
    recorded (maps carried forward, models that learnt from other data, no 27-day median, a blend not
    yet learnt) and by the newest verified map being worse than the persistence map. With the verdict:
    when the run finished (`ran_at`) and its age in hours (`age_hours`), the one reckoning of both."""
    if run is None:
        return {"verdict": "unhealthy", "reasons": ["no forecast run yet: run `make run` or the daily flow"],
                "simulated": False, "last_verified": None}
    if missing := sorted(k for k in RUN_FIELDS if run.get(k) is None and k != "reason"):
        raise InputError(f"run_verdict: the run has no {', '.join(missing)}: expected a run as latest_run gives it")
    if method not in EXTENSION_METHODS:
        raise InputError(f"run_verdict: method={method!r}: expected one of {', '.join(EXTENSION_METHODS)}")
    if max_age_h <= 0:
        raise InputError(f"run_verdict: max_age_h={max_age_h:g}: expected a number of hours above 0")
    simulated = run["data_source"] == SIMULATED_CENTRE
    ran_at = run.get("finished_at") or run["created_at"]
    age_h = (now - ran_at).total_seconds() / 3600.0
    problems = []
    if run["status"] == "failed":
        problems.append(f"the latest run failed: {run['reason']}")
    if run["status"] == "running":
        problems.append("the latest run has not finished")
    if age_h > max_age_h:
        problems.append(f"the latest run is {age_h:.1f} h old (limit {max_age_h:g} h)")
    if age_h < -1.0:  # a clock set wrong: such a run would never age out of "ok"
        problems.append(f"the latest run is stamped {-age_h:.1f} h in the future ({ran_at:%Y-%m-%d %H:%M} UTC): "
                        "check the clocks of the machines that run swx")
    lead = (run["target_day"] - run["issue_day"]).days if run.get("issue_day") else 1
    last = last_verified(engine, run["target_day"] - dt.timedelta(days=lead - 1), method, lead)
    if problems:
        return {"verdict": "unhealthy", "reasons": problems, "simulated": simulated, "last_verified": last,
                "ran_at": ran_at, "age_hours": age_h}
    reasons = [r for r in (run["reason"] or "").split("; ") if r] if run["degraded"] else []
    if run["status"] in ("ok", "degraded"):  # what users download must still be there
        reasons += product_problems(engine, int(run["id"]))
    if last is not None and last["map_skill"] is not None and last["map_skill"] < 0:
        reasons.append(f"the newest verified map ({last['day']}) was worse than the persistence map "
                       f"({last['map_rmse']:.2f} vs {last['map_persistence_rmse']:.2f} TECU)")
    if lead == 1 and (why := _tomorrow_missing(engine, run)):
        reasons.append(why)
    return {"verdict": "degraded" if reasons else "ok", "reasons": reasons, "simulated": simulated,
            "last_verified": last, "ran_at": ran_at, "age_hours": age_h}


#: what can be wrong with a published product file, as `product_file_problem` names it
PRODUCT_FILE_PROBLEMS = {"missing": "missing (deleted or moved)", "emptied": "emptied",
                         "changed": "changed since they were published (they no longer match the checksum "
                                    "recorded at publication)",
                         "unchecked": "without their checksum record (.sha256 deleted: they cannot be checked)",
                         "badrecord": "whose .sha256 is not one record of the file (`sha256sum -c` cannot check "
                                      "them against it)",
                         "unrecorded": "whose checksum in the database is not a sha256 (the database was edited)",
                         "misdated": "holding another day's forecast (their first valid time is not on the run's "
                                     "day)",
                         "predates": "published before the database kept products' checksums (they can be checked "
                                     "only against the .sha256 beside them)"}


@checked_query
def product_file_problem(path: str | Path, published: str | None = None, day: dt.date | None = None) -> str | None:
    """One rule for a published product file (`swx status` and a resumed backfill alike): None when it
    is as it was published, else a key of PRODUCT_FILE_PROBLEMS. `published` is the sha256 the database
    holds for it: a file replaced together with its `.sha256` record (another day's product copied
    under this name) still differs from it. Without it (rows from before checksums were stored) the
    file cannot be shown to be what was published ("predates", after every other check: the record
    beside it, and `day`, the run's target day, against the file's first valid time)."""
    p = Path(path)
    if not p.is_file():
        return "missing"
    if p.stat().st_size == 0:
        return "emptied"
    if not checksum_path(p).is_file():
        return "unchecked"
    recorded, record_problem = read_checksum_record(p)  # the record read once
    if record_problem is not None:
        return "badrecord"
    if published is not None and not SHA256_HEX.fullmatch(published.lower()):
        return "unrecorded"
    digest = sha256_file(p)
    if digest != recorded or (published is not None and published.lower() != digest):
        return "changed"
    if day is not None and (first := _first_day(p)) is not None and first != day:
        return "misdated"
    return "predates" if published is None else None


def _first_day(path: Path) -> dt.date | None:
    """The day of a product's first valid time (netCDF or IONEX); None when it cannot be read (the
    checksum rules say what is wrong with such a file)."""
    try:
        if path.suffix.lower() == ".nc":
            with xr.open_dataset(path) as f:
                return pd.Timestamp(f["time"].values[0]).date()
        with path.open("rb") as fh:
            head = fh.read(16384).decode("latin-1")
        for line in head.splitlines():
            if line[60:].strip() == "EPOCH OF FIRST MAP":
                y, mo, d = (int(v) for v in line[:60].split()[:3])
                return dt.date(y, mo, d)
    except (*UNREADABLE_NETCDF, KeyError, IndexError):
        return None
    return None


@checked_query
def product_problems(engine: Engine, run_id: int) -> list[str]:
    """What is wrong with the product files a finished run published, a reason per kind
    (PRODUCT_FILE_PROBLEMS). [] when every file is as it was published."""
    g, r = m.GlobalForecast, m.ForecastRun
    with engine.connect() as conn:
        day = conn.execute(select(r.target_day).where(r.id == run_id)).scalar_one()
        rows = conn.execute(select(g.product_path, g.product_sha256, g.ionex_path, g.ionex_sha256)
                            .where(g.run_id == run_id)).all()
    recorded: dict[str, set[str]] = {}  # every digest any row holds for a file (a row without one adds none)
    for nc, nc_sha, ix, ix_sha in rows:
        for f, digest in ((nc, nc_sha), (ix, ix_sha)):
            if f:
                recorded.setdefault(_file(f, None), set()).update({digest} if digest is not None else set())
    found = {}
    for f, digests in sorted(recorded.items()):
        problems = [product_file_problem(f, digest, day) for digest in sorted(digests) or [None]]
        found[f] = next((x for x in problems if x is not None), None)
    out = []
    for key, what in PRODUCT_FILE_PROBLEMS.items():
        if hit := [f for f, problem in found.items() if problem == key]:
            out.append(f"{len(hit)} published product file(s) {what}, e.g. {hit[0]}: run the forecast again")
    return out


def _tomorrow_missing(engine: Engine, run: dict[str, Any]) -> str:
    """Why the daily run of `run` (its next-day forecast) has no good forecast of the day after, where
    the site publishes such forecasts at all ("" when it has one, or publishes none)."""
    if run.get("issue_day") is None or latest_run(engine, lead_day=2) is None:
        return ""
    ahead = latest_run(engine, lead_day=2, issue_day=run["issue_day"])
    if ahead is None:
        return f"no forecast of the day after ({run['target_day'] + dt.timedelta(days=1)}) from this daily run"
    what = f"tomorrow's forecast (run {ahead['id']}, for {ahead['target_day']})"
    if ahead["status"] in ("failed", "running"):
        return f"{what} " + (f"failed: {ahead['reason']}" if ahead["status"] == "failed" else "has not finished")
    if problems := product_problems(engine, int(ahead["id"])):
        return f"{what}: " + "; ".join(problems)
    return ""


# ------------------------------------------------------------------ what the dashboard draws from query results

def skill_by(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Verification rows (from `skill_table`) pooled over `keys` (swx.science.verify.pooled_skill), the models
    in the order people read them (the blend, the models, the baselines) within each group."""
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise InputError(f"skill_by: keys={keys!r}: expected a list of column names")
    rows = _verification_rows(rows, "skill_by", [*keys, "model", "n", "rmse", "mae"])
    table = pooled_skill(rows, keys)
    rank = table["model"].map({name: i for i, name in enumerate(MODEL_ORDER)}).fillna(len(MODEL_ORDER))
    return table.assign(_rank=rank).sort_values(keys + ["_rank"]).drop(columns="_rank")


def rival_labels(models) -> dict[str, str]:
    """Of the verified `models`, the rivals' forecasts (e.g. `c1p`, `map:c1p`) with what they are."""
    if isinstance(models, str | bytes) or not isinstance(models, Iterable):
        raise InputError(f"rival_labels: models={models!r:.60}: expected the verified models' names")
    out = {}
    for model in models:
        code = str(model).removeprefix("map:")
        if code in PREDICTED_LABELS:
            out[str(model)] = PREDICTED_LABELS[code]
    return out


def skill_trend(rows: pd.DataFrame, days: int) -> pd.DataFrame:
    """Daily pooled RMSE per model and its trailing `days`-day RMSE and skill (swx.science.verify.rolling_rmse)."""
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise InputError(f"skill_trend: days={days!r}: expected a whole number of days from 1")
    return rolling_rmse(_verification_rows(rows, "skill_trend", ["model", "n", "rmse", "window_start"]), int(days))


@checked_query
def coastlines(step_deg: float = 1.0) -> pd.DataFrame:
    """Coastline polylines (lon, lat, segment, order) from swx's offline land mask, for map overlays."""
    if not (isinstance(step_deg, (int, float)) and 0.25 <= step_deg <= 10):
        raise InputError(f"coastline step {step_deg!r}: expected 0.25 .. 10 degrees")
    return pd.concat([pd.DataFrame({"lon": s[:, 0], "lat": s[:, 1], "segment": i, "order": range(len(s))})
                      for i, s in enumerate(coastline_segments(step_deg))], ignore_index=True)


@checked_query
def product_frame(nc: str, truth_path: str | None, when: str) -> pd.DataFrame:
    """One valid time of a product file as a table of grid cells (lat, lon, vtec, sigma[, dtec]), with
    the verifying GIM (an archive file; None: not archived yet) and the error where it holds that time.
    A verifying map named but missing, damaged or not an archived map is an SwxError, never left out
    without a word."""
    with _product(nc) as f:
        t = _valid_time(f, nc, when)
        one, times = f.sel(time=t).load(), f["time"].values
    cols = {"vtec": one["tec"], "sigma": one["tec_sigma"]}
    if "dtec" in one:
        cols["dtec"] = one["dtec"]
    if (truth := _truth_at(truth_path, t, times)) is not None:
        cols["truth"] = truth.interp(lat=one["lat"], lon=one["lon"])
        cols["error"] = cols["vtec"] - cols["truth"]
    return xr.Dataset(cols).to_dataframe().reset_index()[["lat", "lon", *cols]]


@checked_query
def product_times(nc: str) -> list[str]:
    """The valid times of a product file (ISO, to the second)."""
    with _product(nc) as f:
        return [str(t)[:19] for t in f["time"].values]


def _valid_time(f: xr.Dataset, nc: str, when: str) -> np.datetime64:
    """`when` as one of the product's valid times: a time it does not hold (or not a time) is named,
    with the times it does hold."""
    held = f["time"].values
    span = f"{str(held[0])[:16]} .. {str(held[-1])[:16]} UTC" if len(held) else "none"
    try:
        t = np.datetime64(when) if isinstance(when, str) else np.datetime64("NaT")
    except ValueError:
        t = np.datetime64("NaT")
    if np.isnat(t):
        raise InputError(f"valid time {when!r}: expected an ISO time (YYYY-MM-DDTHH:MM) the product holds ({span})")
    if t not in held:
        raise NotFoundError(f"{nc}: no map at {when} in this product: it holds {len(held)} valid times, {span}, "
                            f"every {_step(held)}")
    return t


def _step(times: np.ndarray) -> str:
    """The spacing of a product's valid times, in words."""
    if len(times) < 2:
        return "one time"
    return f"{int((times[1] - times[0]) / np.timedelta64(1, 'm'))} min"


def _open_maps(path: str, unreadable: str, wrong: str, expected: str) -> xr.Dataset:
    """A netCDF of maps (time axis and tec) opened for reading; a file that cannot be read, or is not
    one, is a DataFormatError naming it with `expected`."""
    try:
        f = xr.open_dataset(path)
    except UNREADABLE_NETCDF as exc:
        raise DataFormatError(f"{unreadable} ({type(exc).__name__})", path=str(path), expected=expected) from None
    if "time" not in f or "tec" not in f:
        f.close()
        raise DataFormatError(f"{wrong} (no time axis or tec)", path=str(path), expected=expected)
    return f


def _truth(path: str) -> xr.Dataset:
    """An archived map (the verifying GIM) opened for reading; one missing, damaged or that is a
    forecast (swx's own product: a forecast verified against itself scores zero) named with its repair."""
    expected = "the day as swx archived it: `swx ingest gims --force` archives it again"
    if Path(path).exists() and not Path(path).is_file():
        raise DataFormatError(f"{'a folder' if Path(path).is_dir() else 'not a regular file'}, not an archived map",
                              path=str(path), expected=expected)
    if not Path(path).is_file():
        raise NotFoundError(f"{path}: the verifying map is missing (deleted or moved since it was archived); "
                            f"expected {expected}")
    f = _open_maps(path, "the archived map cannot be read", "not an archived map", expected)
    if "forecast_reference_time" in f.coords or "tec_sigma" in f:
        f.close()
        raise DataFormatError("a forecast product, not an archived map: a forecast cannot verify one",
                              path=str(path), expected=expected)
    if ARCHIVED_AT not in f.attrs:  # an IONEX file, say (swx's own forecast among them): not what swx archived
        f.close()
        raise DataFormatError("not a map swx archived (the archive's files record when they were archived)",
                              path=str(path), expected=expected)
    return f


def _truth_at(path: str | None, t: np.datetime64, times: np.ndarray) -> xr.DataArray | None:
    """The verifying map (`path`, None: not archived yet) at `t`, None where the day's map does not
    reach it; one that holds none of the product's valid times is another day's map: named."""
    if not path:
        return None
    with _truth(path) as g:
        held = g["time"].values
        if not np.isin(times, held).any():
            span = f"{str(held[0])[:16]} .. {str(held[-1])[:16]} UTC" if len(held) else "no time"
            raise NotFoundError(f"{path}: the verifying map holds none of the product's valid times (it holds "
                                f"{span}): another day's map")
        return g["tec"].sel(time=t).load() if t in held else None


def _product(nc: str) -> xr.Dataset:
    """A published product opened for reading; a file that is not one (an archived map, say) is a
    DataFormatError naming it."""
    expected = "a netCDF product of a forecast run"
    f = _open_maps(nc, "not a readable swx product", "not an swx product", expected)
    if "tec_sigma" not in f:
        f.close()
        raise DataFormatError("not an swx product (no tec_sigma: a map, not a forecast)", path=str(nc),
                              expected=expected)
    return f


@checked_query
def latest_verdict(lead_day: int = 1) -> dict[str, Any]:
    """`run_verdict` of the latest run with the settings' limits: what `swx status` says, for the pages
    (`lead_day` 2: of tomorrow's forecast, with the run as `run`)."""
    if lead_day not in LEAD_DAYS:
        raise InputError(f"lead day {lead_day!r}: expected one of {', '.join(map(str, LEAD_DAYS))}")
    settings = get_settings()
    engine = configured_engine()
    run = latest_run(engine) if lead_day == 1 else tomorrows_run(engine)
    return {**run_verdict(engine, run, now=dt.datetime.now(dt.UTC), max_age_h=settings.status_max_age_h,
                          method=settings.extension_method), "run": run}


@checked_query
def product_figure(nc: str, truth_path: str | None, method: str, when: str, source: str) -> tuple[bytes, bool]:
    """A PNG of one valid time of a product file: forecast, truth, error and 1-sigma when the verifying
    GIM (`truth_path`, an archive file) holds that time, else forecast, 1-sigma and ΔTEC; and whether the
    truth was shown."""
    from swx.plots import plot_forecast_maps, plot_maps  # matplotlib: only when a figure is asked for

    with tempfile.TemporaryDirectory() as tmp, _product(nc) as f:
        t = _valid_time(f, nc, when)
        png = Path(tmp) / "map.png"
        tec, sigma = f["tec"].sel(time=t).load(), f["tec_sigma"].sel(time=t).load()
        truth = _truth_at(truth_path, t, f["time"].values)
        simulated = " — SIMULATED data" if source == SIMULATED_CENTRE else ""
        if truth is not None:
            plot_forecast_maps(tec, truth, png, f"{method} forecast vs the {source.upper()} GIM, {when[:16]} UTC"
                               f"{simulated}", sigma)
        else:
            panels = {"forecast vTEC": tec, "1-sigma": sigma}
            if "dtec" in f:
                panels["ΔTEC vs 27-day median"] = f["dtec"].sel(time=t).load()
            plot_maps(panels, png, f"{method} forecast valid {when[:16]} UTC{simulated}")
        return png.read_bytes(), truth is not None

