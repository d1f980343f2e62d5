"""Writes to the results database: validated first, then idempotent upserts in one transaction.

Every write is keyed by its natural key and uses the dialect's ON CONFLICT (SQLite and PostgreSQL),
so rerunning a day changes nothing and a corrected input updates rows in place. Rows whose values
are unchanged are not rewritten at all (the update has a WHERE ... IS DISTINCT FROM). Bad input —
NaN or infinite numbers, naive datetimes, unknown station codes — is refused with a clear error before
anything is written; a batch that fails half-way is rolled back whole.

Large writes (observations of a backfill) take a bulk path: COPY into a temporary table and one
INSERT ... SELECT ... ON CONFLICT on PostgreSQL; multi-row VALUES on SQLite. A run's station forecasts
and blend weights (most of a forecast's rows) are replaced whole on a rerun instead: the run's old rows
deleted, the new ones COPied straight into the table (nothing left to conflict with).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import JSON, Connection, Engine, Table, bindparam, delete, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from swx.archive import SHA256_HEX
from swx.errors import SwxError
from swx.io.gim_names import level_rank, product_level
from swx.sources.indices.tables import IndexTables
from swx.store import orm as m


class StoreError(SwxError, ValueError):
    """Input refused by the store (nothing was written)."""


# ------------------------------------------------------------------------------------ validation

def _check_rows(table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse NaN/inf floats and naive datetimes anywhere in `rows`, naming row and column."""
    for i, row in enumerate(rows):
        for col, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                raise StoreError(f"{table}: row {i} has {col}={v}; not-a-number and infinite values are refused "
                                 "(leave the row out, or store NULL where the column allows it)")
            if isinstance(v, dt.datetime) and (v.tzinfo is None or v.utcoffset() is None):
                raise StoreError(f"{table}: row {i} has a naive datetime in {col} ({v.isoformat()}); give UTC times "
                                 "with tzinfo")


def _finite_column(df: pd.DataFrame, col: str, table: str) -> None:
    values = df[col].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise StoreError(f"{table}: {int(bad.sum())} row(s) with {col} not finite (first: row {i}, "
                         f"value {values[i]}); refused before writing")


def _utc_column(df: pd.DataFrame, col: str, table: str) -> pd.Series:
    s = df[col]
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        if len(s) and isinstance(s.iloc[0], dt.datetime) and s.iloc[0].tzinfo is not None:
            s = pd.to_datetime(s, utc=True)
        else:
            raise StoreError(f"{table}: column {col} holds naive times; give UTC times with tzinfo")
    return s.dt.tz_convert("UTC")


def station_ids(conn: Connection, codes: Iterable[str]) -> dict[str, int]:
    """Ids of station codes; StoreError listing any unknown code."""
    wanted = sorted(set(codes))
    found = dict(conn.execute(select(m.Station.code, m.Station.id).where(m.Station.code.in_(wanted))).all())
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise StoreError(f"unknown station code(s): {', '.join(unknown[:10])}"
                         + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
                         + "; add them to the station catalog first")
    return found


# ------------------------------------------------------------------------------------ upsert core

def _insert(conn: Connection, table: Table):
    return (postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table))


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: Sequence[str],
           *, update: Sequence[str] | None = None) -> int:
    """Insert or update `rows` by the natural `key`; unchanged rows are left alone. Returns len(rows)."""
    if not rows:
        return 0
    _check_rows(table.name, rows)
    deduped = {tuple(r[k] for k in key): r for r in rows}  # one row per key in a statement (last wins)
    rows = list(deduped.values())
    cols = update if update is not None else [c for c in rows[0] if c not in key]
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS and \
            not any(isinstance(table.c[c].type, JSON) for c in rows[0]):
        _copy_upsert(conn, table, rows, key, cols)
        return len(rows)
    ins = _insert(conn, table)
    if cols:
        changed = or_(*[table.c[c].is_distinct_from(ins.excluded[c]) for c in cols])
        stmt = ins.on_conflict_do_update(index_elements=list(key), set_={c: ins.excluded[c] for c in cols},
                                         where=changed)
    else:
        stmt = ins.on_conflict_do_nothing(index_elements=list(key))
    conn.execute(stmt, rows)
    return len(rows)


#: from this many rows on, an upsert into PostgreSQL goes through COPY (a run's forecasts, a chunk's ΔTEC)
COPY_MIN_ROWS = 200


def _copy_upsert(conn: Connection, table: Table, rows: list[Mapping[str, Any]], key: Sequence[str],
                 update: Sequence[str]) -> None:
    """`upsert`'s PostgreSQL bulk path, same result: COPY into a temporary table of the same columns
    (values through the columns' own bind processing: naive times are refused as in `upsert`), then one
    INSERT ... SELECT ... ON CONFLICT."""
    names = list(rows[0])
    _check_columns(table, [*names, *key, *update])  # only the table's own column names reach the SQL text
    tmp = f"_load_{table.name}_{len(names)}_{abs(hash(tuple(names))) % 10 ** 8}"
    cols = ", ".join(names)
    conn.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} ON COMMIT DELETE ROWS AS "  # nosec B608 # checked column names
                      f"SELECT {cols} FROM {table.name} WITH NO DATA"))
    conn.execute(text(f"TRUNCATE {tmp}"))  # emptied at commit: a second upsert in one transaction starts clean
    _copy_into(conn, table, tmp, names, ([r[c] for c in names] for r in rows))
    if update:
        changed = " OR ".join(f"{table.name}.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in update)
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in update)
        action = f"DO UPDATE SET {sets} WHERE {changed}"  # nosec B608 # checked column names
    else:
        action = "DO NOTHING"
    conn.execute(text(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {tmp} "  # nosec B608 # checked column names
                      f"ON CONFLICT ({', '.join(key)}) {action}"))


def _check_columns(table: Table, names: Sequence[str]) -> None:
    """StoreError unless every name is a column of `table`: the bulk paths build their SQL text from
    these names (values always travel apart, by COPY)."""
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise StoreError(f"{table.name}: no column(s) {', '.join(map(repr, unknown))}")


def _copy_into(conn: Connection, table: Table, target: str, names: Sequence[str],
               rows: Iterable[Sequence[Any]]) -> None:
    """COPY `rows` (values in the order of `names`, columns of `table`) into `target` (`table` itself or a
    temporary table of its columns), each value through its column's bind processing."""
    _check_columns(table, names)
    procs = [table.c[c].type.bind_processor(conn.dialect) for c in names]
    with conn.connection.driver_connection.cursor() as cur:
        with cur.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(v if proc is None or v is None else proc(v) for v, proc in zip(r, procs)))


def _replace_run_rows(conn: Connection, table: Table, run_id: int, columns: Mapping[str, Sequence[Any]]) -> int:
    """A run's rows of `table` (validated `columns` of equal length, one row per key): what an earlier
    attempt of the run left is deleted first (rows of a station or model the rerun no longer has do not
    linger), so nothing can conflict and PostgreSQL takes the rows by a plain COPY into the table."""
    t = table
    conn.execute(t.delete().where(t.c.run_id == run_id))
    names = ["run_id", *columns]
    n = len(next(iter(columns.values()), []))
    if not n:
        return 0
    values = ([run_id] * n, *columns.values())
    if conn.dialect.name == "postgresql" and n >= COPY_MIN_ROWS:
        _copy_into(conn, t, t.name, names, zip(*values))
    else:
        conn.execute(t.insert(), [dict(zip(names, r)) for r in zip(*values)])
    return n


def _optional_column(df: pd.DataFrame, col: str, table: str) -> list[float | None]:
    """A nullable float column as Python values, NaN as NULL; infinite values refused."""
    values = df[col].to_numpy(dtype=float)
    if np.isinf(values).any():
        i = int(np.flatnonzero(np.isinf(values))[0])
        raise StoreError(f"{table}: row {i} has {col}={values[i]}; infinite values are refused")
    return [None if v != v else v for v in values.tolist()]


# ------------------------------------------------------------------------------------ domain writes

def upsert_stations(engine: Engine, stations: Sequence[Mapping[str, Any]]) -> int:
    with engine.begin() as conn:
        return upsert(conn, m.Station.__table__, stations, ["code"])


def register_station(engine: Engine, station: Mapping[str, Any]) -> dict[str, Any]:
    """Register a station unless its code is taken — by another import at the same moment, say — and
    return the row stored under the code afterwards, whoever registered it (the caller compares)."""
    t = m.Station.__table__
    with engine.begin() as conn:
        upsert(conn, t, [station], ["code"], update=[])
        row = conn.execute(select(t.c.code, t.c.name, t.c.lat, t.c.lon, t.c.surface)
                           .where(t.c.code == station["code"])).one()
    return dict(row._mapping)


def record_input_file(engine: Engine, *, kind: str, centre: str, day: dt.date, path: str, sha256: str,
                      maps: int, source_kind: str) -> int:
    """Register an ingested file (idempotent); returns its id."""
    record_input_files(engine, [dict(kind=kind, centre=centre, day=day, path=path, sha256=sha256, maps=maps,
                                     source_kind=source_kind)])
    with engine.connect() as conn:
        return conn.execute(select(m.InputFile.id).where(m.InputFile.kind == kind, m.InputFile.centre == centre,
                                                         m.InputFile.day == day)).scalar_one()


def record_input_files(engine: Engine, rows: list[dict]) -> int:
    """Register many ingested files at once (idempotent; keys and columns as `record_input_file`, and the
    product archived and its level: by default the centre's own)."""
    now = dt.datetime.now(dt.UTC)
    rows = [{"product": r["centre"], "level": product_level(r["centre"]), **r, "ingested_at": now} for r in rows]
    with engine.begin() as conn:
        return upsert(conn, m.InputFile.__table__, rows, ["kind", "centre", "day"],
                      update=["path", "sha256", "maps", "source_kind", "product", "level"])


def upsert_indices(engine: Engine, tables: IndexTables) -> int:
    """Kp (3-hourly) and daily F10.7/Ap/SN rows; returns the number of Kp rows given."""
    kp = tables.kp
    kp_rows = [dict(time=t.to_pydatetime(), kp=float(r.kp), ap=None if pd.isna(r.ap) else float(r.ap),
                    status=r.status, source=r.source) for t, r in zip(kp.index, kp.itertuples())]
    d = tables.daily

    def opt(v) -> float | None:
        return None if pd.isna(v) else float(v)

    daily_rows = [dict(day=t.date(), ap_daily=opt(r.Ap), sn=opt(r.sn), f107_obs=opt(r.f107_obs),
                       f107_adj=opt(r.f107_adj), status=r.status, source=r.source)
                  for t, r in zip(d.index, d.itertuples())]
    with engine.begin() as conn:
        for chunk in range(0, len(kp_rows), 20000):
            upsert(conn, m.KpValue.__table__, kp_rows[chunk:chunk + 20000], ["time"])
        for chunk in range(0, len(daily_rows), 20000):
            upsert(conn, m.DailyIndex.__table__, daily_rows[chunk:chunk + 20000], ["day"])
    return len(kp_rows)


#: rows per upsert statement of the large writes (observations, ΔTEC): bounded memory for years of rows
UPSERT_BATCH = 50_000


def write_observations(engine: Engine, df: pd.DataFrame, *, centre_default: str | None = None) -> int:
    """Station vTEC: columns station (code), time (UTC-aware), vtec, centre, [input_file_id]."""
    table = "observations"
    if df.empty:
        return 0
    df = df.copy()
    if "centre" not in df:
        if centre_default is None:
            raise StoreError(f"{table}: no centre column and no default centre")
        df["centre"] = centre_default
    _finite_column(df, "vtec", table)
    times = _utc_column(df, "time", table)
    with engine.begin() as conn:
        ids = station_ids(conn, df["station"].unique())
        frame = pd.DataFrame({"station_id": df["station"].map(ids).astype("int64"), "time": times,
                              "centre": df["centre"].astype(str), "vtec": df["vtec"].astype(float),
                              "input_file_id": df["input_file_id"] if "input_file_id" in df else None})
        frame = frame.drop_duplicates(["station_id", "time", "centre"], keep="last")
        if conn.dialect.name == "postgresql":
            _copy_upsert_observations(conn, frame)
        else:
            rows = [dict(station_id=int(s), time=t.to_pydatetime(), centre=c, vtec=float(v),
                         input_file_id=None if f is None or pd.isna(f) else int(f))
                    for s, t, c, v, f in zip(frame.station_id, frame.time, frame.centre, frame.vtec,
                                             frame.input_file_id if frame.input_file_id is not None
                                             else [None] * len(frame))]
            for i in range(0, len(rows), UPSERT_BATCH):
                upsert(conn, m.Observation.__table__, rows[i:i + UPSERT_BATCH], ["station_id", "time", "centre"])
    return len(frame)


_PG_EPOCH_US = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 1_000_000


def _pgcopy_binary(frame: pd.DataFrame) -> bytes:
    """PostgreSQL binary COPY payload for (station_id int4, time timestamptz, centre varchar, vtec
    float8, input_file_id int4 NULL), built with numpy record arrays instead of text formatting."""
    parts = [b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], ">i4").tobytes()]
    us = (frame["time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
          .astype(np.int64) - _PG_EPOCH_US)
    fid = frame["input_file_id"] if "input_file_id" in frame and frame["input_file_id"] is not None else None
    has_fid = np.zeros(len(frame), bool) if fid is None else pd.notna(fid).to_numpy()
    centres = frame["centre"].astype(str).to_numpy()
    for centre in np.unique(centres):
        for with_fid in (False, True):
            sel = (centres == centre) & (has_fid == with_fid)
            if not sel.any():
                continue
            enc = centre.encode("utf-8")
            fields = [("n", ">i2"), ("l1", ">i4"), ("sid", ">i4"), ("l2", ">i4"), ("ts", ">i8"), ("l3", ">i4"),
                      ("c", f"S{len(enc)}"), ("l4", ">i4"), ("v", ">f8"), ("l5", ">i4")]
            if with_fid:
                fields.append(("f", ">i4"))
            rec = np.empty(int(sel.sum()), dtype=np.dtype(fields))
            rec["n"], rec["l1"], rec["l2"], rec["l3"], rec["l4"] = 5, 4, 8, len(enc), 8
            rec["sid"] = frame["station_id"].to_numpy()[sel]
            rec["ts"] = us[sel]
            rec["c"] = enc
            rec["v"] = frame["vtec"].to_numpy(dtype=float)[sel]
            if with_fid:
                rec["l5"] = 4
                rec["f"] = np.asarray(fid)[sel].astype(np.int64)
            else:
                rec["l5"] = -1
            parts.append(rec.tobytes())
    parts.append(np.array([-1], ">i2").tobytes())
    return b"".join(parts)


def _copy_upsert_observations(conn: Connection, frame: pd.DataFrame) -> None:
    """PostgreSQL bulk path: binary COPY into a temp table, then one INSERT ... SELECT ... ON CONFLICT."""
    conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS _obs_load (station_id integer, time timestamptz, "
                      "centre varchar(16), vtec double precision, input_file_id integer) ON COMMIT DELETE ROWS"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY _obs_load (station_id, time, centre, vtec, input_file_id) FROM STDIN (FORMAT BINARY)") \
                as copy:
            copy.write(_pgcopy_binary(frame))
    conn.execute(text(
        "INSERT INTO observations (station_id, time, centre, vtec, input_file_id) "
        "SELECT station_id, time, centre, vtec, input_file_id FROM _obs_load "
        "ON CONFLICT (station_id, time, centre) DO UPDATE SET vtec = EXCLUDED.vtec, "
        "input_file_id = EXCLUDED.input_file_id "
        "WHERE observations.vtec IS DISTINCT FROM EXCLUDED.vtec "
        "OR observations.input_file_id IS DISTINCT FROM EXCLUDED.input_file_id"))


def start_run(engine: Engine, *, issue_time: dt.datetime, target_day: dt.date, flow_run_id: str = "",
              code_version: str = "", settings_hash: str = "", data_source: str = "", lead_day: int = 1,
              issue_day: dt.date | None = None) -> int:
    """Create (or find, on a rerun) the forecast run of (issue time, target day, lead day); returns its
    id. A rerun marks the run running again until it finishes: a rerun killed while it replaces the rows
    must not leave them shown as a finished run. `issue_day` (default: the day of the issue time) is
    the daily run it belongs to: a later one takes the row over (the next day's forecast from late maps
    is tomorrow's forecast made a day earlier, remade)."""
    issue_day = issue_day or pd.Timestamp(issue_time).date()
    row = dict(issue_time=issue_time, target_day=target_day, flow_run_id=flow_run_id, code_version=code_version,
               settings_hash=settings_hash, data_source=data_source, status="running", degraded=False, reason="",
               created_at=dt.datetime.now(dt.UTC), finished_at=None, lead_day=lead_day, issue_day=issue_day)
    with engine.begin() as conn:
        upsert(conn, m.ForecastRun.__table__, [row], ["issue_time", "target_day", "lead_day"],
               update=["flow_run_id", "code_version", "settings_hash", "data_source", "status", "degraded", "reason",
                       "finished_at", "issue_day"])
        return conn.execute(select(m.ForecastRun.id).where(m.ForecastRun.issue_time == issue_time,
                                                           m.ForecastRun.target_day == target_day,
                                                           m.ForecastRun.lead_day == lead_day)).scalar_one()


def finish_run(engine: Engine, run_id: int, *, status: str, degraded: bool = False, reason: str = "") -> None:
    """The run's outcome. A run published again (ok or degraded) loses the scores of its earlier attempt's
    forecasts, in the same transaction: they are verified again with its day. A failed rerun keeps
    them (they are of what users had)."""
    if status not in ("ok", "degraded", "failed"):
        raise StoreError(f"run status {status!r} is not one of ok, degraded, failed")
    with engine.begin() as conn:
        if status != "failed":
            conn.execute(delete(m.Verification).where(m.Verification.run_id == run_id))
        conn.execute(m.ForecastRun.__table__.update().where(m.ForecastRun.id == run_id).values(
            status=status, degraded=degraded, reason=reason, finished_at=dt.datetime.now(dt.UTC)))


def record_run_provenance(engine: Engine, run_id: int, model_version_ids: Iterable[int],
                          inputs: Iterable[Any]) -> None:
    """The model versions and input files (objects with kind, name, day, path, sha256, level) of a run,
    in one transaction; a rerun replaces the run's previous record. The run's `input_level` is the lowest
    level among its maps ("rapid" when it read a map whose final was not out yet)."""
    models = [dict(run_id=run_id, model_version_id=int(i)) for i in sorted(set(model_version_ids))]
    files = [dict(run_id=run_id, kind=f.kind, name=f.name, day=f.day, path=f.path, sha256=f.sha256,
                  level=getattr(f, "level", "")) for f in inputs]
    levels = [f["level"] for f in files if f["kind"] == "GIM" and f["level"]]
    with engine.begin() as conn:
        conn.execute(m.ForecastRun.__table__.update().where(m.ForecastRun.id == run_id).values(
            input_level=min(levels, key=level_rank) if levels else ""))
        conn.execute(m.RunModel.__table__.delete().where(m.RunModel.run_id == run_id))
        conn.execute(m.RunInput.__table__.delete().where(m.RunInput.run_id == run_id))
        if models:
            conn.execute(m.RunModel.__table__.insert(), models)
        if files:
            conn.execute(m.RunInput.__table__.insert(), files)


def write_station_forecasts(engine: Engine, run_id: int, df: pd.DataFrame) -> int:
    """Columns: station, architecture, valid_time, lead_h, mean, [sigma, q025, q16, q84, q975]; a rerun
    replaces the run's forecasts (one row per station, architecture and valid time: the last wins)."""
    table = "station_forecasts"
    df = df.drop_duplicates(subset=["station", "architecture", "valid_time"], keep="last")
    _finite_column(df, "mean", table)
    _finite_column(df, "lead_h", table)
    times = _utc_column(df, "valid_time", table) if not df.empty else None
    optional = [c for c in ("sigma", "q025", "q16", "q84", "q975") if c in df]
    with engine.begin() as conn:
        ids = station_ids(conn, df["station"].unique()) if not df.empty else {}
        columns: dict[str, Sequence[Any]] = {} if df.empty else {
            "station_id": [ids[c] for c in df["station"]],
            "architecture": [str(a) for a in df["architecture"]],
            "valid_time": list(pd.DatetimeIndex(times).to_pydatetime()),
            "lead_h": df["lead_h"].to_numpy(float).tolist(),
            "mean": df["mean"].to_numpy(float).tolist(),
            **{c: _optional_column(df, c, table) for c in optional}}
        return _replace_run_rows(conn, m.StationForecast.__table__, run_id, columns)


def write_blend_weights(engine: Engine, run_id: int, df: pd.DataFrame) -> int:
    """Columns: station, member, lead_h, weight, n_samples; a rerun replaces the run's weights."""
    table = "blend_weights"
    df = df.drop_duplicates(subset=["station", "member", "lead_h"], keep="last")
    _finite_column(df, "weight", table)
    _finite_column(df, "lead_h", table)
    with engine.begin() as conn:
        ids = station_ids(conn, df["station"].unique()) if not df.empty else {}
        columns: dict[str, Sequence[Any]] = {} if df.empty else {
            "station_id": [ids[c] for c in df["station"]],
            "member": [str(k) for k in df["member"]],
            "lead_h": df["lead_h"].to_numpy(float).tolist(),
            "weight": df["weight"].to_numpy(float).tolist(),
            "n_samples": df["n_samples"].to_numpy(int).tolist()}
        return _replace_run_rows(conn, m.BlendWeight.__table__, run_id, columns)


def write_map_blend_weights(engine: Engine, run_id: int, df: pd.DataFrame) -> int:
    """Columns: method, lat_band, member, lead_h, weight, n_days; a rerun replaces the run's weights."""
    table = "map_blend_weights"
    df = df.drop_duplicates(subset=["method", "lat_band", "member", "lead_h"], keep="last")
    _finite_column(df, "weight", table)
    _finite_column(df, "lead_h", table)
    with engine.begin() as conn:  # an empty frame removes the run's weights
        columns: dict[str, Sequence[Any]] = {c: df[c].astype(str).tolist() for c in ("method", "lat_band", "member")}
        columns |= {"lead_h": df["lead_h"].to_numpy(float).tolist(), "weight": df["weight"].to_numpy(float).tolist(),
                    "n_days": df["n_days"].to_numpy(int).tolist()}
        return _replace_run_rows(conn, m.MapBlendWeight.__table__, run_id, columns)


def write_rows(engine: Engine, model: type[m.Base], rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> int:
    """Generic validated upsert for the smaller tables (global forecasts, verification, ΔTEC, storms,
    model versions)."""
    with engine.begin() as conn:
        return upsert(conn, model.__table__, rows, key)


def write_global_forecasts(engine: Engine, run_id: int, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The product files of a forecast run, one row per (valid time, extension method). A rerun replaces
    the run's rows: what it no longer makes (a rerun with another extension method) is withdrawn, not
    left listed beside it. Returns the recorded paths withdrawn that no other run lists (files to
    remove)."""
    g = m.GlobalForecast.__table__
    if any(int(r["run_id"]) != run_id for r in rows):
        raise StoreError(f"global forecast rows of another run than {run_id}")
    keep = {p for r in rows for p in (r.get("product_path", ""), r.get("ionex_path", ""))}
    names = ["valid_time", "method", "product_path", "ionex_path", "global_rmse", "product_sha256", "ionex_sha256"]
    for r in rows:
        for c in ("product_sha256", "ionex_sha256"):
            if r.get(c) is not None and not SHA256_HEX.fullmatch(str(r[c])):
                raise StoreError(f"global forecast row {c}={r[c]!r}: expected 64 lower-case hex digits")
    with engine.begin() as conn:
        before = conn.execute(select(g.c.product_path, g.c.ionex_path).where(g.c.run_id == run_id)).all()
        gone = {p for paths in before for p in paths if p and p not in keep}
        _replace_run_rows(conn, g, run_id, {c: [r.get(c, "" if c.endswith("path") else None) for r in rows]
                                            for c in names})
        listed = set(conn.execute(select(g.c.product_path).where(g.c.product_path.in_(gone))).scalars()) | set(
            conn.execute(select(g.c.ionex_path).where(g.c.ionex_path.in_(gone))).scalars()) if gone else set()
    return sorted(gone - listed)


def write_storm_events(engine: Engine, rows: Sequence[Mapping[str, Any]], *,
                       measured: tuple[dt.datetime, dt.datetime] | None = None) -> int:
    """Storm events keyed by their start (an event still under way is extended in place). A stored event
    that starts inside a new one's span is the same storm seen through a window that cut its start:
    it is replaced. `measured` = (start, end): every event starting in it was detected in `rows`, so a
    stored one that is not (a storm of nowcast Kp that the definitive values took back) is removed."""
    e = m.StormEvent
    with engine.begin() as conn:
        if measured is not None:
            gone = delete(e).where(e.start >= measured[0], e.start < measured[1])
            starts = [r["start"] for r in rows]
            conn.execute(gone.where(e.start.not_in(starts)) if starts else gone)
        for r in rows:
            conn.execute(delete(e).where(e.start > r["start"], e.start <= r["end"]))
        return upsert(conn, e.__table__, rows, ["start"])


def write_verification(engine: Engine, rows: list[dict], run_id: int | None = None) -> int:
    """Verification rows (from `score_rows` or the map scores) into the database, non-finite scores as
    NULL; with `run_id`, the scores of that run's published forecasts. Upsert on VERIFICATION_KEY."""
    extra: dict[str, Any] = {} if run_id is None else {"run_id": run_id}
    # a run's scores are of its lead day (a run carried a day further: 2), whoever passes the run's id
    runs = {int(i) for i in [run_id, *(r.get("run_id") for r in rows)] if i is not None}
    leads: dict[int, int] = {}
    if runs:
        with engine.connect() as conn:
            leads = dict(conn.execute(select(m.ForecastRun.id, m.ForecastRun.lead_day)
                                      .where(m.ForecastRun.id.in_(sorted(runs)))).all())
    clean = []
    for r in rows:
        row = {**{k: v for k, v in r.items() if k not in ("lat_band", "surface")}, **extra}
        of_run = row.get("run_id")
        row["lead_day"] = leads.get(int(of_run), 1) if of_run is not None else row.get("lead_day", 1)
        clean.append(row)
    for r in clean:
        for k in ("corr", "skill_persistence", "skill_median27", "coverage68", "coverage95", "crps", "rmse_area"):
            if r.get(k) is not None and not np.isfinite(r[k]):
                r[k] = None
    return write_rows(engine, m.Verification, clean, m.VERIFICATION_KEY) if clean else 0


def write_dtec(engine: Engine, frame: pd.DataFrame, kind: str, reference: str = "median27") -> int:
    """Station ΔTEC rows (time, station, dtec, dtec_rel) of one kind (observed / forecast)."""
    f = frame.dropna(subset=["dtec"])
    if f.empty:
        return 0
    with engine.begin() as conn:
        ids = station_ids(conn, f["station"].unique())
        for i in range(0, len(f), UPSERT_BATCH):  # years of ΔTEC (a backfill's storms step): bounded memory
            part = f.iloc[i:i + UPSERT_BATCH]
            rows = [dict(station_id=ids[c], time=pd.Timestamp(t).to_pydatetime(), kind=kind, reference=reference,
                         dtec=float(d), dtec_rel=None if pd.isna(r) else float(r))
                    for c, t, d, r in zip(part.station, part.time, part.dtec, part.dtec_rel)]
            upsert(conn, m.DeltaTec.__table__, rows, ["station_id", "time", "kind", "reference"])
    return len(f)


def set_global_rmse(engine: Engine, run_id: int, method: str, times: Sequence[np.datetime64],
                    rmse: Sequence[float]) -> None:
    """Each verified epoch's global RMSE on the run's global forecast rows (naive-UTC times)."""
    g = m.GlobalForecast.__table__
    rows = [{"t": pd.Timestamp(t, tz="UTC").to_pydatetime(), "r": float(r)} for t, r in zip(times, rmse)]
    if not rows:
        return
    with engine.begin() as conn:  # one statement, executed for every epoch
        conn.execute(g.update().where(g.c.run_id == run_id, g.c.method == method, g.c.valid_time == bindparam("t"))
                     .values(global_rmse=bindparam("r")), rows)
