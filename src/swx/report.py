"""Plain-text summaries of what the archive holds, for the CLI and logs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import xarray as xr

from swx.archive import Archive
from swx.indices.tables import kp_label
from swx.kp import g_class, load_indices

G1 = 14 / 3  # Kp 5-


def archive_summary(archive: Archive, window: tuple[dt.date, dt.date] | None = None) -> str:
    """Days and maps per centre (simulated data labelled as such), then Kp over the window (or over
    the archived days) with its storm days (daily max Kp >= 5-, NOAA G-scale)."""
    lines = [f"Archive {archive.root}:"]
    all_days: set[dt.date] = set()
    for centre in archive.centres():
        days = archive.gim_days(centre)
        if window:
            days = [d for d in days if window[0] <= d <= window[1]]
        if not days:
            continue
        all_days.update(days)
        maps, kinds = 0, set()
        for d in days:
            with xr.open_dataset(archive.gim_path(centre, d), engine="netcdf4") as ds:
                maps += ds.sizes["time"]
                kinds.add(ds.attrs.get("source_kind", "?"))
        label = " — SIMULATED data, not observations" if "simulated" in kinds else ""
        lines.append(f"  {centre.upper()}: {len(days)} day(s), {maps} maps, {days[0]} .. {days[-1]}{label}")
    if not all_days:
        lines.append("  no GIM days archived" + (f" for {window[0]} .. {window[1]}" if window else ""))
        return "\n".join(lines)
    kp = load_indices(archive).kp
    if window:
        sel = kp[(kp.index >= pd.Timestamp(window[0], tz="UTC"))
                 & (kp.index < pd.Timestamp(window[1] + dt.timedelta(days=1), tz="UTC"))]
        where = f"{window[0]} .. {window[1]}"
    else:
        days_idx = pd.DatetimeIndex(sorted(all_days)).tz_localize("UTC")
        sel = kp[kp.index.normalize().isin(days_idx)]
        where = "the archived days"
    if sel.empty:
        lines.append(f"  Kp: none for {where}")
        return "\n".join(lines)
    lines.append(f"  Kp over {where}: {kp_label(sel.kp.min())} .. {kp_label(sel.kp.max())}")
    daily_max = sel.kp.groupby(sel.index.normalize()).max()
    storms = daily_max[daily_max >= G1 - 1e-6]
    if storms.empty:
        lines.append("  storms (Kp >= 5-): none")
    else:
        lines.append(f"  storm days (Kp >= 5-): {len(storms)}")
    for t, v in storms.items():
        lines.append(f"    {t:%Y-%m-%d}: max Kp {kp_label(v)} (G{g_class(v)})")
    return "\n".join(lines)
