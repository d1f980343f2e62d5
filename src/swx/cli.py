"""The `swx` command line: ingest GIMs and Kp, inspect IONEX files, run the main job."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from swx import __version__
from swx.archive import Archive
from swx.config import Settings, get_settings
from swx.errors import SwxError
from swx.gim.sources import GimSource, LocalDirectorySource, RemoteSource
from swx.ingest import DayResult, IngestSummary, daterange, ingest_gims, ingest_indices
from swx.net import Downloader, RetryPolicy

app = typer.Typer(help="swx: 24 h vTEC forecasting from Global Ionospheric Maps (IONEX) and Kp.",
                  no_args_is_help=True, add_completion=False, rich_markup_mode="rich")
ingest_app = typer.Typer(help="Bring GIMs and Kp into the local archive.", no_args_is_help=True)
ionex_app = typer.Typer(help="Inspect IONEX files.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(ionex_app, name="ionex")

console = Console(stderr=True)
out = Console(soft_wrap=True)
log = logging.getLogger("swx")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s", datefmt="%Y-%m-%d %H:%M:%S",
                        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
                        force=True)
    logging.Formatter.converter = __import__("time").gmtime  # log times in UTC
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    settings = get_settings()
    _setup_logging("DEBUG" if verbose else settings.log_level)


def _downloader(settings: Settings) -> Downloader:
    return Downloader(RetryPolicy(settings.http_timeout_s, settings.http_retries, settings.http_backoff_s),
                      netrc_path=settings.netrc_path)


def _source(settings: Settings, kind: str, directory: Path | None) -> GimSource:
    if kind == "local":
        folder = directory or settings.gim_local_dir
        if folder is None:
            raise typer.BadParameter("a local source needs --dir or SWX_GIM_LOCAL_DIR", param_hint="--dir")
        return LocalDirectorySource(folder)
    if kind == "remote":
        return RemoteSource(settings.gim_mirrors, _downloader(settings))
    raise typer.BadParameter(f"source {kind!r} is not available yet", param_hint="--source")


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal)


def _run_ingest(source: GimSource, archive: Archive, items: list[tuple[str, dt.date]], force: bool) -> IngestSummary:
    with _progress() as progress:
        task = progress.add_task("GIM days", total=len(items), last="")

        def advance(r: DayResult) -> None:
            progress.update(task, advance=1, last=f"{r.centre} {r.day} {r.status}")

        return ingest_gims(source, archive, items, force=force, on_result=advance)


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
    source: Annotated[str | None, typer.Option(help="remote or local; default SWX_GIM_SOURCE.")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder of IONEX files for --source local.")] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if archived and verified.")] = False,
) -> None:
    """Fetch the GIMs of a date range into the archive (skips days already archived and verified)."""
    settings = get_settings()
    first = _parse_day(start)
    last = _parse_day(end) if end else first
    c = (centre or settings.gim_centre).lower()
    archive = Archive(settings.archive_dir)
    try:
        summary = _run_ingest(_source(settings, source or settings.gim_source, directory), archive,
                              [(c, d) for d in daterange(first, last)], force)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    out.print("\n".join(summary.lines()))
    out.print(f"archive: {archive.root}")
    raise typer.Exit(1 if summary.failed else 0)


@ingest_app.command("kp")
def ingest_kp_cmd(
    source: Annotated[str | None, typer.Option(help="bundled (offline history), gfz (download) or file.")] = None,
    file: Annotated[Path | None, typer.Option(help="A GFZ Kp_ap_Ap_SN_F107 file or a CelesTrak SW file.")] = None,
) -> None:
    """Bring Kp and F10.7 into the archive from GFZ, a local file or the bundled history."""
    settings = get_settings()
    kind = "file" if file else (source or settings.kp_source)
    archive = Archive(settings.archive_dir)
    if kind == "bundled":
        from swx.indices.history import load_history
        tables, label = load_history(), "bundled history (CelesTrak/GFZ)"
    elif kind == "gfz":
        from swx.kp import fetch_gfz
        with _downloader(settings) as dl:
            tables, label = fetch_gfz(dl, settings.kp_url, settings.kp_nowcast_url), "GFZ"
    elif kind == "file":
        if file is None:
            raise typer.BadParameter("--source file needs --file PATH")
        tables, label = read_index_file(file), str(file)
    else:
        raise typer.BadParameter(f"unknown Kp source {kind!r}", param_hint="--source")
    out.print(str(ingest_indices(tables, archive, label)))


def read_index_file(path: Path):
    """A GFZ Kp file or a CelesTrak SW file, told apart by their first line."""
    from swx.indices.celestrak import read_sw
    from swx.indices.gfz import read_gfz_text

    head = path.read_bytes()[:200]
    return read_sw(path) if head.startswith(b"DATATYPE") or b"BEGIN OBSERVED" in head else read_gfz_text(path)


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


@app.command("config")
def config_cmd() -> None:
    """Show the effective settings (from the environment and .env)."""
    s = get_settings()
    data = json.loads(s.model_dump_json())
    data["resolved_database_url"] = s.resolved_database_url
    out.print_json(json.dumps(data))


@app.command("run")
def run_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder of IONEX files; default SWX_GIM_LOCAL_DIR.")] = None,
) -> None:
    """The main job on the embedded default: ingest what is reachable offline and print a summary.

    Reads every IONEX file of a local folder (SWX_GIM_LOCAL_DIR) and the bundled Kp/F10.7 history
    into the archive under SWX_DATA_DIR; needs no network and no server.
    """
    from swx.report import archive_summary

    settings = get_settings()
    archive = Archive(settings.archive_dir)
    folder = directory or settings.gim_local_dir
    summary = IngestSummary()
    if folder is None or not Path(folder).is_dir():
        console.print(f"[yellow]No local IONEX folder ({folder or 'SWX_GIM_LOCAL_DIR unset'}); "
                      "ingesting indices only.[/yellow]")
    else:
        src = LocalDirectorySource(folder)
        summary = _run_ingest(src, archive, src.available(), force=False)
        for p in src.unrecognised():
            console.print(f"[yellow]skipped {p.name}: the name does not say centre and day[/yellow]")
    from swx.indices.history import load_history
    kp = ingest_indices(load_history(), archive, "bundled history (CelesTrak/GFZ)")
    out.print("\n".join(summary.lines()))
    out.print(str(kp))
    out.print(archive_summary(archive))


def main() -> None:
    try:
        app()
    except SwxError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
