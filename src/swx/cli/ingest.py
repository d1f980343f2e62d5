"""Commands that bring data in: GIMs, Kp/F10.7, a station's vTEC series."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swx.cli.app import app, check_choices, ingest_app, ingest_with_progress, out, parse_day
from swx.config import DATA_ERA_START, GIM_SOURCES, check_product_code, get_settings
from swx.errors import InputError, reason_of

if TYPE_CHECKING:
    from swx.config import Settings
    from swx.pipeline.ingest import IngestSummary


@ingest_app.command("gims")
def ingest_gims_cmd(
    start: Annotated[str | None, typer.Option(help="First UT day, YYYY-MM-DD (with --upgrade: default "
                                                     "SWX_GIM_UPGRADE_DAYS days ago).")] = None,
    end: Annotated[str | None, typer.Option(help="Last UT day (inclusive); default: start (with --upgrade: "
                                                   "yesterday).")] = None,
    centre: Annotated[str | None, typer.Option("--centre", "--center", help="Analysis centre (cod, igs, jpl, esa, upc).")] = None,
    source: Annotated[str | None, typer.Option(help="remote, local or simulated; default SWX_GIM_SOURCE.")] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Folder of IONEX files for --source local.")] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if archived and verified.")] = False,
    upgrade: Annotated[bool, typer.Option(help="Over the recent days: fetch the finals of days held as rapid "
                                                 "maps (and any day still missing).")] = False,
) -> None:
    """Fetch the GIMs of a date range into the archive. Days archived at their best level are skipped; a
    day whose final is not out gets the rapid map (SWX_GIM_FALLBACKS), replaced by the final on a later
    ingest, and what was derived from it (observations, ΔTEC, verification) is then recomputed."""
    from swx.pipeline.days import daterange

    settings = get_settings()
    check_choices(source, GIM_SOURCES, "--source")
    if directory is not None and source is None:
        source = "local"  # a folder given is the source
    if directory is not None and source != "local":
        raise typer.BadParameter(f"a folder is read by the local source, not the {source} one (give --source local, "
                                 "or leave out --dir)", param_hint="--dir")
    if centre is not None:
        centre = centre.strip().lower()  # as SWX_GIM_CENTRE is read: ' JPL ' is jpl
        try:
            check_product_code(centre)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--centre") from None
    if start is None and not upgrade:
        raise typer.BadParameter("give the first day (or --upgrade for the recent days)", param_hint="--start")
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # the newest day whose maps can be out
    last = parse_day(end, "--end") if end else (yesterday if start is None else parse_day(start, "--start"))
    first = parse_day(start, "--start") if start else \
        max(last - dt.timedelta(days=settings.gim_upgrade_days - 1), DATA_ERA_START)
    if last < first:
        raise typer.BadParameter(f"{last} is before start {first}", param_hint="--end")
    summary = ingest_with_progress(settings, daterange(first, last), "--source / --dir", centre=centre, kind=source,
                                   directory=directory, force=force)
    out.print("\n".join(summary.lines()), markup=False)
    ours = settings.model_copy(update={"gim_source": source}) if source else settings
    _observed_response(ours, summary)
    _revise(ours, summary)
    out.print(f"archive: {settings.archive_dir}; database: {settings.display_database_url}", markup=False)
    raise typer.Exit(1 if summary.failed else 0)


def _observed_response(settings: Settings, summary: IngestSummary) -> None:
    """The observed ΔTEC of the days just archived (of the centre the forecasts run on), and of the
    days archived before without it (an ingest killed before this step), and the storm events with Kp
    in their span: the Storms page shows every archived storm, forecast or not. A failure here is
    reported and leaves the ingest's result alone."""
    from rich.markup import escape

    from swx.pipeline.days import chunked
    from swx.pipeline.storms import days_without_observed_dtec, storms_stage

    ours = [r for r in summary.results if r.centre == settings.centre.lower()]
    fetched = [r for r in summary.results if r.status == "fetched"]
    try:
        lacking = days_without_observed_dtec(settings, [r.day for r in ours if r.status == "skipped"])
    except Exception as exc:  # noqa: BLE001 - the days fetched now are measured all the same
        out.print(f"[yellow]observed ΔTEC of the days archived before: not looked up: {escape(reason_of(exc))}[/yellow]")
        lacking = []
    days = sorted({r.day for r in ours if r.status == "fetched"} | set(lacking))
    if not days:
        if fetched:
            out.print(f"observed ΔTEC: not computed, the forecasts run on {settings.centre} maps "
                      "(SWX_GIM_CENTRE / SWX_GIM_SOURCE)", markup=False)
        return
    for stretch in chunked(days, chunk_days=len(days)):  # each run of consecutive days alone: never the years between
        first, last = stretch[0], stretch[-1]
        try:
            got = storms_stage(settings, first, last)
        except Exception as exc:  # noqa: BLE001 - the maps are archived all the same
            out.print(f"[yellow]observed ΔTEC of {first} .. {last} not computed: "
                      f"{escape(reason_of(exc))}[/yellow]")
            continue
        out.print(f"observed ΔTEC of {first} .. {last} stored (where 14 or more earlier days give its 27-day "
                  f"reference); {len(got['events'])} storm event(s) with Kp in that span (swx storms, the Storms page)", markup=False)


def _revise(settings: Settings, summary: IngestSummary) -> None:
    """Days of the forecasts' centre whose map was replaced by a better one (now, or by an ingest whose
    revision did not run): their observations, ΔTEC and verification recomputed (a failure is reported;
    the archive keeps the better maps, and the next ingest over the day tries again)."""
    from rich.markup import escape

    from swx.pipeline.revise import revise_stage

    ours = [r for r in summary.archived if r.centre == settings.centre.lower()]
    if not ours:
        return
    try:
        done = revise_stage(settings, summary.upgraded_days(settings.centre.lower()), [r.day for r in ours])
        if not done["days"]:
            return
    except Exception as exc:  # noqa: BLE001 - the better maps are archived all the same
        out.print(f"[yellow]days upgraded, but what was derived from them is not recomputed yet: "
                  f"{escape(reason_of(exc))}[/yellow]")
        return
    out.print(f"upgraded days: {done['observations']} observations rewritten; verification recomputed for "
              f"{', '.join(done['verified_again']) or 'no day (none had forecasts)'}", markup=False)


@ingest_app.command("kp")
def ingest_kp_cmd(
    source: Annotated[str | None, typer.Option(help="bundled (offline history), gfz (download) or file.")] = None,
    file: Annotated[Path | None, typer.Option(help="A GFZ Kp_ap_Ap_SN_F107 file or a CelesTrak SW file.")] = None,
) -> None:
    """Bring Kp and F10.7 into the archive from GFZ, a local file or the bundled history."""
    from rich.markup import escape

    from swx.pipeline.ingest import ingest_indices_stage
    from swx.pipeline.revise import revise_kp_days

    settings = get_settings()
    try:
        summary = ingest_indices_stage(settings, kind=source, file=file)
    except InputError as exc:
        raise typer.BadParameter(str(exc), param_hint="--source / --file") from None
    out.print(str(summary), markup=False)
    if summary.revised_days:
        try:
            done = revise_kp_days(settings, summary.revised_days)
        except Exception as exc:  # noqa: BLE001 - the revised Kp is archived all the same
            out.print(f"[yellow]storm events of the revised days not measured again: {escape(reason_of(exc))}[/yellow]")
            return
        out.print(f"storm events of the revised days measured again: {len(done['events'])} there now; "
                  f"verification recomputed for {', '.join(done['verified_again']) or 'no day (none had forecasts)'}", markup=False)


@app.command("import-series", rich_help_panel="Data in")
def import_series_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV: UTC time, vTEC in TECU.")],
    station: Annotated[str, typer.Option(help="Station code (existing, or new with --lat/--lon).")],
    lat: Annotated[float | None, typer.Option(help="Latitude of a new station (deg N).")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude of a new station (deg E).")] = None,
    surface: Annotated[str | None, typer.Option(
        help="land or ocean (a new station); default from swx's land mask at its position.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of a new station; default its code.")] = None,
) -> None:
    """Load a vTEC series (e.g. a GNSS receiver's) as a station's observations on the 2-hour grid."""
    from swx.pipeline.ingest import import_series_stage

    try:
        done = import_series_stage(get_settings(), file, station, lat=lat, lon=lon, surface=surface, name=name)
    except InputError as exc:
        raise typer.BadParameter(str(exc)) from None  # the message names the argument
    out.print(str(done), markup=False)
