"""Commands for the station models: train, evaluate, the daily update, the grid search."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from swx.cli.app import (
    LEAD_DAY_HELP,
    OUTPUT_FORMATS,
    app,
    check_choices,
    check_finite,
    check_plot_path,
    console,
    out,
    parse_day,
    print_scores,
)
from swx.config import ARCHITECTURES, LEAD_DAYS, NETWORKS, TARGETS, get_settings, lead_span


@app.command("train", rich_help_panel="Station models")
def train_cmd(
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    arch: Annotated[list[str] | None, typer.Option("--arch", help="lstm, gru, cnn or ridge (repeat); default all four.")] = None,
    train_end: Annotated[str | None, typer.Option(help="Last day of training data; default: all but the last 1 %.")] = None,
    units: Annotated[int, typer.Option(min=1, max=1024, help="Hidden units / filters.")] = 20,
    epochs: Annotated[int, typer.Option(min=1, max=10_000, help="Maximum epochs (early stopping on validation).")] = 40,
    batch_size: Annotated[int, typer.Option(min=1, max=65_536, help="Mini-batch size.")] = 32,
    gaussian: Annotated[bool, typer.Option(help="Gaussian head (mean, sigma) trained with the NLL.")] = False,
    ensemble: Annotated[int, typer.Option(min=1, max=64, help="Members (seeds) per station; > 1 gives intervals from "
                                                              "their spread.")] = 1,
    target: Annotated[str, typer.Option(help="departure (from 0.5 persistence + 0.5 27-day median, added back) "
                                             "or level (vTEC itself).")] = "departure",
    lead_day: Annotated[int, typer.Option("--lead-day", min=1, max=max(LEAD_DAYS), help=LEAD_DAY_HELP)] = 1,
) -> None:
    """Train the station models (all stations of an architecture in one batched pass) on the archive,
    register them as the active versions and score them on the held-out days against the baselines.
    Each lead day has its own models: `--lead-day 2` trains those of hours 26-48."""
    from swx.pipeline.context import context
    from swx.pipeline.train import summary_table, train

    check_choices(target, TARGETS, "--target")
    check_choices(arch, ARCHITECTURES, "--arch")
    archs = list(dict.fromkeys(arch or ARCHITECTURES))  # an architecture named twice is trained once
    if archs == ["ridge"] and (gaussian or ensemble > 1):
        raise typer.BadParameter("the ridge member has no Gaussian head and no ensemble members (its sigma is its "
                                 "validation RMSE): --gaussian and --ensemble apply to lstm, gru and cnn",
                                 param_hint="--gaussian / --ensemble")
    end = parse_day(train_end, "--train-end") if train_end else None
    ctx = context(get_settings(), station)
    with console.status("training"):
        df = train(ctx, archs, train_end=end,
                   units=units, epochs=epochs, batch_size=batch_size, gaussian=gaussian, ensemble=ensemble,
                   target=target, lead_day=lead_day)
    rejected = df.attrs.get("rejected", {})
    if df.empty:
        console.print(f"models trained; no complete test window after {train_end} to score them on (a lead day "
                      f"{lead_day} window needs {lead_day} day(s) of maps after its issue day)", markup=False)
    else:
        print_scores(summary_table(df[df.kp_class == "all"]), "table")
    for model, why in rejected.items():  # registered, but the previous active version keeps serving
        console.print(f"[yellow]not made active[/]: {escape(model)}: {escape(why)}")
    if rejected:
        raise typer.Exit(1)


@app.command("train-nodes", rich_help_panel="Station models")
def train_nodes_cmd(
    train_end: Annotated[str | None, typer.Option(help="Last day of maps the node models see; default the newest "
                                                       "archived day.")] = None,
    days: Annotated[int | None, typer.Option(min=130, max=3660, help="Days of maps before it to train on (at least "
                                                                      "130: three blocks of days 28 days apart); "
                                                                      "default two years.")] = None,
) -> None:
    """Train the node models of the global map: a ridge model at every grid node of the centre's
    archived maps, forecasting the next day from the issue day's anomaly, Kp and the season (the
    penalty and the out-of-fold 1-sigma from blocked cross-validation), and one network shared by the
    nodes (2-hourly maps only), averaged with the ridges. Saved beside the station models, found
    point in time by the forecasts (`SWX_MAP_MODEL=nodes`, the default)."""
    import datetime as dt

    from swx.errors import NotFoundError
    from swx.pipeline.context import context
    from swx.pipeline.nodes import NODE_TRAIN_DAYS, train_node_model

    ctx = context(get_settings())
    archived = ctx.archive.gim_days(ctx.centre)
    if not archived:
        raise NotFoundError(f"no {ctx.centre} maps in the archive {ctx.archive.root}: ingest them first")
    last = parse_day(train_end, "--train-end") if train_end else archived[-1]
    with console.status("training the node models"):
        got = train_node_model(ctx, last + dt.timedelta(days=1), days=days or NODE_TRAIN_DAYS)
    console.print(f"node models trained on {got['n_days']} issue days up to {last}: out-of-fold skill against "
                  f"their prior (persistence mixed with the 27-day median) {got['cv_skill']:+.1%}; {got['path']}; "
                  f"the network shared by the nodes: {got['network']}", markup=False)


@app.command("evaluate", rich_help_panel="Station models")
def evaluate_cmd(
    start: Annotated[str, typer.Option(help="First issue day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last issue day (inclusive).")],
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json (one object per row).")] = "table",
    plot: Annotated[Path | None, typer.Option(callback=check_plot_path, help="PNG of observed vs forecasts for the first station.")] = None,
    issue_hour: Annotated[list[int] | None, typer.Option(
        "--issue-hour", min=0, max=22,
        help="Score only forecasts issued at this UT hour (even, repeat); e.g. 22, the daily run's issue time. "
             "Default every 2-hourly issue time.")] = None,
    detail: Annotated[bool, typer.Option("--detail", help="Also print every station's rows (per model, window "
                                                          "and Kp class).")] = False,
    lead_day: Annotated[int, typer.Option("--lead-day", min=1, max=max(LEAD_DAYS), help=LEAD_DAY_HELP)] = 1,
) -> None:
    """Score the active models and their skill-weighted blend on a period against persistence and the
    27-day median, store the scores, and print the headline: RMSE and skill per model, stations pooled
    and by latitude band, storm windows apart (the main job's summary pools the same way). The blend
    is walk-forward: each day's weights come from this period's forecasts verified before it."""
    from swx.pipeline.context import context
    from swx.pipeline.report import station_skill_lines
    from swx.pipeline.train import evaluate, summary_table

    check_choices(fmt, OUTPUT_FORMATS, "--format")
    odd = [h for h in issue_hour or [] if h % 2]
    if odd:
        raise typer.BadParameter(f"{odd[0]}: forecasts are issued at even UT hours (0, 2, .., 22)",
                                 param_hint="--issue-hour")
    ctx = context(get_settings(), station)
    first, last = parse_day(start, "--start"), parse_day(end, "--end")
    if last < first:
        raise typer.BadParameter(f"{last} is before start {first}", param_hint="--end")
    df = evaluate(ctx, first, last, plot=plot, issue_hours=issue_hour, lead_day=lead_day)
    if fmt == "json":  # for machines: every row
        print_scores(summary_table(df), fmt)
    else:
        hours = f", hours {lead_span(lead_day)} after each issue time" if lead_day > 1 else ""
        for line in station_skill_lines(df, f"skill of the active models and their blend, issued {first} .. "
                                            f"{last}{hours}"):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        if detail:
            print_scores(summary_table(df), fmt)
        else:
            out.print(f"({len(df)} rows per station, model, window and Kp class: --detail, or --format json)",
                      markup=False, highlight=False)
    if plot:
        console.print(f"plot: {plot}", markup=False)


@app.command("update", rich_help_panel="Station models")
def update_cmd(
    day: Annotated[str, typer.Option(help="The day to forecast and score (UTC); the models learn the day before.")],
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    arch: Annotated[list[str] | None, typer.Option("--arch", help="lstm, gru, cnn or ridge (repeat); default all four.")] = None,
    margin: Annotated[float, typer.Option(help="Guardrail: reject an update worse than the active model by this.")] = 0.05,
) -> None:
    """Daily incremental learning: fine-tune each active model on the newest day (with replay), score
    both on DAY (walk-forward), keep the better one; every decision is recorded in the registry.
    Tomorrow's models (`--lead-day 2`) are scored on the windows of the day before DAY, whose targets
    26-48 h ahead end on the same day. The node models of the global map are refitted on the maps
    before DAY (all stations only). Exits 1 when their refit failed (the previous ones keep serving)."""
    from swx.pipeline.context import context
    from swx.pipeline.update import update, update_nodes

    day_ = parse_day(day)
    check_choices(arch, ARCHITECTURES, "--arch")
    check_finite(margin, "--margin", 0.0, 1.0)
    settings = get_settings()
    ctx = context(settings, station)
    df = update(ctx, day_, arch, margin=margin)
    out.print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"), markup=False, highlight=False)
    if settings.map_model == "nodes" and not station:
        said = update_nodes(ctx, day_)
        console.print(f"node models of the global map: {said}", markup=False)
        if said.startswith("failed"):  # the previous node models keep serving; a scheduler must see it
            raise typer.Exit(1)


@app.command("gridsearch", rich_help_panel="Station models")
def gridsearch_cmd(
    arch: Annotated[str, typer.Option("--arch", help="lstm, gru or cnn.")] = "cnn",
    units: Annotated[list[int] | None, typer.Option("--units", help="Units to try (repeat); default 5..100.")] = None,
    batch_size: Annotated[list[int] | None, typer.Option("--batch-size", help="Batch sizes (repeat); default 16..128.")] = None,
    epochs: Annotated[list[int] | None, typer.Option("--epochs", help="Epoch limits (repeat); default 20, 50, 100.")] = None,
    station: Annotated[list[str] | None, typer.Option("--station", help="Station code (repeat); default all.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=256, help="Local Dask worker processes; default one per "
                                                                      "core.")] = None,
) -> None:
    """Grid search over units, batch size and epochs in parallel (Dask), recorded under the data dir."""
    from swx.pipeline.context import context
    from swx.pipeline.train import gridsearch

    check_choices(arch, NETWORKS, "--arch")
    for option, values in (("--units", units), ("--batch-size", batch_size), ("--epochs", epochs)):
        for v in values or []:
            check_finite(v, option, 1, 10_000)
    grid = {"units": units, "batch_size": batch_size, "epochs": epochs}  # None: the method's values
    df, path = gridsearch(context(get_settings(), station), arch, grid, workers=workers)
    out.print(df.drop(columns=["val_rmse_per_station"]).to_string(index=False), markup=False, highlight=False)
    out.print(f"recorded in {path}", markup=False)
