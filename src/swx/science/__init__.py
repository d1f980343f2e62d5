"""Pure computations of the method: station features, verification scores, the blend, ΔTEC, storms,
the extension to a global map, grids, geomagnetic coordinates and the station catalog."""
