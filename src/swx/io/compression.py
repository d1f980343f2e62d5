"""Decompression by content, not by name: GIM archives mix `.Z` (Unix compress), `.gz` and plain files.

The magic bytes decide; a stream that claims a format and fails to decode is reported as corrupt or
truncated, naming the file, instead of leaking zlib's or LZW's own exception.
"""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

from swx.errors import DataFormatError

GZIP_MAGIC = b"\x1f\x8b"
COMPRESS_MAGIC = b"\x1f\x9d"
ZIP_MAGIC = b"PK\x03\x04"


def detect(data: bytes) -> str:
    """Return 'gzip', 'compress', 'zip' or 'plain' from the first bytes."""
    if data[:2] == GZIP_MAGIC:
        return "gzip"
    if data[:2] == COMPRESS_MAGIC:
        return "compress"
    if data[:4] == ZIP_MAGIC:
        return "zip"
    return "plain"


def _gunzip(data: bytes, name: str, error: type[DataFormatError]) -> bytes:
    try:
        return gzip.decompress(data)
    except EOFError as exc:
        raise error("truncated gzip stream (the download was cut short?)", path=name,
                    expected="a complete gzip member") from exc
    except (OSError, zlib.error) as exc:
        raise error(f"corrupt gzip stream: {exc}", path=name, expected="a valid gzip stream") from exc


def _uncompress(data: bytes, name: str, error: type[DataFormatError]) -> bytes:
    """Unix compress (LZW). The system `gzip -dc` is fast C; `unlzw3` is the pure-Python fallback."""
    gz = shutil.which("gzip")
    if gz:
        proc = subprocess.run([gz, "-dc"], input=data, capture_output=True, check=False)
        if proc.returncode == 0:
            return proc.stdout
        message = proc.stderr.decode(errors="replace").strip().replace("stdin: ", "")
        raise error(f"corrupt or truncated .Z (Unix compress) stream: {message}", path=name,
                    expected="a valid LZW stream")
    import unlzw3  # the pure-Python fallback, only when no `gzip -d` is on the machine

    try:
        return unlzw3.unlzw(data)
    except Exception as exc:  # unlzw3 raises bare ValueError/IndexError on bad streams
        raise error(f"corrupt or truncated .Z (Unix compress) stream: {exc}", path=name,
                    expected="a valid LZW stream") from exc


def _unzip(data: bytes, name: str, error: type[DataFormatError]) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist()
                       if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                       and not Path(m.filename).name.startswith("._")]
            if len(members) != 1:
                raise error(f"zip archive holds {len(members)} data files", path=name,
                            expected="exactly one member")
            return zf.read(members[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise error(f"corrupt zip archive: {exc}", path=name, expected="a valid zip archive") from exc


def decompress(data: bytes, name: str = "<data>", error: type[DataFormatError] = DataFormatError) -> bytes:
    """Return the uncompressed bytes of `data`, whatever of plain/gzip/compress/zip it is."""
    kind = detect(data)
    if kind == "gzip":
        return _gunzip(data, name, error)
    if kind == "compress":
        return _uncompress(data, name, error)
    if kind == "zip":
        return _unzip(data, name, error)
    lowered = name.lower()
    if lowered.endswith((".gz", ".z")) and data:
        raise error("file is named as compressed but is not a gzip or Unix-compress stream", path=name,
                    expected="gzip (1f 8b) or compress (1f 9d) magic bytes")
    return data


def decode_ascii(data: bytes, name: str, error: type[DataFormatError] = DataFormatError, what: str = "") -> str:
    """ASCII text of `data`, or an error naming the line of the first non-ASCII byte."""
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise error(f"non-ASCII byte{' in ' + what if what else ''} (corrupt file?)", path=name, line=line,
                    expected="ASCII text") from None


def read_bytes(path: str | Path, error: type[DataFormatError] = DataFormatError) -> bytes:
    """Read and decompress a file."""
    p = Path(path)
    return decompress(p.read_bytes(), str(p), error)
