"""The published products of a forecast run: a CF-1.8 netCDF4 file (forecast TEC, its uncertainty, the
27-day reference and ΔTEC on the map grid) and the forecast as an IONEX file (TEC MAP + RMS MAP on the
standard 2.5° x 5° grid, the input GIMs' epochs), written by swx's own IONEX writer. Both atomically."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from swx import __version__
from swx.archive import checksum_path, record_checksum
from swx.config import Settings, lead_span
from swx.errors import DataFormatError
from swx.io.atomic import atomic_path
from swx.io.ionex import write_ionex
from swx.io.ionex.header import SHELL_HEIGHT_KM
from swx.io.maps_netcdf import UNREADABLE_NETCDF
from swx.provenance import code_version
from swx.science.dtec import delta_tec
from swx.science.extend import DEFAULT_METHOD

PRODUCT_CENTRE = "SWX"


def product_dir(data_dir: Path, target_day: dt.date) -> Path:
    return Path(data_dir) / "products" / f"{target_day:%Y}" / f"{target_day:%j}"


def ionex_name(target_day: dt.date, interval_s: int, lead_day: int = 1) -> str:
    """IGS long-name convention; type PRD (predicted), like CODE's predicted GIMs. The next day's
    forecast is version 0 (as CODE's 1-day prediction, COD0OPSPRD); a forecast made further ahead
    carries its lead day there, as CODE's short names do (c1pg, c2pg): SWX2OPSPRD is tomorrow's."""
    span = f"{interval_s // 3600:02d}H" if interval_s % 3600 == 0 else f"{interval_s // 60:02d}M"
    return f"{PRODUCT_CENTRE}{0 if lead_day == 1 else lead_day}OPSPRD_{target_day:%Y%j}0000_01D_{span}_GIM.INX"


#: The inputs' terms, said in every product beside its own licence.
INPUT_TERMS = ("inputs: the analysis centre's GIMs under its terms; Kp, ap and F10.7 from GFZ Potsdam "
               "(CC BY 4.0)")


def attribution(settings: Settings | None = None) -> dict[str, str]:
    """Who publishes the products, under which licence, and the contact: from the settings (None: the
    settings' defaults, which say the site is not configured)."""
    def value(name: str) -> str:  # a blank setting says nothing: it counts as not set
        given = getattr(settings, name) if settings is not None else Settings.model_fields[name].default
        return given.strip() or (Settings.model_fields[name].default if name != "product_contact" else "")

    return {"institution": value("product_institution"), "license": f"{value('product_license')}; {INPUT_TERMS}",
            "contact": value("product_contact") or "none configured (SWX_PRODUCT_CONTACT)"}


def forecast_dataset(forecast: xr.Dataset, *, reference: np.ndarray | None, issue_time: dt.datetime,
                     method: str, source: str, run_id: int | None = None, architecture: str = "",
                     simulated: bool = False, publisher: dict[str, str] | None = None) -> xr.Dataset:
    """The CF dataset of a global forecast (dims time, lat, lon); `publisher`: `attribution(settings)`."""
    tec = forecast["tec"].astype(np.float32)
    data = {
        "tec": tec.assign_attrs(long_name="vertical total electron content, 24 h forecast", units="TECU",
                                comment="1 TECU = 1e16 electrons m-2"),
        "tec_sigma": forecast["tec_sigma"].astype(np.float32).assign_attrs(
            long_name="1-sigma uncertainty of the forecast vTEC", units="TECU"),
    }
    if "member_tec" in forecast:  # the members the published map blends (what later runs fit its weights on)
        data["member_tec"] = forecast["member_tec"].astype(np.float32).assign_attrs(
            long_name="vTEC forecast of each member of the published blend", units="TECU")
        data["tec_sigma_model"] = forecast["tec_sigma_model"].astype(np.float32).assign_attrs(
            long_name="1-sigma of the node models (out-of-fold RMSE) before calibration", units="TECU")
    if reference is not None:
        d, rel = delta_tec(tec.values, reference)
        dims = ("time", "lat", "lon")
        data["tec_reference"] = xr.Variable(dims, reference.astype(np.float32), dict(
            long_name="median vTEC of the previous 27 days at the same UT", units="TECU"))
        data["dtec"] = xr.Variable(dims, d.astype(np.float32), dict(
            long_name="forecast vTEC minus the 27-day reference (expected disturbance)", units="TECU"))
        data["dtec_rel"] = xr.Variable(dims, rel.astype(np.float32), dict(
            long_name="forecast vTEC relative to the 27-day reference", units="percent"))
    coords = {"time": forecast["time"].values, "lat": forecast["lat"].values, "lon": forecast["lon"].values}
    if "member" in forecast.coords:
        coords["member"] = forecast["member"].values
    ds = xr.Dataset(data, coords=coords)
    ds["time"].attrs.update(standard_name="time", long_name="valid time (UTC)", axis="T")
    ds["lat"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    ds["lon"].attrs.update(standard_name="longitude", units="degrees_east", axis="X",
                           comment="-180 and 180 are both present (the same meridian), as on the IONEX grid")
    # the forecast's information cutoff and the lead of every valid time (CF's forecast coordinates)
    issued = pd.Timestamp(issue_time).tz_convert("UTC").tz_localize(None) if pd.Timestamp(issue_time).tzinfo \
        else pd.Timestamp(issue_time)
    ds = ds.assign_coords(forecast_reference_time=((), np.datetime64(issued, "ns"), dict(
        standard_name="forecast_reference_time", long_name="information cutoff: the end of the newest map used")),
        forecast_period=("time", ((ds["time"].values - np.datetime64(issued, "ns")) / np.timedelta64(1, "h"))
                         .astype(np.float32), dict(standard_name="forecast_period", units="hours",
                                                   long_name="lead time after the information cutoff")))
    for name in ds.data_vars:  # UDUNITS has no TECU: the CF unit, TECU said beside it
        if ds[name].attrs.get("units") == "TECU":
            ds[name].attrs.update(units="1e16 m-2", units_metadata="TECU (1 TECU = 1e16 electrons m-2)")
    ds["tec"].attrs.update(shell_height_km=SHELL_HEIGHT_KM)  # the single layer the vTEC is mapped on
    what = "SIMULATED input maps (demo)" if simulated else f"{source.upper()} GIMs"
    made = dt.datetime.now(dt.UTC)
    ds.attrs.update(
        Conventions="CF-1.8", title="swx 24 h vTEC forecast",
        **(publisher or attribution()),
        source=f"swx {code_version()}: station forecasts ({architecture or 'station models'}) extended by the "
               f"'{method}' method from {what}",
        history=f"{made:%Y-%m-%dT%H:%M:%SZ} created by swx {code_version()}",
        # the information cutoff (kept as issue_time too) and when the product was made: not the same
        issue_time=pd.Timestamp(issue_time).strftime("%Y-%m-%dT%H:%M:%SZ"),
        information_cutoff=pd.Timestamp(issue_time).strftime("%Y-%m-%dT%H:%M:%SZ"),
        date_created=f"{made:%Y-%m-%dT%H:%M:%SZ}",
        extension_method=method, input_source=source, simulated=int(simulated),
        run_id=-1 if run_id is None else int(run_id), references="Molina et al.; Cesaroni et al. 2020",
    )
    # how the map was made: the node models and the blend ('nodes'), or the stations alone ('stations')
    ds.attrs.update({k: v for k, v in forecast.attrs.items() if k.startswith("map_")})
    return ds


#: zlib level of the netCDF products: level 1 writes a day's forecast ~3.5x faster than level 4 for a
#: file ~1 % larger (measured on a 2-hourly 2.5° x 5° forecast: 0.03 s vs 0.12 s, 964 vs 956 kB)
NETCDF_COMPLEVEL = 1


def write_netcdf(ds: xr.Dataset, path: Path) -> Path:
    """netCDF4 with compressed variables and time in CF units, written to a temp file then renamed."""
    enc = {v: {"zlib": True, "complevel": NETCDF_COMPLEVEL} for v in ds.data_vars}
    # CF-1.8 has no 64-bit integers: whole minutes since 1970 in 32 bits reach the year 6053
    enc["time"] = {"units": "minutes since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian", "dtype": "int32"}
    for c in ("lat", "lon", "forecast_period"):  # coordinates have no fill value (CF)
        if c in ds.coords:
            enc[c] = {"_FillValue": None}
    if "forecast_reference_time" in ds.coords:
        enc["forecast_reference_time"] = {"units": "minutes since 1970-01-01 00:00:00", "calendar": "proleptic_gregorian",
                                          "dtype": "int32"}
    with atomic_path(Path(path)) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=enc)
    return Path(path)


def _ascii(text: str) -> str:
    """`text` as IONEX can hold it (ASCII): accents dropped (Liège -> Liege), typographic quotes and
    dashes made plain, anything else `?` (the netCDF keeps the text as given)."""
    import unicodedata

    plain = text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                                          "\u2014": "-"}))
    decomposed = unicodedata.normalize("NFKD", plain)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "replace").decode("ascii")


def write_forecast_ionex(ds: xr.Dataset, path: Path) -> Path:
    """The forecast (TEC MAP) and its 1-sigma (RMS MAP) as IONEX 1.0."""
    out = xr.Dataset({"tec": ds["tec"], "rms": ds["tec_sigma"]})
    # when it was made is the header's PGM / RUN BY / DATE record; the description says the cutoff
    lead = int(ds.attrs.get("lead_day", 1))
    what = "24 h vTEC FORECAST" if lead == 1 else \
        f"vTEC FORECAST of hours {lead_span(lead)} after the cutoff"
    desc = (f"swx {what} (not an observation), information cutoff (newest map used) "
            f"{ds.attrs.get('issue_time', '?')}, "
            f"extension method {ds.attrs.get('extension_method', '?')}, from {ds.attrs.get('input_source', '?')} "
            "maps" + (" (SIMULATED demo input)" if ds.attrs.get("simulated") else "")
            + ". RMS maps hold the 1-sigma forecast uncertainty.")
    said = [f"{key.capitalize()}: {_ascii(str(ds.attrs[key]))}" for key in ("institution", "license", "contact")
            if key in ds.attrs]
    return write_ionex(out, path, centre=PRODUCT_CENTRE, program=f"swx {__version__}", run_by="SWX",
                       description=desc, exponent=-1, mapping_function="NONE",
                       comments=["Forecast product of the swx system", *said])


def open_product(path: str | Path) -> xr.Dataset:
    """A published netCDF product, loaded; one that cannot be read (emptied, overwritten, truncated) is
    a DataFormatError naming it, with the repair."""
    try:
        with xr.open_dataset(path) as f:
            return f.load()
    except UNREADABLE_NETCDF as exc:
        raise unreadable_product(path, exc) from None


def unreadable_product(path: str | Path, exc: BaseException) -> DataFormatError:
    """The one-line error for a published product that cannot be read, with the repair: whoever reads
    products (whole, or only some variables) raises this one."""
    return DataFormatError(f"the published product cannot be read ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0][:100] if str(exc) else 'no detail'})", path=str(path),
                           expected="the netCDF file the run wrote: run its forecast again (swx forecast)")


def withdraw_product(path: Path) -> None:
    """Remove a product file, its checksum record and the figure drawn from it (`swx forecast`'s map
    plot beside the netCDF): what a run no longer publishes is not left downloadable (nor checkable)
    beside what it does."""
    path.unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)
    if path.suffix == ".nc":
        path.with_suffix(".png").unlink(missing_ok=True)


def write_products(ds: xr.Dataset, data_dir: Path, target_day: dt.date, method: str, lead_day: int = 1
                   ) -> tuple[Path, Path]:
    """Both products of one method for one target day; returns (netCDF path, IONEX path). A forecast
    of the day after the next from the same maps (lead day 2) has names of its own (`_d2`, `SWX2OPSPRD`):
    the next day's run for that day never overwrites what was published a day ahead."""
    folder = product_dir(data_dir, target_day)
    t = ds["time"].values
    interval = int((t[1] - t[0]) / np.timedelta64(1, "s")) if len(t) > 1 else 7200
    lead = "" if lead_day == 1 else f"_d{lead_day}"
    ds = ds.assign_attrs(lead_day=int(lead_day))
    if lead_day > 1:
        ds.attrs["title"] = f"swx vTEC forecast of hours {lead_span(lead_day)} after its cutoff"
    nc = write_netcdf(ds, folder / f"swx_forecast_{target_day:%Y%m%d}_{method}{lead}.nc")
    name = ionex_name(target_day, interval, lead_day)
    suffix = "" if method == DEFAULT_METHOD else f"_{method}"
    try:
        ionex = write_forecast_ionex(ds, folder / name.replace(".INX", f"{suffix}.INX"))
        for path in (nc, ionex):  # users check a download with `sha256sum -c`; swx status, a product changed
            record_checksum(path)
    except BaseException:  # never one product of the pair without the other
        nc.unlink(missing_ok=True)
        raise
    return nc, ionex
