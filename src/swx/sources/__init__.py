"""Where data comes from, one interface per kind: GIMs (remote mirrors, a local folder, the simulator)
and geomagnetic/solar indices (GFZ, CelesTrak, the bundled history)."""
