"""A straightforward line-by-line IONEX reader: the baseline the vectorised reader is measured against.

It is what one writes first: walk the lines, track the current block, `int()` every 5-column field.
Only used by the benchmark (and to cross-check values); not part of swx.
"""

from __future__ import annotations

import numpy as np


def parse_reference(text: str) -> dict[str, np.ndarray]:
    """TEC and RMS maps (TECU, NaN for 9999) of an IONEX text, as (maps, lat, lon) arrays."""
    lines = text.splitlines()
    exponent = -1
    i = 0
    while True:
        label = lines[i][60:].strip()
        if label == "EXPONENT":
            exponent = int(lines[i][:60])
        if label == "END OF HEADER":
            break
        i += 1
    maps: dict[str, list[list[list[float]]]] = {"TEC": [], "RMS": []}
    kind = None
    current: list[list[float]] = []
    row: list[float] = []
    for line in lines[i + 1:]:
        label = line[60:].strip()
        if label.startswith("START OF") and label.endswith("MAP"):
            kind = label.split()[2]
            current = []
        elif label == "LAT/LON1/LON2/DLON/H":
            row = []
            current.append(row)
        elif label.startswith("END OF") and label.endswith("MAP"):
            if kind in maps:
                maps[kind].append(current)
            kind = None
        elif label in ("EPOCH OF CURRENT MAP", "EXPONENT", "END OF FILE") or not line.strip():
            continue
        else:
            for k in range(0, len(line.rstrip()), 5):
                v = int(line[k:k + 5])
                row.append(np.nan if v == 9999 else v * 10.0 ** exponent)
    return {k.lower(): np.array(v, dtype=np.float32) for k, v in maps.items() if v}
