"""xarray backend: `xr.open_dataset(path, engine="ionex")` reads an IONEX file with swx's reader."""

from __future__ import annotations

import os
from collections.abc import Iterable

import xarray as xr
from xarray.backends import BackendEntrypoint

from swx.io.gim_names import parse_name
from swx.io.ionex.reader import read_ionex


class IonexBackendEntrypoint(BackendEntrypoint):
    """IONEX 1.0/1.1 Global Ionospheric Maps (plain, .Z, .gz)."""

    description = "Read IONEX global ionosphere maps (TEC and RMS) with swx"
    url = "https://files.igs.org/pub/data/format/ionex1.pdf"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "allow_partial")

    def open_dataset(self, filename_or_obj, *, drop_variables: Iterable[str] | None = None,
                     allow_partial: bool = False) -> xr.Dataset:  # type: ignore[override]
        ds = read_ionex(os.fspath(filename_or_obj), allow_partial=allow_partial)
        if drop_variables:
            ds = ds.drop_vars(list(drop_variables), errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj) -> bool:
        try:
            name = os.path.basename(os.fspath(filename_or_obj))
        except TypeError:
            return False
        lowered = name.lower()
        return parse_name(name) is not None or lowered.endswith((".inx", ".inx.gz", ".ionex"))
