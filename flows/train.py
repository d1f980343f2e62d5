"""Full training (and optionally the grid search), meant for the `swx-gpu` work pool: models go
into the registry as active versions; the daily flow's guardrail takes it from there."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from swx.config import ARCHITECTURES, get_settings
from swx.pipeline.context import context
from swx.pipeline.train import gridsearch as gridsearch_stage
from swx.pipeline.train import rmse_by_model, training_device
from swx.pipeline.train import train as train_stage


@task(name="train-architecture")
def train_architecture(architecture: str, train_end: dt.date | None, epochs: int, ensemble: int) -> dict:
    df = train_stage(context(get_settings()), [architecture], train_end=train_end, epochs=epochs, ensemble=ensemble,
                     gaussian=ensemble == 1)
    return rmse_by_model(df)


@task(name="gridsearch")
def gridsearch(architecture: str) -> str:
    _, path = gridsearch_stage(context(get_settings()), architecture)
    return str(path)


@flow(name="swx-train")
def train(architectures: list[str] | None = None, train_end: dt.date | None = None, epochs: int = 40,
          ensemble: int = 1, search: bool = False) -> dict:
    get_run_logger().info("training on %s", training_device(get_settings()))
    out = {}
    for arch in architectures or ARCHITECTURES:
        if search:
            out[f"{arch}-gridsearch"] = gridsearch(arch)
        out[arch] = train_architecture(arch, train_end, epochs, ensemble)
        get_run_logger().info("%s trained: test RMSE %s (TECU, mean over stations)", arch, out[arch])
    return out
