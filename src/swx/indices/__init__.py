"""Geomagnetic and solar indices (Kp, ap, Ap, F10.7, sunspot number): one module per source format.

Every parser returns an :class:`IndexTables`: a 3-hourly Kp/ap table and a daily Ap/SN/F10.7 table,
both indexed by timezone-aware UTC timestamps (start of the interval), each row carrying its
status (definitive / observed / preliminary / predicted) and source.
"""

from swx.indices.tables import STATUS_ORDER, IndexTables, merge_tables

__all__ = ["IndexTables", "STATUS_ORDER", "merge_tables"]
