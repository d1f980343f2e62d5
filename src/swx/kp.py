"""Kp (and F10.7) for the rest of swx: fetched from GFZ, or the archived/bundled history.

`load_indices` is what the pipeline calls: the archive's tables merged over the bundled history, so
a fresh offline machine still has real indices for 2005-2025.
"""

from __future__ import annotations

from swx.archive import Archive
from swx.indices.gfz import parse_gfz_text
from swx.indices.history import load_history
from swx.indices.tables import IndexTables, merge_tables
from swx.io.filecache import FileCache
from swx.net import Downloader

__all__ = ["fetch_gfz", "load_indices"]

def fetch_gfz(downloader: Downloader, url: str, nowcast_url: str | None = None) -> IndexTables:
    """Download and parse GFZ's definitive file and, when given, the nowcast file (merged)."""
    tables = parse_gfz_text(downloader.get(url), url)
    if nowcast_url:
        tables = merge_tables(tables, parse_gfz_text(downloader.get(nowcast_url), nowcast_url))
    return tables


def load_indices(archive: Archive | None = None) -> IndexTables:
    """Bundled history, overlaid by whatever the archive holds (its better or newer rows win).

    Every stage of a daily run asks for them: the merged tables are kept while the archive's index files
    are unchanged (swx.io.filecache), so treat them as read-only."""
    history = load_history()
    if archive is None:
        return history
    return _MERGED.get([archive.kp_path, archive.daily_path], lambda: merge_tables(history, archive.load_indices()),
                       str(archive.root.resolve()))


_MERGED: FileCache[IndexTables] = FileCache(size=4)


