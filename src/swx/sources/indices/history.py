"""The Kp + F10.7 history bundled with swx, so an offline machine has real indices for backfills and
demos (2005-01-01 to 2025-07-20).

Derived from CelesTrak's SW-All.txt (updated 2025-07-21), whose Kp and ap are GFZ's: Kp and ap ©
GFZ Potsdam, CC BY 4.0 (Matzka et al. 2021, doi:10.1029/2020SW002641; data doi:10.5880/Kp.0001);
F10.7 and sunspot numbers as compiled by CelesTrak (https://celestrak.org/SpaceData/). See
`swx/data/INDICES_ATTRIBUTION.txt`.
"""

from __future__ import annotations

import gzip
import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from swx.io.atomic import atomic_write_bytes
from swx.sources.indices.tables import IndexTables, kp_from_thirds, kp_to_thirds, three_hourly, utc_days

HISTORY_FILE = "kp_f107_history.csv.gz"
SOURCE = "bundled:CelesTrak/GFZ"
DEFAULT_START = "2005-01-01"
DEFAULT_END = "2025-07-20"
_HEADER = (
    "# swx bundled index history: daily rows, Kp in thirds (kp1..kp8 = 00-03 .. 21-24 UT), ap, Ap,\n"
    "# international sunspot number, F10.7 observed and adjusted (sfu); -1 = missing.\n"
    "# Kp/ap: GFZ Potsdam, CC BY 4.0, Matzka et al. 2021 doi:10.1029/2020SW002641, doi:10.5880/Kp.0001\n"
    "# Derived from CelesTrak SW-All.txt (https://celestrak.org/SpaceData/SW-All.txt)\n"
)


def build_history(tables: IndexTables, out: str | Path, start: str = DEFAULT_START,
                  end: str = DEFAULT_END) -> Path:
    """Write the compact daily history file from parsed tables (observed rows only)."""
    t = tables.between(start, pd.Timestamp(end) + pd.Timedelta(days=1))
    kp = t.kp[t.kp["status"] != "predicted"]
    daily = t.daily[t.daily["status"] != "predicted"]
    days = daily.index
    grid = three_hourly(days)
    kp = kp.reindex(grid)
    thirds = np.where(kp["kp"].notna(), kp_to_thirds(kp["kp"].fillna(0)), -1).reshape(-1, 8)
    ap = kp["ap"].fillna(-1).to_numpy().astype(int).reshape(-1, 8)
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d")})
    for k in range(8):
        frame[f"kp{k + 1}"] = thirds[:, k]
    for k in range(8):
        frame[f"ap{k + 1}"] = ap[:, k]
    frame["Ap"] = daily["Ap"].fillna(-1).to_numpy().astype(int)
    frame["sn"] = daily["sn"].fillna(-1).to_numpy().astype(int)
    frame["f107_obs"] = daily["f107_obs"].fillna(-1).to_numpy()
    frame["f107_adj"] = daily["f107_adj"].fillna(-1).to_numpy()
    text = _HEADER + frame.to_csv(index=False, float_format="%.1f")
    data = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    return atomic_write_bytes(out, data)


def parse_history(data: bytes) -> IndexTables:
    """Parse the bundled history format (gzip CSV)."""
    frame = pd.read_csv(io.BytesIO(gzip.decompress(data)), comment="#")
    days = utc_days(pd.to_datetime(frame["date"], format="%Y-%m-%d"))
    thirds = frame[[f"kp{k}" for k in range(1, 9)]].to_numpy()
    ap = frame[[f"ap{k}" for k in range(1, 9)]].to_numpy().astype(float)
    kp = np.where(thirds < 0, np.nan, kp_from_thirds(thirds))
    ap = np.where(ap < 0, np.nan, ap)
    kp_df = pd.DataFrame({"kp": kp.ravel(), "ap": ap.ravel(), "status": "observed", "source": SOURCE},
                         index=three_hourly(days))
    kp_df = kp_df[kp_df["kp"].notna()]

    def col(name: str) -> np.ndarray:
        v = frame[name].to_numpy().astype(float)
        return np.where(v < 0, np.nan, v)

    daily = pd.DataFrame({"Ap": col("Ap"), "sn": col("sn"), "f107_obs": col("f107_obs"),
                          "f107_adj": col("f107_adj"), "status": "observed", "source": SOURCE}, index=days)
    return IndexTables(kp_df, daily)


@lru_cache(maxsize=1)
def load_history() -> IndexTables:
    """The bundled history (cached; treat the frames as read-only)."""
    data = resources.files("swx.data").joinpath(HISTORY_FILE).read_bytes()
    return parse_history(data)
