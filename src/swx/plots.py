"""Figures people would rather look at than read: maps side by side. Headless (Agg backend)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.collections import LineCollection

from swx.science.blend import BLEND
from swx.science.grid import coastline_segments
from swx.science.verify import Z68, Z95

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from swx.io.atomic import atomic_path  # noqa: E402


def _panel_kind(label: str, field: xr.DataArray) -> str:
    """How a panel is coloured: "sigma" (its own scale from 0), "signed" (diverging around 0: ΔTEC,
    errors), or "tec" (the shared vTEC scale from 0)."""
    if "sigma" in label.lower() or "rms" in label.lower():
        return "sigma"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanmin(field.values) if np.isfinite(field.values).any() else 0.0
    return "signed" if low < 0 or "ΔTEC" in label or "error" in label.lower() or " - " in label else "tec"


def plot_maps(panels: dict[str, xr.DataArray], path: str | Path, title: str, *, units: str = "TECU",
              vmax: float | None = None, empty: dict[str, str] | None = None) -> Path:
    """Lat/lon maps with coastlines (a row of up to three, a grid of two or three columns beyond),
    saved atomically as PNG. vTEC fields share one colour
    scale from 0; a 1-sigma field has its own (magma, from 0); fields with negative values (ΔTEC, errors)
    a diverging scale of their own. A field without a value is drawn empty with why (`empty[label]`,
    else "no values"), not left blank."""
    n = len(panels)
    ncols = n if n <= 3 else 2 if n == 4 else 3  # a grid, not a strip too wide to read when shown
    nrows = -(-n // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), constrained_layout=True, squeeze=False)
    for ax in grid.ravel()[n:]:
        ax.set_visible(False)
    axes = [grid.ravel()[:n]]
    kinds = {k: _panel_kind(k, p) for k, p in panels.items()}
    have = {k: bool(np.isfinite(p.values).any()) for k, p in panels.items()}
    plain = [p for k, p in panels.items() if kinds[k] == "tec" and have[k]]
    vmax = vmax or (float(max(np.nanmax(p.values) for p in plain)) if plain else 1.0)
    shared = None
    for ax, (label, field) in zip(axes[0], panels.items()):
        kind = kinds[label]
        if not have[label]:
            ax.text(0, 0, (empty or {}).get(label, "no values"), ha="center", va="center", fontsize=9, wrap=True)
            ax.set_xlim(-180, 180)
            ax.set_ylim(-90, 90)
        elif kind == "signed":
            lim = float(np.nanmax(np.abs(field.values))) or 1.0
            im = ax.pcolormesh(field["lon"], field["lat"], field.values, vmin=-lim, vmax=lim, cmap="RdBu_r",
                               shading="nearest")
            fig.colorbar(im, ax=ax, label=units, shrink=0.85)
        elif kind == "sigma":
            im = ax.pcolormesh(field["lon"], field["lat"], field.values, vmin=0,
                               vmax=float(np.nanmax(field.values)) or 1.0, cmap="magma", shading="nearest")
            fig.colorbar(im, ax=ax, label=units, shrink=0.85)
        else:
            shared = ax.pcolormesh(field["lon"], field["lat"], field.values, vmin=0, vmax=vmax, cmap="viridis",
                                   shading="nearest")
        coastlines(ax, "0.25" if kind == "signed" or not have[label] else "0.85")  # light on dark colours
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("longitude (°E)")
        ax.set_xticks(range(-180, 181, 60))
        ax.set_yticks(range(-90, 91, 30))
    for row in grid:
        row[0].set_ylabel("latitude (°N)")
    if shared is not None:
        fig.colorbar(shared, ax=[a for a, k in zip(axes[0], panels) if kinds[k] == "tec" and have[k]], label=units,
                     shrink=0.9)
    fig.suptitle(title, fontsize=11, color="#b45309" if "SIMULATED" in title else "black")
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def plot_station_forecast(ds, idx, station_index: int, predictions: dict, sigmas: dict, median27, path) -> Path:
    """Observed vTEC vs the 24 h forecasts (first lead of each window is skipped: every target time is
    shown once, from the window issued 24 h before it): the published blend with its 68/95 % bands,
    every member as a thin line, persistence and the 27-day median."""
    st = ds.stations[station_index]
    last = -1  # lead 24 h: the window's last step
    t = ds.issue[idx] + pd.Timedelta(hours=24)
    fig, ax = plt.subplots(figsize=(10, 3.6), constrained_layout=True)
    ax.plot(t, ds.y[station_index, idx, last], color="black", lw=1.2, label="observed")
    ax.plot(t, ds.x[station_index, idx, last, 0], color="grey", lw=0.8, ls="--", label="persistence (24 h)")
    ax.plot(t, median27[station_index, :, last], color="tab:brown", lw=0.8, ls=":", label="27-day median")
    # the published forecast (the blend, else the first model) with its bands; the members beside it
    lead = BLEND if BLEND in predictions else next(iter(predictions))
    members = [a for a in predictions if a != lead]
    colours = dict(zip(members, ("tab:orange", "tab:green", "tab:purple", "tab:olive", "tab:cyan", "tab:pink")))
    for arch in members:
        ax.plot(t, predictions[arch][station_index, :, last], color=colours.get(arch, "0.5"), lw=0.7, alpha=0.8,
                label=arch.upper())
    m_ = np.maximum(predictions[lead][station_index, :, last], 0.0)
    sig = (sigmas or {}).get(lead)
    if sig is not None:
        s_ = sig[station_index, :, last]
        ax.fill_between(t, np.maximum(m_ - Z95 * s_, 0.0), m_ + Z95 * s_, color="tab:blue", alpha=0.12, lw=0,
                        label="95 %")
        ax.fill_between(t, np.maximum(m_ - Z68 * s_, 0.0), m_ + Z68 * s_, color="tab:blue", alpha=0.25, lw=0,
                        label="68 %")
    ax.plot(t, m_, color="tab:blue", lw=1.6, label=f"{lead} (published, 24 h ahead)" if lead == BLEND else lead.upper())
    ax.set_ylim(bottom=0)
    ax.set_ylabel("vTEC (TECU)")
    ax.set_xlabel("UTC")
    ax.set_title(f"{st.code} ({st.lat:+.1f}°, {st.lon:+.1f}°): observed vs 24 h forecasts")
    ax.legend(ncol=4, fontsize=8)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)


def coastlines(ax, color: str = "0.25") -> None:
    """Coastlines traced from the shipped land mask (offline: no map tiles, no downloads)."""
    ax.add_collection(LineCollection(coastline_segments(1.0), colors=color, linewidths=0.5))


def plot_forecast_maps(forecast: xr.DataArray, truth: xr.DataArray, path: str | Path, title: str,
                       sigma: xr.DataArray | None = None) -> Path:
    """Forecast, truth (one colour scale), error (diverging) and, when given, the 1-sigma map."""
    panels = [("forecast", forecast, "viridis"), ("truth (GIM)", truth, "viridis"),
              ("forecast - truth", forecast - truth, "RdBu_r")]
    if sigma is not None:
        panels.append(("1-sigma uncertainty", sigma, "magma"))
    vmax = float(max(np.nanmax(forecast.values), np.nanmax(truth.values)))
    emax = float(np.nanmax(np.abs((forecast - truth).values))) or 1.0
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.0), constrained_layout=True)
    for ax, (label, field, cmap) in zip(axes, panels):
        lim = dict(vmin=-emax, vmax=emax) if cmap == "RdBu_r" else dict(vmin=0, vmax=vmax if cmap == "viridis"
                                                                        else float(np.nanmax(field.values)))
        im = ax.pcolormesh(field["lon"], field["lat"], field.values, cmap=cmap, shading="nearest", **lim)
        coastlines(ax, "0.25" if cmap == "RdBu_r" else "0.85")
        ax.set_title(label, fontsize=10)
        ax.set_xticks(range(-180, 181, 90))
        ax.set_yticks(range(-90, 91, 45))
        fig.colorbar(im, ax=ax, orientation="horizontal", label="TECU", shrink=0.85)
    fig.suptitle(title, fontsize=11)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return Path(path)
