"""The dashboard pages under `streamlit.testing.v1.AppTest`, against a database seeded by the real daily
stages on a simulated archive: no exceptions, and the numbers shown are the database's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from swx import daily, jobs
from swx import operations as ops
from swx.config import get_settings
from swx.ingest import daterange
from swx.store import queries as q

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PAGES = ["views/now.py", "views/stations.py", "views/global_map.py", "views/skill.py", "views/storms.py",
         "views/runs.py"]


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test has its own database: no query result or engine cached by an earlier one."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


def test_empty_database_shows_the_run_command_not_a_traceback():
    for page in [None, *PAGES]:
        at = _app(page)
        assert not at.exception, page
        assert any("make run" in i.value for i in at.info), page


@pytest.fixture
def seeded(monkeypatch):
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    settings = get_settings()
    ops.ingest_stage(settings, daterange(dt.date(2015, 2, 10), dt.date(2015, 3, 17)))  # files recorded in the DB
    ops.ingest_indices_stage(settings)  # Kp and F10.7 into the database, as the daily flow does
    ctx = jobs.context(settings)
    jobs.train(ctx, ["cnn"], train_end=dt.date(2015, 3, 10), epochs=3)
    daily.forecast(ctx, dt.date(2015, 3, 16))
    r = daily.forecast(ctx, dt.date(2015, 3, 17))
    daily.verify_maps(ctx, dt.date(2015, 3, 17))
    daily.storms(ctx, dt.date(2015, 3, 1), dt.date(2015, 3, 18))
    return ctx, r


def test_pages_show_the_database(seeded):
    ctx, r = seeded
    engine = ctx.engine
    at = _app()
    assert not at.exception
    assert any("forecast for **2015-03-18**" in s.value and "ok" in s.value for s in at.success), [s.value for s in at.success]
    kp_metric = next(m for m in at.metric if m.label == "Latest Kp")
    last = q.kp_series(engine, dt.datetime(2015, 3, 15, tzinfo=dt.UTC), dt.datetime(2015, 3, 19, tzinfo=dt.UTC))
    assert kp_metric.value == f"{last.dropna(subset=['kp']).kp.iloc[-1]:.2f}"
    assert "SIMULATED" in at.caption[0].value

    at = _app("views/stations.py")
    assert not at.exception and at.selectbox[0].value == q.stations(engine).code.iloc[0]
    assert len(at.selectbox[0].options) == 18

    at = _app("views/global_map.py")
    assert not at.exception and len(at.get("image")) == 1
    assert at.selectbox[0].value == r.run_id and at.selectbox[1].value == "residual"
    assert "not in yet" in at.caption[0].value  # the latest run is for 18 March: no GIM yet
    first = q.runs(engine).id.min()
    at.selectbox[0].set_value(int(first)).run()  # the run for 17 March: its GIM is in
    assert not at.exception and "Verifying GIM in" in at.caption[0].value
    prods = q.global_products(engine, int(first))
    rmse = prods[prods.method == "residual"].global_rmse.mean()
    assert at.metric[0].value == f"{rmse:.2f}"

    at = _app("views/skill.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert ("E000N50", "cnn") in table.index and "persistence" in {m for _, m in table.index}

    at = _app("views/storms.py")
    assert not at.exception
    df = at.dataframe[0].value
    assert df.g_class.max() == 4 and len(df) == len(q.storms(engine))

    at = _app("views/runs.py")
    assert not at.exception
    assert len(at.dataframe[0].value) == 2 and set(at.dataframe[0].value.status) == {"ok"}
