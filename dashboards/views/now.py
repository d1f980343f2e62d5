"""Now: what is the forecast, how good is it, can I trust it — on one screen. Today (the next UT day
after the newest maps) and tomorrow (the day after, hours 26-48 after the cutoff), each with its run's
verdict (by `swx status`'s rule), its lead, how the newest verified forecast of the same lead did
against persistence (map and stations) and its published map and 1-sigma with the products; the storm
level (latest and expected Kp, G-scale), the stations whose blend leans on the baselines, and Global
ΔTEC observed and forecast."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from dashboards.charts import global_map
from dashboards.common import (
    blend_weights,
    coastlines,
    day_start,
    global_dtec,
    kp,
    map_frame,
    newest_tomorrow_run,
    page,
    products,
    readable_product,
    verdict,
)
from swx.store import queries as q


def _verdict_banner(run: dict, v: dict) -> None:
    made = f"Run {run['id']} — forecast for **{run['target_day']}**: {q.run_timing(run).describe()}"
    if v["verdict"] == "ok":
        st.success(f"{made}: **OK** — healthy and trustworthy.")
    elif v["verdict"] == "degraded":
        st.warning(f"{made}: **DEGRADED** — published, but not to be trusted as it stands:\n\n"
                   + "\n".join(f"- {why}" for why in v["reasons"]))
    else:
        st.error(f"{made}: **UNHEALTHY** — " + "; ".join(v["reasons"]))


def _scores(last: dict | None, lead: str = "") -> None:
    """The newest verified forecast (of the same lead) against persistence at the same lead: the map
    and the stations."""
    c = st.columns(2)
    if last is None:
        c[0].metric("Last verified map", "—", help="No forecast verified yet")
        return
    for col, what, mine, base in ((c[0], "map", last["map_rmse"], last["map_persistence_rmse"]),
                                  (c[1], "stations", last["station_rmse"], last["station_persistence_rmse"])):
        label = f"Last verified {what}, RMSE"
        if mine is None:
            col.metric(label, "—", help=f"Not scored on {last['day']}")
            continue
        delta = f"{mine / base - 1:+.1%} vs persistence {base:.2f}" if base else None
        col.metric(label, f"{mine:.2f} TECU", delta, delta_color="inverse",
                   help=f"The forecast for {last['day']}: cos-latitude weighted over the globe for the map, pooled "
                        "over the stations for them. Below persistence (a negative change) is skill.")
    st.caption(f"Last verified forecast{lead}: the one for {last['day']}.")


def _storm_level(t0: dt.datetime, t1: dt.datetime) -> None:
    k = kp(t0, t1)
    c = st.columns(3)
    if not len(k) or k["kp"].isna().all():
        c[0].metric("Latest Kp", "—", help="No Kp in the database for these days")
        return
    known = k.dropna(subset=["kp"])
    predicted = known[known["status"] == "predicted"]
    observed = known[known["status"] != "predicted"]
    last = (observed if len(observed) else known).iloc[-1]
    g = int(last.g_class)
    c = st.columns(3)
    c[0].metric("Latest Kp" + (" (nowcast)" if last.nowcast else ""), q.kp_label(last.kp),
                help=f"3-hour interval from {last.time:%Y-%m-%d %H:%M} UTC; status {last.status}"
                     + (": GFZ's definitive value replaces it later" if last.nowcast else ""))
    if len(predicted):
        peak = predicted.loc[predicted["kp"].idxmax()]
        c[1].metric("Expected Kp, highest", q.kp_label(peak.kp),
                    help=f"The highest predicted 3-hourly Kp ({peak.source}) from {predicted.time.min():%Y-%m-%d %H:%M} "
                         f"to {predicted.time.max():%Y-%m-%d %H:%M} UTC, at {peak.time:%Y-%m-%d %H:%M} UTC")
    else:
        c[1].metric("Expected Kp", "—", help="No Kp prediction in the database for these days: CelesTrak's SW "
                                              "files carry 3-hourly predictions (SWX_KP_SOURCE=celestrak)")
    c[2].metric("NOAA G-scale", f"G{g}" if g else "below storm level")
    if g:
        st.error(f"Geomagnetic storm: G{g} (latest Kp {q.kp_label(last.kp)}; storm level is Kp 5- and above)")


def _today_map(run: dict) -> None:
    prods = products(int(run["id"]))
    key = f"now-{run['id']}"
    if prods.empty:
        st.info("This run published no global map.")
        return
    sel = prods.iloc[0]
    nc = sel.product_path
    times = readable_product(nc)
    if times is None:
        return
    when = times[len(times) // 2]
    try:
        grid = map_frame(nc, None, when)
    except q.SwxError as exc:  # damaged since its times were read
        st.warning(f"The product of this run cannot be read — {exc}. Run its forecast again (`swx forecast`).")
        return
    note = "SIMULATED data" if run["data_source"] == q.SIMULATED_CENTRE else ""
    left, right = st.columns(2)
    left.altair_chart(global_map(grid, coastlines(), "vtec", f"Forecast vTEC, {when[:16].replace('T', ' ')} UTC",
                                 height=280, subtitle=note, legend="bottom"), use_container_width=True, key=f"{key}-v")
    right.altair_chart(global_map(grid, coastlines(), "sigma", "Its 1-sigma (68 % band half-width)", height=280,
                                  subtitle=note, legend="bottom"), use_container_width=True, key=f"{key}-s")
    st.caption("More epochs, ΔTEC and the verifying map: the Global map page. Products of this run: "
               + ", ".join(f"`{Path(p).name}`" for p in (nc, sel.ionex_path)))
    for p, mime in ((nc, "application/x-netcdf"), (sel.ionex_path, "text/plain")):
        if Path(p).is_file():
            st.download_button(f"Download {Path(p).name}", Path(p).read_bytes(), Path(p).name, mime,
                               key=f"{key}-{Path(p).name}")


def _on_baselines(run_id: int) -> None:
    w = blend_weights(run_id)
    if w.empty:
        return
    share = w[w.member.isin(["persistence", "median27"])].groupby("station").weight.sum() / \
        w.groupby("station").weight.sum()
    leaning = share[share > 0.5].sort_values(ascending=False)
    if len(leaning):
        st.caption(f"{len(leaning)} of {share.size} stations run mostly on the baselines (persistence and the 27-day "
                   "median carry over half the blend's weight): "
                   + ", ".join(f"{code} {v:.0%}" for code, v in leaning.items()))
    else:
        st.caption(f"Every station's blend rests mostly on its models ({share.size} stations).")


def _global_dtec(run: dict, t0: dt.datetime, t1: dt.datetime) -> None:
    obs = global_dtec(t0, t1, "observed").assign(series="observed")
    fc = global_dtec(t0, t1, "forecast").assign(series="forecast (each day's from the day before)")
    data = pd.concat([obs, fc], ignore_index=True)
    if data.empty:
        return
    issue = pd.DataFrame({"time": [pd.Timestamp(run["issue_time"])], "what": ["this run's maps end"]})
    lines = alt.Chart(data).mark_line().encode(
        x=alt.X("time:T", title="UTC", axis=alt.Axis(format="%d %b %H:%M")),
        y=alt.Y("global_dtec:Q", title="Global ΔTEC (TECU)"), color=alt.Color("series:N", title=None))
    rule = alt.Chart(issue).mark_rule(strokeDash=[4, 4], color="grey").encode(x="time:T", tooltip=["what:N", "time:T"])
    st.subheader("Global ΔTEC: the mean departure from the 27-day median over the stations")
    st.altair_chart((lines + rule).properties(height=220, width="container"), use_container_width=True)


def render() -> None:
    run = page("Now")
    if run is None:
        return
    v = verdict()
    t1 = day_start(run["target_day"]) + dt.timedelta(days=1)
    t0 = t1 - dt.timedelta(days=4)
    _storm_level(t0, t1)
    st.header(f"Today: {run['target_day']}", help=f"The next UT day after the newest maps: hours {q.lead_span(1)} after the cutoff")
    _verdict_banner(run, v)
    _scores(v["last_verified"])
    _today_map(run)
    _on_baselines(int(run["id"]))
    _tomorrow()
    _global_dtec(run, t0, t1)


def _tomorrow() -> None:
    """Tomorrow's forecast (the day after), made from the same maps: a day longer lead, its own skill."""
    v = verdict(2)
    ahead = v["run"]
    if ahead is None:
        st.header("Tomorrow")
        newest = newest_tomorrow_run()
        if newest is not None:
            st.warning(f"The daily run above has no forecast of the day after (not made yet, or it failed before "
                       f"its run was recorded); the newest one is run {newest['id']}, for {newest['target_day']} "
                       "(the Runs page).")
        else:
            st.info("No forecast of the day after has been made: the daily run makes one from the second day's "
                    "models (`swx train --lead-day 2`).")
        return
    st.header(f"Tomorrow: {ahead['target_day']}",
              help=f"The day after: hours {q.lead_span(2)} after the cutoff, from the same maps, by the second day's models")
    _verdict_banner(ahead, v)
    _scores(v["last_verified"], " two days ahead")
    _today_map(ahead)


render()
