"""Map grid helpers: land mask, area weights, bands; the dipole magnetic latitude."""

from __future__ import annotations

import numpy as np
import pytest

from swx.config import lat_bands
from swx.io.ionex import IONEX_LAT, IONEX_LON
from swx.science.geomag import DIPOLE_POLE_LAT, DIPOLE_POLE_LON, dipole_latitude, local_time_hours
from swx.science.grid import area_weights, land_mask


def test_land_mask_on_the_ionex_grid():
    m = land_mask(IONEX_LAT, IONEX_LON)
    assert m.shape == (71, 73)
    assert 0.25 < m.mean() < 0.4  # about 29 % of the Earth is land (more near the poles on a lat/lon grid)
    i, j = list(IONEX_LAT).index(47.5), list(IONEX_LON).index(5.0)  # France
    assert m[i, j]
    i, j = list(IONEX_LAT).index(0.0), list(IONEX_LON).index(-140.0)  # central Pacific
    assert not m[i, j]


def test_shipped_land_mask_is_the_full_resolution_mask_on_the_ionex_grid():
    """The shipped mask (loaded in milliseconds) is what global-land-mask gives; a part of the grid is
    cut from it, any other grid is sampled from the full mask."""
    from swx.science.grid import _full_resolution_land, _shipped_land

    lat, lon, land = _shipped_land()
    assert np.array_equal(lat, IONEX_LAT) and np.array_equal(lon, IONEX_LON)
    assert np.array_equal(land, _full_resolution_land(IONEX_LAT, IONEX_LON))
    part_lat, part_lon = IONEX_LAT[10:20][::-1], IONEX_LON[[0, 5, 72]]  # ascending latitudes too
    assert np.array_equal(land_mask(part_lat, part_lon), _full_resolution_land(part_lat, part_lon))
    off_grid = np.array([47.3, 0.1]), np.array([5.2, -140.1])  # France, central Pacific
    assert land_mask(*off_grid).tolist() == [[True, False], [False, False]]


def test_area_weights_count_the_dateline_once():
    w = area_weights(IONEX_LAT, IONEX_LON)
    assert (w[:, -1] == 0).all() and w[35, 0] == pytest.approx(1.0)
    assert list(lat_bands(np.array([0, 29.9, 30, 60, 60.1, -85]))) == ["low", "low", "mid", "mid", "high", "high"]


def test_dipole_latitude():
    assert dipole_latitude(DIPOLE_POLE_LAT, DIPOLE_POLE_LON) == pytest.approx(90.0)
    # the dipole equator crosses the geographic equator 90° from the pole's meridian
    assert dipole_latitude(0.0, DIPOLE_POLE_LON + 90.0) == pytest.approx(0.0, abs=1e-9)
    # on the pole's meridian the geographic equator is 90 - 80.65 = 9.35° of dipole latitude
    assert dipole_latitude(0.0, -72.68) == pytest.approx(90 - 80.65, abs=1e-6)
    assert local_time_hours(12.0, 90.0) == pytest.approx(18.0) and local_time_hours(23.0, 30.0) == pytest.approx(1.0)


def test_shipped_coastlines_are_the_tracing_of_the_land_mask():
    from swx.science.grid import coastline_segments, trace_coastlines

    shipped, traced = coastline_segments(1.0), trace_coastlines(1.0)
    assert len(shipped) == len(traced) > 100
    assert all(np.array_equal(a, b) for a, b in zip(shipped, traced))


def test_coastline_segments_trace_the_land_mask():
    from swx.science.grid import coastline_segments, land_mask

    segs = coastline_segments(2.0)
    pts = np.concatenate(segs)
    assert len(segs) > 20 and pts[:, 0].min() >= -180 and pts[:, 0].max() <= 180 and np.abs(pts[:, 1]).max() <= 90
    # every vertex sits between land and sea cells of the 2° grid it was traced from
    def cells(x):  # the grid centres (odd degrees) around x
        c = 2 * np.floor(x / 2) + 1
        return np.array([c - 2, c, c + 2])
    near = [land_mask(cells(la), cells(lo)) for lo, la in pts[::20]]
    assert all(n.any() and not n.all() for n in near)
