"""Global Ionospheric Maps: sources (remote mirrors, local folder, simulator) and the simulator's realism checks (the file names are in swx.io.gim_names)."""
