"""The method's computations: station features, verification scores and baselines, the blend, ΔTEC,
storms, the extension to a global map, grids, geomagnetic coordinates. Pure functions on arrays,
except `series` and `stations`, which also read the station values from the archive (or a CSV) and
the station catalog."""
