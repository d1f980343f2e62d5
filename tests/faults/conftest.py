"""The fault suite's site: a data folder and database holding what an operational day starts from (a
simulated archive of 2-hourly maps, 10 Feb - 18 Mar 2015, CNNs trained to 10 March), made once per
database kind and copied into each test, and `swx` run as operators run it: a separate process, which
a test can kill, starve of disk or cut from its database."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from swx.archive import Archive, load_indices
from swx.config import get_settings
from swx.io.gim_names import short_name
from swx.sources.simulated import simulated_source
from swx.store import orm as m
from swx.store.db import make_engine
from tests.helpers import cnn_trained_to_10_march, fresh_postgres_database

PG_URL = os.environ.get("SWX_TEST_DATABASE_URL")
SWX = Path(sys.executable).with_name("swx")  # the console script of this environment
#: Columns that differ between two correct runs of the same work (surrogate keys, wall-clock stamps).
VOLATILE = {"id", "run_id", "model_version_id", "created_at", "finished_at", "ingested_at", "flow_run_id"}
#: Checksums of published files (their bytes hold when they were written): compared as "still matches
#: the file", per table {checksum column: path column}.
PUBLISHED_CHECKSUMS = {"global_forecasts": {"product_sha256": "product_path", "ionex_sha256": "ionex_path"}}


@dataclass
class Site:
    """One test's copy of the site: its data folder and database, and the environment `swx` runs in."""

    data_dir: Path
    database_url: str
    env: dict[str, str]

    def swx(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """`swx ARGS` in its own process: (exit code, stdout, stderr)."""
        return subprocess.run([str(SWX), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=self.data_dir.parent)

    def start(self, *args: str) -> subprocess.Popen:
        """`swx ARGS` started in its own process group (so a test can SIGKILL all of it), its output
        (stdout and stderr) going to `self.output` (a file: a pipe nobody reads could fill and stall it)."""
        with self.output.open("w") as log:
            return subprocess.Popen([str(SWX), *args], env=self.env, cwd=self.data_dir.parent,
                                    start_new_session=True, stdout=log, stderr=subprocess.STDOUT)

    def scalars(self, stmt) -> list:
        """The first column of `stmt`'s rows, read on a connection of its own."""
        engine = make_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(stmt).scalars())
        finally:
            engine.dispose()

    def run_statuses(self) -> list[str]:
        return self.scalars(select(m.ForecastRun.status))

    def recorded_gim_days(self) -> set[dt.date]:
        return set(self.scalars(select(m.InputFile.day).where(m.InputFile.kind == "GIM")))

    def use_mirror(self, template: str) -> None:
        """Ingest the simulated centre's maps from the HTTP mirror `template` (see `serve_days`)."""
        self.env |= {"SWX_GIM_SOURCE": "remote", "SWX_GIM_CENTRE": "sim", "SWX_HTTP_RETRIES": "0",
                     "SWX_GIM_MIRRORS": f'{{"sim": ["{template}"]}}'}

    @property
    def output(self) -> Path:
        """Where the output of the latest `start` goes."""
        return self.data_dir.parent / "swx-output.txt"

    def _matches(self, recorded: str, digest: str | None) -> bool | None:
        """Whether a published file still has the checksum recorded for it (None: none recorded)."""
        from swx.archive import sha256_file
        from swx.config import data_path

        return None if digest is None else sha256_file(data_path(recorded, self.data_dir)) == digest

    def snapshot(self) -> dict[str, pd.DataFrame | dict[str, str]]:
        """Every table's rows (volatile columns dropped, sorted) and the checksum record of every file
        under the data folder: two runs that did the same work have equal snapshots."""
        engine = make_engine(self.database_url)
        out: dict[str, pd.DataFrame | dict[str, str]] = {}
        try:
            with engine.connect() as conn:
                for table in m.Base.metadata.sorted_tables:
                    cols = [c for c in table.c if c.name not in VOLATILE] or [func.count().label("rows")]
                    df = pd.DataFrame(conn.execute(select(*cols).select_from(table)).all(),
                                      columns=[c.name for c in cols])
                    df = df.map(lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v)
                    for col, path in PUBLISHED_CHECKSUMS.get(table.name, {}).items():  # bytes hold when written:
                        df[col] = [self._matches(f, digest) for f, digest in zip(df[path], df[col], strict=True)]
                    out[table.name] = df.sort_values(list(df.columns)).reset_index(drop=True) if len(df) else df
        finally:
            engine.dispose()
        out["files"] = {p.relative_to(self.data_dir).as_posix(): _digest(p)
                        for p in sorted(self.data_dir.rglob("*")) if p.is_file() and _kept(p, self.data_dir)}
        return out


def serve_days(http_server, days: list[dt.date], delay_s: float) -> str:
    """The simulated maps of `days` as IONEX files over HTTP, each answer `delay_s` late: a mirror
    template for SWX_GIM_MIRRORS."""
    settings = get_settings()
    src = simulated_source(settings, load_indices(Archive(settings.archive_dir)))
    for d in days:
        http_server.add(f"/{d:%Y}/{short_name('sim', d)}", body=gzip.compress(src.simulator.ionex(d).encode(), mtime=0),
                        delay_s=delay_s)  # gzip bytes under the .Z name: the magic bytes decide
    return http_server.base + "/{yyyy}/{name}"


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    """The error line of a failed command: no traceback, no SQL, and the `words` in it."""
    assert result.returncode != 0
    text_out = result.stdout + result.stderr
    assert "Traceback" not in text_out and "[SQL:" not in text_out and "INSERT INTO" not in text_out
    [line] = [ln for ln in text_out.splitlines() if ln.startswith("error:")]
    for w in words:
        assert w in line, line
    return line


def _kept(path: Path, root: Path) -> bool:
    """Files a snapshot compares: the archive, the products, the models (not the SQLite file, compared
    through its rows, nor caches, logs or the temporary part files of killed writers, which the ingest
    stage sweeps)."""
    top = path.relative_to(root).parts[0]
    return top in {"archive", "products", "models"} and not path.name.endswith(".part")


#: netCDF attributes that say when a file was written, not what it holds.
WRITTEN_AT = {"history", "swx_archived_at", "date_created"}


def _digest(path: Path) -> str:
    """What a file says, not when it was written: sha256 of the bytes, but of a netCDF's values and
    attributes less WRITTEN_AT, of an IONEX product less its header's DATE, and for a checksum record
    whether it matches its file."""
    import hashlib

    import xarray as xr

    if path.suffix == ".sha256":
        recorded = path.read_text().split()[:1]
        target = path.with_name(path.name.removesuffix(".sha256"))
        return "matches" if target.is_file() and recorded == [_sha256(target.read_bytes())] else "differs"
    if path.suffix == ".nc":
        h = hashlib.sha256()
        with xr.open_dataset(path) as ds:
            h.update(repr(sorted((k, str(v)) for k, v in ds.attrs.items() if k not in WRITTEN_AT)).encode())
            for name in sorted(ds.variables):
                h.update(name.encode() + ds[name].values.tobytes())
        return h.hexdigest()
    if path.suffix == ".INX" and "products" in path.parts:  # its header's DATE record says when it was written
        lines = path.read_text().splitlines()
        return _sha256("\n".join(s for s in lines if "PGM / RUN BY / DATE" not in s).encode())
    return _sha256(path.read_bytes())


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def assert_same(a: dict, b: dict, tables: tuple[str, ...] | None = None) -> None:
    """Equal snapshots: every table (or those named) and the same files with the same bytes."""
    for name in tables or [k for k in a if k != "files"]:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, rtol=1e-6, atol=1e-6, obj=name)
    assert a["files"] == b["files"]


def _build(data_dir: Path, database_url: str | None) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("SWX_") and k not in ("SWX_SHARED_DATA", "SWX_CACHE_DIR")]:
            mp.delenv(key)
        mp.setenv("SWX_DATA_DIR", str(data_dir))
        mp.setenv("SWX_MAP_MODEL", "stations")  # days of maps, not the months the node models need
        if database_url:
            mp.setenv("SWX_DATABASE_URL", database_url)
        ctx = cnn_trained_to_10_march(mp)
        ctx.engine.dispose()
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def site_templates(tmp_path_factory, migrated_sqlite) -> Iterator[dict[str, tuple[Path, str | None]]]:
    """Made on first use per database kind: kind -> (data folder, PostgreSQL template database or None)."""
    made: dict[str, tuple[Path, str | None]] = {}
    databases: list[str] = []

    class Lazy(dict):
        def __missing__(self, kind: str):
            folder = tmp_path_factory.mktemp(f"site-{kind}") / "data"
            folder.mkdir()
            if kind == "sqlite":
                shutil.copyfile(migrated_sqlite, folder / "swx.sqlite")
                _build(folder, None)
                self[kind] = (folder, None)
            else:
                name = f"swx_faults_template_{uuid.uuid4().hex[:8]}"
                with pytest.MonkeyPatch.context() as mp, fresh_postgres_database(mp, "swx_faults_build") as built:
                    url = get_settings().database_url
                    _build(folder, url)
                    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
                    with admin.connect() as c:  # kept as a template after its builder is dropped
                        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{built}"'))
                    admin.dispose()
                databases.append(name)
                self[kind] = (folder, name)
            return self[kind]

    made = Lazy()
    yield made
    if databases:
        admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in databases:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def new_site(site_templates, tmp_path) -> Iterator[Callable[[str], Site]]:
    """kind ("sqlite" or "postgresql") -> a new copy of the site (PostgreSQL skipped when none)."""
    with contextlib.ExitStack() as stack:
        def make(kind: str) -> Site:
            if kind == "postgresql" and not PG_URL:
                pytest.skip("PostgreSQL not available: set SWX_TEST_DATABASE_URL")
            return stack.enter_context(contextlib.contextmanager(_copy_of)(kind, site_templates, tmp_path))

        yield make


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request, new_site) -> Site:
    """A copy of the site on SQLite or on a fresh PostgreSQL database (skipped when none)."""
    return new_site(request.param)


def _copy_of(kind: str, templates, tmp_path: Path) -> Iterator[Site]:
    folder, template = templates[kind]
    data = Path(tempfile.mkdtemp(prefix="site-", dir=tmp_path)) / "data"
    shutil.copytree(folder, data, ignore=shutil.ignore_patterns("swx.sqlite*"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWX_") or k in ("SWX_SHARED_DATA", "SWX_CACHE_DIR")}
    env |= {"SWX_DATA_DIR": str(data), "SWX_SIM_CADENCE_MIN": "120", "COLUMNS": "200", "NO_COLOR": "1",
            "SWX_MAP_MODEL": "stations"}
    if template is None:
        with sqlite3.connect(folder / "swx.sqlite") as src, sqlite3.connect(data / "swx.sqlite") as dst:
            src.backup(dst)  # a consistent copy of a WAL database
        yield Site(data, f"sqlite:///{data / 'swx.sqlite'}", env)
        return
    name = f"swx_faults_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    env["SWX_DATABASE_URL"] = url
    try:
        yield Site(data, url, env)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


ISSUE_DAY = dt.date(2015, 3, 14)
