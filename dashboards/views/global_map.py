"""Global map: forecast TEC, uncertainty and ΔTEC of a run over its epochs, as a page-wide interactive map
(the values of a cell on hover); once the day's GIM is in, the verifying GIM and the error map too;
the static figure of all panels; product downloads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboards.charts import MAP_FIELDS, global_map
from dashboards.common import (
    TTL,
    coastlines,
    gim_file,
    map_blend_weights,
    map_frame,
    newest_next_day,
    page,
    product_problems,
    products,
    readable_product,
    run_label,
    run_map_scores,
    runs,
)
from swx.store import queries as q


@st.cache_data(ttl=TTL * 10, max_entries=64)
def map_figure(nc: str, truth_path: str | None, method: str, when: str, source: str) -> tuple[bytes, bool]:
    """Cached: moving the slider back and forth draws each time once."""
    return q.product_figure(nc, truth_path, method, when, source)


def render() -> None:
    if page("Global map") is None:
        return
    r = runs()
    labels = {int(x.id): run_label(x) for x in r.itertuples()}
    run_id = st.selectbox("Run", list(labels), index=newest_next_day(r), format_func=labels.get)
    run = r.set_index("id").loc[run_id]
    prods = products(run_id)
    if prods.empty:
        st.info("This run has no global product.")
        return
    if run.status == "failed":  # what the run left on disk before it failed: never shown as its forecast
        st.warning(f"This run failed ({run.reason}): the product below was left on disk before it failed — "
                   "not verified as published, not to be trusted. Make the forecast again (`swx forecast`).")
    elif problems := product_problems(run_id):  # changed, another day's, unchecked...: as `swx status` says
        st.warning("The products of this run are not as it published them — not to be trusted:\n\n"
                   + "\n".join(f"- {why}" for why in problems))
    method = st.selectbox("Extension method", sorted(prods.method.unique()))
    sel = prods[prods.method == method]
    nc, ionex = sel.product_path.iloc[0], sel.ionex_path.iloc[0]
    times = readable_product(nc)
    if times is None:
        return
    pick = st.select_slider("Valid time (UTC)", times, value=times[len(times) // 2], format_func=lambda t: t[:16])
    truth_path = gim_file(run.data_source, run.target_day)
    unusable = False
    try:
        grid = map_frame(nc, truth_path, pick)
    except q.SwxError as exc:  # the verifying map missing or damaged, or the product since its times were read
        try:
            grid = map_frame(nc, None, pick)
        except q.SwxError as own:
            st.warning(f"The product of this run cannot be read — {own}. Run its forecast again (`swx forecast`).")
            return
        st.warning(f"The verifying map of {run.target_day} cannot be used — {exc}. The forecast is shown "
                   "without it, unverified.")
        truth_path, unusable = None, True
    shown = [k for k in MAP_FIELDS if k in grid]
    left, right = st.columns([4, 1])
    field = left.radio("Colour by", shown, format_func=lambda k: MAP_FIELDS[k][0], horizontal=True)
    auto = right.toggle("Auto-scale colours", help="Off: each quantity on its fixed scale (vTEC 0-100 TECU, "
                        "1-sigma 0-20, ΔTEC and errors ±30), so runs compare at a glance; on: this map's range.")
    # 71 x 73 cells, more than Altair's 5000-row limit: Streamlit's own data transformer (set under its
    # lock) has none. Never lift the limit with Altair's global switch here: it is process-wide and
    # unlocked, and under 20 sessions one session's switch undid another's (MaxRowsError on the page).
    st.altair_chart(global_map(grid, coastlines(), field, f"{method} forecast valid {pick[:16]} UTC",
                               auto_scale=auto), use_container_width=True)
    png, verified = map_figure(nc, truth_path, method, pick, run.data_source)
    with st.expander("All panels as one figure (PNG)"):
        st.image(png)
    if verified:
        st.caption("Verifying GIM in: forecast, truth, error (forecast − GIM) and the 1-sigma map.")
    elif not unusable:
        st.caption("The verifying GIM is not in yet.")
    rmse = sel.set_index("valid_time")["global_rmse"].dropna()
    scores = run_map_scores(run_id)
    mine = scores[(scores.model == f"map:{method}") & (scores.region == "global")]
    if len(rmse) and len(mine):
        pers = scores[(scores.model == "map:persistence") & (scores.region == "global")]
        m = mine.iloc[0]
        c = st.columns(4)
        base = pers.iloc[0].rmse_area if len(pers) else None
        skill = 1 - m.rmse_area / base if base is not None and pd.notna(base) and base > 0 else None
        c[0].metric("RMSE, cos-latitude weighted (TECU)", f"{m.rmse_area:.2f}",
                    f"{-skill:+.1%} vs persistence map" if skill is not None else None, delta_color="inverse")
        c[1].metric("68 % band holds", f"{m.coverage68:.0%}" if pd.notna(m.coverage68) else "—")
        c[2].metric("95 % band holds", f"{m.coverage95:.0%}" if pd.notna(m.coverage95) else "—")
        c[3].metric("CRPS (TECU)", f"{m.crps:.2f}" if pd.notna(m.crps) else "—")
        if base is not None and pd.notna(base):
            st.caption(f"The persistence map scored {pers.iloc[0].rmse_area:.2f} TECU on the same epochs.")
    elif len(rmse):
        st.metric("Verified RMSE (mean over epochs, TECU)", f"{rmse.mean():.2f}")
    weights = map_blend_weights(run_id)
    weights = weights[weights.method == method] if len(weights) else weights
    if len(weights):
        days = int(weights.n_days.max())
        st.subheader("How this map was made")
        table = (weights.groupby(["lat_band", "member"]).weight.mean().unstack("member")
                 .reindex(["low", "mid", "high"]).round(2))
        st.dataframe(table)
        st.caption("Mean weight of each member per latitude band (over the leads): `nodes` is the node models' "
                   "forecast at every grid node (a ridge per node averaged with a network shared by the nodes), `corrected` the node map corrected by the station blend, then the persistence "
                   "and 27-day median maps. " + (
                       f"Fitted on the {days} map(s) verified in the {q.MAP_WINDOW_DAYS} days before the "
                       "issue day, shrunk toward "
                       "the `corrected` member; the 1-sigma (RMS maps) calibrated on the same days."
                       if days else "No map verified yet before this run: the `corrected` member is published and "
                       "its 1-sigma is the node models' out-of-fold error, not yet calibrated."))
    elif len(prods):
        st.caption("This map is the stations' extension over the baselines' map (no node models in this run).")
    c1, c2 = st.columns(2)
    c1.download_button("netCDF product", Path(nc).read_bytes(), Path(nc).name, key="nc")
    if Path(ionex).is_file():
        c2.download_button("IONEX product", Path(ionex).read_bytes(), Path(ionex).name, key="ionex")


render()
