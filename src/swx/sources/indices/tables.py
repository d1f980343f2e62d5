"""The common shape of index data, and how tables from several sources are merged."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Quality order, best first. "observed" is a source that does not say whether values are final
#: (CelesTrak); "preliminary" is GFZ's nowcast (D=0); "predicted" is a forecast.
STATUS_ORDER = ("definitive", "observed", "preliminary", "predicted")
_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}

KP_COLUMNS = ("kp", "ap", "status", "source")
DAILY_COLUMNS = ("Ap", "sn", "f107_obs", "f107_adj", "status", "source")


def kp_from_thirds(thirds: np.ndarray) -> np.ndarray:
    """Kp as a decimal (0, 0.333, 0.667, 1, ...) from an integer count of thirds."""
    return np.round(np.asarray(thirds, dtype=float) / 3.0, 3)


def kp_to_thirds(kp: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(kp, dtype=float) * 3.0).astype(int)


def kp_label(kp: float) -> str:
    """Kp in the usual notation: 5-, 5o, 5+ (as on GFZ and NOAA pages)."""
    t = int(round(kp * 3))
    base, rem = divmod(t, 3)
    if rem == 0:
        return f"{base}o"
    if rem == 1:
        return f"{base}+"
    return f"{base + 1}-"


def three_hourly(days: pd.DatetimeIndex | pd.Series) -> pd.DatetimeIndex:
    """The eight 3-hour interval starts of each UT day, in order, as a UTC index."""
    d = pd.DatetimeIndex(days)
    d = d.tz_convert("UTC").tz_localize(None) if d.tz is not None else d
    t = (d.to_numpy()[:, None] + (np.arange(8) * np.timedelta64(3, "h"))[None, :]).ravel()
    return pd.DatetimeIndex(t, name="time").tz_localize("UTC")


def utc_days(days: pd.DatetimeIndex | pd.Series) -> pd.DatetimeIndex:
    d = pd.DatetimeIndex(days, name="time")
    return d.tz_convert("UTC") if d.tz is not None else d.tz_localize("UTC")


def empty_kp() -> pd.DataFrame:
    return pd.DataFrame({"kp": pd.Series(dtype=float), "ap": pd.Series(dtype=float),
                         "status": pd.Series(dtype=str), "source": pd.Series(dtype=str)},
                        index=pd.DatetimeIndex([], tz="UTC", name="time"))


def empty_daily() -> pd.DataFrame:
    cols = {c: pd.Series(dtype=float) for c in ("Ap", "sn", "f107_obs", "f107_adj")}
    cols |= {"status": pd.Series(dtype=str), "source": pd.Series(dtype=str)}
    return pd.DataFrame(cols, index=pd.DatetimeIndex([], tz="UTC", name="time"))


@dataclass
class IndexTables:
    """3-hourly Kp/ap and daily Ap/SN/F10.7, UTC-indexed (interval start), with status and source."""

    kp: pd.DataFrame
    daily: pd.DataFrame

    @classmethod
    def empty(cls) -> IndexTables:
        return cls(empty_kp(), empty_daily())

    def between(self, start: pd.Timestamp | str, end: pd.Timestamp | str) -> IndexTables:
        """Rows with start <= time < end (UTC)."""
        s, e = pd.Timestamp(start), pd.Timestamp(end)
        s = s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC")
        e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
        return IndexTables(self.kp[(self.kp.index >= s) & (self.kp.index < e)],
                           self.daily[(self.daily.index >= s) & (self.daily.index < e)])

    def __len__(self) -> int:
        return len(self.kp)


def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return frames[0] if frames else pd.DataFrame()
    both = pd.concat(frames)
    rank = both["status"].map(_RANK).fillna(len(STATUS_ORDER)).to_numpy()
    order = np.arange(len(both))  # later frames win among equal status
    both = both.assign(_rank=rank, _order=order)
    both = both.sort_values(["_rank", "_order"], ascending=[True, False], kind="stable")
    out = both[~both.index.duplicated(keep="first")].drop(columns=["_rank", "_order"])
    return out.sort_index()


def merge_tables(*tables: IndexTables) -> IndexTables:
    """Union of tables; where times overlap, the better status wins, then the later table."""
    kp = _merge([t.kp for t in tables])
    daily = _merge([t.daily for t in tables])
    return IndexTables(kp if len(kp.columns) else empty_kp(), daily if len(daily.columns) else empty_daily())
