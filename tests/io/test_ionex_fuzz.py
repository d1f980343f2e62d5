"""Fuzzing: whatever is done to a valid IONEX file, the reader either reads it or raises
IonexFormatError — never a bare IndexError/ValueError/UnicodeError."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swx.errors import IonexFormatError
from swx.io.ionex import format_ionex, parse_ionex
from tests.helpers import gim_text, make_gim

# A small grid keeps each example fast: 10 deg x 30 deg.
SMALL = gim_text(lat_step=-10.0, lon_step=30.0, hours=6)
SMALL_LINES = SMALL.splitlines(keepends=True)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes, name: str = "fuzz.20i") -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = parse_ionex(data, name)
        except IonexFormatError as exc:
            assert exc.path == name
            assert str(exc)
            return
    assert ds.sizes["lat"] > 0 and ds.sizes["lon"] > 0 and ds.sizes["time"] > 0


@FUZZ
@given(st.data())
def test_byte_mutations(data):
    buf = bytearray(SMALL.encode())
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    check(bytes(buf))


@FUZZ
@given(st.integers(0, len(SMALL)))
def test_truncation_anywhere(n):
    check(SMALL.encode()[:n])


@FUZZ
@given(st.data())
def test_line_deletion_duplication_and_swaps(data):
    lines = list(SMALL_LINES)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["delete", "duplicate", "swap", "blank"]))
        i = data.draw(st.integers(0, len(lines) - 1))
        j = data.draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        else:
            lines[i] = "\n"
    check("".join(lines).encode())


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_and_fake_compression_headers(blob):
    check(blob)
    check(b"\x1f\x8b" + blob, "fuzz.20i.gz")
    check(b"\x1f\x9d" + blob, "fuzz.20i.Z")
    check(b"PK\x03\x04" + blob, "fuzz.zip")


@FUZZ
@given(st.integers(0, 2000))
def test_truncated_gzip(n):
    z = gzip.compress(SMALL.encode())
    check(z[: n % len(z)], "fuzz.20i.gz")


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2, 6]), st.floats(0, 1))
def test_writer_reader_round_trip_of_random_fields(seed, hours, nan_share):
    ds = make_gim(hours=hours, seed=seed, lat_step=-10.0, lon_step=30.0)
    rng = np.random.default_rng(seed)
    tec = rng.uniform(0, 300, ds.tec.shape).round(1).astype(np.float32)
    tec[rng.random(tec.shape) < nan_share * 0.2] = np.nan
    ds["tec"] = (("time", "lat", "lon"), tec)
    back = parse_ionex(format_ionex(ds).encode(), "rt.20i")
    np.testing.assert_allclose(back.tec.values, tec, atol=1e-4, equal_nan=True)


def outcome(data: bytes, fast: bool):
    """What the reader makes of `data` with the tiled fast path on or off."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = parse_ionex(data, "fuzz.20i", tiled=fast)
        return "ok", ds.tec.values, ds.rms.values, ds.time.values
    except IonexFormatError:
        return ("error",)


def same(a, b) -> bool:
    return a[0] == b[0] and (a[0] != "ok" or all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a[1:], b[1:])))


@FUZZ
@given(st.data())
def test_fast_path_accepts_exactly_what_the_general_parser_accepts(data):
    """The tiled fast path may only speed up: same values, same refusals, for any mutation."""
    if data.draw(st.booleans()):
        buf = bytearray(SMALL.encode())
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(buf) - 1))
            buf[i] = data.draw(st.sampled_from([32, 45, 48, 55, 10, 13, 69, 83, 0, 255]))
        blob = bytes(buf)
    else:
        lines = list(SMALL_LINES)
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "cut", "pad"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + "\n"
        else:
            lines[i] = lines[i].rstrip("\n") + " " * data.draw(st.integers(1, 5)) + "\n"
        blob = "".join(lines).encode()
    assert same(outcome(blob, True), outcome(blob, False))


def test_fast_path_agrees_with_general_parser_on_real_files(ionex_dir):
    for path in sorted(ionex_dir.iterdir()):
        data = path.read_bytes()
        fast, general = outcome(data, True), outcome(data, False)
        assert same(fast, general), path.name


def test_real_files_take_the_fast_path(ionex_dir):
    """The speed claimed in docs/benchmarks.md comes from the tiled path: every real file uses it."""
    import re as _re

    from swx.io.compression import decompress
    from swx.io.ionex.fast import parse_tiled
    from swx.io.ionex.header import parse_header

    for path in sorted(ionex_dir.iterdir()):
        text = decompress(path.read_bytes(), path.name)
        end = _re.search(rb"END OF HEADER[ \t]*(\n|$)", text)
        if end is None:
            continue  # the header-only file
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hdr = parse_header(text[:end.end()].decode().rstrip("\n").split("\n"), path.name)
            assert parse_tiled(text, end.end(), hdr, path.name) is not None, path.name
