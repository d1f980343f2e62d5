"""The operational commands: the main job, a day's forecast, verification, storms, the health
of the latest run, the effective settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rich.markup import escape

from swx.cli.app import (
    DEGRADED_EXIT,
    LEAD_DAY_HELP,
    OUTPUT_FORMATS,
    app,
    check_choices,
    check_plot_path,
    console,
    ingest_with_progress,
    out,
    parse_day,
    print_scores,
)
from swx.config import BACKFILL_CHUNK_DAYS, EXTENSION_METHODS, LEAD_DAYS, get_settings
from swx.errors import NotFoundError


@app.command("forecast", rich_help_panel="Operations")
def forecast_cmd(
    day: Annotated[str, typer.Option(help="Issue day (UTC): its maps are the newest; the forecast is for the next day.")],
    method: Annotated[list[str] | None, typer.Option("--method", help="Extension method(s): residual, idw, nequick; "
                                                     "default SWX_EXTENSION_METHOD (+ SWX_EXTENSION_COMPARE).")] = None,
    plot: Annotated[Path | None, typer.Option(callback=check_plot_path, help="PNG of the forecast and uncertainty maps at 12 UT.")] = None,
    lead_day: Annotated[int, typer.Option("--lead-day", min=1, max=max(LEAD_DAYS), help=LEAD_DAY_HELP)] = 1,
) -> None:
    """The 24 h forecast of the day after DAY's maps (with --lead-day 2, of the day after that:
    tomorrow's forecast): station forecasts from the active models, extended to the global map, ΔTEC
    against the 27-day reference, products (netCDF + IONEX) and database rows. Idempotent. Exits 3
    when the run is published degraded (each reason printed)."""
    from swx.pipeline.forecast import forecast_stage
    from swx.pipeline.report import forecast_map_png

    issue_day = parse_day(day)
    check_choices(method, EXTENSION_METHODS, "--method")
    r = forecast_stage(get_settings(), issue_day, methods=method, lead_day=lead_day)
    state = "[yellow]DEGRADED[/] — not to be trusted as it stands:" if r["degraded"] else "[green]ok[/]"
    console.print(escape(f"run {r['run_id']}: forecast for {r['target_day']} from the maps of {r['latest_day']}, "
                         f"{r['timing']}; ") + state)  # the verdict coloured, the rest text
    for why in r["reason"].split("; ") if r["degraded"] else []:
        console.print(f"  - {why}", highlight=False, markup=False)
    console.print(f"station forecasts: {r['station_rows']} rows ({', '.join(r['architectures'])})", markup=False)
    for m_, (nc, ionex) in r["products"].items():
        out.print(f"{m_}: {nc}\n{' ' * len(m_)}  {ionex}", markup=False, highlight=False)
    if plot:
        forecast_map_png(r, plot)
        console.print(f"plot: {plot}", markup=False)
    if r["degraded"]:  # published, but not "ok": monitoring and scripts see it in the exit status
        raise typer.Exit(DEGRADED_EXIT)


@app.command("verify-maps", rich_help_panel="Operations")
def verify_maps_cmd(
    day: Annotated[str, typer.Option(help="Target day whose real GIM has arrived.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    plot: Annotated[Path | None, typer.Option(callback=check_plot_path, help="PNG of forecast, truth, error and sigma maps at 12 UT.")] = None,
    lead_day: Annotated[int, typer.Option("--lead-day", min=1, max=max(LEAD_DAYS), help=LEAD_DAY_HELP)] = 1,
) -> None:
    """Score the global forecasts for DAY against its GIM, beside the persistence map at the same lead:
    global, by latitude band and land/ocean; stored in the verification table."""
    from swx.pipeline.context import context
    from swx.pipeline.verify import verification_plot, verify_maps

    target = parse_day(day)
    check_choices(fmt, OUTPUT_FORMATS, "--format")
    ctx = context(get_settings())
    df = verify_maps(ctx, target, lead_day)
    if plot and not df.empty:
        verification_plot(ctx, target, plot, lead_day=lead_day)
        console.print(f"plot: {plot}", markup=False)
    if df.empty:
        console.print(f"no global forecast for {day} to verify", markup=False)
        raise typer.Exit(1)
    cols = ["model", "station_code", "n", "rmse", "bias", "skill_persistence", "coverage68", "coverage95"]
    print_scores(df[cols].rename(columns={"station_code": "region"}), fmt)


@app.command("verify", rich_help_panel="Operations")
def verify_cmd(
    day: Annotated[str, typer.Option(help="Target day whose real GIM has arrived.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stage's JSON summary.")] = False,
) -> None:
    """Verify DAY as the daily flow does: the global maps and the published station forecasts (every
    architecture and the blend, beside persistence and the 27-day median), stored in the verification
    table; prints the RMSE of each. `swx verify-maps` shows the maps by region."""
    from swx.pipeline.verify import LeadScores, verify_stage

    summary = verify_stage(get_settings(), parse_day(day))
    if as_json:
        out.print_json(data=summary)
        if "skipped" in summary:  # nothing verified: the same error (and exit status) as without --json
            raise NotFoundError(summary["skipped"])
        if not summary["maps"] and not summary["stations"]:  # nothing scored: as without --json
            raise typer.Exit(1)
        return
    if "skipped" in summary:  # nothing to score yet: for a person that is an error, for the flow a report
        raise NotFoundError(summary["skipped"])
    for what in ("maps_skipped", "stations_skipped"):
        if what in summary:
            console.print(f"[yellow]{what.replace('_', ' ')}[/]: {escape(str(summary[what]))}")
    leads = {"1": LeadScores(maps=summary["maps"], stations=summary["stations"]), **summary.get("later_leads", {})}
    for lead, scores in leads.items():
        made = "" if lead == "1" else f", forecast {lead} days after its maps"
        for title, rmse in (("global maps (cos-latitude weighted)", scores["maps"]),
                            ("stations (mean over the stations)", scores["stations"])):
            if rmse:
                out.print(f"{day} {title}{made}: " + ", ".join(f"{m} {v:.2f}" for m, v in rmse.items())
                          + " TECU RMSE", markup=False, highlight=False)
    if not summary["maps"] and not summary["stations"]:
        raise typer.Exit(1)


@app.command("storms", rich_help_panel="Operations")
def storms_cmd(
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last day (inclusive).")],
) -> None:
    """Storm events (Kp >= 5-, NOAA G1+) in a period, with the Global ΔTEC response and the stations
    most affected; stored in storm_events."""
    from swx.pipeline.context import context
    from swx.pipeline.storms import storm_table, storms

    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    events = storms(context(get_settings()), first, last, require_kp=True)
    if not events:
        console.print(f"no storm (Kp >= 5-) between {start} and {end}", markup=False)
        return
    out.print(storm_table(events).to_string(index=False, float_format=lambda v: f"{v:.2f}"), markup=False,
              highlight=False)


@app.command("backfill", rich_help_panel="Operations")
def backfill_cmd(
    start: Annotated[str, typer.Option(help="First issue day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last issue day (inclusive).")],
    step: Annotated[list[str] | None, typer.Option("--step", help="A step to run (repeat): ingest, forecast, verify, "
                                                  "storms; default all.")] = None,
    chunk_days: Annotated[int, typer.Option(min=1, max=366, help="Issue days per chunk (the unit of resumption).")
                          ] = BACKFILL_CHUNK_DAYS,
    replay_updates: Annotated[bool, typer.Option("--replay-updates", help="Replay the daily incremental model "
                                                 "update of every day first (walk-forward), as the daily flow would "
                                                 "have run it.")] = False,
    force: Annotated[bool, typer.Option(help="Redo days that are already done.")] = False,
) -> None:
    """Reprocess history: the daily stages over a range of issue days, in chunks (the Prefect backfill
    flow runs the same chunks on Dask workers). Every day is forecast with the newest models that saw
    no data after its issue time — never with one trained on the day it forecasts; days before any
    model stand on the baselines and say so. Finished days are skipped, so a stopped backfill resumes
    where it stopped. Exits 1 when a day failed."""
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from swx.pipeline.backfill import backfill_stage

    from swx.pipeline.backfill import STEPS

    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    check_choices(step, STEPS, "--step")  # the range itself is checked by the stage (check_range)
    t0 = time.monotonic()
    with Progress(TextColumn("[bold]backfill"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task("days", total=None, rate="")

        def on_day(day) -> None:
            done = progress.tasks[0].completed + 1
            rate = done / max(time.monotonic() - t0, 1e-9) * 60
            progress.update(task, advance=1, rate=f"{rate:.1f} days/min, at {day}")

        r = backfill_stage(get_settings(), first, last, steps=step, chunk_days=chunk_days, force=force,
                           replay=replay_updates, on_day=on_day, on_plan=lambda n: progress.update(task, total=n))
    sec = time.monotonic() - t0
    made = r["days"] - r["skipped"]
    console.print(f"backfill {r['start']} .. {r['end']} ({', '.join(r['steps'])}): {r['days']} day(s), "
                  f"{r['skipped']} already done, {made} gone through in {sec:.0f} s"
                  + (f" ({made / sec * 60:.1f} days/min)" if made and sec > 0 else ""), markup=False)
    console.print(f"runs {r['runs']} ({r['degraded']} degraded), days verified {r['verified']}, model updates "
                  f"taken {r['updates']}, storm events {r['storms']}"
                  + (f", days revised after a new map or Kp {r['revised']}" if r["revised"] else ""), markup=False)
    for day, why in r["failed"].items():
        console.print(f"[red]failed[/] {escape(str(day))}: {escape(str(why))}")
    for day, why in r["unverified"].items():  # verifying: what was asked and could not be done, said
        console.print(f"[yellow]not verified[/] {escape(str(day))}: {escape(str(why))}", soft_wrap=True)
    if r["failed"]:
        raise typer.Exit(1)


@app.command("status", rich_help_panel="Operations")
def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document (for monitoring).")] = False,
    max_age_h: Annotated[float | None, typer.Option(help="Fail when the latest run is older; default SWX_STATUS_MAX_AGE_H.")] = None,
) -> None:
    """The latest forecast run: its verdict (ok, degraded and why, unhealthy), source, forecasts, models,
    skill, products and storms. Exits 0 when it is ok (healthy and trustworthy), 3 when it is published
    but degraded, 1 when there is no run, it failed, or it is older than the limit."""
    from swx.pipeline.status import run_status, summary_lines

    doc, healthy = run_status(get_settings(), max_age_h=max_age_h)
    if as_json:
        out.print_json(data=doc)
    else:
        for line in summary_lines(doc):
            out.print(line, markup=False, highlight=False)
    if not healthy:
        console.print(f"[red]unhealthy[/]: {escape(doc['problem'])}", soft_wrap=True)  # one line, as errors are
        raise typer.Exit(1)
    if doc["verdict"] == "degraded":
        raise typer.Exit(DEGRADED_EXIT)


@app.command("config", rich_help_panel="Operations")
def config_cmd() -> None:
    """Show the effective settings (from the environment and .env)."""
    s = get_settings()
    data = json.loads(s.model_dump_json())
    data["resolved_database_url"] = s.resolved_database_url
    out.print_json(json.dumps(data))


@app.command("run", rich_help_panel="Operations")
def run_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="Also ingest this folder of IONEX files.")] = None,
) -> None:
    """The main job on the embedded default: needs no network and no server.

    With SWX_GIM_SOURCE=simulated (the default) it generates the demo archive for the demo window
    (SWX_DEMO_START .. SWX_DEMO_END; cached), driven by the real Kp/F10.7 history bundled with swx,
    and ingests it; with SWX_GIM_SOURCE=local it ingests every IONEX file of SWX_GIM_LOCAL_DIR. Then it
    prints what this run archived and what the archive holds: days, maps, the Kp range and the
    strongest storm days of the window. Exits 1 when a file failed (the good days are archived).
    """
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.days import daterange
    from swx.pipeline.ingest import ingest_indices_stage
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
                      f"(seed {settings.sim_seed}, every {settings.sim_cadence_min} min)", markup=False)
        summaries.append(ingest_with_progress(settings, daterange(*window), "SWX_GIM_SOURCE"))
    elif settings.gim_source == "remote" and folder is None:
        raise typer.BadParameter("the main job does not fetch remote GIMs yet (that comes with the daily flow); "
                                 "use SWX_GIM_SOURCE=simulated or local")
    if folder is not None:
        summaries.append(ingest_with_progress(settings, None, "--dir / SWX_GIM_LOCAL_DIR", kind="local",
                                              directory=folder))
    for summary in summaries:
        out.print("\n".join(summary.lines()), markup=False)
    out.print(str(kp), markup=False)
    out.print(main_archive_summary(settings, window), markup=False)
    out.print(database_summary(settings, sum(len(s.new) for s in summaries)), markup=False)
    failed = [r for s in summaries for r in s.results if r.status == "failed"]
    if failed:  # the good days are archived; the run still says it did not all go well
        console.print(f"[red]{len(failed)} file(s) failed[/]: see FAILED above")
        raise typer.Exit(1)
