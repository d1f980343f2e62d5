"""The general IONEX body parser: map blocks checked line by line (vectorised) and their I5 values
parsed, for any layout the format allows (any line breaks, partial files, RMS and HEIGHT maps)."""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass

import numpy as np

from swx.errors import IonexFormatError
from swx.io.ionex.header import (
    EPOCH_YEARS,
    FIELD,
    MAP_KINDS,
    NO_VALUE,
    TEC_RANGE,
    VALUES_PER_LINE,
    IonexHeader,
    IonexWarning,
    checked_exponent,
    grid_axis,
    header_epoch,
    header_numbers,
)

_MAP_LABEL = {f"{se} OF {kind} MAP": (se, kind) for se in ("START", "END") for kind in MAP_KINDS}


_BODY_LABELS = {k.encode(): k for k in (*_MAP_LABEL, "EPOCH OF CURRENT MAP", "EXPONENT", "END OF FILE", "COMMENT")}


@dataclass
class Block:
    kind: str
    number: int
    start: int  # body line index of START OF ... MAP
    end: int = -1  # body line index of END OF ... MAP
    epoch: dt.datetime | None = None
    exponent: int | None = None
    exponent_line: int = -1  # body line index of its EXPONENT record


_CHUNK = 65536  # fields per pass: scratch buffers stay in cache and are reused, not re-allocated


def _first_bad_field(f: np.ndarray) -> int | None:
    """Index of the first field of `f` (flat uint8, whole fields) that is not `blanks, [minus], digits`."""
    digit = (f - np.uint8(48)) < 10
    allowed = digit | (f == 32) | (f == 45)
    # Bytes are ordered blank (32) < minus (45) < digits (48-57): inside a field, anything but a blank
    # must be followed by a digit; only across a field boundary may a digit meet a blank or a minus.
    pair_bad = np.zeros(f.size, dtype=bool)
    np.greater(f[:-1], 32, out=pair_bad[:-1])
    pair_bad[:-1] &= ~digit[1:]
    pair_bad[FIELD - 1::FIELD] = ~digit[FIELD - 1::FIELD]  # the last byte of a field must be a digit
    bad = np.flatnonzero(~allowed | pair_bad)
    return int(bad[0]) // FIELD if len(bad) else None


@functools.lru_cache(maxsize=16)
def expected_records(lat: tuple[float, float, float], lon: tuple[float, float, float], h: float) -> np.ndarray:
    """The first 32 columns of each LAT/LON1/LON2/DLON/H record of a grid, as uint8 rows."""
    text = "".join(f"  {la:6.1f}{lon[0]:6.1f}{lon[1]:6.1f}{lon[2]:6.1f}{h:6.1f}" for la in grid_axis(*lat))
    out = np.frombuffer(text.encode(), dtype=np.uint8).reshape(-1, 32)
    out.flags.writeable = False
    return out


def _apply_exponent(values: np.ndarray, exponent: int) -> None:
    """Scale in place by 10**exponent, correctly rounded: 9 at EXPONENT -1 is float32(0.9), not 9 * 0.1."""
    if exponent < 0:
        values /= np.float32(10.0 ** -exponent)
    elif exponent > 0:
        values *= np.float32(10.0 ** exponent)


class _FieldParser:
    """Parses right-aligned I5 fields into scaled float32 values, NaN for 9999, chunk by chunk.

    Every check is a pass over a cache-sized chunk with preallocated scratch buffers, column-wise:
    the five bytes of a field are too short an axis for per-field numpy reductions to be fast, and
    fresh multi-megabyte temporaries cost more in page faults than the arithmetic itself.
    """

    def __init__(self, max_fields: int) -> None:
        nb = max_fields * FIELD
        self.digit = np.empty(nb, bool)
        self.flag = np.empty(nb, bool)
        self.scratch = np.empty(nb, np.uint8)
        self.low = np.empty(max_fields, np.uint16)
        self.tmp = np.empty(max_fields, np.uint16)
        self.nan = np.empty(max_fields, bool)

    def parse(self, f: np.ndarray, out: np.ndarray, exponent: int) -> int | None:
        """Fill `out` (float32, len(f)//5) from `f`; return the index of the first bad field or None."""
        m = f.size
        k = m // FIELD
        dg, fl, sc = self.digit[:m], self.flag[:m], self.scratch[:m]
        np.subtract(f, np.uint8(48), out=sc)
        np.less(sc, 10, out=dg)
        np.equal(f, 32, out=fl)
        fl |= dg
        has_minus = not fl.all()  # some byte is neither blank nor digit: a minus, or garbage
        # A non-blank byte followed by a non-digit inside a field is malformed.
        np.greater(f[:-1], 32, out=fl[:-1])
        fl[-1] = False
        np.greater(fl[:-1], dg[1:], out=fl[:-1])  # for booleans a > b is a and not b
        np.logical_not(dg[FIELD - 1::FIELD], out=fl[FIELD - 1::FIELD])  # a field ends with a digit
        if fl.any() or (has_minus and not np.all(dg | (f == 32) | (f == 45))):
            return _first_bad_field(f)
        np.bitwise_and(f, np.uint8(15), out=sc)  # '0'-'9' -> 0-9, blank -> 0, minus -> 13 (fixed below)
        if has_minus:
            minus = f == 45
            sc[minus] = 0
        dd = sc.reshape(-1, FIELD)
        lo, tt, nan = self.low[:k], self.tmp[:k], self.nan[:k]
        np.multiply(dd[:, 1], np.uint16(1000), out=lo)
        np.multiply(dd[:, 2], np.uint16(100), out=tt)
        lo += tt
        np.multiply(dd[:, 3], np.uint16(10), out=tt)
        lo += tt
        lo += dd[:, 4]
        np.equal(lo, NO_VALUE, out=nan)
        out[:] = lo
        if dd[:, 0].any():
            big = dd[:, 0] != 0
            out += dd[:, 0].astype(np.float32) * np.float32(10000)
            nan &= ~big
        if has_minus:
            neg = minus.reshape(-1, FIELD).any(axis=1)
            out[neg] *= -1
            nan &= ~neg
        _apply_exponent(out, exponent)
        out[nan] = np.nan
        return None


def parse_value_rows(rows: np.ndarray, offsets: np.ndarray, counts: np.ndarray, exponent: int,
                      values: np.ndarray) -> int | None:
    """Parse the I5 values of every latitude row of every map into `values` (maps, nlat, nlon).

    `rows` is a (maps, nlat, width) byte view of the rows, whose value lines start at `offsets`
    and hold `counts` values each. A few maps at a time are copied out of the (strided) view into a
    cache-resident buffer and parsed; returns the flat index of the first bad field, or None."""
    nb, nlat, nlon = values.shape
    per_map = nlat * nlon
    flat_values = values.reshape(-1)
    parser = _FieldParser(max(_CHUNK, per_map))
    g = max(1, _CHUNK // per_map)
    buf = np.empty((g, nlat, nlon * FIELD), dtype=np.uint8)
    for b0 in range(0, nb, g):
        b1 = min(nb, b0 + g)
        part = buf[:b1 - b0]
        dst = 0
        for off, c in zip(offsets.tolist(), counts.tolist()):
            w = int(c) * FIELD
            part[:, :, dst:dst + w] = rows[b0:b1, :, int(off):int(off) + w]
            dst += w
        k = parser.parse(part.reshape(-1), flat_values[b0 * per_map:b1 * per_map], exponent)
        if k is not None:
            return b0 * per_map + k
    return None


def parse_body(text: bytes, off: int, hdr: IonexHeader, path: str, first_line: int,
                allow_partial: bool) -> tuple[list[Block], np.ndarray]:
    """Locate the map blocks after byte `off` (the end of the header) and parse all their values.

    Returns (blocks, values): values is float32 (n_blocks, nlat, nlon) in TECU (or km), NaN for
    9999, in block order. `first_line` is the 1-based file line number of the first body line.
    Line starts/ends are absolute byte offsets into `text`; line indices count body lines.
    """
    lats, lons = hdr.lats, hdr.lons
    nlat, nlon = len(lats), len(lons)
    per_row = -(-nlon // VALUES_PER_LINE)
    body = text
    arr = np.frombuffer(text, dtype=np.uint8)
    nl = np.flatnonzero(arr[off:] == 10)
    nl += off
    ends = nl if (len(arr) == off or arr[-1] == 10) else np.append(nl, len(arr))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = off
        starts[1:] = ends[:-1] + 1
    lengths = ends - starts
    nlines = len(starts)

    def lineno(i: int) -> int:
        return first_line + int(i)

    # A record line carries its label from column 61; value lines hold only digits, blanks and minus.
    long_enough = lengths > 62
    c60 = np.zeros(nlines, dtype=np.uint8)
    c60[long_enough] = arr[starts[long_enough] + 60]
    is_label = (c60 >= 65) & (c60 <= 90)
    is_lat = np.zeros(nlines, dtype=bool)
    is_lat[long_enough] = ((c60[long_enough] == 76) & (arr[starts[long_enough] + 61] == 65)
                           & (arr[starts[long_enough] + 62] == 84))  # "LAT"

    for i in np.flatnonzero((c60 >= 97) & (c60 <= 122)):  # a label in lower case is no label to the loop below
        said = body[int(starts[i]) + 60:int(ends[i])].decode("ascii", "replace").strip()
        if said.upper().encode() in _BODY_LABELS or said.upper().startswith("LAT/LON1/LON2/DLON/H"):
            raise IonexFormatError(f"label {said!r} in lower case", path=path, line=lineno(int(i)),
                                   expected=f"IONEX's labels in capitals, here {said.upper()!r}")

    blocks: list[Block] = []
    current: Block | None = None
    saw_eof = False
    truncated: str | None = None
    ignore_from = nlines  # lines of an incomplete last map (kept out of the checks when reading partially)
    for i in np.flatnonzero(is_label & ~is_lat):
        i = int(i)
        s0 = int(starts[i])
        label = _BODY_LABELS.get(body[s0 + 60:int(ends[i])].strip())
        content = body[s0:s0 + 60].decode("ascii", "replace")
        if label is None:
            label = body[s0 + 60:int(ends[i])].decode("ascii", "replace").strip()
        if saw_eof:
            raise IonexFormatError(f"record {label!r} after END OF FILE", path=path, line=lineno(i),
                                   expected="nothing after END OF FILE")
        m = _MAP_LABEL.get(label)
        if m:
            try:
                number = int(content.split()[0])
            except (ValueError, IndexError):
                raise IonexFormatError(f"{label!r} without a map number", path=path, line=lineno(i),
                                       expected="I6 map number") from None
            if m[0] == "START":
                if current is not None:
                    raise IonexFormatError(
                        f"missing END OF {current.kind} MAP for map {current.number} "
                        f"(started at line {lineno(current.start)})", path=path, line=lineno(i),
                        expected=f"END OF {current.kind} MAP before the next map")
                current = Block(m[1], number, i)
            else:
                if current is None or current.kind != m[1] or current.number != number:
                    raise IonexFormatError(f"{label!r} {number} without a matching START", path=path,
                                           line=lineno(i), expected="START OF ... MAP first")
                current.end = i
                blocks.append(current)
                current = None
        elif label == "EPOCH OF CURRENT MAP":
            if current is None:
                raise IonexFormatError("EPOCH OF CURRENT MAP outside a map block", path=path,
                                       line=lineno(i), expected="START OF ... MAP first")
            try:
                y, mo, d, hh, mi, ss = (int(x) for x in content.split())
                epoch = (dt.datetime(y, mo, d, hh, mi, ss, tzinfo=dt.UTC)
                         if hh < 24 and mi < 60 and ss < 60 and EPOCH_YEARS[0] <= y <= EPOCH_YEARS[1] else None)
            except ValueError:
                epoch = None
            current.epoch = epoch or header_epoch(header_numbers(content, path, lineno(i), label, 6), path,
                                                  lineno(i), label)
        elif label == "EXPONENT":
            value = checked_exponent(header_numbers(content, path, lineno(i), label, 1)[0], path, lineno(i))
            if current is None:  # as a new default it would rescale the maps already read, silently
                raise IonexFormatError("EXPONENT between maps", path=path, line=lineno(i),
                                       expected="EXPONENT in the header, or inside a map block after its START "
                                                "record (that map's own)")
            if current.exponent is not None:
                raise IonexFormatError(f"a second EXPONENT in {current.kind} map {current.number}", path=path,
                                       line=lineno(i), expected="one EXPONENT per map, before its first latitude row")
            current.exponent, current.exponent_line = value, i
        elif label == "END OF FILE":
            saw_eof = True
            if current is not None:
                truncated = (f"END OF FILE inside {current.kind} map {current.number} "
                             f"(started at line {lineno(current.start)})")
                ignore_from = current.start
                current = None
        elif label == "COMMENT" and current is None:
            continue
        else:
            raise IonexFormatError(f"unexpected record {label!r}", path=path, line=lineno(i),
                                   expected="a map block record or END OF FILE")
    if current is not None:
        truncated = (f"missing END OF {current.kind} MAP for map {current.number} "
                     f"(started at line {lineno(current.start)}; file truncated?)")
        ignore_from = current.start
    if truncated:
        if not allow_partial:
            raise IonexFormatError(truncated, path=path, line=first_line + nlines - 1,
                                   expected="complete map blocks (`swx ionex info --partial`, or read_ionex(..., allow_partial=True), reads those)")
        warnings.warn(f"{path}: {truncated}; incomplete map dropped", IonexWarning, stacklevel=3)
    elif not saw_eof:
        warnings.warn(f"{path}: no END OF FILE record after {len(blocks)} complete maps; read anyway",
                      IonexWarning, stacklevel=3)

    if not blocks:
        raise IonexFormatError("no complete map in file", path=path, line=first_line + max(nlines - 1, 0),
                               expected="at least one START OF TEC MAP ... END OF TEC MAP block")

    # Value lines outside map blocks must be blank.
    inside = np.zeros(nlines + 1, dtype=np.int8)
    for b in blocks:
        inside[b.start] += 1
        inside[b.end + 1] -= 1
    inside = np.cumsum(inside[:-1]).astype(bool)
    stray = np.flatnonzero(~inside[:ignore_from] & ~is_label[:ignore_from] & (lengths[:ignore_from] > 0))
    for i in stray:
        if body[starts[i]:ends[i]].strip():
            raise IonexFormatError("values outside a map block", path=path, line=lineno(i),
                                   expected="values only between START and END OF ... MAP")

    # Structure of each block: its latitude records, each followed by exactly `per_row` value lines.
    lat_idx = np.flatnonzero(is_lat)
    label_idx = np.flatnonzero(is_label)
    for b in blocks:
        if b.epoch is None:
            raise IonexFormatError(f"{b.kind} map {b.number} has no EPOCH OF CURRENT MAP", path=path,
                                   line=lineno(b.start), expected="EPOCH OF CURRENT MAP after START")
    b_start = np.array([b.start for b in blocks])
    b_end = np.array([b.end for b in blocks])
    lo = np.searchsorted(lat_idx, b_start)
    hi = np.searchsorted(lat_idx, b_end)
    wrong = np.flatnonzero(hi - lo != nlat)
    if len(wrong):
        b = blocks[int(wrong[0])]
        raise IonexFormatError(f"{b.kind} map {b.number} has {int(hi[wrong[0]] - lo[wrong[0]])} latitude rows",
                               path=path, line=lineno(b.start), expected=f"{nlat} rows from LAT1/LAT2/DLAT")
    rec = lat_idx[(lo[:, None] + np.arange(nlat)[None, :]).ravel()]
    # Between START and the first latitude record only records (EPOCH, EXPONENT) may stand.
    first_rec = rec[::nlat]
    labels_before = np.searchsorted(label_idx, first_rec) - np.searchsorted(label_idx, b_start)
    wrong = np.flatnonzero(labels_before != first_rec - b_start)
    if len(wrong):
        k = int(wrong[0])
        b = blocks[k]
        first = next(i for i in range(b.start, int(first_rec[k])) if not is_label[i])  # the first misplaced line
        what = "a blank line" if not body[starts[first]:ends[first]].strip() else "values"
        raise IonexFormatError(f"{what} before the first latitude record of {b.kind} map {b.number}",
                               path=path, line=lineno(first),
                               expected="only EPOCH OF CURRENT MAP and EXPONENT records, then LAT/LON1/LON2/DLON/H")
    # a map's EXPONENT scales the whole map: after a latitude row it would rescale the rows above it
    late = [b for b, first in zip(blocks, first_rec) if b.exponent_line > first]
    if late:
        b = late[0]
        raise IonexFormatError(f"EXPONENT after the first latitude row of {b.kind} map {b.number}", path=path,
                               line=lineno(b.exponent_line),
                               expected="a map's EXPONENT right after its EPOCH OF CURRENT MAP, before the rows")
    nxt_label = label_idx[np.searchsorted(label_idx, rec, side="right")]
    bad = np.flatnonzero(nxt_label - rec - 1 != per_row)
    if len(bad):
        r = int(rec[bad[0]])
        raise IonexFormatError(f"{int(nxt_label[bad[0]] - r - 1)} value lines after this latitude record",
                               path=path, line=lineno(r),
                               expected=f"{per_row} lines holding {nlon} values (16 per line)")

    # Value lines: their first 5*count columns hold the values; anything after must be blank padding.
    nb = len(blocks)
    counts = np.full(per_row, VALUES_PER_LINE)
    counts[-1] = nlon - VALUES_PER_LINE * (per_row - 1)
    vline = (rec[:, None] + 1 + np.arange(per_row)[None, :]).ravel()
    want_len = np.tile(counts * FIELD, len(rec))
    vlen = lengths[vline]
    want_row = counts * FIELD
    vlen_rows = vlen.reshape(len(rec), per_row)
    short = np.flatnonzero(vlen < want_len)
    if len(short):
        i = int(vline[short[0]])
        vtext = body[starts[i]:ends[i]]
        raise IonexFormatError(f"value line has {len(vtext)} columns ({len(vtext.split())} fields)", path=path,
                               line=lineno(i), expected=f"{counts[short[0] % per_row]} values in I5 fields")
    exact = bool(np.array_equal(vlen, want_len))
    # Lines may be padded with blanks (ESA pads to 80 columns): fine when every row looks the same.
    uniform = bool(np.all(vlen_rows == vlen_rows[0]))

    # Regular layout (every row and every map block the same number of bytes apart, as writers
    # produce): the rows are then strided views of the buffer and need no per-row work at all.
    offsets = starts[rec].reshape(nb, nlat)
    rec_len = lengths[rec]
    row_step = int(offsets[0, 1] - offsets[0, 0]) if nlat > 1 else 0
    block_step = int(offsets[1, 0] - offsets[0, 0]) if nb > 1 else 0
    regular = (uniform and bool(np.all(rec_len == rec_len[0]))
               and bool(np.all(np.diff(offsets, axis=1) == row_step))
               and bool(np.all(np.diff(offsets[:, 0]) == block_step)))
    line_offsets = int(rec_len[0]) + 1 + np.concatenate([[0], np.cumsum(vlen_rows[0] + 1)[:-1]])

    def padding_error(j: int) -> IonexFormatError:
        i = int(vline[j])
        vtext = body[starts[i]:ends[i]]
        return IonexFormatError(f"value line has {len(vtext)} columns ({len(vtext.split())} fields)", path=path,
                                line=lineno(i), expected=f"{counts[j % per_row]} values in I5 fields")

    if not exact and not regular:
        for j in np.flatnonzero(vlen != want_len):
            i = int(vline[j])
            if body[starts[i] + want_len[j]:ends[i]].strip():
                raise padding_error(int(j))
    o0 = int(offsets[0, 0])

    def rows(offset: int, width: int) -> np.ndarray:
        """(nb, nlat, width) view of `width` bytes at `offset` from each latitude record's start."""
        return np.lib.stride_tricks.as_strided(arr[o0 + offset:], shape=(nb, nlat, width),
                                               strides=(block_step, row_step, 1), writeable=False)

    if regular and not exact:
        for k in range(per_row):
            extra = int(vlen_rows[0, k] - want_row[k])
            if extra:
                pad = rows(int(line_offsets[k] + want_row[k]), extra)
                bad_pad = np.flatnonzero((pad != 32).any(axis=2).ravel())
                if len(bad_pad):
                    raise padding_error(int(bad_pad[0]) * per_row + k)

    # Latitude records must describe the header grid: compare their first 32 columns byte for byte
    # with the expected text, and only parse (and report) the ones that differ.
    h = hdr.hgt[0]
    expected_rec = expected_records(hdr.lat, hdr.lon, h)
    if regular:
        got_rec = rows(0, 32)
    else:
        got_rec = arr[starts[rec][:, None] + np.arange(32)[None, :]].reshape(nb, nlat, 32)
    differ = np.flatnonzero((got_rec != expected_rec[None]).any(axis=2).ravel())
    for j in differ:
        r = int(rec[j])
        rtext = body[starts[r]:starts[r] + 60].decode("ascii", "replace")
        nums = header_numbers(" ".join(rtext[k:k + 6] for k in range(2, 32, 6)), path, lineno(r),
                        "LAT/LON1/LON2/DLON/H", 5)
        want = (lats[j % nlat], *hdr.lon, h)
        if not np.allclose(nums[:5], want, atol=1e-6):
            raise IonexFormatError(f"latitude record {rtext.strip()!r} does not match the header grid",
                                   path=path, line=lineno(r),
                                   expected="LAT/LON1/LON2/DLON/H = " + " ".join(f"{x:.1f}" for x in want))

    exps = np.array([b.exponent if b.exponent is not None else hdr.exponent for b in blocks])
    common = bool(np.all(exps == exps[0]))
    exponent = int(exps[0]) if common else 0
    values = np.empty((nb, nlat, nlon), dtype=np.float32)
    flat_values = values.reshape(-1)
    per_map = nlat * nlon
    bad: int | None = None
    if regular:
        width = int(line_offsets[-1] + vlen_rows[0, -1])  # through the last value line of a row
        bad = parse_value_rows(rows(0, width), line_offsets, counts, exponent, values)
    else:
        if exact:
            first = starts[rec + 1].tolist()
            last = ends[rec + per_row].tolist()
            joined = b"".join([text[a:b] for a, b in zip(first, last)]).replace(b"\n", b"")
            flat = np.frombuffer(joined, dtype=np.uint8)
        else:
            vstart = starts[vline]
            marker = np.zeros(len(arr) + 1, dtype=np.int8)
            marker[vstart] = 1
            marker[vstart + want_len] = -1
            flat = arr[np.cumsum(marker[:-1], dtype=np.int8).view(bool)]
        parser = _FieldParser(max(_CHUNK, per_map))
        for s0 in range(0, flat_values.size, _CHUNK):
            s1 = min(flat_values.size, s0 + _CHUNK)
            k = parser.parse(flat[s0 * FIELD:s1 * FIELD], flat_values[s0:s1], exponent)
            if k is not None:
                bad = s0 + k
                break
    def field_at(flat_index: int) -> tuple[int, int, str]:
        """(file line, first column, text) of the I5 field holding value `flat_index` of `values`."""
        row, col = divmod(flat_index, nlon)
        line_in_row, pos = divmod(col, VALUES_PER_LINE)
        i = int(rec[row] + 1 + line_in_row)
        j = int(starts[i]) + pos * FIELD
        return lineno(i), pos * FIELD + 1, text[j:j + FIELD].decode("ascii", "replace")

    if bad is not None:
        line, col, field_text = field_at(bad)
        raise IonexFormatError(f"non-numeric value {field_text!r} in columns {col}-{col + FIELD - 1}",
                               path=path, line=line, expected="an integer in an I5 field")
    if not common:
        for j, e in enumerate(exps):
            _apply_exponent(values[j], int(e))
    # TEC and RMS must be physical (HGT maps hold heights): not infinite, not negative, not absurd
    physical = np.array([b.kind in ("TEC", "RMS") for b in blocks])
    lo, hi = TEC_RANGE
    wrong = physical[:, None, None] & ~(np.isnan(values) | ((values >= lo) & (values <= hi)))
    if wrong.any():
        k = int(np.flatnonzero(wrong.reshape(-1))[0])
        line, col, field_text = field_at(k)
        b = blocks[k // per_map]
        raise IonexFormatError(f"{b.kind} value {field_text.strip()} x 10^{int(exps[k // per_map])} = "
                               f"{float(values.reshape(-1)[k]):g} TECU in columns {col}-{col + FIELD - 1}",
                               path=path, line=line, expected=f"{lo:g} .. {hi:g} TECU, or 9999 for no value")
    return blocks, values
