"""IONEX 1.0/1.1 reader and writer (Schaer, Gurtner & Feltens 1998, `ionex1.pdf`).

Global Ionospheric Maps arrive as IONEX text files: 80-column header records (data in columns 1-60,
label in 61-80), then TEC, RMS and optional HEIGHT map blocks whose values are written 16 per line in
I5 fields, scaled by 10**EXPONENT, with 9999 meaning "no value".

The reader parses the fixed-width value blocks vectorised (numpy over the whole byte buffer) rather
than value by value, after checking the block structure line by line in vectorised form; every
structural or numeric problem raises :class:`IonexFormatError` naming the file, the line and what was
expected. Strict by default where data could be lost (a truncated file), tolerant where nothing is
lost (missing END OF FILE, an epoch written ``22 59 60``, a float INTERVAL, unpadded header lines).

One concern per module: `header` (records, constants), `body` (the general map-block parser), `fast`
(the vectorised path for regularly tiled files), `reader` (to xarray), `writer` (from xarray),
`backend` (the xarray engine `ionex`). File names are in `swx.io.gim_names`.
"""

from swx.errors import IonexFormatError
from swx.io.ionex.header import IONEX_LAT, IONEX_LON, IonexHeader, IonexWarning
from swx.io.ionex.reader import parse_ionex, read_ionex
from swx.io.ionex.writer import format_ionex, write_ionex

__all__ = ["IONEX_LAT", "IONEX_LON", "IonexFormatError", "IonexHeader", "IonexWarning", "format_ionex",
           "parse_ionex", "read_ionex", "write_ionex"]
