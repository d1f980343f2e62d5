"""Single-machine scheduler: serves the daily flow on a UTC cron and the backfill and training flows on
demand (`prefect deployment run 'swx-backfill/swx-backfill' -p start=... -p end=...`).

    python -m flows.serve [--cron "30 6 * * *"]      # from the repository root

It lives with the flows (the swx package never imports them)."""

from __future__ import annotations

import argparse

from prefect import serve
from prefect.schedules import Cron

from flows.backfill import backfill
from flows.daily import daily
from flows.train import train

#: rapid GIMs are out by about 06 UTC
DEFAULT_CRON = "30 6 * * *"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cron", default=DEFAULT_CRON, help=f"daily schedule, cron in UTC (default {DEFAULT_CRON!r})")
    args = ap.parse_args(argv)
    serve(daily.to_deployment(name="swx-daily", schedule=Cron(args.cron, timezone="UTC"), tags=["swx", "daily"]),
          backfill.to_deployment(name="swx-backfill", tags=["swx", "backfill"]),
          train.to_deployment(name="swx-train", tags=["swx", "train"]))


if __name__ == "__main__":
    main()
