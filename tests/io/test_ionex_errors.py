"""Malformed IONEX gets one documented error type naming the file, the line and what was expected;
tolerable quirks are read, with a warning where it matters. Fixtures are made by swx's writer."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from swx.errors import IonexFormatError
from swx.io.ionex import IonexWarning, parse_ionex, read_ionex
from tests.helpers import gim_text, make_gim

TEXT = gim_text()
LINES = TEXT.splitlines(keepends=True)


def line_of(label: str, nth: int = 0) -> int:
    """0-based index of the nth line whose label (columns 61-80) is `label`."""
    hits = [i for i, line in enumerate(LINES) if line[60:].strip() == label]
    return hits[nth]


def parse(text: str, **kw):
    return parse_ionex(text.encode(), "test.20i", **kw)


def without(i: int) -> str:
    return "".join(LINES[:i] + LINES[i + 1:])


def test_fixture_itself_is_valid():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = parse(TEXT)
    np.testing.assert_allclose(ds.tec.values, make_gim().tec.values, atol=1e-6)


@pytest.mark.parametrize("label", ["EPOCH OF FIRST MAP", "# OF MAPS IN FILE", "LAT1 / LAT2 / DLAT",
                                   "LON1 / LON2 / DLON", "HGT1 / HGT2 / DHGT", "INTERVAL", "MAPPING FUNCTION",
                                   "BASE RADIUS", "MAP DIMENSION", "EPOCH OF LAST MAP"])
def test_missing_mandatory_header_record(label):
    with pytest.raises(IonexFormatError, match=f"missing mandatory header record.*{label}") as err:
        parse(without(line_of(label)))
    assert err.value.path == "test.20i" and err.value.line is not None


@pytest.mark.parametrize("label", ["EPOCH OF FIRST MAP", "INTERVAL", "EXPONENT", "IONEX VERSION / TYPE",
                                   "END OF HEADER"])
def test_a_header_label_in_lower_case_is_named_at_its_line(label):
    """A thirteenth round: `epoch of first map` was read as an unknown label, and the error named the
    end of the header as where EPOCH OF FIRST MAP was missing."""
    i = line_of(label)
    lines = [*LINES]
    lines[i] = lines[i][:60] + lines[i][60:].lower()
    with pytest.raises(IonexFormatError, match=f"header label '{label.lower()}' in lower case") as err:
        parse("".join(lines))
    assert err.value.line == i + 1 and f"expected IONEX's labels in capitals, here '{label}'" in str(err.value)


def test_every_header_label_in_lower_case_is_named_at_the_first():
    """A fourteenth round: a header written all in lower case was "not an IONEX file?" at line 1, or
    (its first record upper-case) "no END OF HEADER record" at the end of the file."""
    header_end = line_of("END OF HEADER")
    lowered = [ln[:60] + ln[60:].lower() if k <= header_end else ln for k, ln in enumerate(LINES)]
    with pytest.raises(IonexFormatError, match="header label 'ionex version / type' in lower case") as err:
        parse("".join(lowered))
    assert err.value.line == 1
    lowered[0] = LINES[0]
    with pytest.raises(IonexFormatError, match="in lower case") as err:
        parse("".join(lowered))
    assert err.value.line == 2, str(err.value)


@pytest.mark.parametrize("label, nth", [("START OF TEC MAP", 0), ("EPOCH OF CURRENT MAP", 1), ("END OF TEC MAP", 1),
                                        ("END OF FILE", 0)])
def test_a_body_label_in_lower_case_is_named_at_its_line(label, nth):
    """A fifteenth round: `start of tec map` in lower case was "EPOCH OF CURRENT MAP outside a map
    block" on the next line."""
    i = line_of(label, nth)
    lines = [*LINES]
    lines[i] = lines[i][:60] + lines[i][60:].lower()
    with pytest.raises(IonexFormatError, match=f"label '{label.lower()}' in lower case") as err:
        parse("".join(lines))
    assert err.value.line == i + 1 and f"here '{label}'" in str(err.value)


def test_missing_end_of_tec_map_names_the_map_and_line():
    i = line_of("END OF TEC MAP", 3)  # end of map 4
    with pytest.raises(IonexFormatError, match="missing END OF TEC MAP for map 4") as err:
        parse(without(i))
    # reported at the next START: 0-based index in the original = 1-based line once one line is gone
    assert err.value.line == line_of("START OF TEC MAP", 4)


def test_truncated_file_is_an_error_by_default_and_partial_on_request():
    cut = line_of("START OF TEC MAP", 5) + 200  # in the middle of map 6
    text = "".join(LINES[:cut])
    with pytest.raises(IonexFormatError, match="missing END OF TEC MAP for map 6.*truncated"):
        parse(text)
    with pytest.warns(IonexWarning) as caught:
        ds = parse(text, allow_partial=True)
    messages = [str(w.message) for w in caught]
    assert any("incomplete map dropped" in m for m in messages)
    assert any("reading the 5 complete maps" in m for m in messages)
    assert ds.sizes["time"] == 5 and ds.attrs["partial"] == 1
    assert bool(ds.rms.isnull().all())  # no RMS map survived the cut
    np.testing.assert_allclose(ds.tec.values, make_gim().tec.values[:5], atol=1e-6)


def test_fewer_maps_than_declared_is_truncation():
    start = line_of("START OF TEC MAP", 12)
    end = line_of("END OF TEC MAP", 12)
    text = "".join(LINES[:start] + LINES[end + 1:])
    with pytest.raises(IonexFormatError, match="12 TEC maps in file, header says 13"):
        parse(text)


def test_more_maps_than_declared_is_an_error():
    i = line_of("# OF MAPS IN FILE")
    text = "".join(LINES[:i] + [f"{12:6d}".ljust(60) + "# OF MAPS IN FILE   \n"] + LINES[i + 1:])
    with pytest.raises(IonexFormatError, match="13 TEC maps in file, header says 12"):
        parse(text)


def test_grid_mismatch_latitude_record():
    i = line_of("START OF TEC MAP", 2) + 2 + 6 * 3  # fourth latitude record of map 3
    bad = LINES[i].replace("  80.0", "  79.0", 1)
    assert bad != LINES[i]
    with pytest.raises(IonexFormatError, match="does not match the header grid") as err:
        parse("".join(LINES[:i] + [bad] + LINES[i + 1:]))
    assert err.value.line == i + 1 and "80.0" in err.value.expected


def test_grid_mismatch_row_count():
    i = line_of("LAT1 / LAT2 / DLAT")
    text = "".join(LINES[:i] + ["    87.5 -85.0  -2.5".ljust(60) + "LAT1 / LAT2 / DLAT  \n"] + LINES[i + 1:])
    with pytest.raises(IonexFormatError, match="has 71 latitude rows") as err:
        parse(text)
    assert "70 rows" in err.value.expected


def test_missing_value_line_is_reported_at_its_row():
    i = line_of("START OF TEC MAP", 1) + 2 + 6 * 10 + 3  # a value line of row 11, map 2
    with pytest.raises(IonexFormatError, match="4 value lines after this latitude record") as err:
        parse(without(i))
    assert err.value.line == i - 3 + 1


def test_non_numeric_value_names_line_and_columns():
    i = line_of("START OF TEC MAP", 2) + 3 + 6 * 5  # first value line of row 6 of map 3
    line = LINES[i]
    bad = line[:10] + "  a12" + line[15:]
    with pytest.raises(IonexFormatError, match=r"non-numeric value '  a12' in columns 11-15") as err:
        parse("".join(LINES[:i] + [bad] + LINES[i + 1:]))
    assert err.value.line == i + 1


@pytest.mark.parametrize("field", ["1 2 3", "  -  ", "  1- ", "    -", " 1  ", "12 34"])
def test_malformed_fields_are_rejected(field):
    i = line_of("START OF TEC MAP") + 3
    line = LINES[i]
    bad = (line[:5] + field.ljust(5)[:5] + line[10:]) if len(field) == 5 else (line[:5] + field + line[10:])
    with pytest.raises(IonexFormatError):
        parse("".join(LINES[:i] + [bad] + LINES[i + 1:]))


def test_five_digit_values_are_read():
    i = line_of("START OF TEC MAP") + 3
    line = LINES[i]
    good = line[:5] + "10000" + "01234" + line[15:]
    ds = parse("".join(LINES[:i] + [good] + LINES[i + 1:]))
    assert ds.tec.values[0, 0, 1] == pytest.approx(1000.0)
    assert ds.tec.values[0, 0, 2] == pytest.approx(123.4)


@pytest.mark.parametrize("field, value", [("   -3", "-0.3"), ("99998", "9999.8"), ("10001", "1000.1")])
def test_unphysical_values_are_refused_naming_the_line(field, value):
    """Issue 18: negative TEC and 99998 at EXPONENT -1 (9999.8 TECU) were archived as a good day."""
    i = line_of("START OF TEC MAP", 1) + 3 + 2 * 5  # first value line of row 3 of map 2
    line = LINES[i]
    bad = line[:5] + field + line[10:]
    with pytest.raises(IonexFormatError, match=rf"TEC value {field.strip()} x 10\^-1 = {value} TECU in columns 6-10") \
            as err:
        parse("".join(LINES[:i] + [bad] + LINES[i + 1:]))
    assert err.value.line == i + 1 and "0 .. 1000 TECU" in str(err.value)


@pytest.mark.parametrize("exponent", ["99", "-400", "4", "-7"])
def test_an_absurd_exponent_is_refused_in_the_header_and_in_a_map(exponent):
    """Issue 18: EXPONENT 99 archived inf values as a good day; EXPONENT -400 raised OverflowError."""
    i = line_of("EXPONENT")
    with pytest.raises(IonexFormatError, match=f"EXPONENT {exponent}") as err:
        parse("".join(LINES[:i] + [f"{exponent:>6}".ljust(60) + "EXPONENT            \n"] + LINES[i + 1:]))
    assert err.value.line == i + 1 and "-6 to 3" in str(err.value)
    j = line_of("START OF TEC MAP", 1) + 1
    with pytest.raises(IonexFormatError, match=f"EXPONENT {exponent}") as err:
        parse("".join(LINES[:j + 1] + [f"{exponent:>6}".ljust(60) + "EXPONENT            \n"] + LINES[j + 1:]))
    assert err.value.line == j + 2


def test_an_exponent_between_two_maps_is_refused_not_applied_to_the_maps_before_it():
    """Eleventh round: a stray EXPONENT record between two maps became the file's default, rescaling
    every map without its own EXPONENT — those read before it too. IONEX puts it in the header or in a
    map block; between maps it is refused, naming the line."""
    j = line_of("END OF TEC MAP", 0) + 1
    with pytest.raises(IonexFormatError, match="EXPONENT between maps") as err:
        parse("".join(LINES[:j] + ["    -2".ljust(60) + "EXPONENT            \n"] + LINES[j:]))
    assert err.value.line == j + 1 and "inside a map block" in str(err.value)
    # inside a map block it is that map's own: the others keep the header's
    k = line_of("START OF TEC MAP", 1) + 1
    ds = parse("".join(LINES[:k + 1] + ["    -2".ljust(60) + "EXPONENT            \n"] + LINES[k + 1:]))
    plain = parse(TEXT)
    np.testing.assert_allclose(ds["tec"].values[0], plain["tec"].values[0])
    np.testing.assert_allclose(ds["tec"].values[1], plain["tec"].values[1] / 10, rtol=1e-6)


def test_a_second_scale_or_grid_record_and_a_late_map_exponent_are_refused():
    """Twelfth round: a second header EXPONENT (-2 after -1) silently made every value a tenth (the last
    record won); a map's EXPONENT after its first latitude row rescaled the rows above it. A record
    that sets every map's scale, grid or time axis stands once; a map's EXPONENT before its rows."""
    i = line_of("EXPONENT")
    exp = "    -2".ljust(60) + "EXPONENT            \n"
    with pytest.raises(IonexFormatError, match="a second 'EXPONENT' record") as err:
        parse("".join(LINES[:i + 1] + [exp] + LINES[i + 1:]))
    assert err.value.line == i + 2
    g = line_of("LAT1 / LAT2 / DLAT")
    with pytest.raises(IonexFormatError, match="a second 'LAT1 / LAT2 / DLAT' record"):
        parse("".join(LINES[:g + 1] + [LINES[g]] + LINES[g + 1:]))
    row = line_of("LAT/LON1/LON2/DLON/H", 0) + 2  # after map 1's first latitude row and its values
    while LINES[row][60:].strip() == "":
        row += 1
    with pytest.raises(IonexFormatError, match="EXPONENT after the first latitude row of TEC map 1") as err:
        parse("".join(LINES[:row] + [exp] + LINES[row:]))
    assert err.value.line == row + 1
    with pytest.raises(IonexFormatError, match="the step runs away from LAT2") as err:  # 87.5 .. -87.5 by +2.5
        parse("".join(LINES[:g] + ["    87.5 -87.5   2.5".ljust(60) + "LAT1 / LAT2 / DLAT  \n"] + LINES[g + 1:]))
    assert "(-2.5)" in str(err.value)
    k = line_of("START OF TEC MAP", 1) + 1
    with pytest.raises(IonexFormatError, match="a second EXPONENT in TEC map 2"):
        parse("".join(LINES[:k + 1] + [exp, exp] + LINES[k + 1:]))


def test_a_grid_too_fine_to_be_real_is_refused_before_anything_is_allocated():
    """Issue 18: a DLAT of 1e-7 made the reader allocate ~13 GiB."""
    i = line_of("LAT1 / LAT2 / DLAT")
    record = "    87.5 -87.5 -1e-7".ljust(60) + "LAT1 / LAT2 / DLAT  \n"
    with pytest.raises(IonexFormatError, match="nodes per map") as err:
        parse("".join(LINES[:i] + [record] + LINES[i + 1:]))
    assert "0.1° grid" in str(err.value)


def test_empty_and_blank_files():
    for data in (b"", b"   \n\n"):
        with pytest.raises(IonexFormatError, match="empty file"):
            parse_ionex(data, "x.20i")


def test_not_an_ionex_file():
    with pytest.raises(IonexFormatError, match="not 'IONEX VERSION / TYPE'") as err:
        parse("hello world\n" * 5)
    assert err.value.line == 1


def test_unsupported_version():
    text = TEXT.replace("     1.0            IONOSPHERE MAPS", "     2.0            IONOSPHERE MAPS", 1)
    with pytest.raises(IonexFormatError, match="unsupported IONEX version 2"):
        parse(text)


def test_ionex_1_1_is_accepted():
    text = TEXT.replace("     1.0            IONOSPHERE MAPS", "     1.1            IONOSPHERE MAPS", 1)
    assert parse(text).attrs["ionex_version"] == 1.1


def test_truncated_gzip_stream(tmp_path):
    data = gzip.compress(TEXT.encode())
    p = tmp_path / "codg0080.20i.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(IonexFormatError, match="truncated gzip") as err:
        read_ionex(p)
    assert str(p) in str(err.value)


def test_corrupt_gzip_stream(tmp_path):
    data = bytearray(gzip.compress(TEXT.encode()))
    data[100:110] = b"\xff" * 10
    p = tmp_path / "codg0080.20i.gz"
    p.write_bytes(bytes(data))
    with pytest.raises(IonexFormatError, match="corrupt gzip|truncated gzip"):
        read_ionex(p)


def test_named_compressed_but_plain_garbage(tmp_path):
    p = tmp_path / "codg0080.20i.Z"
    p.write_bytes(b"<html>login</html>")
    with pytest.raises(IonexFormatError, match="not a gzip or Unix-compress stream"):
        read_ionex(p)


@pytest.mark.parametrize("use_gzip_tool", [True, False], ids=["gzip-binary", "unlzw3"])
def test_truncated_and_corrupt_unix_compress_streams(ionex_dir, tmp_path, monkeypatch, use_gzip_tool):
    if not use_gzip_tool:
        monkeypatch.setattr("swx.io.compression.shutil.which", lambda name: None)
    z = (ionex_dir / "codg0080.20i.Z").read_bytes()
    good = tmp_path / "codg0080.20i.Z"
    good.write_bytes(z)
    assert read_ionex(good).sizes["time"] == 25  # both decoders read the real file
    cut = tmp_path / "codg0090.20i.Z"
    cut.write_bytes(z[: len(z) // 3])
    with pytest.raises(IonexFormatError) as err:
        read_ionex(cut)
    assert "codg0090.20i.Z" in str(err.value)
    corrupt = bytearray(z)
    corrupt[3:40] = bytes(range(200, 237))
    bad = tmp_path / "codg0100.20i.Z"
    bad.write_bytes(bytes(corrupt))
    with pytest.raises(IonexFormatError):
        read_ionex(bad)


def test_unpadded_header_lines_and_crlf_are_read():
    end = line_of("END OF HEADER")
    text = "".join((line.rstrip() + "\r\n") if i < end else line for i, line in enumerate(LINES))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = parse(text)
    assert ds.sizes["time"] == 13


def test_float_interval_and_60_second_epoch():
    i = line_of("INTERVAL")
    text = "".join(LINES[:i] + ["  7200.0".ljust(60) + "INTERVAL            \n"] + LINES[i + 1:])
    j = line_of("EPOCH OF LAST MAP")
    last = "  2020     1     8    23    59    60".ljust(60) + "EPOCH OF LAST MAP   \n"
    text = "".join(text.splitlines(keepends=True)[:j] + [last] + text.splitlines(keepends=True)[j + 1:])
    with pytest.warns(IonexWarning, match="23:59:60"):
        ds = parse(text)
    assert ds.attrs["interval_s"] == 7200.0


def test_missing_end_of_file_warns_but_reads():
    with pytest.warns(IonexWarning, match="no END OF FILE"):
        ds = parse(without(line_of("END OF FILE")))
    assert ds.sizes["time"] == 13


def test_per_map_exponent_applies_to_that_map_only():
    i = line_of("START OF TEC MAP", 1) + 1  # after EPOCH OF CURRENT MAP of map 2
    text = "".join(LINES[:i + 1] + ["    -2".ljust(60) + "EXPONENT            \n"] + LINES[i + 1:])
    ds = parse(text)
    ref = make_gim().tec.values
    np.testing.assert_allclose(ds.tec.values[1], ref[1] / 10, rtol=1e-5)
    np.testing.assert_allclose(ds.tec.values[2], ref[2], rtol=1e-6)


def test_error_is_a_value_error_subclass_with_fields():
    with pytest.raises(ValueError):
        parse("nope\n")
    err = IonexFormatError("bad", path="f", line=3, expected="good")
    assert str(err) == "f, line 3: bad (expected good)"


def test_padded_value_lines_are_read_and_errors_still_name_the_line():
    i = line_of("START OF TEC MAP") + 3
    padded = LINES[i].rstrip("\n") + " " * 7 + "\n"  # trailing blanks lose nothing
    text = "".join(LINES[:i] + [padded] + LINES[i + 1:])
    ds = parse(text)
    np.testing.assert_allclose(ds.tec.values, make_gim().tec.values, atol=1e-6)
    # the same file with a bad field further on: the irregular-layout path must report it too
    k = line_of("START OF TEC MAP", 1) + 3
    bad = LINES[k][:20] + "  x  " + LINES[k][25:]
    lines = text.splitlines(keepends=True)
    with pytest.raises(IonexFormatError, match="non-numeric value '  x  '") as err:
        parse("".join(lines[:k] + [bad] + lines[k + 1:]))
    assert err.value.line == k + 1


def test_uniformly_padded_lines_stay_on_the_fast_path_and_bad_padding_is_reported():
    # every 9-value line padded to 80 columns, as ESA writes them
    padded = [line.rstrip("\n").ljust(80) + "\n" if len(line) == 46 else line for line in LINES]
    assert sum(len(line) == 81 for line in padded) > sum(len(line) == 81 for line in LINES)
    ds = parse("".join(padded))
    np.testing.assert_allclose(ds.tec.values, make_gim().tec.values, atol=1e-6)
    k = max(i for i, line in enumerate(padded) if len(line) == 81 and line[:45].strip() and not line[60:].strip()
            and line[45:].strip() == "")
    bad = padded[k][:70] + "7" + padded[k][71:]
    with pytest.raises(IonexFormatError, match="value line has 80 columns") as err:
        parse("".join(padded[:k] + [bad] + padded[k + 1:]))
    assert err.value.line == k + 1


def _record(i: int, content: str) -> str:
    return "".join(LINES[:i] + [content.ljust(60) + LINES[i][60:]] + LINES[i + 1:])


@pytest.mark.parametrize("label, nth, content, message", [
    ("EPOCH OF FIRST MAP", 0, "    20     1     8     0     0     0", r"line \d+: year 20 in 'EPOCH OF FIRST MAP'"),
    ("EPOCH OF CURRENT MAP", 2, "    20     1     8     4     0     0", r"line \d+: year 20 in 'EPOCH OF CURRENT MAP'"),
    ("HGT1 / HGT2 / DHGT", 0, "   45000.0 45000.0   0.0", "HGT1 / HGT2 = 45000 / 45000 km"),
    ("HGT1 / HGT2 / DHGT", 0, "     450.0   350.0   0.0", "HGT1 / HGT2 = 450 / 350 km"),
    ("LAT1 / LAT2 / DLAT", 0, "     187.5  -187.5  -2.5", "LAT1/LAT2 = 187.5 -187.5 degrees"),
    ("EPOCH OF LAST MAP", 0, "  2020     1     7     0     0     0",
     r"line \d+: EPOCH OF LAST MAP 2020-01-07 00:00 is before EPOCH OF FIRST MAP 2020-01-08 00:00"),
], ids=["two-digit-year-header", "two-digit-year-map", "height-beyond-F6.1", "two-heights", "latitude-beyond-90",
        "last-epoch-before-first"])
def test_a_header_no_ionosphere_map_can_have_is_refused_in_one_line(label, nth, content, message):
    """A fresh round: a two-digit year was read as 1773 (year 20, nanoseconds overflowing) without a
    word; a shell height of 45000 km ended in a NumPy reshape error."""
    with pytest.raises(IonexFormatError, match=message) as err:
        parse(_record(line_of(label, nth), content))
    assert "test.20i" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("pad, refused", [(lambda ln: ln + " ", False), (lambda ln: f"{ln:<100}", False),
                                          (lambda ln: ln + "\t\t", True)], ids=["one-space", "to-100", "two-tabs"])
def test_trailing_whitespace_after_every_record_is_read_or_named_never_a_traceback(ionex_dir, pad, refused):
    """A sixth round: trailing spaces or tabs on every line crashed the fast path (numpy's "operands
    could not be broadcast"). Spaces past a record are read as the file without them; tabs make a
    value line longer than its fields, named by its line."""
    import warnings

    from swx.io.ionex import parse_ionex

    original = (ionex_dir / "jplg3190.15i").read_text()
    padded = "\n".join(pad(ln) for ln in original.splitlines()) + "\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if refused:
            with pytest.raises(IonexFormatError, match=r"padded.15i, line \d+: value line has"):
                parse_ionex(padded.encode(), "padded.15i")
            return
        got, want = parse_ionex(padded.encode(), "padded.15i"), parse_ionex(original.encode(), "jplg3190.15i")
    np.testing.assert_array_equal(got.tec.values, want.tec.values)
    np.testing.assert_array_equal(got.rms.values, want.rms.values)


@pytest.mark.parametrize("label, value, message", [
    ("BASE RADIUS", "  -6371.0", r"BASE RADIUS -6371 km \(expected the Earth's radius"),
    ("MAPPING FUNCTION", "  XXXX", r"MAPPING FUNCTION 'XXXX' \(expected one of those the format names: NONE, COSZ"),
])
def test_header_values_no_gim_can_hold_are_refused(label, value, message):
    """A seventh round: a BASE RADIUS of -6371 km and a MAPPING FUNCTION 'XXXX' were archived as the
    map's metadata without a word."""
    text = gim_text()
    lines = text.splitlines()
    i = next(n for n, ln in enumerate(lines) if ln[60:].strip() == label)
    lines[i] = f"{value:<60}{label:<20}"
    with pytest.raises(IonexFormatError, match=message):
        parse_ionex(("\n".join(lines) + "\n").encode(), "edited.20i")


def test_fixed_width_fields_that_touch_are_read_by_their_columns():
    """An eighth round: `  1350.01350.0   0.0` (2X,3F6.1: a shell at 1350 km, values filling their
    fields) was refused as "non-numeric"."""
    from swx.io.ionex.header import header_numbers

    assert header_numbers("  1350.01350.0   0.0", "x.i", 16, "HGT1 / HGT2 / DHGT", 3) == [1350.0, 1350.0, 0.0]
    assert header_numbers("  -180.0 180.0   5.0", "x.i", 17, "LON1 / LON2 / DLON", 3) == [-180.0, 180.0, 5.0]
    with pytest.raises(IonexFormatError, match="non-numeric value"):
        header_numbers("  1350.x1350.0   0.0", "x.i", 16, "HGT1 / HGT2 / DHGT", 3)


@pytest.mark.parametrize("inserted, message", [("\n", "a blank line"), ("   123   45\n", "values")],
                         ids=["blank", "values"])
def test_a_line_out_of_place_in_a_map_block_is_named_at_its_own_line(inserted, message):
    """A sixth round: a blank line after each record was refused naming the START OF TEC MAP line, not
    the misplaced one."""
    i = line_of("EPOCH OF CURRENT MAP", 1) + 1  # after the second map's epoch
    with pytest.raises(IonexFormatError, match=f"{message} before the first latitude record of TEC map 2") as err:
        parse("".join(LINES[:i] + [inserted] + LINES[i:]))
    assert err.value.line == i + 1


def test_a_map_numbered_twice_is_named_not_blamed_on_the_rms_map():
    """A ninth round: TEC map 2 renumbered 1 silently replaced map 1, and the error blamed the RMS map's
    epoch."""
    start, end = line_of("START OF TEC MAP", 1), line_of("END OF TEC MAP", 1)
    lines = list(LINES)
    for i in (start, end):
        lines[i] = f"{1:6d}".ljust(60) + lines[i][60:]
    with pytest.raises(IonexFormatError, match=r"the 2nd TEC map is numbered 1 \(a second time\)"):
        parse("".join(lines))
