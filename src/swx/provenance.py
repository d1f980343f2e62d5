"""What a forecast run is made of, so that any product can be traced back: the code version, a hash of
the settings that change forecasts, the model versions and the input files with their checksums."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess  # nosec B404 # only git, by its full path, with fixed arguments
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from swx import __version__
from swx.archive import sha256_file
from swx.config import Settings, recorded_path
from swx.sources.indices.history import HISTORY_FILE

#: Settings that change what a run forecasts (paths, credentials, logging and HTTP knobs do not).
FORECAST_SETTINGS = ("gim_centre", "gim_source", "sim_seed", "sim_cadence_min", "station_catalog",
                     "forecast_architecture", "extension_method", "extension_compare", "kp_source", "device")


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version, plus the git commit when running from a checkout (`+g<sha>`, `.dirty`
    with local changes). Container images set SWX_CODE_VERSION at build time instead."""
    pinned = os.environ.get("SWX_CODE_VERSION", "").strip()
    if pinned:
        return pinned[:64]
    here = Path(__file__).resolve().parent
    git = shutil.which("git")
    try:
        if git is None:
            raise OSError("no git")
        out = subprocess.run([git, "-C", str(here), "describe", "--always", "--dirty", "--abbrev=10",  # nosec B603 # git by full path, fixed args
                              "--match", "NO-TAGS"], capture_output=True, text=True, timeout=5, check=True)
        commit = out.stdout.strip().replace("-dirty", ".dirty")
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{__version__}+g{commit}"[:64] if commit else __version__[:64]


def settings_hash(settings: Settings) -> str:
    """Short hash of the forecast-relevant settings: two runs with the same hash were configured alike."""
    picked = {k: getattr(settings, k) for k in FORECAST_SETTINGS}
    blob = json.dumps(picked, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class InputRecord:
    """One file a run read: kind (GIM / INDICES), file name, day (GIMs), path, sha256 and, for a GIM, the
    level of the product it held (predicted, rapid or final)."""
    kind: str
    name: str
    day: dt.date | None
    path: str
    sha256: str
    level: str = ""


@lru_cache(maxsize=1)
def _bundled_indices() -> InputRecord:
    data = resources.files("swx.data").joinpath(HISTORY_FILE).read_bytes()
    return InputRecord("INDICES", HISTORY_FILE, None, f"swx.data/{HISTORY_FILE}", hashlib.sha256(data).hexdigest())


def input_records(archive, centre: str, days: list[dt.date], data_dir: Path) -> list[InputRecord]:
    """The archived GIM files of `days` that exist (checksums from the archive's records, i.e. of the
    files as read) and the Kp/F10.7 index files: the bundled history and the archive's own tables
    (paths relative to the data folder)."""
    def record(kind: str, path: Path, day: dt.date | None) -> InputRecord:
        held = archive.gim_product(centre, day) if day is not None else None
        return InputRecord(kind, path.name, day, recorded_path(path, data_dir),
                           archive.recorded_sha256(path) or sha256_file(path), held.level if held else "")

    out = [record("GIM", archive.gim_path(centre, d), d) for d in days if archive.has_gim(centre, d)]
    out.append(_bundled_indices())
    out += [record("INDICES", path, None) for path in (archive.kp_path, archive.daily_path) if path.is_file()]
    return out
