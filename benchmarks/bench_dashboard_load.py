"""Benchmark: the ops dashboard under load (issue 18) — concurrent browser sessions on PostgreSQL while a
backfill writes and the daily flow runs, in one run beside the same pages with one session and nothing
writing (the ratio is the figure that travels between machines).

1. A site on a fresh PostgreSQL database: a simulated archive (2-hourly maps, --start .. --end), Kp/F10.7
   from the bundled history, CNNs trained to --train-end, and a first backfill of a fortnight (runs,
   verification, storm events: what the pages show).
2. Quiet: one headless Chromium session visits every page --rounds times (a full load from the address:
   a new session, the page's script, its queries).
3. Under load: `streamlit run` as the images start it; `swx backfill` over the next days and the Prefect
   daily flow for the last day start in their own processes; --sessions browser sessions (one Chromium,
   one context each, loopback only) visit every page in turn until both writers have ended, each visit
   bounded by --page-timeout. Every visit's time, every error (a timeout, an exception element on the
   page), the writers' exit codes, and at the end PostgreSQL's view: sessions idle in a transaction and
   locks not granted (a stale lock); and the CPU seconds each party spent meanwhile (the browsers share
   the server's cores here, which they never do in deployment).

    PYTHONPATH=. python benchmarks/bench_dashboard_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        [--sessions 20] [--json benchmarks/results/dashboard_load.json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# page path -> heading (the pages of dashboards/app.py)
PAGES = {"": "Now", "stations": "Stations", "global_map": "Global map", "skill": "Skill", "storms": "Storms",
         "runs": "Runs & models"}
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
EXCEPTION = '[data-testid="stException"]'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


#: The browser the sessions run in: Chromium, started at the lowest CPU priority by main() (the users'
#: browsers run on their own machines in deployment; here they share the server's cores, and at normal
#: priority 20 of them took 84% of the CPU and starved the daily flow's Prefect API calls into timeouts).
BROWSER = {"path": shutil.which("chromium") or "chromium"}


def niced_browser(folder: Path) -> str:
    """A wrapper that starts Chromium under `nice -n 19`."""
    wrapper = folder / "chromium-nice"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n 19 {BROWSER["path"]} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def quantile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def prepare(env: dict[str, str], args) -> dict[str, float]:
    """The site: archive, indices, models, a first fortnight of runs. Returns seconds per step."""
    os.environ.update(env)
    from swx.config import get_settings
    from swx.pipeline.backfill import backfill_stage
    from swx.pipeline.context import context
    from swx.pipeline.database import migrate_database_stage
    from swx.pipeline.days import daterange
    from swx.pipeline.ingest import ingest_gims_stage, ingest_indices_stage
    from swx.pipeline.train import train

    get_settings.cache_clear()
    settings = get_settings()
    took = {}
    t0 = time.perf_counter()
    migrate_database_stage(settings)
    ingest_indices_stage(settings)
    ingest_gims_stage(settings, daterange(args.start, args.end - dt.timedelta(days=1)))
    took["archive"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ctx = context(settings)
    train(ctx, ["cnn"], train_end=args.train_end, epochs=3)
    ctx.engine.dispose()
    took["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    backfill_stage(settings, args.train_end + dt.timedelta(days=1), args.train_end + dt.timedelta(days=14),
                   chunk_days=7)
    took["first_backfill"] = time.perf_counter() - t0
    return took


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(["bash", str(REPO / "infra" / "docker" / "entrypoint.sh"), "dashboard",
                             "--server.address", "127.0.0.1", "--server.port", str(port)],
                            cwd=REPO, env={**env, "SWX_PYTHON": sys.executable}, stdout=log.open("w"),
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the dashboard never answered: {log.read_text()[-2000:]}")


async def sessions(url: str, n: int, rounds: int | None, stop: asyncio.Event | None, page_timeout_s: float
                   ) -> tuple[list[tuple[str, float]], list[str]]:
    """`n` browser sessions visiting every page in turn, `rounds` times or until `stop` is set (and at
    least once): (page, seconds) of each visit, and the errors."""
    from playwright.async_api import async_playwright

    times: list[tuple[str, float]] = []
    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=BROWSER["path"], headless=True, args=CHROMIUM_ARGS)

        async def one(k: int) -> None:
            context = await browser.new_context(viewport={"width": 1400, "height": 1800})
            page = await context.new_page()
            done = 0
            while True:
                for path, heading in PAGES.items():
                    t0 = time.perf_counter()
                    try:
                        await page.goto(f"{url}/{path}", timeout=page_timeout_s * 1000)
                        await page.get_by_role("heading", name=heading).first.wait_for(timeout=page_timeout_s * 1000)
                        await page.wait_for_selector(READY, timeout=page_timeout_s * 1000)
                        if await page.locator(EXCEPTION).count():
                            text = (await page.locator(EXCEPTION).first.inner_text())[:200]
                            errors.append(f"session {k}, page /{path}: exception on the page: {text}")
                            continue
                    except Exception as exc:  # noqa: BLE001 - a timeout is a result here
                        errors.append(f"session {k}, page /{path}: {type(exc).__name__}: {str(exc)[:200]}")
                        continue
                    times.append((path or "now", time.perf_counter() - t0))
                done += 1
                if (rounds is not None and done >= rounds) or (stop is not None and stop.is_set()):
                    break
            await context.close()

        await asyncio.gather(*(one(k) for k in range(n)))
        await browser.close()
    return times, errors


async def under_load(url: str, n: int, writers: list[subprocess.Popen], page_timeout_s: float, limit_s: float,
                     cpu: dict):
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_cpu(stop))

    async def watch() -> None:
        t0 = time.monotonic()
        while any(w.poll() is None for w in writers) and time.monotonic() - t0 < limit_s:
            await asyncio.sleep(1)
        stop.set()

    watcher = asyncio.create_task(watch())
    result = await sessions(url, n, None, stop, page_timeout_s)
    await watcher
    cpu.update(await sampler)
    return result


def _group(proc) -> str:
    """Whose CPU a process spends: the browsers, the dashboard server, the writers, PostgreSQL."""
    name = (proc.info.get("name") or "").lower()
    cmd = " ".join(proc.info.get("cmdline") or [])
    if "chrom" in name or "headless_shell" in name:
        return "chromium (the 20 users' browsers)"
    if "streamlit" in cmd:
        return "dashboard server (streamlit)"
    if "postgres" in name:
        return "postgresql"
    if "backfill" in cmd or "flows.daily" in cmd or "prefect" in cmd or "dask" in cmd or "multiprocessing" in cmd:
        return "writers (backfill, daily flow, their Prefect server)"
    if "playwright" in cmd or "node" in name or "bench_dashboard_load" in cmd:
        return "the benchmark's browser driver (playwright)"
    return "other"


async def sample_cpu(stop: asyncio.Event, every_s: float = 2.0) -> dict[str, float]:
    """CPU seconds spent per group of processes until `stop` (each process from when it is first seen
    to when it is last seen: processes that end in between are counted up to their last sample)."""
    import psutil

    first: dict[int, tuple[str, float]] = {}
    last: dict[int, float] = {}
    while True:
        for proc in psutil.process_iter(["name", "cmdline", "cpu_times"]):
            times = proc.info.get("cpu_times")
            if times is None:
                continue
            spent = times.user + times.system
            if proc.pid not in first:
                first[proc.pid] = (_group(proc), spent)
            last[proc.pid] = spent
        if stop.is_set():
            break
        await asyncio.sleep(every_s)
    out: dict[str, float] = {}
    for pid, (group, start) in first.items():
        out[group] = out.get(group, 0.0) + last[pid] - start
    return {k: round(v, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def summary(times: list[tuple[str, float]]) -> dict:
    by_page: dict[str, list[float]] = {}
    for page, t in times:
        by_page.setdefault(page, []).append(t)
    every = [t for _, t in times]
    return {"visits": len(every), "p50_s": round(statistics.median(every), 2), "p95_s": round(quantile(every, 0.95), 2),
            "max_s": round(max(every), 2),
            "pages": {p: {"visits": len(v), "p50_s": round(statistics.median(v), 2),
                          "p95_s": round(quantile(v, 0.95), 2)} for p, v in by_page.items()}}


def postgres_view(url: str) -> dict[str, int]:
    """Sessions idle in a transaction and locks not granted on the site's database, after the run."""
    from sqlalchemy import text

    from swx.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            name = c.execute(text("SELECT current_database()")).scalar_one()
            idle = c.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND state LIKE "
                                  "'idle in transaction%'"), {"d": name}).scalar_one()
            waiting = c.execute(text("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                                     "WHERE a.datname = :d AND NOT l.granted"), {"d": name}).scalar_one()
            runs = dict(c.execute(text("SELECT status, count(*) FROM forecast_runs GROUP BY status")).all())
    finally:
        engine.dispose()
    return {"idle_in_transaction": int(idle), "locks_not_granted": int(waiting), "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("SWX_TEST_DATABASE_URL"))
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the quiet single session")
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2015, 1, 16))
    ap.add_argument("--train-end", type=dt.date.fromisoformat, default=dt.date(2015, 2, 20))
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2015, 3, 28),
                    help="the daily flow's issue day (the backfill under load runs up to the day before)")
    ap.add_argument("--page-timeout", type=float, default=120.0)
    ap.add_argument("--limit", type=float, default=1200.0, help="the load phase ends after this many seconds")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        sys.exit("give a PostgreSQL server: --database-url or SWX_TEST_DATABASE_URL")

    from sqlalchemy import text

    from swx.store.db import make_engine

    name = f"swx_bench_load_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.database_url.rsplit("/", 1)[0] + "/" + name
    work = Path(tempfile.mkdtemp(prefix="swx_bench_load_"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWX_")}
    env |= {"SWX_DATABASE_URL": url, "SWX_DATA_DIR": str(work / "data"), "SWX_SIM_CADENCE_MIN": "120",
            "SWX_GIM_SOURCE": "simulated", "PREFECT_HOME": str(work / "prefect"), "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "SWX_DASK_WORKERS": "1"}
    if os.environ.get("SWX_SHARED_DATA"):
        env["SWX_SHARED_DATA"] = os.environ["SWX_SHARED_DATA"]
    result: dict = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "sessions": args.sessions,
                    "cores": os.cpu_count()}
    dash = None
    BROWSER["path"] = niced_browser(work)
    result["browsers"] = "headless Chromium under nice -n 19 (they share the server's cores here)"
    try:
        result["prepare_s"] = {k: round(v, 1) for k, v in prepare(env, args).items()}
        print("prepared:", result["prepare_s"], flush=True)
        dash, base = start_dashboard(env, work / "streamlit.log")
        asyncio.run(sessions(base, 1, 1, None, args.page_timeout))  # warm-up: modules imported, bundle cached
        quiet, quiet_errors = asyncio.run(sessions(base, 1, args.rounds, None, args.page_timeout))
        result["quiet"] = summary(quiet) | {"errors": quiet_errors}
        print("quiet, one session:", json.dumps(result["quiet"]), flush=True)

        first = args.train_end + dt.timedelta(days=15)
        last = args.end - dt.timedelta(days=1)
        logs = {k: (work / f"{k}.log").open("w") for k in ("backfill", "daily")}
        t0 = time.monotonic()
        backfill = subprocess.Popen([str(Path(sys.executable).with_name("swx")), "backfill", "--start", str(first),
                                     "--end", str(last), "--chunk-days", "2"], cwd=work, env=env,
                                    stdout=logs["backfill"], stderr=subprocess.STDOUT)
        daily = subprocess.Popen([sys.executable, "-c", "import datetime as dt; from flows.daily import daily; "
                                  f"daily(issue_date=dt.date({args.end:%Y, %-m, %-d}))"], cwd=REPO, env=env,
                                 stdout=logs["daily"], stderr=subprocess.STDOUT)
        ended: dict[str, float] = {}
        cpu: dict[str, float] = {}

        async def run_load():
            async def clock(name: str, proc: subprocess.Popen) -> None:
                while proc.poll() is None:
                    await asyncio.sleep(0.5)
                ended[name] = time.monotonic() - t0

            clocks = [asyncio.create_task(clock("backfill", backfill)), asyncio.create_task(clock("daily", daily))]
            got = await under_load(base, args.sessions, [backfill, daily], args.page_timeout, args.limit, cpu)
            for proc in (backfill, daily):
                if proc.poll() is None:
                    proc.kill()
            await asyncio.gather(*clocks)
            return got

        loaded, loaded_errors = asyncio.run(run_load())
        for f in logs.values():
            f.close()
        result["load"] = summary(loaded) | {"errors": loaded_errors[:50], "error_count": len(loaded_errors),
                                           "seconds": round(time.monotonic() - t0, 1)}
        result["writers"] = {
            "backfill": {"days": (last - first).days + 1, "exit": backfill.returncode,
                         "seconds": round(ended["backfill"], 1),
                         "tail": (work / "backfill.log").read_text()[-1500:]},
            "daily_flow": {"issue_day": str(args.end), "exit": daily.returncode, "seconds": round(ended["daily"], 1),
                           "tail": (work / "daily.log").read_text()[-1500:]}}
        result["cpu_seconds_under_load"] = cpu
        result["postgresql_after"] = postgres_view(url)
        result["ratio_p50"] = round(result["load"]["p50_s"] / result["quiet"]["p50_s"], 2)
        result["ratio_p95"] = round(result["load"]["p95_s"] / result["quiet"]["p95_s"], 2)
        print(json.dumps({k: v for k, v in result.items() if k != "writers"}, indent=1), flush=True)
        print("writers:", json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "tail"}
                                      for k, v in result["writers"].items()}), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        if dash is not None:
            dash.terminate()
            dash.wait(timeout=30)
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
