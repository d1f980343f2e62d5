"""Geomagnetic and solar indices (Kp, ap, Ap, F10.7, sunspot number): one module per source format.

Every parser returns an :class:`IndexTables`: a 3-hourly Kp/ap table and a daily Ap/SN/F10.7 table,
both indexed by timezone-aware UTC timestamps (start of the interval), each row carrying its
status (definitive / observed / preliminary / predicted) and source.
"""

from __future__ import annotations

from pathlib import Path

from swx.errors import IndexFormatError
from swx.io.compression import read_bytes
from swx.sources.indices.celestrak import parse_sw
from swx.sources.indices.gfz import parse_gfz_text
from swx.sources.indices.tables import STATUS_ORDER, IndexTables, merge_tables

__all__ = ["IndexTables", "STATUS_ORDER", "merge_tables", "read_index_file"]


def read_index_file(path: Path) -> IndexTables:
    """A GFZ Kp file or a CelesTrak SW file (either may be gzip, compress or zip compressed), told apart
    by their first line."""
    data = read_bytes(path, IndexFormatError)
    head = data[:200]
    if head.startswith(b"DATATYPE") or b"BEGIN OBSERVED" in head:
        return parse_sw(data, str(path))
    return parse_gfz_text(data, str(path))
