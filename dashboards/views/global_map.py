"""Global map: forecast TEC, uncertainty and ΔTEC of a run over its epochs; once the day's GIM is in,
the verifying GIM and the error map beside the forecast; product downloads."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from dashboards.common import gim_file, page, products, runs


def render() -> None:
    if page("Global map") is None:
        return
    import xarray as xr

    from swx.plots import plot_forecast_maps, plot_maps

    r = runs()
    labels = {int(x.id): f"run {x.id}: forecast for {x.target_day} ({x.status})" for x in r.itertuples()}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get)
    run = r.set_index("id").loc[run_id]
    prods = products(run_id)
    if prods.empty:
        st.info("This run has no global product.")
        return
    method = st.selectbox("Extension method", sorted(prods.method.unique()))
    sel = prods[prods.method == method]
    nc, ionex = sel.product_path.iloc[0], sel.ionex_path.iloc[0]
    png = Path(tempfile.mkdtemp()) / "map.png"
    truth_path = gim_file(run.data_source, run.target_day)
    with xr.open_dataset(nc) as f:
        times = [str(t)[:16] for t in f["time"].values]
        pick = st.select_slider("Valid time (UTC)", times, value=times[len(times) // 2])
        t = f["time"].values[times.index(pick)]
        tec, sigma = f["tec"].sel(time=t).load(), f["tec_sigma"].sel(time=t).load()
        truth = None
        if truth_path and Path(truth_path).is_file():
            with xr.open_dataset(truth_path) as g:
                if t in g["time"].values:
                    truth = g["tec"].sel(time=t).load()
        if truth is not None:
            plot_forecast_maps(tec, truth, png, f"{method} forecast vs the {run.data_source.upper()} GIM, {pick} UTC",
                               sigma)
            st.caption("Verifying GIM in: forecast, truth, error (forecast − GIM) and the 1-sigma map.")
        else:
            panels = {"forecast vTEC": tec, "1-sigma": sigma}
            if "dtec" in f:
                panels["ΔTEC vs 27-day median"] = f["dtec"].sel(time=t).load()
            plot_maps(panels, png, f"{method} forecast valid {pick} UTC")
            st.caption("The verifying GIM is not in yet.")
    st.image(str(png))
    rmse = sel.set_index("valid_time")["global_rmse"].dropna()
    if len(rmse):
        st.metric("Verified RMSE (mean over epochs, TECU)", f"{rmse.mean():.2f}")
    c1, c2 = st.columns(2)
    c1.download_button("netCDF product", Path(nc).read_bytes(), Path(nc).name, key="nc")
    c2.download_button("IONEX product", Path(ionex).read_bytes(), Path(ionex).name, key="ionex")


render()
