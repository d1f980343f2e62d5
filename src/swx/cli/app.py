"""The `swx` Typer application, its command groups, and what every command shares: the consoles
(results to stdout, progress and messages to stderr), logging, day parsing, progress bars and score
tables."""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from swx.config import DATA_ERA_START, ISO_DAY, get_settings, install_secret_masking, mask_secrets, mask_value

app = typer.Typer(help="swx: 24 h vTEC forecasting from Global Ionospheric Maps (IONEX) and Kp.",
                  no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")
ingest_app = typer.Typer(help="Bring GIMs and Kp into the local archive.", no_args_is_help=True)
ionex_app = typer.Typer(help="Inspect IONEX files.", no_args_is_help=True)
simulate_app = typer.Typer(help="The simulated GIM source of the offline demo (labelled SIMULATED everywhere).",
                           no_args_is_help=True)
db_app = typer.Typer(help="The results database: migrations and roles.", no_args_is_help=True)
stations_app = typer.Typer(help="The station catalog: list it, or write a dense one.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest", rich_help_panel="Data in")
app.add_typer(ionex_app, name="ionex", rich_help_panel="Inspect and check")
app.add_typer(simulate_app, name="simulate", rich_help_panel="Inspect and check")
app.add_typer(db_app, name="db", rich_help_panel="Operations")
app.add_typer(stations_app, name="stations", rich_help_panel="Inspect and check")

class MaskedConsole(Console):
    """A console through which nothing prints a secret: every string and JSON document it is given
    goes through the one mask (`swx.config.mask_secrets`), results and messages alike."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*[mask_secrets(o) if isinstance(o, str) else o for o in objects], **kwargs)

    def print_json(self, json: str | None = None, *, data: Any = None, **kwargs: Any) -> None:
        import json as json_module

        if json is not None:  # masked value by value: a mask over the text could swallow JSON's quotes
            data = json_module.loads(json)
        super().print_json(data=mask_value(data), **kwargs)


console = MaskedConsole(stderr=True)  # progress, messages and errors
out = MaskedConsole(soft_wrap=True)  # results
log = logging.getLogger("swx")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes, as the Rich console does (a handler
    holding the stream of its setup would write to a closed one after a test runner swapped it)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


#: log lines off a terminal (a file, a pipe, journald): one line per record, never wrapped
LOG_FORMAT = "%(asctime)s %(levelname)-8s %(message)s"


def _setup_logging(level: str) -> None:
    """Rich's columns on a terminal; off one, plain lines (Rich would wrap them at 80 columns and split
    file paths in two)."""
    if console.is_terminal:
        handler: logging.Handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    else:
        handler, fmt = _StderrHandler(), LOG_FORMAT
    logging.basicConfig(level=level.upper(), format=fmt, datefmt="%Y-%m-%d %H:%M:%S", handlers=[handler],
                        force=True)
    logging.Formatter.converter = time.gmtime  # log times in UTC
    install_secret_masking()
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


#: exit status of a command whose result is there but not to be trusted as it stands (`swx forecast`
#: published a degraded run, `swx status` finds the latest run degraded); 1: unhealthy or failed, 2: a
#: usage or input error
DEGRADED_EXIT = 3

#: `--debug`: a fault a user meets keeps its traceback instead of the one-line message (swx.cli.main)
SHOW_TRACEBACKS = {"on": False}


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
          debug: Annotated[bool, typer.Option("--debug", help="On an error, show the traceback (for a bug "
                                              "report) instead of one line.")] = False) -> None:
    SHOW_TRACEBACKS["on"] = debug
    settings = get_settings()
    _setup_logging("DEBUG" if verbose or debug else settings.log_level)
    if settings.device == "cuda":  # refused before any work, not after an hour of reading data
        from swx.pipeline.train import check_device

        check_device(settings)


def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[last]}"), TimeElapsedColumn(), console=console,
                    disable=not console.is_terminal)


def ingest_with_progress(settings, days: list[dt.date] | None, hint: str, **options):
    """`swx.pipeline.ingest.ingest_gims_stage` with a progress bar of the days; a refused source or
    folder (InputError) becomes a bad-parameter message naming `hint`."""
    from swx.errors import InputError
    from swx.pipeline.ingest import ingest_gims_stage

    with progress_bar() as progress:
        task = progress.add_task("GIM days", total=len(days) if days is not None else None, last="")
        try:
            return ingest_gims_stage(settings, days, **options, on_result=lambda r: progress.update(
                task, advance=1, last=f"{r.centre} {r.day} {r.status}"))
        except InputError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None


def parse_day(value: str, option: str = "--day") -> dt.date:
    """A day argument, refused before anything runs unless it is a date in swx's era: no forecast of
    2030 from the maps of 2015, no overflow on year 1 or 9999."""
    try:
        if not re.fullmatch(ISO_DAY, value):
            raise ValueError(value)
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    if not DATA_ERA_START <= day <= tomorrow:
        raise typer.BadParameter(f"{day}: expected a day from {DATA_ERA_START} to tomorrow ({tomorrow})",
                                 param_hint=option)
    return day


def check_out_file(path: Path, option: str, *, refuse_suffixes: tuple[str, ...] = (), why: str = "") -> None:
    """Refuse an output path that cannot be a file: empty, a folder, or a suffix this command cannot write."""
    if str(path) in ("", ".") or path.is_dir():
        raise typer.BadParameter(f"{str(path) or '.'!r} is a folder: expected a file name",
                                 param_hint=option)
    if path.exists() and not path.is_file():
        raise typer.BadParameter(f"{path} is not a regular file (a device, a pipe or a socket): expected a file name",
                                 param_hint=option)
    if path.suffix.lower() in refuse_suffixes:
        raise typer.BadParameter(f"{path.name}: {why}", param_hint=option)
    if (own := _swx_own(path)) is not None:
        raise typer.BadParameter(f"{path} is {own}: swx would overwrite what it published or keeps; expected "
                                 "a file outside the database, the archive, the models and the products",
                                 param_hint=option)


def _swx_own(path: Path) -> str | None:
    """What of swx's own `path` is (the database file, or a file under the data folder's archive, models
    or products), or None: an output option must never name it (a PNG written over a published product,
    a CSV over the database)."""
    try:
        s = get_settings()
        target = path.expanduser().resolve()
        owned = {"the results database": [(s.data_dir / "swx.sqlite").resolve()],
                 "in swx's archive, models or products": [(s.data_dir / sub).resolve()
                                                           for sub in ("archive", "models", "products")]}
    except Exception:  # noqa: BLE001 - bad settings or a loop of links: said by the command itself
        return None
    if target in owned["the results database"] and not s.database_url:
        return "the results database"
    if any(target.is_relative_to(folder) for folder in owned["in swx's archive, models or products"]):
        return "in swx's archive, models or products"
    return None


def check_plot_path(value: Path | None) -> Path | None:
    """`--plot`'s callback: the PNG's path is checked before any work, not after it."""
    if value is not None:
        check_out_file(value, "--plot")
    return value


def check_choices(values: list[str] | str | None, allowed: tuple[str, ...], option: str) -> None:
    """Refuse a value that is not one of `allowed` (a list option: any of its values)."""
    given = [values] if isinstance(values, str) else list(values or [])
    unknown = [v for v in given if v not in allowed]
    if unknown:
        raise typer.BadParameter(f"{', '.join(map(repr, unknown))}: expected {', '.join(allowed)}", param_hint=option)


def check_finite(value: float | None, option: str, lo: float, hi: float) -> None:
    """Refuse NaN, infinities and numbers outside [lo, hi] (click's ranges let NaN through)."""
    if value is not None and not (math.isfinite(value) and lo <= value <= hi):
        raise typer.BadParameter(f"{value:g}: expected a number from {lo:g} to {hi:g}", param_hint=option)


#: what `--format` may ask for
OUTPUT_FORMATS = ("table", "json")
#: what --lead-day means, for the commands that take it
LEAD_DAY_HELP = ("The day after the issue day's maps forecast: 1 (hours 2-24 after the cutoff, the next UT day), 2 "
                 "(hours 26-48, the day after: tomorrow's forecast; its own models, scored against the baselines known "
                 "at the cutoff).")


def print_scores(df, fmt: str) -> None:
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
    out.print(t, markup=False)
