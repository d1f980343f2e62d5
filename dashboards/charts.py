"""Altair charts of the dashboard (presentation only: the frames come from `swx.store.queries`).
Vega-Lite renders in the browser from Streamlit's bundle: no tiles, no downloads (works offline)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

# fill the page's width, keep the asked height for the plot (axes and titles come on top of it)
FIT_X = alt.AutoSizeParams(type="fit-x", contains="padding")
#: the series of a station panel, in legend order: what happened, the published blend, the models, the baselines
BAND_COLOURS = {"observed": "#111111", "BLEND": "#d62728", "CNN": "#1f77b4", "GRU": "#2ca02c", "LSTM": "#ff7f0e",
                "RIDGE": "#17becf", "persistence (24 h)": "#8c8c8c", "27-day median": "#b07aa1"}


def station_map(stations: pd.DataFrame, coast: pd.DataFrame, selected: str | None) -> alt.Chart:
    """The virtual stations over coastlines, by latitude band and surface; a click picks a station."""
    pick = alt.selection_point(name="station", fields=["code"], on="click", clear=False)
    base = alt.Chart(coast).mark_line(color="#9a9a9a", strokeWidth=0.6, aria=False).encode(
        x=alt.X("lon:Q", scale=alt.Scale(domain=[-180, 180], nice=False), title="longitude (°E)",
                axis=alt.Axis(values=list(range(-180, 181, 60)))),
        y=alt.Y("lat:Q", scale=alt.Scale(domain=[-90, 90], nice=False), title="latitude (°N)",
                axis=alt.Axis(values=list(range(-90, 91, 30)))),
        detail="segment:N", order="order:Q")
    sts = stations.assign(selected=stations["code"] == selected)
    points = alt.Chart(sts).mark_point(filled=True, size=140, aria=True).encode(
        description=alt.Description("code:N"),  # the point's aria-label: screen readers (and the browser test)
        x="lon:Q", y="lat:Q",
        color=alt.Color("lat_band:N", title="latitude band", scale=alt.Scale(
            domain=["low", "mid", "high"], range=["#d62728", "#2ca02c", "#1f77b4"])),
        shape=alt.Shape("surface:N", title="surface"),
        stroke=alt.condition("datum.selected", alt.value("black"), alt.value(None)), strokeWidth=alt.value(2.5),
        tooltip=["code", "name", "lat", "lon", "lat_band", "surface"]).add_params(pick)
    return _fit((base + points).properties(height=320, width="container", title="Virtual stations (click one)"))


def _fit(chart):
    """Top-level sizing: fill the page's width, keep the asked plot height."""
    return chart.properties(autosize=FIT_X)


def _time_axis(domain: tuple) -> alt.X:
    """One UTC time axis for charts stacked on the page (explicit domain: they line up)."""
    lo, hi = (pd.Timestamp(t).isoformat() for t in domain)
    return alt.X("time:T", title="UTC", scale=alt.Scale(domain=[lo, hi]),
                  axis=alt.Axis(format="%d %b %H:%M", labelAngle=0))  # 24-hour UTC, never AM/PM


def station_panel(observed: pd.DataFrame, bands: pd.DataFrame, kp: pd.DataFrame, title: str,
                  domain: tuple) -> list[alt.Chart]:
    """Observed vTEC, the published blend with its 68 % and 95 % intervals, the members asked for (lines)
    and the baselines; Kp underneath on the same time axis (two charts, stacked with the same time domain)."""
    lines = observed.melt(id_vars="time", var_name="series", value_name="vtec").dropna()
    fc = bands.assign(series=bands["architecture"].str.upper())
    lines = pd.concat([lines, fc.rename(columns={"valid_time": "time", "mean": "vtec"})[["time", "series", "vtec"]]])
    shown = [k for k in BAND_COLOURS if k in set(lines["series"])]
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=shown, range=[BAND_COLOURS[k] for k in shown]),
                       legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeWidth=3, symbolOpacity=1))
    x = _time_axis(domain)
    layers = []
    if len(fc):
        published = fc[fc["series"] == "BLEND"] if (fc["series"] == "BLEND").any() else fc  # one band, not six
        b = published.rename(columns={"valid_time": "time"})
        layers += [alt.Chart(b).mark_area(opacity=0.15).encode(x=x, y="lo95:Q", y2="hi95:Q", color=colour),
                   alt.Chart(b).mark_area(opacity=0.3).encode(x=x, y="lo68:Q", y2="hi68:Q", color=colour)]
    dashed = ["persistence (24 h)", "27-day median"]
    layers.append(alt.Chart(lines).mark_line(strokeWidth=1.6).encode(
        x=x, y=alt.Y("vtec:Q", title="vTEC (TECU)"), color=colour,
        strokeDash=alt.condition(alt.FieldOneOfPredicate("series", dashed), alt.value([4, 3]), alt.value([1, 0])),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "series:N", alt.Tooltip("vtec:Q", format=".2f")]))
    top = alt.layer(*layers).properties(height=320, width="container", title=title)
    bottom = alt.Chart(kp).mark_bar().encode(
        x=x, y=alt.Y("kp:Q", title="Kp", scale=alt.Scale(domain=[0, 9])),
        color=alt.condition("datum.storm", alt.value("#d62728"), alt.value("#7f7f7f")),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("kp:Q", format=".2f")]
    ).properties(height=150, width="container")
    return [_fit(top), _fit(bottom)]


def storm_panel(kp: pd.DataFrame, global_dtec: pd.DataFrame, stations: pd.DataFrame, title: str,
                domain: tuple) -> list[alt.Chart]:
    """Kp, Global ΔTEC (observed and forecast) and the ΔTEC of the most affected stations of one event,
    stacked on one time axis. A series with no values is left out (never drawn as a flat line at 0)."""
    x = _time_axis(domain)
    kp_chart = alt.Chart(kp).mark_bar().encode(
        x=x, y=alt.Y("kp:Q", title="Kp (pale: nowcast)", scale=alt.Scale(domain=[0, 9])),
        color=alt.condition("datum.storm", alt.value("#d62728"), alt.value("#7f7f7f")),
        opacity=alt.condition("datum.nowcast", alt.value(0.45), alt.value(1.0)),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("kp:Q", format=".3f"), "status:N"]
    ).properties(height=120, width="container", title=title)
    g = alt.Chart(global_dtec).mark_line(point=True).encode(
        x=x, y=alt.Y("global_dtec:Q", title="Global ΔTEC (TECU)"), color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "kind:N", alt.Tooltip("global_dtec:Q", format=".2f")]
    ).properties(height=200, width="container")
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#999").encode(y="y:Q")
    st_chart = alt.Chart(stations).mark_line().encode(
        x=x, y=alt.Y("dtec:Q", title="station ΔTEC (TECU)"), color=alt.Color("station:N", title="station", legend=alt.Legend(orient="top")),
        tooltip=["station:N", alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip("dtec:Q", format=".2f")]
    ).properties(height=200, width="container")
    charts = [_fit(kp_chart)]
    if not global_dtec.empty:
        charts.append(_fit(g + zero))
    if not stations.empty:
        charts.append(_fit(st_chart + zero))
    return charts


def trend_chart(trend: pd.DataFrame, days: int) -> list[alt.Chart]:
    """Trailing pooled RMSE per model, and skill against persistence (above 0 = better than persistence)."""
    x = alt.X("day:T", title="day (UTC)")
    rm = alt.Chart(trend).mark_line(point=True).encode(
        x=x, y=alt.Y(f"rmse_{days}d:Q", title=f"RMSE, trailing {days} days (TECU)"), color="model:N",
        tooltip=["model:N", alt.Tooltip("day:T"), alt.Tooltip(f"rmse_{days}d:Q", format=".3f")]).properties(height=220, width="container")
    sk = alt.Chart(trend[trend["model"] != "persistence"]).mark_line(point=True).encode(
        x=x, y=alt.Y(f"skill_{days}d:Q", title="skill vs persistence"), color="model:N").properties(height=160, width="container")
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#999").encode(y="y:Q")
    return [_fit(rm), _fit(sk + zero)]


def pit_chart(pit: pd.DataFrame) -> alt.Chart:
    """PIT histograms (fraction of forecasts per bin) per model: flat at the dashed line when the
    forecast distribution is calibrated, U-shaped when it is over-confident, domed when too wide."""
    bins = pit["bin"].nunique()
    bars = alt.Chart(pit).mark_bar().encode(
        x=alt.X("bin:O", title="PIT bin"),
        y=alt.Y("fraction:Q", title="fraction of forecasts"),
        tooltip=["model:N", "bin:O", alt.Tooltip("fraction:Q", format=".3f"), "count:Q"])
    flat = alt.Chart().mark_rule(strokeDash=[4, 3], color="#333").encode(y=alt.datum(1.0 / bins))
    # a faceted chart cannot fit the page's width (it came out 0 px wide): each panel has its own size,
    # four to a row
    return alt.layer(bars, flat, data=pit).properties(width=200, height=150).facet(
        facet=alt.Facet("model:N", title=None), columns=4)


#: the fields of a global map a user can colour it by: column -> (legend title, colour scheme, diverging,
#: fixed colour domain). The domains are fixed so two runs read alike (0-100 TECU holds a solar-maximum
#: day's crests; ΔTEC and errors ±30 TECU a great storm's); a page may auto-scale on request.
MAP_FIELDS = {"vtec": ("forecast vTEC (TECU)", "viridis", False, (0.0, 100.0)),
              "sigma": ("1-sigma (TECU)", "magma", False, (0.0, 20.0)),
              "dtec": ("ΔTEC vs 27-day median (TECU)", "redblue", True, (-30.0, 30.0)),
              "truth": ("verifying GIM (TECU)", "viridis", False, (0.0, 100.0)),
              "error": ("error: forecast − GIM (TECU)", "redblue", True, (-30.0, 30.0))}


#: How much larger than the grid step a map cell is drawn (neighbours overlap by this fraction)
CELL_OVERLAP = 1.1


def global_map(grid: pd.DataFrame, coast: pd.DataFrame, field: str, title: str, *, auto_scale: bool = False,
               height: int = 520, subtitle: str = "", legend: str = "right") -> alt.LayerChart:
    """One epoch of a global product as grid cells coloured by `field` over coastlines, as wide as the
    page, every value of the cell in its tooltip (lat, lon, forecast, sigma, ΔTEC, GIM and error when in).
    Colours on the field's fixed domain (values beyond it take the end colours) unless `auto_scale`."""
    name, scheme, diverging, domain = MAP_FIELDS[field]
    step_lat = float(np.diff(np.unique(grid["lat"])).min()) if grid["lat"].nunique() > 1 else 2.5
    step_lon = float(np.diff(np.unique(grid["lon"])).min()) if grid["lon"].nunique() > 1 else 5.0
    # each cell a little larger than its step, so neighbours overlap: edge to edge, the browser's
    # anti-aliasing drew a white grid line between every two cells
    half_lat, half_lon = step_lat * CELL_OVERLAP / 2, step_lon * CELL_OVERLAP / 2
    cells = grid.assign(lat0=grid["lat"] - half_lat, lat1=grid["lat"] + half_lat,
                        lon0=grid["lon"] - half_lon, lon1=grid["lon"] + half_lon)
    fixed = {} if auto_scale else {"domain": list(domain), "clamp": True}
    scale = alt.Scale(scheme=scheme, domainMid=0, reverse=True, **fixed) if diverging else \
        alt.Scale(scheme=scheme, **fixed)
    tips = [alt.Tooltip("lat:Q", title="lat (°N)"), alt.Tooltip("lon:Q", title="lon (°E)")] + [
        alt.Tooltip(f"{c}:Q", title=MAP_FIELDS[c][0], format=".1f") for c in MAP_FIELDS if c in grid]
    x = alt.X("lon0:Q", scale=alt.Scale(domain=[-180, 180], nice=False), title="longitude (°E)",
              axis=alt.Axis(values=list(range(-180, 181, 30))))
    y = alt.Y("lat0:Q", scale=alt.Scale(domain=[-90, 90], nice=False), title="latitude (°N)",
              axis=alt.Axis(values=list(range(-90, 91, 30))))
    rects = alt.Chart(cells).mark_rect(clip=True).encode(
        x=x, x2="lon1:Q", y=y, y2="lat1:Q", color=alt.Color(f"{field}:Q", title=name, scale=scale, legend=alt.Legend(orient=legend)), tooltip=tips)
    # coastlines: white over the sequential maps, dark over the diverging ones (white is their zero)
    lines = alt.Chart(coast).mark_line(color="#333333" if diverging else "#ffffff", strokeWidth=0.7,
                                       opacity=0.8).encode(
        x=alt.X("lon:Q", scale=alt.Scale(domain=[-180, 180], nice=False)),
        y=alt.Y("lat:Q", scale=alt.Scale(domain=[-90, 90], nice=False)), detail="segment:N", order="order:Q")
    heading = alt.TitleParams(title, subtitle=subtitle, subtitleColor="#b45309") if subtitle else title
    return _fit(alt.layer(rects, lines).properties(title=heading, height=height, width="container"))
