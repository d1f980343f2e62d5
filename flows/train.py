"""Full training (and optionally the grid search), meant for the `swx-gpu` work pool: the next day's
models and the second day's (tomorrow's forecast) go into the registry as active versions; the daily
flow's guardrail takes it from there."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from swx.config import ARCHITECTURES, LEAD_DAYS, get_settings, model_family
from swx.pipeline.context import context
from swx.pipeline.train import gridsearch as gridsearch_stage
from swx.pipeline.train import rmse_by_model, training_device
from swx.pipeline.train import train as train_stage


@task(name="train-architecture")
def train_architecture(architecture: str, train_end: dt.date | None, epochs: int, ensemble: int,
                       lead_day: int = 1) -> dict:
    df = train_stage(context(get_settings()), [architecture], train_end=train_end, epochs=epochs, ensemble=ensemble,
                     gaussian=ensemble == 1, lead_day=lead_day)
    return rmse_by_model(df)


@task(name="gridsearch")
def gridsearch(architecture: str) -> str:
    _, path = gridsearch_stage(context(get_settings()), architecture)
    return str(path)


@flow(name="swx-train")
def train(architectures: list[str] | None = None, train_end: dt.date | None = None, epochs: int = 40,
          ensemble: int = 1, search: bool = False, lead_days: list[int] | None = None) -> dict:
    """Each architecture for each of `lead_days` (default both: the next day and tomorrow)."""
    get_run_logger().info("training on %s", training_device(get_settings()))
    out = {}
    for arch in architectures or ARCHITECTURES:
        if search:
            out[f"{arch}-gridsearch"] = gridsearch(arch)
        for lead_day in lead_days or LEAD_DAYS:
            key = model_family(arch, lead_day)
            out[key] = train_architecture(arch, train_end, epochs, ensemble, lead_day)
            get_run_logger().info("%s trained: test RMSE %s (TECU, mean over stations)", key, out[key])
    return out
