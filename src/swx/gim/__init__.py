"""Global Ionospheric Maps: file naming, sources (remote mirrors, local folder, simulator) and ingest."""
