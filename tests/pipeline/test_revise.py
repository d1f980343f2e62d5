"""Kp revised after the fact (GFZ's nowcast made definitive, a value corrected): the storm events over
those days follow the archive's Kp — their G class, or their removal — and nowcast values are marked."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from swx.archive import Archive
from swx.config import get_settings
from swx.pipeline.ingest import ingest_indices, record_indices
from swx.pipeline.revise import revise_kp_days
from swx.pipeline.storms import storms_stage
from swx.sources.indices.tables import IndexTables, empty_daily, three_hourly
from swx.store import queries as q
from swx.store.db import open_database

DAY = dt.date(2025, 9, 1)  # after the bundled history: the archive's Kp is the only Kp of these days


def _kp(values: np.ndarray, status: str) -> IndexTables:
    times = three_hourly(pd.DatetimeIndex([DAY, DAY + dt.timedelta(days=1)]))
    kp = pd.DataFrame({"kp": values, "ap": np.nan, "status": status, "source": "GFZ (test)"}, index=times)
    return IndexTables(kp, empty_daily())


def _take_in(settings, tables: IndexTables):
    summary = ingest_indices(tables, Archive(settings.archive_dir), "test")
    record_indices(open_database(settings), tables)
    return summary


def test_definitive_kp_revises_the_storm_events_and_nowcasts_are_marked():
    settings = get_settings()
    engine = open_database(settings)
    quiet = np.full(16, 2.0)
    nowcast = quiet.copy()
    nowcast[3] = 17 / 3  # 6-: G2, in the nowcast
    first = _take_in(settings, _kp(nowcast, "preliminary"))
    assert first.revised_days == []  # new values, nothing revised
    storms_stage(settings, DAY, DAY + dt.timedelta(days=1))
    [event] = q.storms(engine).itertuples()
    assert (event.g_class, event.kp_status) == (2, "nowcast")
    kp = q.kp_series(engine, dt.datetime(2025, 9, 1, tzinfo=dt.UTC), dt.datetime(2025, 9, 2, tzinfo=dt.UTC))
    assert kp["nowcast"].all() and kp["status"].eq("preliminary").all()

    definitive = quiet.copy()
    definitive[3] = 5.0  # 5o: G1 once definitive
    second = _take_in(settings, _kp(definitive, "definitive"))
    assert second.revised_days == [DAY]  # the next day's nowcast values were right: not a revision
    assert "Kp revised on 1 day(s)" in str(second)
    done = revise_kp_days(settings, second.revised_days)
    assert [e["g_class"] for e in done["events"]] == [1]
    [event] = q.storms(engine).itertuples()
    assert (event.g_class, event.max_kp, event.kp_status) == (1, 5.0, "definitive")

    corrected = quiet.copy()
    corrected[3] = 13 / 3  # 4+: a correction takes the storm back
    third = _take_in(settings, _kp(corrected, "definitive"))
    assert third.revised_days == [DAY]
    revise_kp_days(settings, third.revised_days)
    assert q.storms(engine).empty
