"""The common shape of index data, and how tables from several sources are merged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from swx.errors import IndexFormatError

#: Quality order, best first. "observed" is a source that does not say whether values are final
#: (CelesTrak); "preliminary" is GFZ's nowcast (D=0); "predicted" is a forecast.
STATUS_ORDER = ("definitive", "observed", "preliminary", "predicted")
_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
#: the statuses shown as "nowcast": values that a later file replaces (GFZ's definitive Kp)
NOWCAST = frozenset({"preliminary", "predicted"})


def worst_status(statuses) -> str:
    """The lowest-quality status among `statuses` ("" when there is none)."""
    known = [s for s in statuses if isinstance(s, str) and s]
    return max(known, key=lambda s: _RANK.get(s, len(STATUS_ORDER))) if known else ""

KP_COLUMNS = ("kp", "ap", "status", "source")
DAILY_COLUMNS = ("Ap", "sn", "f107_obs", "f107_adj", "status", "source")


#: What each index can be; a value outside is a corrupt or wrong file, refused naming its line.
#: Kp: 0 .. 9 in thirds; ap and Ap: 0 .. 400 (the ap scale's top); sunspot number below 1000 (largest
#: daily ~ 530); F10.7 (sfu) from 30 (the quietest Sun gives about 50: CelesTrak's record since 1957
#: holds 52.5 at least; 0 is a missing value written as a number) to 3000 (a flare can lift a daily
#: value far up: CelesTrak's record holds 938.6 on 2011-03-07).
INDEX_RANGES: dict[str, tuple[float, float]] = {"kp": (0.0, 9.0), "ap": (0.0, 400.0), "Ap": (0.0, 400.0),
                                                "sn": (0.0, 1000.0), "f107_obs": (30.0, 3000.0),
                                                "f107_adj": (30.0, 3000.0)}


#: The observed F10.7 is the adjusted one (at 1 AU) times the inverse square of the Sun-Earth distance:
#: they differ by 3.4 % at most (CelesTrak's record since 1957: 3.5 %), never more than this
F107_OBS_ADJ_RATIO = 0.05

#: ap of each Kp (by thirds: 0o, 0+, 1-, 1o, ... 9o), the fixed conversion every observed ap follows
#: (Bartels); only predicted values may stand apart from it
AP_OF_KP_THIRDS = np.array([0, 2, 3, 4, 5, 6, 7, 9, 12, 15, 18, 22, 27, 32, 39, 48, 56, 67, 80, 94, 111, 132, 154, 179,
                            207, 236, 300, 400], dtype=float)


def _day(t: pd.Timestamp) -> str:
    """A day for an error line, also one outside the years strftime can write."""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}"


def check_index_rows(name: str, lines: Sequence[int | None], days: pd.DatetimeIndex, values: dict[str, np.ndarray],
                     *, definitive: np.ndarray | None = None, forecast: bool = False,
                     today: dt.date | None = None) -> None:
    """Refuse (IndexFormatError naming the line) what no index file can hold, before anything is
    written: a value outside INDEX_RANGES or not finite (NaN is "missing" and allowed), a Kp that is not
    a whole number of thirds, a time twice, a day that has not begun (unless `forecast`), a definitive
    value for a day that has not ended. `days` are the rows' UT days (or times), `values` per row (n,) or
    per row and 3-hour interval (n, 8); `lines` the rows' line numbers (None where there are none)."""
    stamps = days.tz_localize(None) if days.tz is not None else days
    day_values = stamps.normalize()
    for key, v in values.items():
        lo, hi = INDEX_RANGES[key]
        v = np.asarray(v, dtype=float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(v) & ~((v >= lo) & (v <= hi))
            if key == "kp":
                bad |= ~np.isnan(v) & (np.abs(v * 3 - np.rint(v * 3)) > 0.02)
        if bad.any():
            per_row = bad.reshape(len(v), -1)
            i = int(np.flatnonzero(per_row.any(axis=1))[0])
            x = float(v.reshape(len(v), -1)[i][per_row[i]][0])
            rule = f"{lo:g} .. {hi:g}" + (" in thirds (0, 0.333, 0.667, 1, ...)" if key == "kp" else "")
            raise IndexFormatError(f"{key} {x:g} on {_day(day_values[i])}", path=name, line=lines[i],
                                   expected=f"{key} {rule}, or the file's missing-value mark")
    if not forecast and "kp" in values and "ap" in values:  # an observed ap is its Kp's, by the table
        kp, ap = (np.asarray(values[k], dtype=float).reshape(len(stamps), -1) for k in ("kp", "ap"))
        both = ~np.isnan(kp) & ~np.isnan(ap)
        thirds = np.clip(np.rint(np.where(both, kp, 0.0) * 3), 0, 27).astype(int)
        off = both & (ap != AP_OF_KP_THIRDS[thirds])
        if off.any():
            i, k = (int(x[0]) for x in np.nonzero(off))
            raise IndexFormatError(f"ap {ap[i, k]:g} beside Kp {kp[i, k]:g} on {_day(day_values[i])}", path=name,
                                   line=lines[i], expected=f"ap {AP_OF_KP_THIRDS[thirds[i, k]]:g}, the ap of that Kp")
    if not forecast and "ap" in values and "Ap" in values:  # an observed daily Ap is the mean of its eight ap
        ap = np.asarray(values["ap"], dtype=float).reshape(len(stamps), -1)
        daily = np.asarray(values["Ap"], dtype=float).reshape(-1)
        if ap.shape[1] == 8 and len(daily) == len(stamps):
            whole = np.isfinite(ap).all(axis=1) & np.isfinite(daily)
            mean = np.where(whole, np.nanmean(np.where(whole[:, None], ap, 0.0), axis=1), np.nan)
            off = whole & (np.abs(daily - mean) > 1.0 + 1e-9)  # rounding moves it by one at most
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise IndexFormatError(f"Ap {daily[i]:g} on {_day(day_values[i])}, the mean of its eight ap is "
                                       f"{mean[i]:.1f}", path=name, line=lines[i],
                                       expected="the day's Ap within 1 of the mean of its eight 3-hourly ap")
    if not forecast and "f107_obs" in values and "f107_adj" in values:  # the same flux, one scaled to 1 AU
        obs, adj = (np.asarray(values[k], dtype=float).reshape(-1) for k in ("f107_obs", "f107_adj"))
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.isfinite(obs) & np.isfinite(adj) & (adj > 0) & (np.abs(obs / adj - 1) > F107_OBS_ADJ_RATIO)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise IndexFormatError(f"F10.7 observed {obs[i]:g} beside adjusted {adj[i]:g} on {_day(day_values[i])}",
                                   path=name, line=lines[i],
                                   expected=f"the two within {F107_OBS_ADJ_RATIO:.0%} of each other (they differ by "
                                            "the Sun-Earth distance only, at most 3.4 %)")
    dup = np.flatnonzero(stamps.duplicated())
    if len(dup):
        i = int(dup[0])
        first = int(np.flatnonzero(stamps == stamps[i])[0])
        where = f" (first on line {lines[first]})" if lines[first] is not None else ""
        raise IndexFormatError(f"{_day(stamps[i])} {stamps[i].hour:02d}:{stamps[i].minute:02d} a second time{where}", path=name, line=lines[i],
                               expected="one row per UT day (per time in a JSON answer)")
    today = today or dt.datetime.now(dt.UTC).date()
    start = pd.Timestamp(today)
    if not forecast and len(day_values) and day_values.max() > start:
        i = int(np.argmax(day_values > start))
        raise IndexFormatError(f"values for {_day(day_values[i])}, a day that has not begun (today is {today})",
                               path=name, line=lines[i], expected="observed days only")
    if definitive is not None:
        early = np.asarray(definitive, dtype=bool) & (day_values >= start)
        if early.any():
            i = int(np.flatnonzero(early)[0])
            raise IndexFormatError(f"definitive values for {_day(day_values[i])}, a day that has not ended "
                                   f"(today is {today})", path=name, line=lines[i],
                                   expected="definitive values for past days only")
    if not forecast and "kp" in values and len(day_values) and day_values.max() == start:
        # today's row: a Kp for a 3-hour interval that has not begun is no observation
        kp = np.asarray(values["kp"], dtype=float).reshape(len(stamps), -1)
        if kp.shape[1] == 8:
            clock = pd.Timestamp(dt.datetime.now(dt.UTC)).tz_localize(None)
            now = clock if clock.date() == today else pd.Timestamp(today) + pd.Timedelta(days=1)  # (a test's today)
            begins = day_values.to_numpy()[:, None] + (np.arange(8) * np.timedelta64(3, "h"))[None, :]
            ahead = ~np.isnan(kp) & (begins > now.to_datetime64())
            if ahead.any():
                i, k = (int(x[0]) for x in np.nonzero(ahead))
                raise IndexFormatError(f"a Kp for {_day(day_values[i])} {3 * k:02d}:00 UT, an interval that has not "
                                       f"begun (it is {now:%H:%M} UT)", path=name, line=lines[i],
                                       expected="observed intervals only (-1 marks one not determined yet)")


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


def _merge(frames: list[pd.DataFrame], *, keep_known: bool = False) -> pd.DataFrame:
    """Rows of `frames` by time: the better status wins, then the later frame. With `keep_known`, a
    value a measured winning row lacks (a source's missing mark, say GFZ's -1 for a sunspot number) is
    taken from the next measured row that has it, never erased (nor filled from a prediction)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return frames[0] if frames else pd.DataFrame()
    both = pd.concat(frames)
    rank = both["status"].map(_RANK).fillna(len(STATUS_ORDER)).to_numpy()
    order = np.arange(len(both))  # later frames win among equal status
    both = both.assign(_rank=rank, _order=order)
    both = both.sort_values(["_rank", "_order"], ascending=[True, False], kind="stable")
    out = both[~both.index.duplicated(keep="first")].drop(columns=["_rank", "_order"]).sort_index()
    if keep_known:  # a measured row's gap filled from measured rows only: never a prediction labelled measured
        measured = both[both["status"] != "predicted"].drop(columns=["_rank", "_order"])
        known = measured.groupby(level=0, sort=True).first()
        rows = out.index[out["status"] != "predicted"]
        for col in out.columns.difference(["status", "source"]):
            out.loc[rows, col] = out.loc[rows, col].fillna(known[col].reindex(rows))
    return out


def merge_tables(*tables: IndexTables) -> IndexTables:
    """Union of tables; where times overlap, the better status wins, then the later table (a daily value
    the winner lacks is kept from the table that has it)."""
    kp = _merge([t.kp for t in tables])
    daily = _merge([t.daily for t in tables], keep_known=True)
    return IndexTables(kp if len(kp.columns) else empty_kp(), daily if len(daily.columns) else empty_daily())


def check_consecutive_days(days: pd.Series, lines: list[int], name: str) -> None:
    """GFZ's and CelesTrak's files hold one line per day, in order, without gaps (a day not yet
    determined is a line of missing marks): a missing or misplaced day is an edited or damaged file,
    refused at the line after it."""
    step = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(int)
    back, gap = np.flatnonzero(step < 1), np.flatnonzero(step != 1)
    if len(gap):
        i = int(back[0] if len(back) else gap[0])
        before, after = days.iloc[i].date(), days.iloc[i + 1].date()
        what = (f"{after} after {before} (out of order)" if len(back)
                else f"{(after - before).days - 1} day(s) missing between {before} and {after}")
        raise IndexFormatError(what, path=name, line=lines[i + 1], expected="one line per day, in order")
