"""swx on a feed that behaves like the real servers (issue 19): a local HTTP server publishes, on a
simulated clock, each day's rapid map at D+1 (one of them late), its final at D+5, and CODE's 1-day
prediction the day before, all written by swx's IONEX writer from the simulator under the IGS long
names (each product a little different); and GFZ's Kp files, written by swx's GFZ writer, with a day's
Kp as a nowcast first (a storm's peak under-estimated) and definitive three days later. Ten operational
days are run as the daily flow runs them — Kp, then the maps (waiting for a late rapid one), revision
of what changed, CODE's prediction, forecast, verification, storms.

The days are in late 2025, after the bundled Kp history, so the feed's Kp is the only Kp of those days:
it replays the real Kp and F10.7 of April-May 2024, 518 days on, so the 10-11 May 2024 storm (Kp 9o)
falls on 10-11 October 2025."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import numpy as np
import pandas as pd
import pytest

from swx.config import get_settings
from swx.io.gim_names import name_for, parse_name
from swx.io.ionex import format_ionex
from swx.pipeline.context import context, station_history
from swx.pipeline.days import daterange
from swx.pipeline.forecast import daily_forecasts_stage
from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage, ingest_rivals_stage
from swx.pipeline.revise import revise_kp_days, revise_stage
from swx.pipeline.schedule import default_issue_day, ingest_waiting
from swx.pipeline.status import run_status, summary_lines
from swx.pipeline.storms import storms_stage
from swx.pipeline.train import train
from swx.pipeline.verify import verify_stage
from swx.science.verify import map_scores
from swx.sources.indices.gfz import format_gfz_text
from swx.sources.indices.history import load_history
from swx.sources.indices.tables import AP_OF_KP_THIRDS, IndexTables
from swx.sources.simulated import simulated_source
from swx.store import queries as q
from tests.helpers import NOTHING_VERIFIED, FixtureServer

SHIFT = dt.timedelta(days=518)  # 2024-04-01 -> 2025-09-01
FIRST_ISSUE = dt.date(2025, 10, 6)
DAYS = 10
HISTORY_START = dt.date(2025, 9, 1)
RUN_AT = dt.time(6, 30)
LATE_RAPID = dt.date(2025, 10, 10)  # its rapid map comes out at 07:30 the next day, after the run started
STORM = dt.date(2025, 10, 10)  # 10 May 2024, 518 days on
KP_DEFINITIVE_AFTER = dt.timedelta(days=3)  # GFZ's is weeks; three days keep the test's ten days short


def replayed_indices() -> IndexTables:
    """The real Kp and F10.7 of 20 March - 30 June 2024, 518 days on: the truth the feed publishes."""
    real = load_history().between("2024-03-20", "2024-07-01")
    kp, daily = real.kp.copy(), real.daily.copy()
    kp.index, daily.index = kp.index + SHIFT, daily.index + SHIFT
    return IndexTables(kp.assign(status="definitive", source="GFZ"), daily.assign(status="definitive", source="GFZ"))


class Feed:
    """The servers, on a simulated clock (seconds since the epoch): CODE's final of day D from D+5
    00:00, its rapid map from D+1 03:00 (LATE_RAPID's from 07:30), its 1-day prediction for D from D-1
    12:00. Files are made once, when first published, and never change."""

    PATHS = {"cod": "/CODE/final", "cor": "/CODE/rapid", "c1p": "/CODE/predicted"}
    KP_PATHS = {"all": "/GFZ/Kp_ap_Ap_SN_F107_since_1932.txt", "nowcast": "/GFZ/Kp_ap_Ap_SN_F107_nowcast.txt"}

    def __init__(self, server: FixtureServer, settings) -> None:
        self.server = server
        self.truth = replayed_indices()
        self.sim = simulated_source(settings, self.truth).simulator
        self.now = dt.datetime.combine(HISTORY_START, dt.time(), tzinfo=dt.UTC)

    @staticmethod
    def out_from(product: str, day: dt.date) -> dt.datetime:
        at = {"cod": (5, dt.time(0)), "cor": (1, dt.time(7, 30) if day == LATE_RAPID else dt.time(3)),
              "c1p": (-1, dt.time(12))}[product]
        return dt.datetime.combine(day + dt.timedelta(days=at[0]), at[1], tzinfo=dt.UTC)

    def day(self, day: dt.date):
        """The simulator's day as a producer would serve it: its solar-maximum crests (up to 590 TECU in
        October 2014, docs/simulated.md) cut at 300 TECU, the largest a real map holds."""
        maps = self.sim.day(day)
        return maps.assign(tec=maps["tec"].clip(max=300.0))

    def maps(self, product: str, day: dt.date):
        final = self.day(day)
        if product == "cod":
            return final
        if product == "cor":  # a rapid solution: the final plus a day's noise of about 1 TECU
            noise = np.random.default_rng(day.toordinal()).normal(0, 1.0, final["tec"].shape)
            return final.assign(tec=np.clip(final["tec"] + noise, 0, None).round(1).astype(np.float32))
        # a prediction: the day before's maps, one day on, scaled (CODE's is a model forecast)
        before = self.day(day - dt.timedelta(days=1))
        return final.assign(tec=(final["tec"].dims, (before["tec"].values * 1.05).round(1).astype(np.float32)))

    def kp_as_published(self) -> IndexTables:
        """GFZ's files now: every ended UT day, definitive once KP_DEFINITIVE_AFTER has passed, a nowcast
        before — one that puts a storm's peak two thirds too low."""
        today = pd.Timestamp(self.now.date(), tz="UTC")
        kp = self.truth.kp[self.truth.kp.index < today].copy()
        daily = self.truth.daily[self.truth.daily.index < today].copy()
        nowcast_from = today - pd.Timedelta(KP_DEFINITIVE_AFTER)
        late = kp.index >= nowcast_from
        kp.loc[late, "status"] = "preliminary"
        kp.loc[late & (kp["kp"] >= 7), "kp"] = (kp.loc[late & (kp["kp"] >= 7), "kp"] - 2 / 3).round(3)
        kp.loc[late, "ap"] = AP_OF_KP_THIRDS[(kp.loc[late, "kp"] * 3).round().astype(int)]  # each ap its Kp's
        daily.loc[daily.index >= nowcast_from, "status"] = "preliminary"
        late_days = daily.index >= nowcast_from
        daily.loc[late_days, "Ap"] = kp["ap"].groupby(kp.index.normalize()).mean().round().reindex(
            daily.index[late_days]).to_numpy()  # and each day's Ap the mean of its ap
        return IndexTables(kp, daily)

    def publish(self) -> None:
        tables = self.kp_as_published()
        recent = tables.between(pd.Timestamp(self.now.date(), tz="UTC") - pd.Timedelta(days=30), "2100-01-01")
        self.server.add(self.KP_PATHS["all"], body=format_gfz_text(tables).encode())
        self.server.add(self.KP_PATHS["nowcast"], body=format_gfz_text(recent).encode())
        for product, path in self.PATHS.items():
            first = HISTORY_START - dt.timedelta(days=1)
            for day in daterange(first, (self.now + dt.timedelta(days=2)).date()):
                name = name_for(product, day)
                if f"{path}/{name}" not in self.server.routes and self.out_from(product, day) <= self.now:
                    # a producer's file, said as such (swx refuses its own simulated days under a real name)
                    text = format_ionex(self.maps(product, day), centre=product.upper(), program="swx-feed",
                                        created=self.out_from(product, day),
                                        description="maps of a test producer serving CODE's product names")
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
                       "SWX_HTTP_RETRIES": "0", "SWX_SIM_CADENCE_MIN": "120", "SWX_KP_SOURCE": "gfz",
                       "SWX_KP_URL": server.url(Feed.KP_PATHS["all"]),
                       "SWX_KP_NOWCAST_URL": server.url(Feed.KP_PATHS["nowcast"])}.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield Feed(server, get_settings())
    server.stop()


def test_ten_days_on_rapid_maps_with_finals_replacing_them_and_verification_recomputed(feed, caplog):
    settings = get_settings()
    first_run = dt.datetime.combine(FIRST_ISSUE + dt.timedelta(days=1), RUN_AT, tzinfo=dt.UTC)
    feed.set_clock(first_run - dt.timedelta(hours=1))
    assert ingest_indices_stage(settings).revised_days == []
    history = ingest_gims_stage(settings, daterange(HISTORY_START, FIRST_ISSUE - dt.timedelta(days=1)))
    assert {r.level for r in history.results if r.day <= dt.date(2025, 10, 2)} == {"final"}
    assert [(r.day, r.product) for r in history.results if r.level == "rapid"] == [
        (dt.date(2025, 10, d), "cor") for d in (3, 4, 5)]  # finals not out yet: the rapid maps
    ctx = context(settings)
    with caplog.at_level("INFO", logger="swx.pipeline.context"):
        train(ctx, ["cnn"], train_end=dt.date(2025, 10, 3), epochs=3)
    train(ctx, ["ridge"], train_end=dt.date(2025, 10, 3), lead_day=2)  # tomorrow's forecasts
    assert "3 day(s) from maps whose finals are not out yet (2025-10-03 rapid cor, 2025-10-04 rapid cor, " \
        "2025-10-05 rapid cor)" in caplog.text

    upgrades: dict[dt.date, int] = {}
    verified_rapid: dict[dt.date, float] = {}
    kp_revised: list[dt.date] = []
    missed: list[dt.date] = []
    storm_seen: list[tuple[dt.date, int, float, str]] = []  # run day, G class, max Kp, Kp status
    for k in range(DAYS):
        run_at = first_run + dt.timedelta(days=k)
        feed.set_clock(run_at)
        issue = default_issue_day(run_at)
        kp = ingest_indices_stage(settings)
        if kp.revised_days:
            kp_revised += kp.revised_days
            revise_kp_days(settings, kp.revised_days)
        days = daterange(issue - dt.timedelta(days=settings.gim_upgrade_days - 1), issue)
        got = ingest_waiting(settings, days, issue, wait_min=60, poll_min=10, sleep=feed.sleep, clock=feed.clock)
        for r in got.upgraded:
            upgrades[r.day] = upgrades.get(r.day, 0) + 1
        assert {r.day for r in got.results if r.status in ("missing", "failed")} == set()
        if k == 6:  # this run's revision task fails: the next run finds the day still scored on the rapid map
            missed = [r.day for r in got.upgraded]
        else:
            revised = revise_stage(settings, [r.day for r in got.upgraded], days)
            assert revised["days"] == [str(d) for d in sorted([r.day for r in got.upgraded] + (missed if k == 7 else []))]
        rival = ingest_rivals_stage(settings, days + [issue + dt.timedelta(days=1)])["c1p"]
        assert {r.day for r in rival.results if r.status == "fetched"} >= {issue + dt.timedelta(days=1)}
        both = daily_forecasts_stage(settings, issue)  # the next day's and tomorrow's, as the daily flow
        fc = both["forecast"]
        # the rapid map was out (or came while waiting); the first run's blend has nothing verified yet
        assert (not fc["degraded"]) if k else fc["reason"].startswith(NOTHING_VERIFIED), (issue, fc["reason"])
        assert both["ahead"]["target_day"] == str(issue + dt.timedelta(days=2)) and both["ahead"]["lead_day"] == 2
        run = q.run_provenance(ctx.engine, fc["run_id"])
        assert run["run"]["input_level"] == "rapid"
        gims = run["inputs"][run["inputs"].kind == "GIM"].set_index("day")
        now = feed.now  # each map the run read is the final where it was out, else the rapid one
        assert {d: ("final" if feed.out_from("cod", d) <= now else "rapid") for d in gims.index} == \
            gims["level"].to_dict()
        v = verify_stage(settings, issue)
        if issue > FIRST_ISSUE:
            verified_rapid[issue] = v["stations"]["blend"]
        storms_stage(settings, issue - dt.timedelta(days=7), issue)
        events = q.storms(ctx.engine)
        for e in events[events.start.dt.date == STORM].itertuples():
            storm_seen.append((issue, e.g_class, e.max_kp, e.kp_status))

    # the storm was first seen on nowcast Kp (its first day's peak, 8+, as 8o: G4), then its G class
    # followed GFZ's definitive values (the peak 9o of its second day: G5)
    truth = feed.truth.kp["kp"]
    assert truth[truth.index.date == STORM].max() == 8.667 and truth.max() == 9.0
    assert storm_seen[0] == (STORM, 4, 8.0, "nowcast")
    assert storm_seen[-1] == (dt.date(2025, 10, 15), 5, 9.0, "definitive")
    # each run made one more day definitive (the day three days before its own); the days whose nowcast
    # values were wrong (the storm's peak) are the revised ones
    definitive_by_then = daterange(dt.date(2025, 10, 4), dt.date(2025, 10, 12))
    assert kp_revised == sorted({t.date() for t in truth.index[truth >= 7]} & set(definitive_by_then))
    assert kp_revised[:2] == [STORM, STORM + dt.timedelta(days=1)]

    # each final replaced its rapid map exactly once, fetched once, and only once it was out
    finals_in = [d for d in daterange(dt.date(2025, 10, 3), feed.now.date()) if feed.out_from("cod", d) <= feed.now]
    assert upgrades == {d: 1 for d in finals_in}
    assert all(feed.hits("cod", d) == 1 for d in finals_in)
    assert feed.hits("cor", LATE_RAPID) == 1  # fetched after the wait, not missed

    # the verification of the days whose truth changed was recomputed, not duplicated; its truth is the final
    rows = q.skill_table(ctx.engine, start=dt.datetime(2025, 10, 6, 12, tzinfo=dt.UTC))  # stations: from 22:00
    keys = ["scope", "station_code", "model", "window_start", "window_end", "kp_class"]
    assert not rows.duplicated(keys).any()
    # the verified day: the maps' window starts at its 00:00, the stations' at the issue time 2 h before
    level = rows.assign(day=(rows.window_start + pd.Timedelta(hours=2)).dt.date).groupby("day")["truth_level"].agg(set)
    for day, levels in level.items():
        assert levels == {"final" if day in finals_in else "rapid"}, day
    rescored = [d for d in verified_rapid if d in finals_in]
    assert rescored == [dt.date(2025, 10, d) for d in (7, 8, 9, 10, 11)]
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

    # CODE's prediction was verified beside swx's map and station forecasts made on no more information
    # (tomorrow's, from the maps of two days before: CODE published its prediction the day before), on
    # the same samples; never beside the next day's forecasts, made a day later
    assert not rows["model"].str.contains("c1p").any()
    rows = q.skill_table(ctx.engine, start=dt.datetime(2025, 10, 6, 12, tzinfo=dt.UTC), lead_day=2)
    day = rescored[1]  # the first day with a forecast made two days ahead
    maps = rows[(rows.model.isin(["map:c1p", "map:residual", "map:persistence"])) & (rows.station_code == "global")
                & (rows.window_start.dt.date == day)].set_index("model")
    truth, pred = ctx.archive.open_gim_tec("cod", day)["tec"], ctx.archive.open_gim_tec("c1p", day)["tec"]
    on = maps.loc["map:residual", "n"]
    direct = map_scores(pred.values, truth.values, truth.lat.values, truth.lon.values)[0]  # the day's 13 maps
    assert maps.loc["map:c1p", "n"] == on and maps.loc["map:c1p", "rmse"] == pytest.approx(direct["rmse"], rel=1e-9)
    stations = rows[(rows.scope == "station") & (rows.kp_class == "all")
                    & ((rows.window_start + pd.Timedelta(hours=2)).dt.date == day)].groupby("model")["n"].sum()
    assert stations["c1p"] == stations["blend"] == stations["persistence"] > 0
    status, _ = run_status(settings, max_age_h=1e6)  # swx status --json: side by side, last days
    assert status["input_level"] == "rapid"
    assert {"map:residual", "map:persistence"} <= set(status["map_skill_recent"])
    assert "map:c1p" not in status["map_skill_recent"] and "c1p" not in status["station_skill"]
    ahead = status["tomorrow"]
    assert {"map:c1p", "map:residual", "map:persistence"} <= set(ahead["map_skill_recent"])
    assert {"c1p", "blend", "persistence"} <= set(ahead["station_skill"])
    assert any(line.startswith("    maps, last 7 days (RMSE TECU, vs persistence at the same lead): ")
               and "map:c1p" in line for line in summary_lines(status))
    assert parse_name(name_for("c1p", LATE_RAPID)).centre == "c1p"
