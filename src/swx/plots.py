"""Figures people would rather look at than read: maps side by side. Headless (Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from swx.io.atomic import atomic_path  # noqa: E402


def plot_maps(panels: dict[str, xr.DataArray], path: str | Path, title: str, *, units: str = "TECU",
              vmax: float | None = None) -> Path:
    """A row of lat/lon maps on one colour scale, saved atomically as PNG."""
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 3.2), constrained_layout=True, squeeze=False)
    vmax = vmax or float(max(np.nanmax(p.values) for p in panels.values()))
    im = None
    for ax, (label, field) in zip(axes[0], panels.items()):
        im = ax.pcolormesh(field["lon"], field["lat"], field.values, vmin=0, vmax=vmax, cmap="viridis",
                           shading="nearest")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("longitude (°E)")
        ax.set_xticks(range(-180, 181, 60))
        ax.set_yticks(range(-90, 91, 30))
    axes[0][0].set_ylabel("latitude (°N)")
    fig.colorbar(im, ax=axes[0].tolist(), label=units, shrink=0.9)
    fig.suptitle(title, fontsize=11)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)
