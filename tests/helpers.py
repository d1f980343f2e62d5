"""Test helpers: small GIMs written by swx's own writer, and a local HTTP server that misbehaves."""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import xarray as xr

from swx.io.ionex import format_ionex


def make_gim(day: dt.date = dt.date(2020, 1, 8), hours: int = 2, seed: int = 0, *,
             lat_step: float = -2.5, lon_step: float = 5.0, with_rms: bool = True) -> xr.Dataset:
    """A day of GIM-like maps (diurnal bump following the Sun) on the IONEX grid, 0.1 TECU precision."""
    n = 24 // hours + 1
    times = np.datetime64(day, "ns") + np.arange(n) * np.timedelta64(hours, "h")
    lat = np.round(np.arange(87.5, -87.5 + lat_step / 2, lat_step), 1)
    lon = np.round(np.arange(-180.0, 180.0 + lon_step / 2, lon_step), 1)
    rng = np.random.default_rng(seed)
    ut = np.arange(n) * hours
    lt = (ut[:, None, None] + lon[None, None, :] / 15.0) % 24
    tec = 5 + 25 * np.cos(np.radians(lat))[None, :, None] ** 2 * np.clip(np.cos((lt - 14) / 24 * 2 * np.pi), 0, None)
    tec = tec + rng.normal(0, 0.5, tec.shape)
    tec = np.round(np.clip(tec, 0, None), 1).astype(np.float32)
    data = {"tec": (("time", "lat", "lon"), tec)}
    if with_rms:
        data["rms"] = (("time", "lat", "lon"), np.round(0.1 * tec + 0.5, 1).astype(np.float32))
    return xr.Dataset(data, coords={"time": times, "lat": lat, "lon": lon},
                      attrs={"centre": "tst", "description": "test maps made by swx's writer"})


def gim_text(day: dt.date = dt.date(2020, 1, 8), **kwargs) -> str:
    created = dt.datetime(2020, 1, 9, tzinfo=dt.UTC)
    return format_ionex(make_gim(day, **kwargs), created=created)


def gim_bytes_gz(day: dt.date = dt.date(2020, 1, 8), **kwargs) -> bytes:
    return gzip.compress(gim_text(day, **kwargs).encode(), mtime=0)


@dataclass
class Route:
    """What the server does for one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    redirect: str | None = None
    claimed_length: int | None = None  # send a Content-Length larger than the body, then close
    fail_first: int = 0  # answer 503 this many times first
    hits: int = 0


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files of a self-signed certificate for 127.0.0.1, valid for a day: an
    https FixtureServer's, and the CA a client trusts to reach it."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = Path(folder) / "server.crt", Path(folder) / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FixtureServer:
    """A real HTTP server on 127.0.0.1 (random port) serving fixtures, and misbehaving on request; https
    with `tls` = (certificate, key) files."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        self.tls = tls
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, **kwargs) -> str:
        self.routes[path] = Route(**kwargs)
        return self.url(path)

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                route.hits += 1
                if route.delay_s:
                    time.sleep(route.delay_s)
                if route.hits <= route.fail_first:
                    self._send(503, b"busy", {"Content-Type": "text/plain"})
                    return
                if route.redirect:
                    self._send(302, b"", {"Location": route.redirect})
                    return
                if route.claimed_length is not None:
                    self.send_response(route.status)
                    self.send_header("Content-Length", str(route.claimed_length))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(route.body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(route.status, route.body, route.headers)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if "Content-Type" not in headers:
                    self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()


def no_sleep() -> Callable[[float], None]:
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)

    sleep.slept = slept  # type: ignore[attr-defined]
    return sleep


@contextlib.contextmanager
def fresh_postgres_database(monkeypatch, prefix: str = "swx_test", *, migrate: bool = True):
    """A new PostgreSQL database on the server of SWX_TEST_DATABASE_URL, migrated to the newest schema
    (empty with `migrate=False`), set as SWX_DATABASE_URL for the test and dropped after it (skips when
    no server is configured)."""
    import os
    import uuid

    import pytest
    from sqlalchemy import text

    from swx.config import get_settings
    from swx.store.db import make_engine, upgrade

    url = os.environ.get("SWX_TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL not available: set SWX_TEST_DATABASE_URL")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    monkeypatch.setenv("SWX_DATABASE_URL", url.rsplit("/", 1)[0] + "/" + name)
    get_settings.cache_clear()
    if migrate:  # as a deployment does (`swx db upgrade`) before anything opens it
        fresh = make_engine(url.rsplit("/", 1)[0] + "/" + name)
        upgrade(fresh)
        fresh.dispose()
    try:
        yield name
    finally:
        get_settings.cache_clear()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def simulated_archive(settings, start: dt.date, end: dt.date):
    """The simulated source of `settings` and its days start..end ingested into the archive."""
    from swx.archive import Archive, load_indices
    from swx.pipeline.days import daterange
    from swx.pipeline.ingest import ingest_gims
    from swx.sources.simulated import simulated_source

    archive = Archive(settings.archive_dir)
    src = simulated_source(settings, load_indices(archive))
    ingest_gims(src, archive, [("sim", d) for d in daterange(start, end)])
    return src


def seed_dashboard_database(settings) -> dict:
    """What the dashboard tests look at, made by the real stages on a simulated archive (2-hourly maps,
    10 Feb - 17 Mar 2015, the St Patrick's Day storm): CNNs trained to 10 March, daily runs issued
    13-17 March, maps and stations verified 14-17 March, storm events; the last daily run's tomorrow
    forecast (for 19 March, by a second day's ridge). Returns the run ids (`ahead`: tomorrow's)."""
    from swx.pipeline.context import context
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.days import daterange
    from swx.pipeline.forecast import forecast
    from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage
    from swx.pipeline.storms import storms
    from swx.pipeline.train import train
    from swx.pipeline.verify import verify_stage

    migrate_database_stage(settings)  # as the main job does first
    ingest_gims_stage(settings, daterange(dt.date(2015, 2, 10), dt.date(2015, 3, 17)))  # files recorded in the DB
    ingest_indices_stage(settings)  # Kp and F10.7 into the database, as the daily flow does
    ctx = context(settings)
    train(ctx, ["cnn"], train_end=dt.date(2015, 3, 10), epochs=3)
    runs = [forecast(ctx, d).run_id for d in daterange(dt.date(2015, 3, 13), dt.date(2015, 3, 17))]
    for d in daterange(dt.date(2015, 3, 14), dt.date(2015, 3, 17)):
        verify_stage(settings, d)
    storms(ctx, dt.date(2015, 3, 1), dt.date(2015, 3, 18))
    train(ctx, ["ridge"], train_end=dt.date(2015, 3, 10), lead_day=2)
    ahead = forecast(ctx, dt.date(2015, 3, 17), lead_day=2).run_id
    ctx.engine.dispose()
    return {"runs": runs, "ahead": ahead}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a service a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc, timeout: float = 60, log=None) -> None:
    """Until `url` answers 200, or fail when the process `proc` exits or `timeout` s pass (with the
    text of `log`, a file path, when given)."""
    import time
    import urllib.request
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while True:
        try:
            if urllib.request.urlopen(url, timeout=2).status == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            detail = ("\n" + Path(log).read_text()) if log else ""
            raise RuntimeError(f"{url} never answered (exit {proc.poll()}){detail}")
        time.sleep(0.3)


def run_cli_main(monkeypatch, capsys, argv: list[str]) -> tuple[int, str]:
    """`swx ARGV` through the console entry point (swx.cli.main, which turns SwxError into one line):
    (exit code, stdout + stderr)."""
    import sys

    import pytest

    from swx import cli

    monkeypatch.setattr(sys, "argv", ["swx", *argv])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out + captured.err


def cnn_trained_to_10_march(monkeypatch):
    """The pipeline tests' start: a simulated archive (2-hourly maps, 10 Feb - 18 Mar 2015, the St
    Patrick's Day storm) with CNNs trained to 10 March, in the database of the test's `database`
    fixture. Returns the context."""
    from swx.config import get_settings
    from swx.pipeline.context import context
    from swx.pipeline.train import train

    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    settings = get_settings()
    simulated_archive(settings, dt.date(2015, 2, 10), dt.date(2015, 3, 18))
    ctx = context(settings)
    train(ctx, ["cnn"], train_end=dt.date(2015, 3, 10), epochs=3)
    return ctx


def node_map_site(monkeypatch, start: dt.date, end: dt.date, *, ridge_end: dt.date, node_end: dt.date | None):
    """A site publishing the node map (`SWX_MAP_MODEL=nodes`): simulated 2-hourly maps start..end, the
    ridge member trained to `ridge_end` and, unless `node_end` is None, the node models trained on the
    maps before `node_end`. Returns the context."""
    from swx.config import get_settings
    from swx.pipeline.context import context
    from swx.pipeline.nodes import train_node_model
    from swx.pipeline.train import train

    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    monkeypatch.setenv("SWX_MAP_MODEL", "nodes")
    get_settings.cache_clear()
    settings = get_settings()
    simulated_archive(settings, start, end)
    ctx = context(settings)
    train(ctx, ["ridge"], train_end=ridge_end)
    if node_end is not None:
        got = train_node_model(ctx, node_end)
        assert got["trained"] and got["train_end"] == str(node_end)
    return ctx


#: why the first run of a site is degraded: nothing verified yet for its blend to learn from
NOTHING_VERIFIED = "no forecast has been verified yet"


def assert_ok_after_the_first(runs) -> None:
    """Runs (`queries.runs`: issue_time, lead_day, status, reason) of a fresh site: the first runs of each
    lead day are degraded for the one reason a first run has (its blend has nothing verified to learn
    from: a run of lead day n is verified n days after it was issued, so the first n), every later one "ok"."""
    for lead, group in runs.groupby("lead_day"):
        ordered = group.sort_values("issue_time")
        first, later = ordered.iloc[:int(lead)], ordered.iloc[int(lead):]
        assert (first["status"] == "degraded").all() and (first["reason"] == NOTHING_VERIFIED + (
            ": the blend's weights are equal, not learnt (they are once the first forecasts are verified)")).all(), \
            first[["issue_time", "lead_day", "reason"]].to_string()
        assert set(later["status"]) <= {"ok"}, later[["issue_time", "lead_day", "status", "reason"]].to_string()


def cf_findings(path) -> list[str]:
    """Every finding of the IOOS compliance checker's strict CF-1.8 check of a netCDF file (offline:
    its standard-name table is packaged), as "section: message" lines; [] for a clean file."""
    import json
    import tempfile
    from pathlib import Path

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    CheckSuite.load_all_available_checkers()
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "cf.json"
        ComplianceChecker.run_checker(str(path), ["cf:1.8"], verbose=0, criteria="strict",
                                      output_filename=str(report), output_format="json")
        result = json.loads(report.read_text())["cf:1.8"]
    findings = [f"{check['name']}: {msg}" for level in ("high_priorities", "medium_priorities", "low_priorities")
                for check in result[level] for msg in check["msgs"]]
    if not findings:
        assert result["scored_points"] == result["possible_points"] > 100, result["scored_points"]
    return findings
