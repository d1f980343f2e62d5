"""The fast path of the IONEX reader: files whose maps are laid out as the format's regular tiles (every
real GIM) are parsed in one vectorised pass; anything else falls back to the general body parser."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np

from swx.io.ionex.body import Block, expected_records, parse_value_rows
from swx.io.ionex.header import EPOCH_YEARS, FIELD, TEC_RANGE, VALUES_PER_LINE, IonexHeader, IonexWarning


def _int_fields(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned unsigned integers in fixed-width fields (last axis = field bytes): values, ok."""
    d = b.astype(np.int16) - 48
    digit = (d >= 0) & (d <= 9)
    blank = b == 32
    ok = (digit | blank).all(axis=-1) & digit[..., -1] & ~(digit[..., :-1] & blank[..., 1:]).any(axis=-1)
    weights = 10 ** np.arange(b.shape[-1] - 1, -1, -1, dtype=np.int64)
    return (np.where(digit, d, 0) * weights).sum(axis=-1), ok


def parse_tiled(text: bytes, off: int, hdr: IonexHeader, path: str) -> tuple[list[Block], np.ndarray] | None:
    """Fast path for the common case: every map block has the same byte layout as the first one.

    The first block is read line by line and becomes a template; every other block is then checked
    against it with a few vectorised comparisons (line ends, latitude records, record labels, blank
    columns) and its values are parsed from strided views. Anything that does not fit the template
    returns None and the general parser handles the file (and names what is wrong).
    """
    lats, lons = hdr.lats, hdr.lons
    nlat, nlon = len(lats), len(lons)
    per_row = -(-nlon // VALUES_PER_LINE)
    counts = np.full(per_row, VALUES_PER_LINE)
    counts[-1] = nlon - VALUES_PER_LINE * (per_row - 1)
    end_label = text.find(b"END OF TEC MAP", off)
    block_end = text.find(b"\n", end_label) + 1 if end_label >= 0 else 0
    if block_end <= 0:
        return None
    lines = text[off:block_end].split(b"\n")[:-1]
    per_block = 3 + nlat * (1 + per_row)
    if len(lines) != per_block or not lines[0][60:].startswith(b"START OF TEC MAP") \
            or not lines[1][60:].startswith(b"EPOCH OF CURRENT MAP"):
        return None
    lens = np.array([len(x) + 1 for x in lines])
    row_lens = lens[2:-1].reshape(nlat, 1 + per_row)
    if not np.all(row_lens == row_lens[0]) or np.any(row_lens[0, 1:] - 1 < counts * FIELD):
        return None
    block_len = block_end - off
    tail = text.rfind(b"END OF FILE", off + block_len - 1)
    stop = text.rfind(b"\n", 0, tail) + 1 if tail >= 0 else len(text)
    if (stop - off) % block_len or (tail < 0 and text[stop:].strip()):
        return None
    if tail >= 0:
        eof_end = text.find(b"\n", tail)
        eof_end = len(text) if eof_end < 0 else eof_end
        if text[stop:stop + 60].strip() or text[stop + 60:eof_end].strip() != b"END OF FILE" \
                or text[eof_end:].strip():
            return None
    nb = (stop - off) // block_len
    arr = np.frombuffer(text, dtype=np.uint8)
    blk = np.lib.stride_tricks.as_strided(arr[off:], shape=(nb, block_len), strides=(block_len, 1),
                                          writeable=False)
    ends = np.cumsum(lens) - 1  # newline offsets inside a block
    if not np.all(blk[:, ends] == 10):
        return None
    starts = np.concatenate([[0], ends[:-1] + 1])
    # Latitude records: byte for byte those of the first block, which must match the header grid.
    rec0 = starts[2:-1:1 + per_row]
    row_step = int(row_lens[0].sum())
    rec_w = int(row_lens[0, 0]) - 1
    rows = np.lib.stride_tricks.as_strided(arr[off + int(rec0[0]):], shape=(nb, nlat, row_step),
                                           strides=(block_len, row_step, 1), writeable=False)
    first_rec = rows[0, :, :rec_w]
    if not 60 < rec_w <= 80:  # a record is at most 80 columns: anything else is the general parser's to name
        return None
    if not np.array_equal(first_rec[:, :32], expected_records(hdr.lat, hdr.lon, hdr.hgt[0])) \
            or first_rec[:, 32:60].any() and not np.all(first_rec[:, 32:60] == 32) \
            or not np.all(first_rec[:, 60:] == np.frombuffer(b"LAT/LON1/LON2/DLON/H"[:rec_w - 60], np.uint8)):
        return None
    if not np.all(rows[:, :, :rec_w] == first_rec[None]):
        return None
    # START / EPOCH / END records: labels, blank columns, map numbers and epochs.
    def line(k: int, a: int, b: int) -> np.ndarray:
        j = int(starts[k] if k >= 0 else starts[per_block + k])
        return blk[:, j + a:j + b]
    kinds = line(0, 69, 72)
    is_tec = np.all(kinds == np.frombuffer(b"TEC", np.uint8), axis=1)
    is_rms = np.all(kinds == np.frombuffer(b"RMS", np.uint8), axis=1)
    n_tec = int(is_tec.sum())
    if not (np.all(is_tec[:n_tec]) and np.all(is_rms[n_tec:])):
        return None
    for k, label_w in ((0, lens[0] - 1), (-1, lens[-1] - 1)):
        lab = line(k, 60, int(label_w))
        want_tec = np.frombuffer(lines[0 if k == 0 else -1][60:], np.uint8)
        want_rms = want_tec.copy()
        kind_at = lines[0 if k == 0 else -1][60:].find(b"TEC")
        want_rms[kind_at:kind_at + 3] = np.frombuffer(b"RMS", np.uint8)
        if not (np.all(lab[:n_tec] == want_tec) and np.all(lab[n_tec:] == want_rms)):
            return None
        if not np.all(line(k, 6, 60) == 32):
            return None
    if not np.all(line(1, 60, int(lens[1]) - 1) == np.frombuffer(lines[1][60:], np.uint8)) \
            or not np.all(line(1, 36, 60) == 32):
        return None
    numbers, ok_num = _int_fields(np.stack([line(0, 0, 6), line(-1, 0, 6)], axis=1))
    epochs, ok_ep = _int_fields(line(1, 0, 36).reshape(nb, 6, 6))
    if not (ok_num.all() and ok_ep.all() and np.array_equal(numbers[:, 0], numbers[:, 1])):
        return None
    blocks = []
    for b in range(nb):
        y, mo, d, hh, mi, ss = epochs[b].tolist()
        if not (hh < 24 and mi < 60 and ss < 60 and EPOCH_YEARS[0] <= y <= EPOCH_YEARS[1]):
            return None  # the full parser names the line
        try:
            epoch = dt.datetime(y, mo, d, hh, mi, ss, tzinfo=dt.UTC)
        except ValueError:
            return None
        blocks.append(Block("TEC" if b < n_tec else "RMS", int(numbers[b, 0]), b * per_block,
                             b * per_block + per_block - 1, epoch))
    # Values: padding after them must be blank; the field parser checks the values themselves.
    offs = np.concatenate([[rec_w + 1], rec_w + 1 + np.cumsum(row_lens[0, 1:])[:-1]])
    for k in range(per_row):
        extra = int(row_lens[0, 1 + k]) - 1 - int(counts[k]) * FIELD
        if extra and not np.all(rows[:, :, offs[k] + counts[k] * FIELD:offs[k] + counts[k] * FIELD + extra] == 32):
            return None
    values = np.empty((nb, nlat, nlon), dtype=np.float32)
    if parse_value_rows(rows, offs, counts, hdr.exponent, values) is not None:
        return None
    lo, hi = TEC_RANGE
    if not np.all(np.isnan(values) | ((values >= lo) & (values <= hi))):
        return None  # an unphysical value: the full parser names its line
    if tail < 0:
        warnings.warn(f"{path}: no END OF FILE record after {nb} complete maps; read anyway",
                      IonexWarning, stacklevel=3)
    return blocks, values
