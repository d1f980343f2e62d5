"""Bring what the ingest put in the archive into the results database: input files (with their
checksums and source kind) and the Kp/F10.7 tables. Idempotent: a rerun changes nothing."""

from __future__ import annotations

import xarray as xr
from sqlalchemy import Engine

from swx.archive import Archive
from swx.indices.tables import IndexTables
from swx.ingest import IngestSummary
from swx.store.writes import record_input_files, upsert_indices


def record_gim_days(engine: Engine, archive: Archive, summary: IngestSummary) -> int:
    """Register every archived day of `summary` (fetched now or before) as an input file."""
    rows = []
    for r in summary.results:
        if r.status not in ("fetched", "skipped"):
            continue
        path = archive.gim_path(r.centre, r.day)
        if r.status == "fetched" and r.sha256:  # just archived: the ingest knows what it wrote
            sha, maps, kind = r.sha256, r.maps, r.source_kind
        else:
            with xr.open_dataset(path, engine="netcdf4") as ds:
                attrs, maps = dict(ds.attrs), int(ds.sizes["time"])
            sha, kind = str(attrs.get("source_sha256", "")), str(attrs.get("source_kind", ""))
        rows.append(dict(kind="GIM", centre=r.centre, day=r.day, path=str(path), sha256=sha, maps=maps,
                         source_kind=kind))
    return record_input_files(engine, rows)


def record_indices(engine: Engine, tables: IndexTables) -> int:
    return upsert_indices(engine, tables)
