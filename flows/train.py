"""Full training (and optionally the grid search), meant for the `swx-gpu` work pool: models go
into the registry as active versions; the daily flow's guardrail takes it from there."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from swx import jobs
from swx.config import ARCHITECTURES, get_settings
from swx.models import describe_device


@task(name="train-architecture")
def train_architecture(architecture: str, train_end: dt.date | None, epochs: int, ensemble: int) -> dict:
    ctx = jobs.context(get_settings())
    df = jobs.train(ctx, [architecture], train_end=train_end, epochs=epochs, ensemble=ensemble,
                    gaussian=ensemble == 1)
    rows = df[(df.kp_class == "all") & (df.scope == "station")]
    return {m: round(float(rows[rows.model == m].rmse.mean()), 3) for m in rows.model.unique()}


@task(name="gridsearch")
def gridsearch(architecture: str) -> str:
    _, path = jobs.gridsearch(jobs.context(get_settings()), architecture)
    return str(path)


@flow(name="swx-train")
def train(architectures: list[str] | None = None, train_end: dt.date | None = None, epochs: int = 40,
          ensemble: int = 1, search: bool = False) -> dict:
    get_run_logger().info("training on %s (SWX_DEVICE=%s)", describe_device(get_settings().device),
                          get_settings().device)
    out = {}
    for arch in architectures or ARCHITECTURES:
        if search:
            out[f"{arch}-gridsearch"] = gridsearch(arch)
        out[arch] = train_architecture(arch, train_end, epochs, ensemble)
        get_run_logger().info("%s trained: test RMSE %s (TECU, mean over stations)", arch, out[arch])
    return out
