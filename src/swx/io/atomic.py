"""Atomic file writes: write a temp file in the target folder, fsync, then rename over the target.

A reader (or a crashed run) never sees a half-written archive file: the target either keeps its old
content or has the new one. The file gets the permissions of an ordinary new file (0666 less the
umask: the dashboard and the workers may run as other users); what a killed writer left behind
(`.name.*.part`) is removed by `remove_stale_parts`.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from swx.config import is_dangling_link
from swx.errors import InputError

log = logging.getLogger(__name__)

#: A temporary file this old is a killed writer's leftover (a write takes seconds), never a live one.
STALE_PART_AGE_S = 3600.0
#: A failed write with less room than this left on its disk failed because the disk is full.
FULL_DISK_BYTES = 8 << 20


@lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (else set and restored once)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: this host, as the temporary files name their writer (`.NAME.HOST-PID.RANDOM.part`)
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
_WRITER = re.compile(r"\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.[^.]+\.part$")


def _abandoned(part: Path) -> bool:
    """A temporary file whose writer, a process of this host, is gone (killed mid-write). Another
    host's (a container sharing the data volume) is never judged here: only by its age."""
    m = _WRITER.search(part.name)
    if m is None or m.group("host") != _HOST:
        return False
    try:
        os.kill(int(m.group("pid")), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def make_folder(folder: str | Path) -> None:
    """`folder` and its parents, made as needed; a part of the path that is a file or a link to nothing
    (a volume not mounted) is an InputError naming it, not mkdir's bare "File exists"."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        for part in (folder, *folder.parents):
            if is_dangling_link(part):
                raise InputError(f"{part} is a link to {os.readlink(part)}, which does not exist: expected a folder "
                                 "(mount or create it, or remove the link)") from None
            if part.exists() and not part.is_dir():
                raise InputError(f"{part} is a file: expected a folder") from None
        raise


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if needed) for the block: a second process taking it
    waits until the first is done (the lock goes with the process, also when it is killed)."""
    import fcntl

    path = Path(path)
    make_folder(path.parent)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # said, not a silent wait (the other one may be stopped or slow)
            log.warning("waiting for another swx process holding %s to finish", path)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is renamed to `target`, else removed. A
    write that succeeds also removes what a killed earlier write of the same file left beside it."""
    target = Path(target)
    if target.is_dir() or (target.exists() and not target.is_file()) or str(target) in ("", "."):
        # never renamed over a folder, a device or a pipe (`--plot /dev/full` replaced the device)
        raise InputError(f"{target} is {'a folder' if target.is_dir() else 'not a regular file'}: expected the path "
                         "of a file to write")
    make_folder(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{_HOST}-{os.getpid()}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        except (OSError, RuntimeError) as exc:  # what a writer meets on a full disk (netCDF/HDF5: RuntimeError)
            if (full := _write_fault(target.parent, exc)) is not None:
                raise full from exc
            raise
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600: give the usual mode of a new file
        os.replace(tmp_path, target)
        for left in target.parent.glob(f".{glob.escape(target.name)}.*.part"):
            with contextlib.suppress(OSError):
                if _abandoned(left):
                    left.unlink()
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()


def free_bytes_if_full(folder: str | Path) -> int | None:
    """The bytes left on the disk holding `folder` when it is (nearly) full, else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return free if free < FULL_DISK_BYTES else None


def file_size_limit() -> int | None:
    """The file-size limit set on this process (`ulimit -f`), in bytes, or None when there is none: a
    write past it fails ("File too large"; SQLite says "disk I/O error")."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _write_fault(folder: Path, exc: OSError | RuntimeError) -> OSError | None:
    """A write that failed on a (nearly) full disk, said so: libraries report it in their own words
    (netCDF/HDF5 say "Permission denied"). None when there is room (another fault)."""
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG and (limit := file_size_limit()) is not None:
        return OSError(errno.EFBIG, f"File too large: this process may write files of at most {limit} bytes "
                                    f"(a file-size limit, `ulimit -f`), writing under {folder}")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return None  # already says so
    if (free := free_bytes_if_full(folder)) is None:
        return None
    return OSError(errno.ENOSPC, f"No space left on device: {folder} has {free} bytes free "
                                 f"({type(exc).__name__}: {exc})")


def atomic_write_bytes(target: str | Path, data: bytes) -> Path:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: str | Path, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def remove_stale_parts(root: str | Path, max_age_s: float = STALE_PART_AGE_S) -> int:
    """Delete the temporary files (`.name.*.part`) that writers killed mid-write left under `root`:
    those of a writer of this host that is gone, and any older than `max_age_s` (a live writer's are
    younger); returns how many."""
    root = Path(root)
    if not root.is_dir():
        return 0
    now, removed = time.time(), 0
    for part in root.rglob(".*.part"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove: leave it
            if part.is_file() and (now - part.stat().st_mtime > max_age_s or _abandoned(part)):
                part.unlink()
                removed += 1
    if removed:
        log.info("removed %d temporary file(s) left by interrupted writes under %s", removed, root)
    return removed
