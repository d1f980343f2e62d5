"""The data folder's disk fills, or turns read-only, under a run: on a small tmpfs mounted for the
test (skipped, with the reason, where the test may not mount one). The day that meets the full disk
fails with its reason and the days before it stay whole; no run is shown as published that did not
finish; once there is room again, a rerun ends with what an undisturbed run leaves."""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from swx.archive import Archive
from swx.config import get_settings
from swx.pipeline.days import daterange
from tests.faults.conftest import ISSUE_DAY, Site, assert_same, one_line_error, serve_days

#: `swx forecast` publishing a site's first run: degraded (nothing verified yet for its blend), exit 3
PUBLISHED_DEGRADED = 3


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 64 MiB tmpfs mounted for the test (before anything else is done: skipped at once, saying why,
    where the test may not mount) and unmounted after it."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "swx-test", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _remount(mountpoint: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(mountpoint)], check=True)


def _moved(site: Site, folder: Path) -> Site:
    """The site with its data folder (and a SQLite database in it) copied into `folder`."""
    shutil.copytree(site.data_dir, folder, dirs_exist_ok=True)
    url = site.database_url
    if url.startswith("sqlite"):
        url = f"sqlite:///{folder / 'swx.sqlite'}"
    env = site.env | {"SWX_DATA_DIR": str(folder)}
    if "SWX_DATABASE_URL" in env:
        env["SWX_DATABASE_URL"] = url
    return Site(folder, url, env)


def _used(folder: Path) -> int:
    return shutil.disk_usage(folder).used


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_ingest_that_fills_the_disk_fails_the_days_that_do_not_fit_and_a_rerun_completes(
        new_site, http_server, small_disk, monkeypatch, kind):
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    days = daterange(dt.date(2015, 3, 19), dt.date(2015, 3, 26))
    template = serve_days(http_server, days, delay_s=0)
    span = ["ingest", "gims", "--start", str(days[0]), "--end", str(days[-1])]
    reference = new_site(kind)
    reference.use_mirror(template)
    assert reference.swx(*span).returncode == 0
    expected = reference.snapshot()
    per_day = (Archive(reference.data_dir / "archive").gim_path("sim", days[0]).stat().st_size)

    original = new_site(kind)
    mnt = small_disk
    site = _moved(original, mnt / "data")
    site.use_mirror(template)
    # room for about three days' maps
    _remount(mnt, f"size={_used(mnt) + 3 * per_day}")
    full = site.swx(*span)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    archived = site.recorded_gim_days()
    assert 1 <= len(archived) < len(days), full.stdout
    failed = [ln for ln in full.stdout.splitlines() if ln.strip().startswith("FAILED")]
    assert failed and all("No space left on device" in ln or "disk is full" in ln for ln in failed), full.stdout
    # what was recorded is whole, and nothing half-written is visible
    archive = Archive(site.data_dir / "archive")
    assert all(archive.has_gim("sim", d) for d in archived)
    assert set(archive.gim_days("sim")) & set(days) == archived
    assert all(p.name.startswith(".") for p in site.data_dir.rglob("*.part"))

    _remount(mnt, "size=64m")  # room again
    rerun = site.swx(*span)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_same(site.snapshot(), expected)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_forecast_on_a_full_disk_fails_in_one_line_and_a_rerun_publishes(new_site, small_disk, kind):
    reference = new_site(kind)
    assert reference.swx("forecast", "--day", str(ISSUE_DAY)).returncode == PUBLISHED_DEGRADED
    expected = reference.snapshot()

    original = new_site(kind)
    mnt = small_disk
    site = _moved(original, mnt / "data")
    filler = mnt / "filler"
    with open(filler, "wb") as f, contextlib.suppress(OSError):  # the disk full to the last byte
        while True:
            f.write(b"\0" * (1 << 16))
            f.flush()
    full = site.swx("forecast", "--day", str(ISSUE_DAY))
    line = one_line_error(full)
    assert "No space left on device" in line or "disk is full" in line, line
    assert str(site.data_dir) in line
    assert not [p for p in (site.data_dir / "products").rglob("*") if p.is_file() and not p.name.startswith(".")]

    filler.unlink()
    assert site.run_statuses() in ([], ["failed"], ["running"])  # never shown as published
    rerun = site.swx("forecast", "--day", str(ISSUE_DAY))
    assert rerun.returncode == PUBLISHED_DEGRADED, rerun.stdout + rerun.stderr
    assert site.run_statuses() == ["degraded"]
    assert_same(site.snapshot(), expected)


def test_a_read_only_data_folder_refuses_the_forecast_in_one_line_and_still_answers_status(new_site, small_disk):
    original = new_site("sqlite")
    mnt = small_disk
    site = _moved(original, mnt / "data")
    assert site.swx("forecast", "--day", str(ISSUE_DAY)).returncode == PUBLISHED_DEGRADED
    before = site.snapshot()
    _remount(mnt, "ro")
    try:
        refused = site.swx("forecast", "--day", str(ISSUE_DAY + dt.timedelta(days=1)))
        one_line_error(refused, "readonly database", f"its folder {site.data_dir} is on a read-only file system")
        status = site.swx("status", "--max-age-h", "1e9")
        assert status.returncode == PUBLISHED_DEGRADED, status.stdout + status.stderr  # the site's first run
        assert "forecast for 2015-03-15" in status.stdout
        assert_same(site.snapshot(), before)
    finally:
        _remount(mnt, "rw")
