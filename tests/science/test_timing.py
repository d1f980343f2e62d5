"""A run's information cutoff and publication, said as a user reads them."""

from __future__ import annotations

import datetime as dt

from swx.science.timing import Timing, run_timing

UTC = dt.UTC


def test_the_daily_runs_forecast_is_published_into_the_day_it_forecasts():
    t = Timing(dt.datetime(2026, 12, 6, 22, tzinfo=UTC), dt.datetime(2026, 12, 7, 6, 31, tzinfo=UTC),
               dt.date(2026, 12, 7))
    assert t.first_lead_h == 2.0 and round(t.published_into_day_h, 2) == 6.52 and not t.reprocessed
    assert t.describe() == ("data to 2026-12-06 22:00 UTC (information cutoff; leads 2 to 24 h after it); "
                            "published 2026-12-07 06:31 UTC, 6.5 h into the day it forecasts")


def test_a_forecast_published_ahead_and_one_reprocessed_say_so():
    ahead = Timing(dt.datetime(2026, 12, 6, 22, tzinfo=UTC), dt.datetime(2026, 12, 6, 23, 15, tzinfo=UTC),
                   dt.date(2026, 12, 7))
    assert ahead.describe().endswith("published 2026-12-06 23:15 UTC, 0.8 h before the day it forecasts")
    late = Timing(dt.datetime(2015, 3, 16, 22), dt.datetime(2026, 12, 7, 9), dt.date(2015, 3, 17))  # naive: UTC
    assert late.reprocessed and "4283 days after the day it forecasts (reprocessed" in late.describe()


def test_a_run_that_failed_or_runs_still_was_not_published():
    row = dict(issue_time=dt.datetime(2026, 12, 6, 22, tzinfo=UTC), target_day=dt.date(2026, 12, 7),
               finished_at=dt.datetime(2026, 12, 7, 6, 40, tzinfo=UTC))
    assert run_timing({**row, "status": "ok"}).published is not None
    for status in ("failed", "running"):
        t = run_timing({**row, "status": status})
        assert t.published is None and t.describe().endswith("; not published")
