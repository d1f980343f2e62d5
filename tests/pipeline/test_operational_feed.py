"""swx on a feed that behaves like the real servers (issue 19): a local HTTP server publishes, on a
simulated clock, each day's rapid map at D+1 (one of them late), its final at D+5, and CODE's 1-day
prediction the day before, all written by swx's IONEX writer from the simulator under the IGS long
names (each product a little different). Ten operational days are run as the daily flow runs them —
ingest (waiting for a late rapid map), revision of the days whose final arrived, forecast, verification
— over the May 2024 storm."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import numpy as np
import pandas as pd
import pytest

from swx.archive import Archive, load_indices
from swx.config import get_settings
from swx.io.gim_names import name_for, parse_name
from swx.io.ionex import format_ionex
from swx.pipeline.context import context, station_history
from swx.pipeline.forecast import forecast_stage
from swx.pipeline.ingest import daterange, ingest_gims_stage
from swx.pipeline.revise import revise_days
from swx.pipeline.schedule import default_issue_day, ingest_waiting
from swx.pipeline.train import train
from swx.pipeline.verify import verify_stage
from swx.sources.simulated import simulated_source
from swx.store import queries as q
from tests.helpers import FixtureServer

FIRST_ISSUE = dt.date(2024, 5, 6)
DAYS = 10
HISTORY_START = dt.date(2024, 4, 1)
RUN_AT = dt.time(6, 30)
LATE_RAPID = dt.date(2024, 5, 10)  # its rapid map comes out at 07:30 the next day, after the run started


class Feed:
    """The servers, on a simulated clock (seconds since the epoch): CODE's final of day D from D+5
    00:00, its rapid map from D+1 03:00 (LATE_RAPID's from 07:30), its 1-day prediction for D from D-1
    12:00. Files are made once, when first published, and never change."""

    PATHS = {"cod": "/CODE/final", "cor": "/CODE/rapid", "c1p": "/CODE/predicted"}

    def __init__(self, server: FixtureServer, settings) -> None:
        self.server = server
        self.sim = simulated_source(settings, load_indices(Archive(settings.archive_dir))).simulator
        self.now = dt.datetime.combine(HISTORY_START, dt.time(), tzinfo=dt.UTC)

    @staticmethod
    def out_from(product: str, day: dt.date) -> dt.datetime:
        at = {"cod": (5, dt.time(0)), "cor": (1, dt.time(7, 30) if day == LATE_RAPID else dt.time(3)),
              "c1p": (-1, dt.time(12))}[product]
        return dt.datetime.combine(day + dt.timedelta(days=at[0]), at[1], tzinfo=dt.UTC)

    def maps(self, product: str, day: dt.date):
        final = self.sim.day(day)
        if product == "cod":
            return final
        if product == "cor":  # a rapid solution: the final plus a day's noise of about 1 TECU
            noise = np.random.default_rng(day.toordinal()).normal(0, 1.0, final["tec"].shape)
            return final.assign(tec=np.clip(final["tec"] + noise, 0, None).round(1).astype(np.float32))
        # a prediction: the day before's maps, one day on, scaled (CODE's is a model forecast)
        before = self.sim.day(day - dt.timedelta(days=1))
        return final.assign(tec=(final["tec"].dims, (before["tec"].values * 1.05).round(1).astype(np.float32)))

    def publish(self) -> None:
        for product, path in self.PATHS.items():
            first = HISTORY_START - dt.timedelta(days=1)
            for day in daterange(first, (self.now + dt.timedelta(days=2)).date()):
                name = name_for(product, day)
                if f"{path}/{name}" not in self.server.routes and self.out_from(product, day) <= self.now:
                    text = format_ionex(self.maps(product, day), centre=product.upper(), program="swx-feed",
                                        created=self.out_from(product, day))
                    self.server.add(f"{path}/{name}", body=gzip.compress(text.encode("ascii"), mtime=0))

    def set_clock(self, when: dt.datetime) -> None:
        self.now = when
        self.publish()

    def clock(self) -> float:
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.set_clock(self.now + dt.timedelta(seconds=seconds))

    def hits(self, product: str, day: dt.date) -> int:
        route = self.server.routes.get(f"{self.PATHS[product]}/{name_for(product, day)}")
        return 0 if route is None else route.hits


@pytest.fixture
def feed(monkeypatch):
    server = FixtureServer()
    server.start()
    mirrors = {p: [server.url(path + "/{name}")] for p, path in Feed.PATHS.items()}
    for key, value in {"SWX_GIM_SOURCE": "remote", "SWX_GIM_CENTRE": "cod", "SWX_GIM_MIRRORS": json.dumps(mirrors),
                       "SWX_HTTP_RETRIES": "0", "SWX_SIM_CADENCE_MIN": "120"}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield Feed(server, get_settings())
    server.stop()


def test_ten_days_on_rapid_maps_with_finals_replacing_them_and_verification_recomputed(feed, caplog):
    settings = get_settings()
    first_run = dt.datetime.combine(FIRST_ISSUE + dt.timedelta(days=1), RUN_AT, tzinfo=dt.UTC)
    feed.set_clock(first_run - dt.timedelta(hours=1))
    history = ingest_gims_stage(settings, daterange(HISTORY_START, FIRST_ISSUE - dt.timedelta(days=1)))
    assert {r.level for r in history.results if r.day <= dt.date(2024, 5, 2)} == {"final"}
    assert [(r.day, r.product) for r in history.results if r.level == "rapid"] == [
        (dt.date(2024, 5, d), "cor") for d in (3, 4, 5)]  # finals not out yet: the rapid maps
    ctx = context(settings)
    with caplog.at_level("INFO", logger="swx.pipeline.context"):
        train(ctx, ["cnn"], train_end=dt.date(2024, 5, 3), epochs=3)
    assert "3 day(s) from maps whose finals are not out yet (2024-05-03 rapid cor, 2024-05-04 rapid cor, " \
        "2024-05-05 rapid cor)" in caplog.text

    upgrades: dict[dt.date, int] = {}
    verified_rapid: dict[dt.date, float] = {}
    for k in range(DAYS):
        run_at = first_run + dt.timedelta(days=k)
        feed.set_clock(run_at)
        issue = default_issue_day(run_at)
        days = daterange(issue - dt.timedelta(days=settings.gim_upgrade_days - 1), issue)
        got = ingest_waiting(settings, days, issue, wait_min=60, poll_min=10, sleep=feed.sleep, clock=feed.clock)
        for r in got.upgraded:
            upgrades[r.day] = upgrades.get(r.day, 0) + 1
        assert {r.day for r in got.results if r.status in ("missing", "failed")} == set()
        revise_days(settings, [r.day for r in got.upgraded])
        fc = forecast_stage(settings, issue)
        assert not fc["degraded"], (issue, fc["reason"])  # the rapid map was out (or came while waiting)
        run = q.run_provenance(ctx.engine, fc["run_id"])
        assert run["run"]["input_level"] == "rapid"
        gims = run["inputs"][run["inputs"].kind == "GIM"].set_index("day")
        now = feed.now  # each map the run read is the final where it was out, else the rapid one
        assert {d: ("final" if feed.out_from("cod", d) <= now else "rapid") for d in gims.index} == \
            gims["level"].to_dict()
        v = verify_stage(settings, issue)
        if issue > FIRST_ISSUE:
            verified_rapid[issue] = v["stations"]["blend"]

    # each final replaced its rapid map exactly once, fetched once, and only once it was out
    finals_in = [d for d in daterange(dt.date(2024, 5, 3), feed.now.date()) if feed.out_from("cod", d) <= feed.now]
    assert upgrades == {d: 1 for d in finals_in}
    assert all(feed.hits("cod", d) == 1 for d in finals_in)
    assert feed.hits("cor", LATE_RAPID) == 1  # fetched after the wait, not missed

    # the verification of the days whose truth changed was recomputed, not duplicated; its truth is the final
    rows = q.skill_table(ctx.engine, start=dt.datetime(2024, 5, 7, tzinfo=dt.UTC))
    keys = ["scope", "station_code", "model", "window_start", "window_end", "kp_class"]
    assert not rows.duplicated(keys).any()
    # the verified day: the maps' window starts at its 00:00, the stations' at the issue time 2 h before
    level = rows.assign(day=(rows.window_start + pd.Timedelta(hours=2)).dt.date).groupby("day")["truth_level"].agg(set)
    for day, levels in level.items():
        assert levels == {"final" if day in finals_in else "rapid"}, day
    rescored = [d for d in verified_rapid if d in finals_in]
    assert rescored == [dt.date(2024, 5, d) for d in (7, 8, 9, 10, 11)]
    again = {d: verify_stage(settings, d)["stations"]["blend"] for d in rescored}
    assert all(again[d] != verified_rapid[d] for d in rescored)  # scored against another truth now

    # the observations of those days are the final's values and point to the final's input file
    wide = station_history(ctx, rescored[0], rescored[-1])
    code = ctx.stations[0].code
    lo, hi = (dt.datetime.combine(rescored[0], dt.time(), tzinfo=dt.UTC),
              dt.datetime.combine(rescored[-1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC))
    stored = q.station_series(ctx.engine, code, lo, hi)
    stored = stored[stored.centre == "cod"].set_index("time")["vtec"]
    np.testing.assert_allclose(stored.to_numpy(), wide[code].reindex(stored.index).to_numpy(), atol=1e-9)
    products = q.observation_products(ctx.engine, code, lo, hi)
    assert set(products["level"]) == {"final"} and set(products["product"]) == {"cod"}
    assert parse_name(name_for("c1p", LATE_RAPID)).centre == "c1p"
