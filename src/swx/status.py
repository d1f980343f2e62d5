"""The latest run as one JSON document, for monitoring and alerting (`swx status --json`): is the
service alive (a recent run that did not fail), was it degraded and why, what it produced and how good
it was where verified."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from swx.config import SIMULATED_CENTRE, Settings
from swx.store import models as m
from swx.store.db import open_database
from swx.store.queries import latest_run


def _iso(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


def run_status(settings: Settings, *, max_age_h: float | None = None,
               now: dt.datetime | None = None) -> tuple[dict[str, Any], bool]:
    """(document, healthy). Healthy: a run exists, it did not fail, and it ran within `max_age_h`
    (default SWX_STATUS_MAX_AGE_H) of `now`."""
    engine = open_database(settings)
    max_age_h = settings.status_max_age_h if max_age_h is None else max_age_h
    now = now or dt.datetime.now(dt.UTC)
    run = latest_run(engine)
    if run is None:
        return {"status": "none", "healthy": False, "problem": "no forecast run yet: run `make run` or the daily flow"}, False
    rid = run["id"]
    ran_at = run.get("finished_at") or run["created_at"]
    age_h = (now - ran_at).total_seconds() / 3600.0
    doc: dict[str, Any] = {
        "run_id": rid, "issue_time": _iso(run["issue_time"]), "target_day": _iso(run["target_day"]),
        "status": run["status"], "degraded": bool(run["degraded"]), "reason": run["reason"],
        "data_source": run["data_source"], "simulated": run["data_source"] == SIMULATED_CENTRE,
        "ran_at": _iso(ran_at), "age_hours": round(age_h, 2), "code_version": run["code_version"],
    }
    sf, g, v, mv, se = m.StationForecast, m.GlobalForecast, m.Verification, m.ModelVersion, m.StormEvent
    with engine.connect() as conn:
        doc["station_forecasts"] = {a: int(n) for a, n in conn.execute(
            select(sf.architecture, func.count()).where(sf.run_id == rid).group_by(sf.architecture)).all()}
        doc["active_models"] = {a: {"stations": int(n), "latest_version": int(vmax)} for a, n, vmax in conn.execute(
            select(mv.architecture, func.count(), func.max(mv.version)).where(mv.status == "active")
            .group_by(mv.architecture)).all()}
        products = conn.execute(select(g.method, g.product_path, g.ionex_path, func.avg(g.global_rmse))
                                .where(g.run_id == rid).group_by(g.method, g.product_path, g.ionex_path)).all()
        doc["global"] = {meth: {"netcdf": nc, "ionex": ix, "verified_rmse": None if r is None else round(float(r), 3)}
                         for meth, nc, ix, r in products}
        doc["global_method"] = settings.extension_method
        skill = conn.execute(select(v.model, v.rmse, v.skill_persistence, v.n)
                             .where(v.run_id == rid, v.station_code == "global", v.kp_class == "all")).all()
        doc["map_skill"] = {mod: {"rmse": round(r, 3), "skill_vs_persistence": None if s is None else round(s, 3),
                                  "n": n} for mod, r, s, n in skill}
        day0 = dt.datetime.combine(run["target_day"], dt.time(), tzinfo=dt.UTC)
        st_rows = conn.execute(select(v.model, func.avg(v.rmse), func.avg(v.skill_persistence))
                               .where(v.scope == "station", v.kp_class == "all", v.window_end >= day0 - dt.timedelta(days=2),
                                      v.window_start <= day0).group_by(v.model)).all()
        doc["station_skill"] = {mod: {"rmse": round(float(r), 3),
                                      "skill_vs_persistence": None if s is None else round(float(s), 3)}
                                for mod, r, s in st_rows}
        lo = day0 - dt.timedelta(days=7)
        hi = day0 + dt.timedelta(days=1)
        doc["storms"] = [{"start": _iso(a), "end": _iso(b), "max_kp": k, "g_class": gc} for a, b, k, gc in conn.execute(
            select(se.start, se.end, se.max_kp, se.g_class).where(se.end >= lo, se.start < hi).order_by(se.start)).all()]
    problems = []
    if run["status"] == "failed":
        problems.append(f"the latest run failed: {run['reason']}")
    if run["status"] == "running":
        problems.append("the latest run has not finished")
    if age_h > max_age_h:
        problems.append(f"the latest run is {age_h:.1f} h old (limit {max_age_h:g} h)")
    doc["healthy"] = not problems
    doc["problem"] = "; ".join(problems)
    return doc, not problems


def to_frame(doc: dict[str, Any]) -> pd.DataFrame:
    """Flat key/value rows of the document, for a human-readable table."""
    rows = []
    for k, val in doc.items():
        rows.append({"field": k, "value": val if not isinstance(val, (dict, list)) else str(val)})
    return pd.DataFrame(rows)
