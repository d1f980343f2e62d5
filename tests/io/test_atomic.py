"""Atomic writes: the target appears whole with an ordinary file's mode; killed writers' leftovers go."""

from __future__ import annotations

import os
import time

import pytest

from swx.io.atomic import STALE_PART_AGE_S, atomic_path, atomic_write_text, remove_stale_parts


def test_a_written_file_has_the_mode_the_umask_gives(tmp_path):
    """Issue 18: files were created 0600 (mkstemp's mode): a dashboard or worker running as another user
    could not read the archive, the products or the models."""
    old = os.umask(0o027)
    try:
        from swx.io import atomic

        atomic._umask.cache_clear()
        path = atomic_write_text(tmp_path / "a" / "day.nc", "x")
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
        atomic._umask.cache_clear()
    assert atomic_write_text(tmp_path / "b.txt", "y").stat().st_mode & 0o777 == 0o666 & ~old


def test_a_failed_write_leaves_nothing_and_stale_parts_are_swept(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.nc") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    stale = tmp_path / "gim" / "2015" / ".sim_20150317.nc.k3x9.part"  # what a SIGKILL leaves
    fresh = tmp_path / "gim" / "2015" / ".sim_20150318.nc.a1b2.part"  # a writer at work now
    stale.parent.mkdir(parents=True)
    stale.write_text("half")
    fresh.write_text("half")
    old = time.time() - STALE_PART_AGE_S - 60
    os.utime(stale, (old, old))
    keep = tmp_path / "gim" / "2015" / "sim_20150317.nc"
    keep.write_text("whole")
    assert remove_stale_parts(tmp_path) == 1
    assert not stale.exists() and fresh.exists() and keep.exists()
    assert remove_stale_parts(tmp_path / "absent") == 0


def test_a_write_removes_what_a_killed_write_of_the_same_file_left(tmp_path):
    """A writer killed mid-write leaves its hidden part file; the rerun's write of the same file
    removes it at once (its writer, a process of this host, is gone), never a live writer's nor
    another host's (a container on the same volume), which only their age retires."""
    import os
    import subprocess
    import sys

    from swx.io.atomic import _HOST, atomic_write_bytes, remove_stale_parts

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(gone.stdout)
    target = tmp_path / "swx_forecast_20150328_residual.nc"
    killed = tmp_path / f".{target.name}.{_HOST}-{dead_pid}.k1ll3d.part"
    live = tmp_path / f".{target.name}.{_HOST}-{os.getpid()}.l1ve.part"
    other_host = tmp_path / f".{target.name}.another-host-{dead_pid}.0th3r.part"
    for p in (killed, live, other_host):
        p.write_bytes(b"half a product")
    atomic_write_bytes(target, b"the product")
    assert target.read_bytes() == b"the product"
    assert not killed.exists() and live.exists() and other_host.exists()
    # the sweep: a gone writer's at any age; the others once stale
    killed.write_bytes(b"half")
    assert remove_stale_parts(tmp_path) == 1 and not killed.exists() and live.exists()
    assert remove_stale_parts(tmp_path, max_age_s=0) == 2


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_write_never_replaces_a_device_a_pipe_or_a_folder(tmp_path, kind):
    """A fresh round: `swx forecast --plot /dev/full` replaced the device with a PNG; a pipe as --out
    became a regular file."""
    import os

    from swx.errors import InputError
    from swx.io.atomic import atomic_write_text

    target = tmp_path / "out.png"
    os.mkfifo(target) if kind == "fifo" else target.mkdir()
    with pytest.raises(InputError, match="out.png is (not a regular file|a folder): expected the path of a file"):
        atomic_write_text(target, "x")
    assert (target.is_fifo() if kind == "fifo" else target.is_dir()) and not list(tmp_path.glob(".*.part"))


def test_a_folder_that_is_a_dangling_link_or_a_file_is_named(tmp_path):
    """A fifth round: `products` a link to an unmounted volume made every write fail with mkdir's bare
    "File exists"."""
    from swx.errors import InputError
    from swx.io.atomic import atomic_path

    (tmp_path / "products").symlink_to(tmp_path / "not-mounted")
    with pytest.raises(InputError, match=r"products is a link to .*not-mounted, which does not exist: expected a folder"):
        with atomic_path(tmp_path / "products" / "2015" / "a.nc") as p:
            p.write_text("x")
    (tmp_path / "models").write_text("a file")
    with pytest.raises(InputError, match=r"models is a file: expected a folder"):
        with atomic_path(tmp_path / "models" / "a.pt") as p:
            p.write_text("x")
    assert not (tmp_path / "not-mounted").exists()


def test_a_lock_held_by_another_is_waited_for_saying_so(tmp_path, caplog):
    """A tenth round: a second `swx update` waited on a stopped first one without a word."""
    import fcntl
    import logging
    import threading
    import time

    from swx.io.atomic import exclusive_lock

    lock = tmp_path / "models" / ".update.lock"
    lock.parent.mkdir()
    entered = threading.Event()
    with open(lock, "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)  # another process's update

        def second() -> None:
            with exclusive_lock(lock):
                entered.set()

        with caplog.at_level(logging.WARNING, logger="swx.io.atomic"):
            t = threading.Thread(target=second)
            t.start()
            time.sleep(0.3)
            assert not entered.is_set()  # it waits ...
            fcntl.flock(other, fcntl.LOCK_UN)
            t.join(timeout=10)
    assert entered.is_set() and f"waiting for another swx process holding {lock} to finish" in caplog.text
