"""Geomagnetic coordinates: the ionosphere is organised along magnetic latitude (the equatorial
anomaly crests, the auroral ovals), so departures are spread in those coordinates, not geographic ones.

A centred dipole is enough at the scales of a 2.5° x 5° map; the pole is IGRF-13's for 2020.
"""

from __future__ import annotations

import numpy as np

#: Geographic position of the IGRF-13 (epoch 2020) dipole north pole, degrees.
DIPOLE_POLE_LAT = 80.65
DIPOLE_POLE_LON = -72.68


def unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) of geographic points on the sphere."""
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def dipole_latitude(lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """Centred-dipole magnetic latitude (degrees) of geographic points."""
    lat, lon = np.broadcast_arrays(np.asarray(lat, dtype=float), np.asarray(lon, dtype=float))
    pole = unit_vectors(np.array(DIPOLE_POLE_LAT), np.array(DIPOLE_POLE_LON))
    return np.degrees(np.arcsin(np.clip(unit_vectors(lat, lon) @ pole, -1.0, 1.0)))


def local_time_hours(ut_hours: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    """Mean solar local time (hours, 0-24) at a longitude for a UT given in hours."""
    return np.mod(np.asarray(ut_hours, dtype=float) + np.asarray(lon, dtype=float) / 15.0, 24.0)
