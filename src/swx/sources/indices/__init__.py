"""Geomagnetic and solar indices (Kp, ap, Ap, F10.7, sunspot number): one module per source format.

Every parser returns an :class:`IndexTables`: a 3-hourly Kp/ap table and a daily Ap/SN/F10.7 table,
both indexed by timezone-aware UTC timestamps (start of the interval), each row carrying its
status (definitive / observed / preliminary / predicted) and source.
"""

from __future__ import annotations

from pathlib import Path

from swx.errors import IndexFormatError
from swx.io.compression import check_regular_file
from swx.sources.indices.celestrak import read_sw
from swx.sources.indices.gfz import read_gfz_text
from swx.sources.indices.tables import STATUS_ORDER, IndexTables, merge_tables

__all__ = ["IndexTables", "STATUS_ORDER", "merge_tables", "read_index_file"]


def read_index_file(path: Path) -> IndexTables:
    """A GFZ Kp file or a CelesTrak SW file, told apart by their first line."""
    check_regular_file(path, IndexFormatError)
    head = Path(path).read_bytes()[:200]
    return read_sw(path) if head.startswith(b"DATATYPE") or b"BEGIN OBSERVED" in head else read_gfz_text(path)
