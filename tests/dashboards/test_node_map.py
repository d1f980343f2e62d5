"""The dashboard on a node map (`SWX_MAP_MODEL=nodes`): the Global map page says how the run's map was
made (its members' weights per latitude band, the verified days behind them) and shows its verified
cos-latitude RMSE, band coverage and CRPS; the Skill page's map table pools the published map, its
members and the persistence map. Seeded by the real stages on five months of simulated maps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from swx.config import get_settings
from swx.pipeline.context import context
from swx.pipeline.forecast import forecast
from swx.pipeline.verify import verify_maps
from swx.store import queries as q
from tests.helpers import node_map_site

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")


@pytest.fixture
def node_runs(monkeypatch) -> list[int]:
    ctx = node_map_site(monkeypatch, dt.date(2014, 10, 20), dt.date(2015, 3, 14), ridge_end=dt.date(2015, 3, 8),
                        node_end=dt.date(2015, 3, 9))
    runs = []
    for day in (dt.date(2015, 3, 9), dt.date(2015, 3, 10), dt.date(2015, 3, 11)):
        r = forecast(ctx, day)
        verify_maps(ctx, r.target_day)
        runs.append(r.run_id)
    ctx.engine.dispose()
    return runs


def _page(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def test_the_global_map_page_says_how_the_map_was_made(node_runs):
    engine = context(get_settings()).engine
    at = _page("views/global_map.py")
    assert not at.exception and at.selectbox[0].value == node_runs[-1]
    weights = q.map_blend_weights(engine, node_runs[-1])
    table = at.dataframe[0].value  # latitude band x member: the mean weight over the leads
    assert list(table.index) == ["low", "mid", "high"] and set(table.columns) == set(weights.member)
    mean = weights[weights.lat_band == "low"].groupby("member").weight.mean()
    assert table.loc["low", "nodes"] == pytest.approx(round(mean["nodes"], 2))
    assert any("Fitted on the 2 map(s) verified" in c.value for c in at.caption)
    scores = q.run_map_scores(engine, node_runs[-1])
    mine = scores[(scores.model == "map:residual") & (scores.region == "global")].iloc[0]
    assert at.metric[0].value == f"{mine.rmse_area:.2f}" and at.metric[2].value == f"{mine.coverage95:.0%}"
    at.selectbox[0].set_value(node_runs[0]).run()  # the first run: nothing verified before it
    assert not at.exception and any("No map verified yet before this run" in c.value for c in at.caption)


def test_the_skill_page_pools_the_map_and_its_members(node_runs):
    at = _page("views/skill.py")
    assert not at.exception
    maps = at.dataframe[-1].value.reset_index()
    assert {"map:residual", "map:nodes", "map:corrected", "map:median27", "map:persistence"} <= set(maps["map"])
    mine = maps[(maps["map"] == "map:residual") & (maps["region"] == "global")].iloc[0]
    assert mine["days verified"] == 3 and 0 < mine["68 % band holds"] < mine["95 % band holds"] <= 1
    assert {"away_from_stations", "lat_band:low"} <= set(maps["region"])
