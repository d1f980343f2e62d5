"""The on-disk archive every later stage reads: one compressed netCDF4 file per centre and UT day, plus
the Kp/F10.7 tables, each with a recorded sha256 (a `*.sha256` file in `sha256sum` format).

Files are written atomically (temp file, fsync, rename); the checksum is written after the data, so a
file without a matching checksum is treated as absent and is fetched again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx.config import mask_secrets
from swx.errors import IndexFormatError
from swx.io.atomic import atomic_path, atomic_write_text
from swx.io.filecache import FileCache
from swx.io.gim_names import product_level
from swx.io.maps_netcdf import TIME_CALENDAR, TIME_UNITS, UNREADABLE_NETCDF, read_attrs, read_tec, write_maps
from swx.sources.indices.history import load_history
from swx.sources.indices.tables import IndexTables, empty_daily, empty_kp, merge_tables

log = logging.getLogger(__name__)

_TIME_ENCODING = {"units": TIME_UNITS, "calendar": TIME_CALENDAR, "dtype": "int64"}


#: the attribute every archived map carries: when swx archived it (what tells an archived map from any
#: other file of maps)
ARCHIVED_AT = "swx_archived_at"

#: a sha256 as `sha256_file` gives it (and as products' checksums are stored)
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checksum_path(path: Path) -> Path:
    """Where `path`'s checksum record is kept: `<name>.sha256` beside it."""
    return path.with_name(path.name + ".sha256")


def record_checksum(path: Path) -> str:
    """Write `path`'s sha256 beside it (`<name>.sha256`, the format `sha256sum -c` reads); returns it."""
    digest = sha256_file(path)
    atomic_write_text(checksum_path(path), f"{digest}  {path.name}\n")
    return digest


#: one checksum record as `sha256sum` writes it (`<hex>  <name>`, `*` before a binary name) or its
#: `--tag` form (`SHA256 (<name>) = <hex>`): what `sha256sum -c` checks
_GNU_RECORD = re.compile(r"([0-9a-fA-F]{64}) [ *](.+)")
_BSD_RECORD = re.compile(r"SHA256 \((.+)\) = ([0-9a-fA-F]{64})")
#: a record longer than this is no one-line record (and is never read whole)
_RECORD_MAX_BYTES = 1024


def read_checksum_record(path: Path) -> tuple[str | None, str | None]:
    """(the sha256 recorded beside `path`, what is wrong with the record): (None, None) without a
    record; a record must be one line naming this file, as `sha256sum -c` reads it."""
    side = checksum_path(path)
    if not side.is_file():
        return None, None
    if side.stat().st_size > _RECORD_MAX_BYTES:
        return None, f"longer than one record ({side.stat().st_size} bytes)"
    lines = [ln.strip() for ln in side.read_bytes().decode("ascii", errors="replace").splitlines() if ln.strip()]
    if not lines:
        return None, None
    if len(lines) > 1:
        return None, f"{len(lines)} lines, not one record"
    if gnu := _GNU_RECORD.fullmatch(lines[0]):
        digest, name = gnu.group(1), gnu.group(2)
    elif bsd := _BSD_RECORD.fullmatch(lines[0]):
        name, digest = bsd.group(1), bsd.group(2)
    else:
        return None, "not a sha256sum record"
    if name != path.name:
        return None, f"a record of {name!r}, not of {path.name}"
    return digest.lower(), None  # `sha256sum` reads upper-case hex too


def recorded_checksum(path: Path) -> str | None:
    """The sha256 recorded beside `path` (None when there is no record, or an empty one; "", which no
    file matches, when the record is not one record of this file: see `checksum_record_problem`)."""
    digest, problem = read_checksum_record(path)
    return "" if problem else digest


def checksum_record_problem(path: Path) -> str | None:
    """What is wrong with the checksum record beside `path` (more than one line, another file's, not a
    record, too long), or None when it is one record of this file or there is none."""
    return read_checksum_record(path)[1]


def changed_since_recorded(path: Path) -> bool:
    """True when `path` has a checksum record beside it that it no longer matches (edited, emptied or
    overwritten since it was written); False when it matches or has no record."""
    if not (path.is_file() and checksum_path(path).is_file()):
        return False
    return sha256_file(path) != recorded_checksum(path)


#: checksum checks of archived files by the identity of the file and of its record (files are replaced
#: atomically: a changed file or record is a new key)
_VERIFIED: FileCache[bool] = FileCache(size=50_000)


@dataclass(frozen=True)
class ArchivedFile:
    path: Path
    sha256: str


@dataclass(frozen=True)
class ArchivedProduct:
    """Which product an archived day holds (the archive keeps the best one it got for each UT day) and
    its level: predicted, rapid or final."""

    product: str
    level: str

    def __str__(self) -> str:
        return f"{self.level} {self.product}"


@dataclass(frozen=True)
class StoredIndices:
    """A merge of index tables into the archived ones (`Archive.merge_indices`): the archived tables
    before, the merged tables to keep, and the times of the 3-hourly rows added or changed."""

    before: IndexTables
    merged: IndexTables
    changed: pd.DatetimeIndex


#: the product of archived days, by the identity of their file (a day upgraded to its final is a new file)
_PRODUCTS: FileCache[ArchivedProduct] = FileCache(size=50_000)


class Archive:
    """Paths and atomic, checksummed reads/writes under one root folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- checksums --------------------------------------------------------------------------------
    def _record(self, path: Path) -> ArchivedFile:
        return ArchivedFile(path, record_checksum(path))

    def recorded_sha256(self, path: Path) -> str | None:
        return recorded_checksum(path)

    def verify(self, path: Path) -> bool:
        """True when `path` exists and matches its recorded checksum. The answer is kept while neither the
        file nor its record changes identity (path, inode, size, modification time): a day's stages check
        the same archived days again and again. swx replaces files atomically, so any rewrite is seen; a
        change that keeps size and modification time (silent disk corruption) is seen by a new process."""
        return _VERIFIED.get([path, checksum_path(path)], lambda: self._verify_now(path))

    @staticmethod
    def _verify_now(path: Path) -> bool:
        recorded = recorded_checksum(path)
        return path.is_file() and recorded is not None and sha256_file(path) == recorded

    # -- GIMs -------------------------------------------------------------------------------------
    def gim_path(self, centre: str, day: dt.date) -> Path:
        return self.root / "gim" / centre.lower() / f"{day.year:04d}" / f"{centre.lower()}_{day:%Y%m%d}.nc"

    def has_gim(self, centre: str, day: dt.date) -> bool:
        return self.verify(self.gim_path(centre, day))

    def changed_gim(self, centre: str, day: dt.date) -> bool:
        """True when the day's archived file is there but no longer matches its recorded checksum (edited,
        damaged or replaced since it was archived): not to be read, and not "missing" either."""
        return self.gim_path(centre, day).is_file() and not self.has_gim(centre, day)

    def store_gim(self, ds: xr.Dataset, centre: str, day: dt.date, **provenance: str) -> ArchivedFile:
        """Write one day's maps (netCDF4, zlib) atomically and record its checksum."""
        path = self.gim_path(centre, day)
        out = ds.copy()
        # where it came from, as every output says it: a mirror URL's token or a path's secret masked
        out.attrs = {**ds.attrs, **{k: mask_secrets(v) for k, v in provenance.items()}, ARCHIVED_AT: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     "swx_day": day.isoformat()}
        with atomic_path(path) as tmp:
            write_maps(out, tmp)
        return self._record(path)

    def gim_product(self, centre: str, day: dt.date) -> ArchivedProduct | None:
        """The product archived for `day` under `centre` (None when the day is not archived and verified).
        Files archived before products had levels hold the centre's own product."""
        if not self.has_gim(centre, day):
            return None
        path = self.gim_path(centre, day)

        def read() -> ArchivedProduct:
            attrs = read_attrs(path)
            product = str(attrs.get("swx_product", centre.lower()))
            return ArchivedProduct(product, str(attrs.get("swx_level", product_level(product))))

        return _PRODUCTS.get([path], read)

    def open_gim(self, centre: str, day: dt.date) -> xr.Dataset:
        """Load one archived day into memory (the file is closed on return)."""
        with xr.open_dataset(self.gim_path(centre, day), engine="netcdf4") as ds:
            return ds.load()

    def open_gim_tec(self, centre: str, day: dt.date) -> xr.Dataset:
        """Only the TEC maps of one archived day (time, lat, lon), read with netCDF4 directly: about half
        the time of xarray's decoding (benchmarks/bench_archive.py), for the stages that read many days. Files not
        written by `store_gim` (other time units) go the general way."""
        tec = read_tec(self.gim_path(centre, day))
        return self.open_gim(centre, day)[["tec"]] if tec is None else tec

    def gim_days(self, centre: str) -> list[dt.date]:
        base = self.root / "gim" / centre.lower()
        days = []
        for p in sorted(base.glob("*/*.nc")):
            try:
                days.append(dt.datetime.strptime(p.stem.split("_")[-1], "%Y%m%d").date())
            except ValueError:
                continue
        return days

    def centres(self) -> list[str]:
        base = self.root / "gim"
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    # -- indices ----------------------------------------------------------------------------------
    @property
    def kp_path(self) -> Path:
        return self.root / "indices" / "kp_3h.nc"

    @property
    def daily_path(self) -> Path:
        return self.root / "indices" / "daily.nc"

    def load_indices(self) -> IndexTables:
        """The archived Kp and daily tables; a file that no longer matches its recorded checksum, or cannot
        be read, is refused naming it (never read as it is: a Kp archive gone bad would drive every
        forecast and storm)."""
        for path in (self.kp_path, self.daily_path):
            if path.is_file() and self.recorded_sha256(path) is not None and not self.verify(path):
                raise IndexFormatError("changed or damaged since it was archived (it no longer matches its "
                                       "recorded checksum)", path=str(path),
                                       expected="the file as swx wrote it: remove it and run `swx ingest kp`, which "
                                                "writes it again from the source")
        return IndexTables(_read_table(self.kp_path, empty_kp()), _read_table(self.daily_path, empty_daily()))

    def merge_indices(self, tables: IndexTables) -> StoredIndices:
        """`tables` merged into the archived ones (better status, then newer, wins: a definitive Kp
        replaces the nowcast), nothing written yet: the ingest records the merge in the database first,
        so a failed database write leaves the archive as it was and the rerun finds the same changes."""
        old = self.load_indices()
        merged = merge_tables(old, tables)
        return StoredIndices(old, merged, _changed_times(old.kp, merged.kp))

    def write_indices(self, stored: StoredIndices) -> None:
        """Write a merge's tables (only when something changed, or nothing is archived yet)."""
        if len(stored.changed) or len(_changed_times(stored.before.daily, stored.merged.daily)) \
                or not self.kp_path.exists():
            _write_table(stored.merged.kp, self.kp_path, "Kp (3-hourly, interval start) and ap")
            self._record(self.kp_path)
            _write_table(stored.merged.daily, self.daily_path, "daily Ap, sunspot number and F10.7")
            self._record(self.daily_path)

    def store_indices(self, tables: IndexTables) -> StoredIndices:
        """Merge `tables` into the archived ones and write them; returns the merge."""
        stored = self.merge_indices(tables)
        self.write_indices(stored)
        return stored


def _changed_times(old: pd.DataFrame, new: pd.DataFrame) -> pd.DatetimeIndex:
    """The times of the rows of `new` that `old` lacks or holds otherwise (value, status or source)."""
    if old.empty:
        return pd.DatetimeIndex(new.index)
    joined = new.merge(old, how="left", left_index=True, right_index=True, suffixes=("", "_old"))
    changed = np.zeros(len(joined), dtype=bool)
    for c in new.columns:
        a, b = joined[c], joined[c + "_old"]
        changed |= ~((a == b) | (a.isna() & b.isna())).to_numpy()
    return pd.DatetimeIndex(joined.index[changed])


def _write_table(df: pd.DataFrame, path: Path, title: str) -> None:
    idx = df.index.tz_convert("UTC").tz_localize(None) if df.index.tz is not None else df.index
    data = {c: ("time", df[c].to_numpy().astype(str) if df[c].dtype == object or str(df[c].dtype) in ("str", "string")
                else df[c].to_numpy()) for c in df.columns}
    ds = xr.Dataset(data, coords={"time": ("time", idx.to_numpy().astype("datetime64[ns]"))},
                    attrs={"title": title, "Conventions": "CF-1.8",
                           "comment": "times are UTC; Kp/ap: GFZ Potsdam, CC BY 4.0 (doi:10.5880/Kp.0001)"})
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding={"time": dict(_TIME_ENCODING)})


def _read_table(path: Path, empty: pd.DataFrame) -> pd.DataFrame:
    if not path.is_file():
        return empty
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            df = ds.load().to_dataframe()
    except UNREADABLE_NETCDF as exc:
        raise IndexFormatError(f"cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
                               path=str(path), expected="the netCDF file swx wrote: remove it and run `swx ingest kp`"
                               ) from None
    df.index = pd.DatetimeIndex(df.index, name="time").tz_localize("UTC")
    for c in ("status", "source"):
        if c in df:
            df[c] = df[c].astype(str)
    return df[list(empty.columns)]


def load_indices(archive: Archive | None = None) -> IndexTables:
    """Kp and F10.7 for every stage: the bundled history, overlaid by whatever the archive holds (its better or newer rows win).

    Every stage of a daily run asks for them: the merged tables are kept while the archive's index files
    are unchanged (swx.io.filecache), so treat them as read-only."""
    history = load_history()
    if archive is None:
        return history
    return _MERGED.get([archive.kp_path, archive.daily_path], lambda: merge_tables(history, archive.load_indices()),
                       str(archive.root.resolve()))


_MERGED: FileCache[IndexTables] = FileCache(size=4)
