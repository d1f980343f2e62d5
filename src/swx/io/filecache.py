"""Values derived from files, kept while the files are unchanged: the daily stages re-read the same
archive days (station values, maps) and index tables every day, a backfill the days of its lead-in.

A key holds each file's identity (path, inode, size, modification time). swx replaces a file
atomically (a new inode), so a changed file is a new key, never a stale hit. Values are shared between
callers: treat them as read-only."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


def file_identity(path: Path) -> tuple[str, int, int, int] | None:
    """(path, inode, size, mtime) of a file; None when it does not exist."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


class FileCache(Generic[T]):
    """A least-recently-used cache of values computed from files, keyed by the files' identity and an
    extra key (e.g. the stations a day's values were extracted at); thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, paths: Iterable[Path], load: Callable[[], T], extra: Hashable = ()) -> T:
        key = (*(file_identity(p) for p in paths), extra)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = load()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
