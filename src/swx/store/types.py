"""Column types that keep time honest on both SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on every dialect.

    A naive datetime is refused (its zone is unknown); aware ones are converted to UTC. SQLite has no
    zone-aware type, so values are stored as naive UTC and given tzinfo=UTC when read back;
    PostgreSQL uses `timestamp with time zone` and the value is converted to UTC when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def __init__(self, timezone: bool = True) -> None:  # the argument keeps Alembic's rendering valid
        super().__init__()

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give times in UTC with tzinfo")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
