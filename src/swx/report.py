"""Plain-text summaries of what the archive holds, for the CLI and logs."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from swx.archive import Archive
from swx.indices.tables import kp_label
from swx.kp import g_class, load_indices


def archive_summary(archive: Archive) -> str:
    """Days and maps per centre, and Kp over the archived days with the storm days among them."""
    lines = [f"Archive {archive.root}:"]
    all_days: set[dt.date] = set()
    for centre in archive.centres():
        days = archive.gim_days(centre)
        if not days:
            continue
        all_days.update(days)
        maps = 0
        for d in days:
            ds = archive.open_gim(centre, d)
            maps += ds.sizes["time"]
            kind = ds.attrs.get("source_kind", "?")
        label = " (SIMULATED)" if kind == "simulated" else ""
        lines.append(f"  {centre.upper()}{label}: {len(days)} day(s), {maps} maps, {days[0]} .. {days[-1]}")
    if not all_days:
        lines.append("  no GIM days archived")
        return "\n".join(lines)
    kp = load_indices(archive).kp
    days_idx = pd.DatetimeIndex(sorted(all_days)).tz_localize("UTC")
    sel = kp[kp.index.normalize().isin(days_idx)]
    if sel.empty:
        lines.append("  Kp: none for the archived days")
        return "\n".join(lines)
    lines.append(f"  Kp over those days: {kp_label(sel.kp.min())} .. {kp_label(sel.kp.max())}")
    daily_max = sel.kp.groupby(sel.index.normalize()).max()
    storms = daily_max[daily_max >= 14 / 3 - 1e-6]
    if storms.empty:
        lines.append("  storms (Kp >= 5-): none")
    for t, v in storms.items():
        lines.append(f"  storm {t:%Y-%m-%d}: max Kp {kp_label(v)} (G{g_class(v)})")
    return "\n".join(lines)
