"""The latest run as one JSON document, for monitoring and alerting (`swx status --json`): is the
service alive (a recent run that did not fail), was it degraded and why, what it produced and how good
it was where verified."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from swx.config import LEAD_DAYS, SIMULATED_CENTRE, Settings, mask_secrets
from swx.errors import InputError, SchemaError
from swx.science.timing import run_timing
from swx.pipeline.database import database_place
from swx.store.db import database_error_line, open_database
from swx.store.queries import (
    RECENT_DAYS,
    days_below_final,
    finished_products,
    latest_run,
    product_file_problem,
    run_overview,
    run_verdict,
    tomorrows_run,
)


def _iso(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


def run_status(settings: Settings, *, max_age_h: float | None = None,
               now: dt.datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(document, healthy). Healthy: a run exists, it did not fail, and it ran within `max_age_h`
    (default SWX_STATUS_MAX_AGE_H) of `now`. The document's `verdict` says more: "ok" only when the run
    is healthy and trustworthy, "degraded" with its `reasons` (`swx.store.queries.run_verdict`, the
    dashboard's rule too), "unhealthy"."""
    max_age_h = settings.status_max_age_h if max_age_h is None else max_age_h
    if not (math.isfinite(max_age_h) and max_age_h > 0):
        raise InputError(f"--max-age-h {max_age_h:g}: expected a finite number of hours above 0")
    try:
        return _run_status(settings, max_age_h, now or dt.datetime.now(dt.UTC))
    except SchemaError as exc:  # no swx database there (no file, no tables, another revision): a verdict too
        problem = mask_secrets(f"no swx database to judge: {exc}")
        return {"status": "no-database", "healthy": False, "verdict": "unhealthy", "reasons": [problem],
                "problem": problem}, False
    except Exception as exc:  # a monitoring probe gets its verdict, an outage included
        if (line := database_error_line(exc)) is None:
            raise  # not the database failing (a setting that names no database, say): its one error line, as every command's
        problem = mask_secrets(
            f"the database cannot be read ({line.removeprefix('database: ')}) — {database_place(settings)}: "
            "check that it is reachable (its server up, its file readable) and that SWX_DATABASE_URL names it")
        return {"status": "down", "healthy": False, "verdict": "unhealthy", "reasons": [problem],
                "problem": problem}, False


def _run_status(settings: Settings, max_age_h: float, now: dt.datetime) -> tuple[dict[str, Any], bool]:
    engine = open_database(settings)
    run = latest_run(engine)
    verdict = run_verdict(engine, run, now=now, max_age_h=max_age_h, method=settings.extension_method)
    if run is None:
        return {"status": "none", "healthy": False, "verdict": "unhealthy", "reasons": verdict["reasons"],
                "problem": verdict["reasons"][0]}, False
    rid = run["id"]
    ran_at, age_h = verdict["ran_at"], verdict["age_hours"]
    timing = run_timing(run)
    doc: dict[str, Any] = {
        "run_id": rid, "issue_time": _iso(run["issue_time"]), "target_day": _iso(run["target_day"]),
        "status": run["status"], "degraded": bool(run["degraded"]), "reason": run["reason"],
        "verdict": verdict["verdict"], "reasons": verdict["reasons"],
        "data_source": run["data_source"], "simulated": run["data_source"] == SIMULATED_CENTRE,
        "ran_at": _iso(ran_at), "age_hours": round(age_h, 2), "code_version": run["code_version"],
        # the information cutoff (issue_time) and the publication: the lead users really had
        "information_cutoff": _iso(run["issue_time"]), "published_at": _iso(timing.published),
        "published_into_day_h": None if timing.published_into_day_h is None else round(timing.published_into_day_h, 2),
        "reprocessed": timing.reprocessed, "timing": timing.describe(),
        "input_level": run.get("input_level", ""),
        "last_verified": None if verdict["last_verified"] is None else
        {k: _iso(v) if not isinstance(v, float) else round(v, 3) for k, v in verdict["last_verified"].items()},
    }
    day0 = dt.datetime.combine(run["target_day"], dt.time(), tzinfo=dt.UTC)
    # maps still rapid past the days the daily run looks at again: nothing upgrades them by itself
    stuck = days_below_final(engine, run["data_source"], run["target_day"] - dt.timedelta(
        days=settings.gim_upgrade_days + 1))
    doc["rapid_days_past_upgrade"] = [_iso(d) for d in stuck]
    ov = run_overview(engine, rid, day0, settings.data_dir)
    doc["station_forecasts"] = ov["station_forecasts"]
    doc["active_models"] = ov["active_models"]
    doc["global"] = {meth: {"netcdf": nc, "ionex": ix, "verified_rmse": None if r is None else round(float(r), 3)}
                     for meth, nc, ix, r in ov["products"]}
    doc["global_method"] = settings.extension_method
    # a run made again that failed leaves what an earlier attempt published on disk (some of it perhaps
    # overwritten): said as such, never as a published forecast
    doc["global_from_earlier_attempt"] = run["status"] == "failed" and bool(doc["global"])
    doc["map_skill"] = {mod: {"rmse": round(r, 3), "skill_vs_persistence": None if sk is None else round(sk, 3),
                              "n": n} for mod, r, sk, n in ov["map_skill"]}
    doc |= _recent_skill(ov)
    doc["storms"] = [{"start": _iso(a), "end": _iso(b), "max_kp": k, "g_class": gc} for a, b, k, gc in ov["storms"]]
    doc["tomorrow"] = _tomorrow(engine, settings, now, max_age_h, day0)
    healthy = verdict["verdict"] != "unhealthy"
    doc["healthy"] = healthy
    doc["problem"] = "" if healthy else "; ".join(verdict["reasons"])
    return doc, healthy


def _recent_skill(ov: dict[str, Any]) -> dict[str, Any]:
    """`run_overview`'s recent map and station scores as the status document holds them."""
    def skill(sk: Any) -> float | None:
        return None if sk is None else round(float(sk), 3)
    return {"map_skill_recent": {mod: {"rmse": round(float(r), 3), "days": int(n), "skill_vs_persistence": skill(sk)}
                                 for mod, r, sk, n in ov["map_skill_recent"]},
            "station_skill": {mod: {"rmse": round(float(r), 3), "skill_vs_persistence": skill(sk)}
                              for mod, r, sk in ov["station_skill"]}}


def _tomorrow(engine, settings: Settings, now: dt.datetime, max_age_h: float, day0: dt.datetime
              ) -> dict[str, Any] | None:
    """The newest daily run's forecast of the day after (tomorrow's, hours 26-48 after its cutoff):
    its verdict by the same rule, its timing and products, how the last one verified did, and the
    scores of that lead over the last days before `day0` (beside the rivals made on the same
    information: CODE's 1-day prediction). None where no such forecast was ever made."""
    run = tomorrows_run(engine)
    if run is None:
        return None
    verdict = run_verdict(engine, run, now=now, max_age_h=max_age_h, method=settings.extension_method)
    ov = run_overview(engine, int(run["id"]), day0, settings.data_dir, lead_day=2)
    last = verdict["last_verified"]
    return {"run_id": run["id"], "target_day": _iso(run["target_day"]), "lead_day": run["lead_day"],
            "status": run["status"], "verdict": verdict["verdict"], "reasons": verdict["reasons"],
            "information_cutoff": _iso(run["issue_time"]), "timing": run_timing(run).describe(),
            "global": {meth: {"netcdf": nc, "ionex": ix} for meth, nc, ix, _ in ov["products"]},
            **_recent_skill(ov),
            "last_verified": None if last is None else
            {k: _iso(v) if not isinstance(v, float) else round(v, 3) for k, v in last.items()}}


def _versus(last: dict[str, Any]) -> str:
    """A last verified forecast against persistence, map and stations, in one phrase."""
    def vs(a, b, what):
        if a is None or b is None:
            return ""
        return f"{what} {a:.2f} vs persistence {b:.2f} TECU ({1 - a / b:+.0%})" if b else ""
    parts = [p for p in (vs(last["map_rmse"], last["map_persistence_rmse"], "map"),
                         vs(last["station_rmse"], last["station_persistence_rmse"], "stations")) if p]
    return "; ".join(parts) or "no scores"


def _skill_line(head: str, scores: dict[str, dict[str, Any]], pct: str) -> str:
    """Scores as the main job's summary prints them, best first: RMSE and skill vs persistence."""
    return f"{head}: " + ", ".join(
        f"{m} {v['rmse']:.2f}" + ("" if v["skill_vs_persistence"] is None or m.endswith("persistence")
                                  else f" ({v['skill_vs_persistence']:{pct}})")
        for m, v in sorted(scores.items(), key=lambda kv: kv[1]["rmse"]))


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """The document as a few lines a person reads at a glance (`swx status` without --json)."""
    if doc.get("status") == "none":
        return ["no forecast run yet"]  # why, and what to run: the command's one "unhealthy" line
    if doc.get("status") in ("down", "no-database"):
        return ["no verdict from the database"]  # why: the command's one "unhealthy" line
    state = doc["status"].upper() + (f" (degraded: {doc['reason']})" if doc["degraded"] else "")
    source = doc["data_source"] + (" — SIMULATED maps" if doc["simulated"] else "") + (
        f" ({doc['input_level']} maps among them)" if doc.get("input_level") not in ("", "final", None) else "")
    lines = [f"run {doc['run_id']}: forecast for {doc['target_day']} — {state}",
             f"  {doc['timing']}",
             f"  ran {str(doc['ran_at'])[:19]} UTC ({doc['age_hours']:.1f} h ago), input {source}, code {doc['code_version'] or '?'}"]
    if doc["station_forecasts"]:
        lines.append("  station forecasts: " + ", ".join(f"{a} {n}" for a, n in sorted(doc["station_forecasts"].items())))
    if doc["active_models"]:
        lines.append("  active models: " + ", ".join(f"{a} ({v['stations']} stations, newest v{v['latest_version']})"
                                                     for a, v in sorted(doc["active_models"].items())))
    # skill as the main job's summary prints it: stations in whole percent, maps to a tenth
    for label, scores, pct in (("station skill, last days", doc["station_skill"], "+.0%"),
                               ("map of this run", doc["map_skill"], "+.1%"),
                               (f"maps, last {RECENT_DAYS} days", doc["map_skill_recent"], "+.1%")):
        if scores:
            lines.append(_skill_line(f"  {label} (RMSE TECU, vs persistence)", scores, pct))
    stuck = doc.get("rapid_days_past_upgrade") or []
    if stuck:
        lines.append(f"  {len(stuck)} day(s) still on rapid maps, older than the daily run looks back "
                     f"({stuck[0]} .. {stuck[-1]}): swx ingest gims --upgrade --start {stuck[0]} --end {stuck[-1]}")
    earlier = (", left on disk by this run before it failed: not verified, not to be trusted — make it again"
               if doc.get("global_from_earlier_attempt") else "")
    for method, p in sorted(doc["global"].items()):
        lines.append(f"  product ({method}{earlier}): {p['netcdf']}")
    for ev in doc["storms"]:
        lines.append(f"  storm G{ev['g_class']} {ev['start']} .. {ev['end']} (max Kp {ev['max_kp']:.2f})")
    last = doc.get("last_verified")
    if last:
        lines.append(f"  last verified forecast ({last['day']}): {_versus(last)}")
    ahead = doc.get("tomorrow")
    if ahead:
        lines.append(f"  tomorrow's forecast: run {ahead['run_id']} for {ahead['target_day']} — "
                     f"{ahead['verdict'].upper()}; {ahead['timing']}")
        for method, p in sorted(ahead["global"].items()):
            lines.append(f"    product ({method}): {p['netcdf']}")
        for label, scores, pct in (("station skill, last days", ahead["station_skill"], "+.0%"),
                                   (f"maps, last {RECENT_DAYS} days", ahead["map_skill_recent"], "+.1%")):
            if scores:
                lines.append(_skill_line(f"    {label} (RMSE TECU, vs persistence at the same lead)", scores, pct))
        if ahead["last_verified"]:
            lines.append(f"    last verified one ({ahead['last_verified']['day']}, made two days ahead): "
                         f"{_versus(ahead['last_verified'])}")
        lines += [f"    - {why}" for why in ahead["reasons"] if ahead["verdict"] != "ok"]
    simulated = " — SIMULATED data" if doc["simulated"] else ""
    if doc["verdict"] == "ok":
        lines.append(f"  OK: healthy and trustworthy{simulated}")
    elif doc["verdict"] == "degraded":
        lines.append(f"  DEGRADED: published, but not to be trusted as it stands{simulated}:")
        lines += [f"    - {why}" for why in doc["reasons"]]
    else:
        lines.append(f"  UNHEALTHY: {doc['problem']}")
    return lines


def completed_days(settings: Settings, start: dt.date, end: dt.date, lead_day: int = 1) -> set[dt.date]:
    """Issue days in start..end whose forecast run of `lead_day` (1: the next day; 2: the day after,
    tomorrow's) finished (ok or degraded) and whose products exist as they were written (a product
    changed since, say truncated, or left without its checksum record, is made again: the rule `swx
    status` judges products by): what a resumed backfill skips."""
    ahead = dt.timedelta(days=lead_day)
    rows = finished_products(open_database(settings), start + ahead, end + ahead, settings.data_dir, lead_day=lead_day)
    good: dict[dt.date, bool] = {}
    for day, nc, ionex, nc_sha, ionex_sha in set(rows):  # a row per valid time: each product checked once
        good[day] = good.get(day, True) and all(product_file_problem(f, digest, day) is None
                                                for f, digest in ((nc, nc_sha), (ionex, ionex_sha)))
    return {d - ahead for d, ok in good.items() if ok}


def completed_runs(settings: Settings, start: dt.date, end: dt.date) -> set[tuple[dt.date, int]]:
    """(issue day, lead day) of every run of start..end that is done (`completed_days`), of every lead
    day the daily run makes."""
    return {(d, lead) for lead in LEAD_DAYS for d in completed_days(settings, start, end, lead)}


def completed_issue_days(settings: Settings, start: dt.date, end: dt.date) -> set[dt.date]:
    """Issue days in start..end whose runs of every lead day are done: what the main job keeps as it
    was and a backfill skips."""
    done = completed_runs(settings, start, end)
    return {d for d, _ in done if all((d, lead) in done for lead in LEAD_DAYS)}
