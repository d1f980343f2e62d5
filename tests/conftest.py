"""Shared fixtures: real data from ../shared (skipped with a message when absent), an isolated
environment per test, small GIMs made by swx's own writer, and a local misbehaving HTTP server."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# Prefect keeps its state in a throw-away home for the test session, never in ~/.prefect or var/,
# and never phones home (no network here).
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="swx-prefect-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
# With the suite spread over the cores (`make test`: pytest-xdist), one thread per worker for torch and
# the BLAS (and for the subprocesses the tests start): two workers of two threads each on two cores
# slow each other down. Set before torch or numpy is imported.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_threads, "1")

import pytest  # noqa: E402

from swx.config import get_settings  # noqa: E402
from tests.helpers import FixtureServer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path | None:
    env = os.environ.get("SWX_SHARED_DATA")
    p = Path(env) if env else REPO.parent / "shared" / "data"
    return p if p.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    p = shared_data_dir()
    if p is None:
        pytest.skip("real data not available: set SWX_SHARED_DATA or put shared/ beside the repository "
                    "(../shared/data); these tests read the real IONEX and index files in place")
    return p


@pytest.fixture(scope="session")
def ionex_dir(shared_data: Path) -> Path:
    return shared_data / "ionex"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session: the NeQuick-G tables are computed once (a few seconds)."""
    return tmp_path_factory.mktemp("swx-cache")


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest schema, made once (`swx db upgrade`) and copied into each
    test's data folder: opening a database never migrates it (swx.store.db.open_database)."""
    from swx.store.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("schema") / "swx.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cache_dir: Path, migrated_sqlite: Path):
    """No developer .env or SWX_* variable leaks into a test; data goes to a temp folder, with an empty
    database at the newest schema (as after `swx db upgrade`)."""
    keep = {"SWX_SHARED_DATA", "SWX_TEST_DATABASE_URL"}
    for key in list(os.environ):
        if key.startswith("SWX_") and key not in keep:
            monkeypatch.delenv(key)
    # beside the test's own folder (tests list tmp_path and expect only what they wrote there)
    data = tmp_path.with_name(tmp_path.name + "-swx-data")
    data.mkdir()
    monkeypatch.setenv("SWX_DATA_DIR", str(data))
    shutil.copyfile(migrated_sqlite, data / "swx.sqlite")
    monkeypatch.setenv("SWX_CACHE_DIR", str(cache_dir))
    # the seed's map (stations extended over the baselines' map) unless a test asks for the node map:
    # most fixtures hold days of maps, not the two months the node models are trained on
    monkeypatch.setenv("SWX_MAP_MODEL", "stations")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def http_server():
    server = FixtureServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, monkeypatch):
    """The test's settings point at SQLite (the default, under its SWX_DATA_DIR) or at a fresh PostgreSQL
    database on SWX_TEST_DATABASE_URL's server (skipped when none)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    from tests.helpers import fresh_postgres_database

    with fresh_postgres_database(monkeypatch, "swx_test"):
        yield "postgresql"
