"""The quick-look figures people look at: each quantity on a scale it can be read on, an empty field
said to be empty, simulated data said to be simulated."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from swx.plots import _panel_kind, plot_maps
from tests.helpers import make_gim


def test_each_panel_gets_its_own_kind_of_scale():
    ds = make_gim()
    tec = ds.tec.isel(time=6)
    assert _panel_kind("forecast vTEC", tec) == "tec"
    assert _panel_kind("1-sigma", tec * 0.1) == "sigma"  # not the 0-120 TEC scale (uniformly dark)
    assert _panel_kind("ΔTEC vs 27-day median", tec - tec.mean()) == "signed"
    assert _panel_kind("ΔTEC vs 27-day median", tec * np.nan) == "signed"


def test_a_field_without_values_is_drawn_empty_with_why_and_no_warning(tmp_path):
    """On a real-data run the ΔTEC panel was empty, with only NumPy's All-NaN warnings."""
    import matplotlib.pyplot as plt

    tec = make_gim().tec.isel(time=6)
    seen = []
    real_savefig = plt.Figure.savefig

    def spy(fig, *args, **kwargs):
        seen.extend(t.get_text() for ax in fig.axes for t in ax.texts)
        seen.append(fig._suptitle.get_text())
        return real_savefig(fig, *args, **kwargs)

    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        warnings.simplefilter("error")
        mp.setattr(plt.Figure, "savefig", spy)
        path = plot_maps({"forecast vTEC": tec, "1-sigma": tec * 0.1, "ΔTEC vs 27-day median": tec * np.nan},
                         tmp_path / "f.png", "swx forecast — SIMULATED data",
                         empty={"ΔTEC vs 27-day median": "no ΔTEC: too few days"})
    assert path.stat().st_size > 10_000
    assert "no ΔTEC: too few days" in seen and "swx forecast — SIMULATED data" in seen


@pytest.mark.parametrize("n, columns", [(2, 2), (4, 2), (5, 3), (6, 3)])
def test_many_panels_make_a_grid_not_a_strip(tmp_path, n, columns):
    """The Global map page's "All panels" figure was a 1460 x 238 strip, shown ~180 px tall."""
    from PIL import Image

    tec = make_gim().tec.isel(time=6)
    path = plot_maps({f"panel {i}": tec for i in range(n)}, tmp_path / "p.png", "title")
    width, height = Image.open(path).size
    rows = -(-n // columns)
    assert width == pytest.approx(5.2 * columns * 90, abs=2) and height == pytest.approx(3.4 * rows * 90, abs=2)
    assert width / height < 3.5  # readable when shown at the page's width
