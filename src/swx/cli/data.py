"""Commands that look at data without running the pipeline: IONEX files, the station catalog, the
extension methods and the simulator against real maps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from swx.cli.app import (
    app,
    check_finite,
    check_out_file,
    check_plot_path,
    console,
    ionex_app,
    out,
    parse_day,
    simulate_app,
    stations_app,
)
from swx.config import get_settings, printable


@ionex_app.command("info")
def ionex_info(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="IONEX file (plain, .Z, .gz).")],
    partial: Annotated[bool, typer.Option(help="Read the complete maps of a truncated file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check an IONEX file strictly and summarise it."""
    from swx.pipeline.inspection import ionex_summary

    info = ionex_summary(path, allow_partial=partial)
    if as_json:
        out.print_json(json.dumps(info))
        return
    t = Table(show_header=False, box=None)
    for k, v in info.items():
        t.add_row(k, "\n".join(map(printable, v)) if isinstance(v, list) else printable(str(v)))
    out.print(t, markup=False)


@simulate_app.command("day")
def simulate_day_cmd(
    date: Annotated[str, typer.Option("--date", help="UT day, YYYY-MM-DD.")],
    out_path: Annotated[Path, typer.Option("--out", help="IONEX file to write (.gz compresses).")],
) -> None:
    """Write one simulated day as an IONEX file (centre SIM, marked SIMULATED)."""
    from swx.pipeline.simulator_check import write_simulated_day

    check_out_file(out_path, "--out", refuse_suffixes=(".z", ".zip", ".bz2"),
                   why="swx writes IONEX plain or gzip-compressed (.gz), not Unix compress, zip or bzip2")
    settings = get_settings()
    with console.status("preparing the simulated source (NeQuick-G tables are computed once and cached)"):
        write_simulated_day(settings, parse_day(date, "--date"), out_path)
    out.print(f"wrote {out_path} (SIMULATED, seed {settings.sim_seed})", markup=False)


@simulate_app.command("compare")
def simulate_compare_cmd(
    real_dir: Annotated[Path, typer.Option("--real-dir", help="Folder of real IONEX files (e.g. ../shared/data/ionex).")],
    out_path: Annotated[Path | None, typer.Option(
        "--out", help="Markdown file to write (and its .png figure); default <SWX_DATA_DIR>/simulated.md. "
                      "docs/simulated.md is this page: rewrite it only on purpose.")] = None,
    indices: Annotated[Path | None, typer.Option(help="A CelesTrak SW or GFZ Kp file covering the real days "
                                                      "(default: the archive and the bundled history).")] = None,
    real_series: Annotated[list[Path] | None, typer.Option(
        "--real-series", help="Real vTEC series (Year;DOY;Hour;VTEC_40N... layout) to compare at their grid "
                              "points, per year and for January-March of the first (repeat for several files).")] = None,
    lon: Annotated[float, typer.Option(help="Longitude of the real series, degrees east.")] = 10.0,
) -> None:
    """Compare simulated with real maps on the real days (means, diurnal amplitude, persistence) and,
    with --real-series, simulated with real series at their points (mean and day-to-day variability)."""
    from swx.pipeline.simulator_check import compare_simulator

    check_finite(lon, "--lon", -180.0, 360.0)
    if not real_dir.is_dir():
        raise typer.BadParameter(f"{real_dir} is {'a file' if real_dir.exists() else 'not there'}: expected a folder "
                                 "of real IONEX files", param_hint="--real-dir")
    settings = get_settings()
    if out_path is not None:
        check_out_file(out_path, "--out")
    out_path = out_path or settings.data_dir / "simulated.md"
    with console.status("simulating the real days (and points) and comparing"):
        table, points, skipped = compare_simulator(settings, real_dir, out_path, indices=indices,
                                                   real_series=real_series, lon=lon)
    for line in skipped:
        out.print(f"left out: {line}", soft_wrap=True, highlight=False, markup=False)
    if real_series:
        out.print(points, markup=False)
    out.print(table, markup=False)
    out.print(f"wrote {out_path}", markup=False)


@simulate_app.command("calibrate")
def simulate_calibrate_cmd(
    real_series: Annotated[list[Path], typer.Option("--real-series", help="Real vTEC in the Year;DOY;Hour;VTEC_40N... "
                                                                          "layout (repeat for several files).")],
    lon: Annotated[float, typer.Option(help="Longitude of the real series, degrees east.")] = 10.0,
    fit_end: Annotated[str, typer.Option("--fit-end", help="Last day of the fit (later days are held out).")] = "2016-12-31",
    indices: Annotated[Path | None, typer.Option(help="A CelesTrak SW or GFZ Kp file (default: the archive and "
                                                      "the bundled history).")] = None,
) -> None:
    """Fit the simulator's level calibration (SimulationConfig.level_fit) to real series: prints the
    coefficients per latitude, fitted on the uncalibrated simulator's monthly means up to --fit-end."""
    from swx.pipeline.simulator_check import calibrate_simulator

    check_finite(lon, "--lon", -180.0, 360.0)
    with console.status(f"simulating the series' points at {lon:g} E"):
        fits = calibrate_simulator(get_settings(), real_series, lon=lon, fit_end=parse_day(fit_end, "--fit-end"), indices=indices)
    t = Table("latitude", "a", "b (ln F/100)", "c (cos)", "s (sin)", title="ln(simulated / real), monthly means")
    for lat, coefficients in fits:
        t.add_row(f"{lat:g}", *(f"{v:.3f}" for v in coefficients))
    out.print(t, markup=False)


@stations_app.command("list")
def stations_list_cmd() -> None:
    """The stations of the configured catalog (SWX_STATION_CATALOG, default the method's 18)."""
    from swx.pipeline.inspection import station_table

    out.print(station_table(get_settings()).to_string(index=False), markup=False, highlight=False)


@stations_app.command("dense")
def stations_dense_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="CSV to write (use it with SWX_STATION_CATALOG).")],
    dlat: Annotated[float, typer.Option(help="Latitude step (degrees).")] = 10.0,
    dlon: Annotated[float, typer.Option(help="Longitude step (degrees).")] = 20.0,
) -> None:
    """Write a dense catalog: a virtual station on every DLAT x DLON node up to ±80° (306 by default),
    latitude band and land/ocean from the shipped land mask."""
    from swx.pipeline.inspection import write_dense_catalog

    check_out_file(out_path, "--out")
    n = write_dense_catalog(out_path, dlat, dlon)
    console.print(f"{n} stations written to {out_path}; use SWX_STATION_CATALOG={out_path}", markup=False)


@app.command("extension-check", rich_help_panel="Inspect and check")
def extension_check_cmd(
    previous: Annotated[Path, typer.Argument(help="IONEX file of a day (the persistence map).")],
    target: Annotated[Path, typer.Argument(help="IONEX file of the next day (the truth).")],
    method: Annotated[list[str] | None, typer.Option("--method", help="Methods; default all.")] = None,
    plot: Annotated[Path | None, typer.Option(callback=check_plot_path, help="PNG of forecast, truth, error and sigma at 12 UT.")] = None,
) -> None:
    """Measure the extension methods on real maps: rebuild TARGET from the true values at the catalog
    stations and PREVIOUS as persistence; RMSE globally, by band, land/ocean, and leave-stations-out."""
    from swx.pipeline.extension_check import configuration_rows, extension_check

    df = extension_check(get_settings(), previous, target, method, plot)
    for note in df.attrs.get("notes", []):
        console.print(f"note: {note}", markup=False, style="yellow")
    cols = ["method", "region", "n", "rmse", "rmse_area", "rmse_persistence", "skill_vs_persistence", "coverage68"]
    out.print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"), markup=False, highlight=False)
    out.print("map configurations:", markup=False, highlight=False)
    for name, what in configuration_rows(get_settings()):
        out.print(f"  {name}: {what}", markup=False, highlight=False)
    if plot:
        console.print(f"plot: {plot}", markup=False)
