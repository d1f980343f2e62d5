"""Where GIM files come from, behind one interface: remote mirrors, a local folder, (later) a simulator.

A source hands back the raw bytes of one centre's file for one UT day plus where they came from; the
ingest step parses, checks and archives them, the same way whatever the source.
"""

from __future__ import annotations

from collections.abc import Iterator

import datetime as dt
import logging
import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from swx.config import is_dangling_link
from swx.errors import FetchError, IonexFormatError, NotFoundError
from swx.io.compression import read_file_bytes
from swx.io.gim_names import parse_name, url_fields
from swx.io.http import Downloader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawGim:
    """One day's file as fetched: bytes, its file name, and where it came from."""

    centre: str
    day: dt.date
    name: str
    data: bytes
    origin: str  # URL or file path
    source: str  # "remote", "local" or "simulated"


@runtime_checkable
class GimSource(Protocol):
    """Anything that can produce the GIM file of a centre for a UT day."""

    kind: str

    def fetch(self, centre: str, day: dt.date) -> RawGim:
        """The file for (centre, day); NotFoundError if there is none, FetchError on failure."""
        ...


class RemoteSource:
    """Tries each mirror's URL template in turn (see `Settings.gim_mirrors`)."""

    kind = "remote"

    def __init__(self, mirrors: dict[str, list[str]], downloader: Downloader) -> None:
        self.mirrors = {k.lower(): list(v) for k, v in mirrors.items()}
        self.downloader = downloader

    def urls(self, centre: str, day: dt.date) -> list[str]:
        templates = self.mirrors.get(centre.lower())
        if not templates:
            raise FetchError(f"no mirror configured for centre {centre!r}", day=day,
                             hint=f"set SWX_GIM_MIRRORS (known: {', '.join(sorted(self.mirrors))})")
        fields = url_fields(centre.lower(), day)
        return [t.format(**fields) for t in templates]

    def fetch(self, centre: str, day: dt.date) -> RawGim:
        errors: list[FetchError] = []
        for url in self.urls(centre, day):
            try:
                data = self.downloader.get(url, day=day)
            except FetchError as exc:
                log.info("mirror failed: %s", exc)
                errors.append(exc)
                continue
            # the file's name is the URL path's last part: never its query (which may carry a credential)
            name = urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1]
            return RawGim(centre.lower(), day, name, data, url, self.kind)
        detail = "; ".join(f"{e.url}: {e.message}" for e in errors)
        if all(isinstance(e, NotFoundError) for e in errors):
            raise NotFoundError(f"{centre} not found at any mirror ({detail})", day=day,
                                hint=errors[-1].hint if errors else None)
        hints = sorted({e.hint for e in errors if e.hint})
        raise FetchError(f"all mirrors failed ({detail})", day=day, hint=" ".join(hints) or None)


class LocalDirectorySource:
    """A folder (searched recursively) of IONEX files with IGS short or long names, any compression."""

    kind = "local"

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def index(self) -> dict[tuple[str, dt.date], list[Path]]:
        """(centre, day) -> files, for every file whose name says what it holds."""
        if not self.directory.is_dir():
            raise NotFoundError(f"local GIM folder {self.directory} does not exist",
                                hint="set SWX_GIM_LOCAL_DIR to a folder of IONEX files")
        found: dict[tuple[str, dt.date], list[Path]] = {}
        for path in sorted(p for p in self.directory.rglob("*") if p.is_file() or is_dangling_link(p)):
            parsed = parse_name(path.name)
            if parsed is None:
                log.debug("skipping %s: not an IGS GIM file name", path)
                continue
            found.setdefault((parsed.centre, parsed.day), []).append(path)
        return found

    def unrecognised(self) -> list[Path]:
        """Files in the folder whose names do not say centre and day (reported, never guessed)."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.rglob("*")
                      if p.is_file() and parse_name(p.name) is None and not p.name.startswith("."))

    def available(self, centre: str | None = None) -> list[tuple[str, dt.date]]:
        return sorted(k for k in self.index() if centre is None or k[0] == centre.lower())

    def fetch(self, centre: str, day: dt.date) -> RawGim:
        paths = self.index().get((centre.lower(), day))
        if not paths:
            raise NotFoundError(f"no {centre} file for this day in {self.directory}", day=day)
        if len(paths) > 1:
            log.warning("%d candidate files for %s %s, trying %s first", len(paths), centre, day, paths[0])
        return self._read(centre, day, paths[0])

    def others(self, centre: str, day: dt.date) -> Iterator[RawGim]:
        """The day's further candidate files, after the one `fetch` gave (tried when it is refused)."""
        for path in (self.index().get((centre.lower(), day)) or [])[1:]:
            yield self._read(centre, day, path)

    def _read(self, centre: str, day: dt.date, path: Path) -> RawGim:
        if is_dangling_link(path):  # the day's file is there as a name: say what is wrong with it, not "missing"
            raise IonexFormatError(f"a link to {os.readlink(path)}, which leads to no file (a volume not mounted, or "
                                   "a loop of links)", path=str(path), expected="the day's IONEX file")
        return RawGim(centre.lower(), day, path.name, read_file_bytes(path, IonexFormatError), str(path), self.kind)
