"""The results database: every stage writes here; the dashboard, flows and reports read from here.

SQLAlchemy 2 typed ORM. Natural keys are unique constraints, so every write can be an idempotent
upsert (see `swx.store.writes`). Times are `UTCDateTime` (aware UTC in and out).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from swx.science.stations import STATION_NAME_MAX
from swx.store.types import UTCDateTime

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


#: JSON, stored as JSONB on PostgreSQL (comparable, so upserts can skip unchanged rows).
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Station(Base):
    """A virtual station: a point where vTEC is extracted from the maps and forecast."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(STATION_NAME_MAX), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    sector: Mapped[str] = mapped_column(String(32), default="")  # meridian sector, e.g. "-120", "0", "120"
    lat_band: Mapped[str] = mapped_column(String(8))  # low / mid / high
    surface: Mapped[str] = mapped_column(String(8))  # land / ocean
    origin: Mapped[str] = mapped_column(String(16), default="catalog")  # catalog / imported
    __table_args__ = (CheckConstraint("lat >= -90 AND lat <= 90", name="lat_range"),
                      CheckConstraint("lat_band IN ('low', 'mid', 'high')", name="lat_band_values"),
                      CheckConstraint("surface IN ('land', 'ocean')", name="surface_values"))


class InputFile(Base):
    """A GIM or index file an ingest took in, with its checksum (provenance of every later number)."""

    __tablename__ = "input_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # GIM / KP
    centre: Mapped[str] = mapped_column(String(16))
    day: Mapped[dt.date] = mapped_column(Date)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    maps: Mapped[int] = mapped_column(Integer, default=0)
    source_kind: Mapped[str] = mapped_column(String(16))  # remote / local / simulated
    # the product archived for the day under `centre` (e.g. cor while cod's final is not out) and its level
    product: Mapped[str] = mapped_column(String(16), default="", server_default="")
    level: Mapped[str] = mapped_column(String(16), default="final", server_default="final")  # predicted/rapid/final
    ingested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    __table_args__ = (UniqueConstraint("kind", "centre", "day"),)


class KpValue(Base):
    __tablename__ = "kp_values"
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)  # start of the 3-hour interval
    kp: Mapped[float] = mapped_column(Float)
    ap: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))


class DailyIndex(Base):
    __tablename__ = "daily_indices"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ap_daily: Mapped[float | None] = mapped_column(Float, nullable=True)
    sn: Mapped[float | None] = mapped_column(Float, nullable=True)
    f107_obs: Mapped[float | None] = mapped_column(Float, nullable=True)
    f107_adj: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(64))


class Observation(Base):
    """Station vTEC taken from a map (or imported), one row per station, time and source centre."""

    __tablename__ = "observations"
    # No foreign key to stations on purpose: this is the high-volume table (millions of rows per
    # backfill) and the per-row RI trigger halves PostgreSQL's bulk load rate. The write path checks
    # every station code before writing (swx.store.writes.station_ids).
    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    centre: Mapped[str] = mapped_column(String(16), primary_key=True)
    vtec: Mapped[float] = mapped_column(Float)
    input_file_id: Mapped[int | None] = mapped_column(ForeignKey("input_files.id", ondelete="SET NULL"),
                                                      nullable=True)
    # SQLite: cluster the rows by the key, so a station's series is one sequential range scan.
    __table_args__ = {"sqlite_with_rowid": False}


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    architecture: Mapped[str] = mapped_column(String(16))  # lstm / gru / cnn
    version: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"), nullable=True)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    train_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    train_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    val_rmse: Mapped[float | None] = mapped_column(Float, nullable=True)
    checkpoint_path: Mapped[str] = mapped_column(Text)
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    # the data it learnt from: the centre whose maps gave the station's series ("sim": simulated,
    # "series": an imported receiver series); "" for versions trained before swx recorded it
    data_source: Mapped[str] = mapped_column(String(32), default="", server_default="")
    __table_args__ = (UniqueConstraint("station_id", "architecture", "version"),
                      CheckConstraint("status IN ('candidate', 'active', 'rejected', 'retired')", name="status_values"))


class ForecastRun(Base):
    __tablename__ = "forecast_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    target_day: Mapped[dt.date] = mapped_column(Date)
    flow_run_id: Mapped[str] = mapped_column(String(64), default="")
    code_version: Mapped[str] = mapped_column(String(64), default="")
    settings_hash: Mapped[str] = mapped_column(String(64), default="")
    data_source: Mapped[str] = mapped_column(String(32), default="")  # centre code, "sim" when simulated
    # the lowest product level among the maps the run read: "rapid" when a final was not out yet
    input_level: Mapped[str] = mapped_column(String(16), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the day forecast, counted from the information cutoff: 1 (hours 2-24), 2 (hours 26-48, tomorrow's map)
    lead_day: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # the daily run it belongs to: the day whose maps it should have had (the next day's forecast from
    # late maps shares its row with tomorrow's forecast made a day earlier: the same information)
    issue_day: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    __table_args__ = (UniqueConstraint("issue_time", "target_day", "lead_day"),
                      CheckConstraint("status IN ('running', 'ok', 'degraded', 'failed')", name="status_values"))


class RunModel(Base):
    """Provenance: the model versions a run's station forecasts came from."""
    __tablename__ = "run_models"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"),
                                                  primary_key=True)


class RunInput(Base):
    """Provenance: the input files a run read, with their checksums as they were at run time (a later
    re-ingest of the same day does not rewrite what an old run used)."""
    __tablename__ = "run_inputs"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # GIM / INDICES
    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # file name
    day: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[str] = mapped_column(String(16), default="", server_default="")  # a GIM's: predicted/rapid/final


class StationForecast(Base):
    __tablename__ = "station_forecasts"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    architecture: Mapped[str] = mapped_column(String(16), primary_key=True)
    valid_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    lead_h: Mapped[float] = mapped_column(Float)
    mean: Mapped[float] = mapped_column(Float)
    sigma: Mapped[float | None] = mapped_column(Float, nullable=True)
    q025: Mapped[float | None] = mapped_column(Float, nullable=True)
    q16: Mapped[float | None] = mapped_column(Float, nullable=True)
    q84: Mapped[float | None] = mapped_column(Float, nullable=True)
    q975: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_station_forecasts_station_valid", "station_id", "valid_time"),)


class BlendWeight(Base):
    """The weights of the published blend of one run: per station, member (architecture or baseline)
    and lead, with the number of verified issue times they were fitted on (0: equal weights)."""

    __tablename__ = "blend_weights"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    member: Mapped[str] = mapped_column(String(16), primary_key=True)
    lead_h: Mapped[float] = mapped_column(Float, primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    n_samples: Mapped[int] = mapped_column(Integer)


class MapBlendWeight(Base):
    """The weights of one run's published global map: per extension method, latitude band, member
    (node forecast, node map corrected by the stations, persistence, 27-day median) and lead, with the number of
    verified days they were fitted on (0: the prior weights)."""

    __tablename__ = "map_blend_weights"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    lat_band: Mapped[str] = mapped_column(String(8), primary_key=True)
    member: Mapped[str] = mapped_column(String(16), primary_key=True)
    lead_h: Mapped[float] = mapped_column(Float, primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    n_days: Mapped[int] = mapped_column(Integer)


class GlobalForecast(Base):
    __tablename__ = "global_forecasts"
    run_id: Mapped[int] = mapped_column(ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True)
    valid_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_path: Mapped[str] = mapped_column(Text, default="")
    ionex_path: Mapped[str] = mapped_column(Text, default="")
    global_rmse: Mapped[float | None] = mapped_column(Float, nullable=True)
    # the files' sha256 as published: a file replaced together with its `.sha256` record is still told
    product_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ionex_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


#: What identifies a verification row: a rerun over the same window replaces it.
VERIFICATION_KEY = ("scope", "station_code", "model", "window_start", "window_end", "kp_class", "lead_day")


class Verification(Base):
    """Skill of a model or baseline over a window, for a station ('*' = global) and a Kp class."""

    __tablename__ = "verification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(8))  # station / global
    station_code: Mapped[str] = mapped_column(String(32))  # "*" for global
    model: Mapped[str] = mapped_column(String(32))  # lstm / gru / cnn / persistence / median27 / climatology
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    kp_class: Mapped[str] = mapped_column(String(8), default="all")  # all / quiet / storm
    n: Mapped[int] = mapped_column(Integer)
    rmse: Mapped[float] = mapped_column(Float)
    mae: Mapped[float] = mapped_column(Float)
    bias: Mapped[float] = mapped_column(Float)
    corr: Mapped[float | None] = mapped_column(Float, nullable=True)
    skill_persistence: Mapped[float | None] = mapped_column(Float, nullable=True)
    skill_median27: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage68: Mapped[float | None] = mapped_column(Float, nullable=True)
    coverage95: Mapped[float | None] = mapped_column(Float, nullable=True)
    crps: Mapped[float | None] = mapped_column(Float, nullable=True)  # mean CRPS (TECU) of N(mean, sigma)
    rmse_area: Mapped[float | None] = mapped_column(Float, nullable=True)  # maps: cos-latitude weighted RMSE
    pit_hist: Mapped[list | None] = mapped_column(JSONType, nullable=True)  # PIT counts in 10 equal bins
    run_id: Mapped[int | None] = mapped_column(ForeignKey("forecast_runs.id", ondelete="SET NULL"), nullable=True)
    # the level of the truth it was scored on: "rapid" until the day's final replaces it (then rescored)
    truth_level: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # 1: forecasts of hours 2-24 after their information cutoff; 2: hours 26-48 (beside the baselines
    # at the same lead: persistence and the 27-day median known at the cutoff)
    lead_day: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __table_args__ = (UniqueConstraint(*VERIFICATION_KEY), Index("ix_verification_window_start", "window_start"))


class DeltaTec(Base):
    __tablename__ = "dtec"
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # observed / forecast
    reference: Mapped[str] = mapped_column(String(16), primary_key=True)  # median27
    dtec: Mapped[float] = mapped_column(Float)
    dtec_rel: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_dtec_kind_time", "kind", "time"),)  # Global ΔTEC: all stations over a time range


class StormEvent(Base):
    __tablename__ = "storm_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[dt.datetime] = mapped_column(UTCDateTime, unique=True)
    end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    max_kp: Mapped[float] = mapped_column(Float)
    g_class: Mapped[int] = mapped_column(Integer)
    peak_pos_dtec: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_pos_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    peak_neg_dtec: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_neg_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stations: Mapped[list[str]] = mapped_column(JSONType, default=list)  # most affected, strongest first
