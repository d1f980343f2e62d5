"""The `swx` command line: every command parses its options, calls a stage of `swx.pipeline` (the same
functions the Prefect flows call) and prints the result for people; no command computes.

Commands import their stage inside the command: `swx --help` and the light commands start without
loading torch, matplotlib or the database layer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from swx.config import get_settings
from swx.errors import InputError, SwxError

app = typer.Typer(help="swx: 24 h vTEC forecasting from Global Ionospheric Maps (IONEX) and Kp.",
                  no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")
ingest_app = typer.Typer(help="Bring GIMs and Kp into the local archive.", no_args_is_help=True)
ionex_app = typer.Typer(help="Inspect IONEX files.", no_args_is_help=True)
simulate_app = typer.Typer(help="The simulated GIM source of the offline demo (labelled SIMULATED everywhere).",
                           no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(ionex_app, name="ionex")
db_app = typer.Typer(help="The results database: migrations and roles.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
app.add_typer(db_app, name="db")
stations_app = typer.Typer(help="The station catalog: list it, or write a dense one.", no_args_is_help=True)
app.add_typer(stations_app, name="stations")

console = Console(stderr=True)
out = Console(soft_wrap=True)
log = logging.getLogger("swx")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s", datefmt="%Y-%m-%d %H:%M:%S",
                        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
                        force=True)
    logging.Formatter.converter = __import__("time").gmtime  # log times in UTC
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    settings = get_settings()
    _setup_logging("DEBUG" if verbose else settings.log_level)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal)


def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@ingest_app.command("gims")
def ingest_gims_cmd(
    start: Annotated[str, typer.Option(help="First UT day, YYYY-MM-DD.")],
    end: Annotated[str | None, typer.Option(help="Last UT day (inclusive); default: start.")] = None,
    centre: Annotated[str | None, typer.Option("--centre", "--center", help="Analysis centre (cod, igs, jpl, esa, upc).")] = None,
    source: Annotated[str | None, typer.Option(help="remote, local or simulated; default SWX_GIM_SOURCE.")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder of IONEX files for --source local.")] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if archived and verified.")] = False,
) -> None:
    """Fetch the GIMs of a date range into the archive (skips days already archived and verified)."""
    from swx.pipeline.ingest import daterange, ingest_gims_stage

    settings = get_settings()
    first = _parse_day(start)
    last = _parse_day(end) if end else first
    with _progress() as progress:
        task = progress.add_task("GIM days", total=(last - first).days + 1, last="")
        try:
            summary = ingest_gims_stage(settings, daterange(first, last), centre=centre, kind=source,
                                        directory=directory, force=force,
                                        on_result=lambda r: progress.update(task, advance=1,
                                                                            last=f"{r.centre} {r.day} {r.status}"))
        except InputError as exc:
            raise typer.BadParameter(str(exc), param_hint="--source / --dir") from None
    out.print("\n".join(summary.lines()))
    out.print(f"archive: {settings.archive_dir}; database: {settings.display_database_url}")
    raise typer.Exit(1 if summary.failed else 0)


@ingest_app.command("kp")
def ingest_kp_cmd(
    source: Annotated[str | None, typer.Option(help="bundled (offline history), gfz (download) or file.")] = None,
    file: Annotated[Path | None, typer.Option(help="A GFZ Kp_ap_Ap_SN_F107 file or a CelesTrak SW file.")] = None,
) -> None:
    """Bring Kp and F10.7 into the archive from GFZ, a local file or the bundled history."""
    from swx.pipeline.ingest import ingest_indices_stage

    try:
        summary = ingest_indices_stage(get_settings(), kind=source, file=file)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source / --file") from None
    out.print(str(summary))


@ionex_app.command("info")
def ionex_info(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="IONEX file (plain, .Z, .gz).")],
    partial: Annotated[bool, typer.Option(help="Read the complete maps of a truncated file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check an IONEX file strictly and summarise it."""
    from swx.io.ionex import IonexWarning, read_ionex

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IonexWarning)
        ds = read_ionex(path, allow_partial=partial)
    info = {
        "file": str(path), "centre": ds.attrs["centre"], "sha256": ds.attrs["source_sha256"],
        "first": str(ds.time.values[0])[:19] + "Z", "last": str(ds.time.values[-1])[:19] + "Z",
        "maps": int(ds.sizes["time"]), "maps_declared": int(ds.attrs["maps_declared"]),
        "rms_maps": int(ds.attrs["rms_maps"]), "grid": f"{ds.sizes['lat']} x {ds.sizes['lon']}",
        "tec_min": float(ds.tec.min()), "tec_max": float(ds.tec.max()),
        "no_value": int(ds.tec.isnull().sum()), "warnings": [str(w.message) for w in caught],
    }
    if as_json:
        out.print_json(json.dumps(info))
        return
    t = Table(show_header=False, box=None)
    for k, v in info.items():
        t.add_row(k, "\n".join(v) if isinstance(v, list) else str(v))
    out.print(t)


@simulate_app.command("day")
def simulate_day_cmd(
    date: Annotated[str, typer.Option("--date", help="UT day, YYYY-MM-DD.")],
    out_path: Annotated[Path, typer.Option("--out", help="IONEX file to write (.gz compresses).")],
) -> None:
    """Write one simulated day as an IONEX file (centre SIM, marked SIMULATED)."""
    from swx.pipeline.simulator_check import write_simulated_day

    settings = get_settings()
    with console.status("preparing the simulated source (NeQuick-G tables are computed once and cached)"):
        write_simulated_day(settings, _parse_day(date), out_path)
    out.print(f"wrote {out_path} (SIMULATED, seed {settings.sim_seed})")


@simulate_app.command("compare")
def simulate_compare_cmd(
    real_dir: Annotated[Path, typer.Option("--real-dir", help="Folder of real IONEX files (e.g. ../shared/data/ionex).")],
    out_path: Annotated[Path, typer.Option("--out", help="Markdown file for the table.")] = Path("docs/simulated.md"),
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

    with console.status("simulating the real days (and points) and comparing"):
        table, points = compare_simulator(get_settings(), real_dir, out_path, indices=indices,
                                          real_series=real_series, lon=lon)
    if real_series:
        out.print(points)
    out.print(table)
    out.print(f"wrote {out_path}")


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

    with console.status(f"simulating the series' points at {lon:g} E"):
        fits = calibrate_simulator(get_settings(), real_series, lon=lon, fit_end=_parse_day(fit_end), indices=indices)
    t = Table("latitude", "a", "b (ln F/100)", "c (cos)", "s (sin)", title="ln(simulated / real), monthly means")
    for lat, coefficients in fits:
        t.add_row(f"{lat:g}", *(f"{v:.3f}" for v in coefficients))
    out.print(t)


@db_app.command("upgrade")
def db_upgrade_cmd(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the database of SWX_DATABASE_URL (default: the embedded SQLite file)."""
    from swx.pipeline.database import upgrade_database

    out.print(upgrade_database(get_settings(), revision))


@db_app.command("downgrade")
def db_downgrade_cmd(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1.")]) -> None:
    """Migrate the database down (keep a backup: a downgrade drops what newer revisions added)."""
    from swx.pipeline.database import downgrade_database

    out.print(downgrade_database(get_settings(), revision))


@db_app.command("current")
def db_current_cmd() -> None:
    """Show the database's migration revision."""
    from swx.pipeline.database import database_revision

    out.print(database_revision(get_settings()))


@db_app.command("grant-read-only")
def db_grant_cmd(role: Annotated[str, typer.Argument(help="An existing PostgreSQL role (the dashboard's).")],
                 schema: Annotated[str, typer.Option(help="Schema of the swx tables.")] = "public") -> None:
    """Let a PostgreSQL role read (only read) the swx tables."""
    from swx.pipeline.database import grant_read_only_role

    out.print(grant_read_only_role(get_settings(), role, schema))


@app.command("import-series")
def import_series_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: UTC time, vTEC in TECU.")],
    station: Annotated[str, typer.Option(help="Station code (existing, or new with --lat/--lon).")],
    lat: Annotated[float | None, typer.Option(help="Latitude of a new station (deg N).")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude of a new station (deg E).")] = None,
    surface: Annotated[str, typer.Option(help="land or ocean (a new station).")] = "land",
    name: Annotated[str, typer.Option(help="Name of a new station.")] = "",
) -> None:
    """Load a vTEC series (e.g. a GNSS receiver's) as a station's observations on the 2-hour grid."""
    from swx.pipeline.ingest import import_series_stage

    try:
        done = import_series_stage(get_settings(), file, station, lat=lat, lon=lon, surface=surface, name=name)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--station") from None
    out.print(str(done))


@app.command("train")
def train_cmd(
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    arch: Annotated[list[str] | None, typer.Option("--arch", help="lstm, gru, cnn or ridge (repeat); default all four.")] = None,
    train_end: Annotated[str | None, typer.Option(help="Last day of training data; default: all but the last 1 %.")] = None,
    units: Annotated[int, typer.Option(help="Hidden units / filters.")] = 20,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on validation).")] = 40,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = 32,
    gaussian: Annotated[bool, typer.Option(help="Gaussian head (mean, sigma) trained with the NLL.")] = False,
    ensemble: Annotated[int, typer.Option(help="Members (seeds) per station; > 1 gives intervals from their spread.")] = 1,
    target: Annotated[str, typer.Option(help="departure (from 0.5 persistence + 0.5 27-day median, added back) "
                                             "or level (vTEC itself).")] = "departure",
) -> None:
    """Train the station models (all stations of an architecture in one batched pass) on the archive,
    register them as the active versions and score them on the held-out days against the baselines."""
    from swx.config import ARCHITECTURES, TARGETS
    from swx.pipeline.context import context
    from swx.pipeline.train import summary_table, train

    if target not in TARGETS:
        raise typer.BadParameter(f"{target!r}: expected one of {', '.join(TARGETS)}", param_hint="--target")
    unknown = sorted(set(arch or []) - set(ARCHITECTURES))
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: expected {', '.join(ARCHITECTURES)}", param_hint="--arch")
    ctx = context(get_settings(), station)
    with console.status("training"):
        df = train(ctx, arch or list(ARCHITECTURES), train_end=_parse_day(train_end) if train_end else None,
                   units=units, epochs=epochs, batch_size=batch_size, gaussian=gaussian, ensemble=ensemble,
                   target=target)
    _print_scores(summary_table(df[df.kp_class == "all"]), "table")


@app.command("evaluate")
def evaluate_cmd(
    start: Annotated[str, typer.Option(help="First issue day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last issue day (inclusive).")],
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json (one object per row).")] = "table",
    plot: Annotated[Path | None, typer.Option(help="PNG of observed vs forecasts for the first station.")] = None,
) -> None:
    """Score the active models and their skill-weighted blend on a period against persistence and the
    27-day median (by station, architecture and Kp class), store the scores, and print them. The
    blend is walk-forward: each day's weights come from this period's forecasts verified before it."""
    from swx.pipeline.context import context
    from swx.pipeline.train import evaluate, summary_table

    ctx = context(get_settings(), station)
    df = evaluate(ctx, _parse_day(start), _parse_day(end), plot=plot)
    _print_scores(summary_table(df), fmt)
    if plot:
        console.print(f"plot: {plot}")


@app.command("update")
def update_cmd(
    day: Annotated[str, typer.Option(help="The day to forecast and score (UTC); the models learn the day before.")],
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    arch: Annotated[list[str] | None, typer.Option("--arch", help="lstm, gru, cnn or ridge (repeat); default all four.")] = None,
    margin: Annotated[float, typer.Option(help="Guardrail: reject an update worse than the active model by this.")] = 0.05,
) -> None:
    """Daily incremental learning: fine-tune each active model on the newest day (with replay), score
    both on DAY (walk-forward), keep the better one; every decision is recorded in the registry."""
    from swx.pipeline.context import context
    from swx.pipeline.update import update

    df = update(context(get_settings(), station), _parse_day(day), arch, margin=margin)
    out.print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"), markup=False, highlight=False)


@app.command("gridsearch")
def gridsearch_cmd(
    arch: Annotated[str, typer.Option("--arch", help="lstm, gru or cnn.")] = "cnn",
    units: Annotated[list[int] | None, typer.Option("--units", help="Units to try (repeat); default 5..100.")] = None,
    batch_size: Annotated[list[int] | None, typer.Option("--batch-size", help="Batch sizes (repeat); default 16..128.")] = None,
    epochs: Annotated[list[int] | None, typer.Option("--epochs", help="Epoch limits (repeat); default 20, 50, 100.")] = None,
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    workers: Annotated[int | None, typer.Option(help="Local Dask worker processes; default one per core.")] = None,
) -> None:
    """Grid search over units, batch size and epochs in parallel (Dask), recorded under the data dir."""
    from swx.pipeline.context import context
    from swx.pipeline.train import gridsearch

    grid = {"units": units, "batch_size": batch_size, "epochs": epochs}  # None: the method's values
    df, path = gridsearch(context(get_settings(), station), arch, grid, workers=workers)
    out.print(df.drop(columns=["val_rmse_per_station"]).to_string(index=False), markup=False, highlight=False)
    out.print(f"recorded in {path}")


@stations_app.command("list")
def stations_list_cmd() -> None:
    """The stations of the configured catalog (SWX_STATION_CATALOG, default the method's 18)."""
    import pandas as pd

    from swx.science.stations import load_catalog

    df = pd.DataFrame([s.as_row() for s in load_catalog(get_settings().station_catalog)])
    out.print(df.to_string(index=False), markup=False, highlight=False)


@stations_app.command("dense")
def stations_dense_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="CSV to write (use it with SWX_STATION_CATALOG).")],
    dlat: Annotated[float, typer.Option(help="Latitude step (degrees).")] = 10.0,
    dlon: Annotated[float, typer.Option(help="Longitude step (degrees).")] = 20.0,
) -> None:
    """Write a dense catalog: a virtual station on every DLAT x DLON node up to ±80° (306 by default),
    latitude band and land/ocean from the shipped land mask."""
    from swx.io.atomic import atomic_write_bytes
    from swx.science.stations import catalog_csv, dense_catalog

    stations = dense_catalog(dlat, dlon)
    atomic_write_bytes(out_path, catalog_csv(stations).encode())
    console.print(f"{len(stations)} stations written to {out_path}; use SWX_STATION_CATALOG={out_path}")


@app.command("forecast")
def forecast_cmd(
    day: Annotated[str, typer.Option(help="Issue day (UTC): its maps are the newest; the forecast is for the next day.")],
    method: Annotated[list[str] | None, typer.Option("--method", help="Extension method(s): residual, idw, nequick; "
                                                     "default SWX_EXTENSION_METHOD (+ SWX_EXTENSION_COMPARE).")] = None,
    plot: Annotated[Path | None, typer.Option(help="PNG of the forecast and uncertainty maps at 12 UT.")] = None,
) -> None:
    """The 24 h forecast: station forecasts from the active models, extended to the global map, ΔTEC
    against the 27-day reference, products (netCDF + IONEX) and database rows. Idempotent."""
    from swx.pipeline.forecast import forecast_stage
    from swx.pipeline.report import forecast_map_png

    r = forecast_stage(get_settings(), _parse_day(day), methods=method)
    state = f"[yellow]DEGRADED[/]: {r['reason']}" if r["degraded"] else "[green]ok[/]"
    console.print(f"run {r['run_id']}: forecast for {r['target_day']} issued {r['issue_time'][:16]} UTC "
                  f"from the maps of {r['latest_day']}; {state}")
    console.print(f"station forecasts: {r['station_rows']} rows ({', '.join(r['architectures'])})")
    for m_, (nc, ionex) in r["products"].items():
        out.print(f"{m_}: {nc}\n{' ' * len(m_)}  {ionex}", markup=False, highlight=False)
    if plot:
        forecast_map_png(r, plot)
        console.print(f"plot: {plot}")


@app.command("verify-maps")
def verify_maps_cmd(
    day: Annotated[str, typer.Option(help="Target day whose real GIM has arrived.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    plot: Annotated[Path | None, typer.Option(help="PNG of forecast, truth, error and sigma maps at 12 UT.")] = None,
) -> None:
    """Score the global forecasts for DAY against its GIM, beside the persistence map: global, by
    latitude band and land/ocean; stored in the verification table."""
    from swx.pipeline.context import context
    from swx.pipeline.verify import verification_plot, verify_maps

    ctx = context(get_settings())
    df = verify_maps(ctx, _parse_day(day))
    if plot and not df.empty:
        verification_plot(ctx, _parse_day(day), plot)
        console.print(f"plot: {plot}")
    if df.empty:
        console.print(f"no global forecast for {day} to verify")
        raise typer.Exit(1)
    cols = ["model", "station_code", "n", "rmse", "bias", "skill_persistence", "coverage68", "coverage95"]
    _print_scores(df[cols].rename(columns={"station_code": "region"}), fmt)


@app.command("storms")
def storms_cmd(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day (inclusive).")],
) -> None:
    """Storm events (Kp >= 5-, NOAA G1+) in a period, with the Global ΔTEC response and the stations
    most affected; stored in storm_events."""
    from swx.pipeline.context import context
    from swx.pipeline.storms import storm_table, storms

    events = storms(context(get_settings()), _parse_day(start), _parse_day(end))
    if not events:
        console.print(f"no storm (Kp >= 5-) between {start} and {end}")
        return
    out.print(storm_table(events).to_string(index=False, float_format=lambda v: f"{v:.2f}"), markup=False,
              highlight=False)


@app.command("extension-check")
def extension_check_cmd(
    previous: Annotated[Path, typer.Argument(help="IONEX file of a day (the persistence map).")],
    target: Annotated[Path, typer.Argument(help="IONEX file of the next day (the truth).")],
    method: Annotated[list[str] | None, typer.Option("--method", help="Methods; default all.")] = None,
    plot: Annotated[Path | None, typer.Option(help="PNG of forecast, truth, error and sigma at 12 UT.")] = None,
) -> None:
    """Measure the extension methods on real maps: rebuild TARGET from the true values at the catalog
    stations and PREVIOUS as persistence; RMSE globally, by band, land/ocean, and leave-stations-out."""
    from swx.pipeline.extension_check import extension_check

    df = extension_check(get_settings(), previous, target, method, plot)
    cols = ["method", "region", "n", "rmse", "rmse_area", "rmse_persistence", "skill_vs_persistence", "coverage68"]
    out.print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"), markup=False, highlight=False)
    if plot:
        console.print(f"plot: {plot}")


def _print_scores(df, fmt: str) -> None:
    if fmt == "json":
        out.print_json(df.to_json(orient="records"))
        return
    if not out.is_terminal:  # pipes and logs: a plain table that does not wrap
        out.print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"), markup=False, highlight=False)
        return
    t = Table(title="24 h forecast skill (RMSE etc. in TECU; skill = 1 - RMSE/RMSE_ref)")
    for c in df.columns:
        t.add_column(c, justify="right" if df[c].dtype.kind in "fi" else "left")
    for _, r in df.iterrows():
        t.add_row(*[("" if v is None or (isinstance(v, float) and not np.isfinite(v)) else
                     f"{v:.3f}" if isinstance(v, float) else str(v)) for v in r])
    out.print(t)


@app.command("status")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document (for monitoring).")] = False,
    max_age_h: Annotated[float | None, typer.Option(help="Fail when the latest run is older; default SWX_STATUS_MAX_AGE_H.")] = None,
) -> None:
    """The latest forecast run: status, degraded and why, source, forecasts, models, skill, products and
    storms. Exits 1 when there is no run, it failed, or it is older than the limit."""
    from swx.pipeline.status import run_status, summary_lines

    doc, healthy = run_status(get_settings(), max_age_h=max_age_h)
    if as_json:
        out.print_json(data=doc)
    else:
        for line in summary_lines(doc):
            out.print(line, markup=False, highlight=False)
    if not healthy:
        console.print(f"[red]unhealthy[/]: {doc['problem']}")
        raise typer.Exit(1)


@app.command("config")
def config_cmd() -> None:
    """Show the effective settings (from the environment and .env)."""
    s = get_settings()
    data = json.loads(s.model_dump_json())
    data["resolved_database_url"] = s.display_database_url
    out.print_json(json.dumps(data))


@app.command("run")
def run_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="Also ingest this folder of IONEX files.")] = None,
) -> None:
    """The main job on the embedded default: needs no network and no server.

    With SWX_GIM_SOURCE=simulated (the default) it generates the demo archive for the demo window
    (SWX_DEMO_START .. SWX_DEMO_END; cached), driven by the real Kp/F10.7 history bundled with swx,
    and ingests it; with SWX_GIM_SOURCE=local it ingests every IONEX file of SWX_GIM_LOCAL_DIR. Then it
    prints what the archive holds: days, maps, the Kp range and the storms of the window.
    """
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.ingest import daterange, ingest_gims_stage, ingest_indices_stage
    from swx.pipeline.report import database_summary, main_archive_summary

    settings = get_settings()
    migrate_database_stage(settings)  # the main job creates or migrates its database itself
    kp = ingest_indices_stage(settings, kind="bundled")
    summaries = []
    window = None
    folder = directory or (settings.gim_local_dir if settings.gim_source == "local" else None)
    if settings.gim_source == "simulated":
        window = (settings.demo_start, settings.demo_end)
        console.print(f"Offline demo: SIMULATED maps for {window[0]} .. {window[1]} "
                      f"(seed {settings.sim_seed}, every {settings.sim_cadence_min} min)")
        summaries.append(ingest_gims_stage(settings, daterange(*window)))
    elif settings.gim_source == "remote" and folder is None:
        raise typer.BadParameter("the main job does not fetch remote GIMs yet (that comes with the daily flow); "
                                 "use SWX_GIM_SOURCE=simulated or local")
    if folder is not None:
        try:
            summaries.append(ingest_gims_stage(settings, None, kind="local", directory=folder))
        except InputError as exc:
            raise typer.BadParameter(str(exc), param_hint="--dir / SWX_GIM_LOCAL_DIR") from None
    for summary in summaries:
        out.print("\n".join(summary.lines()))
    out.print(str(kp))
    out.print(main_archive_summary(settings, window))
    out.print(database_summary(settings, sum(len(s.archived) for s in summaries)))


def main() -> None:
    try:
        app()
    except SwxError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
