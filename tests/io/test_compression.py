"""Decompression is chosen by magic bytes; bad streams are errors naming the file."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from swx.errors import DataFormatError
from swx.io.compression import decompress, detect


def test_detect_and_round_trip():
    text = b"hello ionosphere\n" * 100
    assert detect(text) == "plain" and decompress(text) == text
    gz = gzip.compress(text)
    assert detect(gz) == "gzip" and decompress(gz, "a.gz") == text
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.20i", text)
        zf.writestr("__MACOSX/._a.20i", b"resource fork")
    assert detect(buf.getvalue()) == "zip" and decompress(buf.getvalue(), "a.zip") == text


def test_zip_with_two_data_files_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.20i", b"x")
        zf.writestr("b.20i", b"y")
    with pytest.raises(DataFormatError, match="2 data files"):
        decompress(buf.getvalue(), "two.zip")


def test_truncated_gzip_names_file():
    gz = gzip.compress(b"x" * 10000)
    with pytest.raises(DataFormatError, match="truncated gzip") as err:
        decompress(gz[:20], "day.gz")
    assert err.value.path == "day.gz"
