"""A database seeded once per test session by the real daily stages (tests.helpers.seed_dashboard_database),
on SQLite and on a fresh PostgreSQL database; each test then points its settings at it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st

from swx.config import get_settings
from tests.helpers import seed_dashboard_database

KEEP = {"SWX_SHARED_DATA", "SWX_TEST_DATABASE_URL"}


@pytest.fixture(autouse=True)
def fresh_caches():
    """Each test has its own database: no query result or engine cached by an earlier one."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def _env(data_dir: Path, cache_dir: Path, database_url: str | None) -> dict[str, str]:
    # the seed's map: the seeded archive holds five weeks of maps, not the months the node models need
    # (test_node_map.py seeds a node map of its own)
    env = {"SWX_DATA_DIR": str(data_dir), "SWX_CACHE_DIR": str(cache_dir), "SWX_SIM_CADENCE_MIN": "120",
           "SWX_MAP_MODEL": "stations"}
    if database_url:
        env["SWX_DATABASE_URL"] = database_url
    return env


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seeded_env(request, tmp_path_factory, cache_dir):
    """(environment of the seeded database, seeding info)."""
    root = tmp_path_factory.mktemp("dashboard")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("SWX_") and key not in KEEP:
                mp.delenv(key)
        url = None
        if request.param == "postgresql":
            from tests.helpers import fresh_postgres_database

            cm = fresh_postgres_database(mp, "swx_dash")
            cm.__enter__()
            request.addfinalizer(lambda: cm.__exit__(None, None, None))
            url = os.environ["SWX_DATABASE_URL"]
        env = _env(root / "data", cache_dir, url)
        for k, v in env.items():
            mp.setenv(k, v)
        get_settings.cache_clear()
        info = seed_dashboard_database(get_settings())
        if url:  # the dashboard reads as operations run it: a read-only role
            env["SWX_DATABASE_URL"] = _read_only_url(request, url)
    get_settings.cache_clear()
    return env, info


def _read_only_url(request, url: str) -> str:
    """A new login role with read access only (swx.store.db.grant_read_only) on the seeded database; its URL.
    Dropped at the end of the session."""
    import uuid

    from sqlalchemy import text

    from swx.store.db import grant_read_only, make_engine

    role = f"swx_ro_{uuid.uuid4().hex[:8]}"
    owner = make_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as c:
        c.execute(text(f'CREATE ROLE "{role}" LOGIN'))
    grant_read_only(owner, role)
    owner.dispose()

    def drop() -> None:  # its grants first (in the seeded database), then the role
        for target, sql in ((url, f'DROP OWNED BY "{role}"'), (url.rsplit("/", 1)[0] + "/postgres",
                                                                 f'DROP ROLE IF EXISTS "{role}"')):
            e = make_engine(target, isolation_level="AUTOCOMMIT")
            with e.connect() as c:
                c.execute(text(sql))
            e.dispose()

    request.addfinalizer(drop)
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


@pytest.fixture
def seeded(seeded_env, monkeypatch):
    """The test's settings point at the seeded database; returns (settings, seeding info)."""
    env, info = seeded_env
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    return get_settings(), info
