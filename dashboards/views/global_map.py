"""Global map: forecast TEC, uncertainty and ΔTEC of the latest run over its epochs; product downloads."""

from __future__ import annotations

import streamlit as st

from dashboards.common import page, products


def render() -> None:
    run = page("Global map")
    if run is None:
        return
    import xarray as xr

    from swx.plots import plot_maps

    prods = products(run["id"])
    if prods.empty:
        st.info("This run has no global product.")
        return
    method = st.selectbox("Extension method", sorted(prods.method.unique()))
    sel = prods[prods.method == method]
    nc, ionex = sel.product_path.iloc[0], sel.ionex_path.iloc[0]
    with xr.open_dataset(nc) as f:
        times = [str(t)[:16] for t in f["time"].values]
        pick = st.select_slider("Valid time (UTC)", times, value=times[len(times) // 2])
        t = f["time"].values[times.index(pick)]
        panels = {"forecast vTEC": f["tec"].sel(time=t).load(), "1-sigma": f["tec_sigma"].sel(time=t).load()}
        if "dtec" in f:
            panels["ΔTEC vs 27-day median"] = f["dtec"].sel(time=t).load()
    import tempfile
    from pathlib import Path

    png = Path(tempfile.mkdtemp()) / "map.png"
    plot_maps(panels, png, f"{method} forecast valid {pick} UTC")
    st.image(str(png))
    rmse = sel.set_index("valid_time")["global_rmse"].dropna()
    if len(rmse):
        st.caption(f"Verified against the GIM: mean RMSE {rmse.mean():.2f} TECU over {len(rmse)} epochs")
    c1, c2 = st.columns(2)
    c1.download_button("netCDF product", Path(nc).read_bytes(), Path(nc).name, key="nc")
    c2.download_button("IONEX product", Path(ionex).read_bytes(), Path(ionex).name, key="ionex")


render()
