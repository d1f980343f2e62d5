"""Decompression by content, not by name: GIM archives mix `.Z` (Unix compress), `.gz` and plain files.

The magic bytes decide; a stream that claims a format and fails to decode is reported as corrupt or
truncated, naming the file, instead of leaking zlib's or LZW's own exception. Output is bounded
(MAX_DECOMPRESSED_BYTES): gzip, zip and .Z through the system gzip stop reading there, so a small
crafted file cannot expand to gigabytes in memory.
"""

from __future__ import annotations

import io
import shutil
import stat
import subprocess  # nosec B404 # only the system gzip, with fixed arguments (see _uncompress)
import threading
import zipfile
import zlib
from pathlib import Path

from swx.errors import DataFormatError

GZIP_MAGIC = b"\x1f\x8b"
COMPRESS_MAGIC = b"\x1f\x9d"
ZIP_MAGIC = b"PK\x03\x04"

#: The most a file may expand to: a day of 15-minute 1° x 1° maps with RMS is ~70 MB of IONEX text.
MAX_DECOMPRESSED_BYTES = 512 * 2 ** 20


def detect(data: bytes) -> str:
    """Return 'gzip', 'compress', 'zip' or 'plain' from the first bytes."""
    if data[:2] == GZIP_MAGIC:
        return "gzip"
    if data[:2] == COMPRESS_MAGIC:
        return "compress"
    if data[:4] == ZIP_MAGIC:
        return "zip"
    return "plain"


def _too_big(name: str, error: type[DataFormatError], limit: int) -> DataFormatError:
    return error(f"expands to more than {limit:,} bytes (a decompression bomb, or not a GIM/index file)",
                 path=name, expected=f"at most {limit:,} bytes uncompressed")


def _gunzip(data: bytes, name: str, error: type[DataFormatError], limit: int) -> bytes:
    """Every gzip member of `data`, decompressed piece by piece and refused past `limit` bytes."""
    out = bytearray()
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            buf = rest
            while not d.eof:
                piece = d.decompress(buf, limit + 1 - len(out))
                out += piece
                if len(out) > limit:
                    raise _too_big(name, error, limit)
                buf = d.unconsumed_tail
                if not buf and not piece:
                    break  # all input used and nothing more comes out: a cut stream if not at its end
            if not d.eof:
                raise error("truncated gzip stream (the download was cut short?)", path=name,
                            expected="a complete gzip member")
            rest = d.unused_data.lstrip(b"\0")  # zero padding between or after members, as gzip allows
    except zlib.error as exc:
        raise error(f"corrupt gzip stream: {exc}", path=name, expected="a valid gzip stream") from exc
    return bytes(out)


def _uncompress(data: bytes, name: str, error: type[DataFormatError], limit: int) -> bytes:
    """Unix compress (LZW). The system `gzip -dc` is fast C (its output read up to `limit`); `unlzw3`
    is the pure-Python fallback (only where no gzip is installed), checked against `limit` once it has
    decompressed: it has no incremental interface."""
    gz = shutil.which("gzip")
    if gz:
        with subprocess.Popen([gz, "-dc"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # nosec B603 # fixed argv
                              stderr=subprocess.PIPE) as proc:
            errors: list[bytes] = []
            feeder = threading.Thread(target=_feed, args=(proc, data, errors), daemon=True)
            feeder.start()
            out = bytearray()
            while piece := proc.stdout.read1(1 << 20):  # type: ignore[union-attr]
                out += piece
                if len(out) > limit:
                    proc.kill()
                    break
            feeder.join()
            status = proc.wait()
        if len(out) > limit:
            raise _too_big(name, error, limit)
        if status == 0:
            return bytes(out)
        message = b"".join(errors).decode(errors="replace").strip().replace("stdin: ", "")
        raise error(f"corrupt or truncated .Z (Unix compress) stream: {message}", path=name,
                    expected="a valid LZW stream")
    import unlzw3  # the pure-Python fallback, only when no `gzip -d` is on the machine

    try:
        out = unlzw3.unlzw(data)
    except Exception as exc:  # unlzw3 raises bare ValueError/IndexError on bad streams
        raise error(f"corrupt or truncated .Z (Unix compress) stream: {exc}", path=name,
                    expected="a valid LZW stream") from exc
    if len(out) > limit:
        raise _too_big(name, error, limit)
    return out


def _feed(proc: subprocess.Popen, data: bytes, errors: list[bytes]) -> None:
    """Write `data` to the process's stdin and collect its stderr (a thread: stdout is read meanwhile)."""
    try:
        proc.stdin.write(data)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except (BrokenPipeError, ValueError, OSError):
        pass  # the reader stopped early (too big) or gzip exited: its status tells
    errors.append(proc.stderr.read())  # type: ignore[union-attr]


def _unzip(data: bytes, name: str, error: type[DataFormatError], limit: int) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.infolist()
                       if not m.is_dir() and not m.filename.startswith("__MACOSX/")
                       and not Path(m.filename).name.startswith("._")]
            if len(members) != 1:
                raise error(f"zip archive holds {len(members)} data files", path=name,
                            expected="exactly one member")
            with zf.open(members[0]) as member:  # the declared size can lie: read at most limit + 1
                out = member.read(limit + 1)
            if len(out) > limit:
                raise _too_big(name, error, limit)
            return out
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise error(f"corrupt zip archive: {exc}", path=name, expected="a valid zip archive") from exc
    except (RuntimeError, NotImplementedError) as exc:  # an encrypted member, an unsupported method
        why = "an encrypted zip member (a password is needed)" if "encrypted" in str(exc) else \
            f"a zip member swx cannot expand ({str(exc)[:60]})"
        raise error(why, path=name, expected="a zip archive of one unencrypted member") from exc


def decompress(data: bytes, name: str = "<data>", error: type[DataFormatError] = DataFormatError,
               limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Return the uncompressed bytes of `data`, whatever of plain/gzip/compress/zip it is; `error` when
    it would expand past `limit` bytes."""
    kind = detect(data)
    if kind == "gzip":
        return _gunzip(data, name, error, limit)
    if kind == "compress":
        return _uncompress(data, name, error, limit)
    if kind == "zip":
        return _unzip(data, name, error, limit)
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


def text_lines(text: str) -> list[str]:
    """The lines of a text file as an editor numbers them: split at line feeds, a line's trailing
    carriage returns dropped (`str.splitlines` counted CR CR LF as two lines, so every line number
    named in an error was doubled). A file of carriage returns only (old Mac) is split at those."""
    if "\n" not in text:
        return text.splitlines()
    lines = [line.rstrip("\r") for line in text.split("\n")]
    return lines[:-1] if lines and lines[-1] == "" else lines


#: the largest input file read whole (an IONEX day is 1-10 MB, a CelesTrak SW history a few MB)
MAX_INPUT_BYTES = MAX_DECOMPRESSED_BYTES


def check_regular_file(path: str | Path, error: type[DataFormatError] = DataFormatError) -> None:
    """Refuse what is not a regular file of at most MAX_INPUT_BYTES (a device such as /dev/zero, a
    FIFO, a file of tens of GB): read whole, it would exhaust the memory or never end."""
    p = Path(path)
    st = p.stat()  # a missing file: FileNotFoundError, one line as it is
    if not stat.S_ISREG(st.st_mode):
        raise error("not a regular file (a device, a pipe or a socket)", path=str(p), expected="a data file")
    if st.st_size > MAX_INPUT_BYTES:
        raise error(f"{st.st_size} bytes", path=str(p), expected=f"at most {MAX_INPUT_BYTES >> 20} MiB")


def read_file_bytes(path: str | Path, error: type[DataFormatError] = DataFormatError) -> bytes:
    """A file's bytes, once `check_regular_file` allows it."""
    check_regular_file(path, error)
    return Path(path).read_bytes()


def read_bytes(path: str | Path, error: type[DataFormatError] = DataFormatError) -> bytes:
    """Read and decompress a file."""
    p = Path(path)
    return decompress(read_file_bytes(p, error), str(p), error)
