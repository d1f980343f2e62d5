"""The published global map on a simulated archive, on SQLite and on the live PostgreSQL: the node
models trained on the archive and found point in time, the map blended from its members with weights
fitted only on maps verified before the issue day (stored, and the published map is their blend),
its sigma calibrated on the same verified days, the verification of the map and its members with the
cos-latitude RMSE, the coverage and the CRPS; without node models the run says it is degraded and
why; the seed's configuration stays selectable."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

from swx.config import LAT_BANDS, get_settings
from swx.io.ionex import read_ionex
from swx.ml.node_model import load_node_model, node_model_ends, node_model_path, node_net_ends
from swx.pipeline.context import context
from swx.pipeline.forecast import forecast
from swx.pipeline.nodes import ensure_node_model, train_node_model
from swx.pipeline.update import update_nodes
from swx.pipeline.verify import AWAY_REGION, verify_maps
from swx.science.map_blend import MEMBERS, PRIOR_MEMBER
from swx.store import queries as q
from tests.helpers import NOTHING_VERIFIED, cf_findings, node_map_site


@pytest.fixture
def node_ctx(database, monkeypatch):
    """Five months of simulated 2-hourly maps (20 Oct 2014 - 18 Mar 2015), the ridge member trained to 8
    March and the node models trained on the maps up to 8 March."""
    ctx = node_map_site(monkeypatch, dt.date(2014, 10, 20), dt.date(2015, 3, 18), ridge_end=dt.date(2015, 3, 8),
                        node_end=dt.date(2015, 3, 9))
    assert node_model_ends(ctx.settings.models_dir, "sim") == [dt.date(2015, 3, 9)]
    return ctx


def test_the_map_is_blended_walk_forward_and_calibrated(node_ctx, monkeypatch, caplog):
    ctx = node_ctx
    engine = ctx.engine
    # a node model trained later exists: the runs before its end must not use it
    train_node_model(ctx, dt.date(2015, 3, 12))
    assert node_model_ends(ctx.settings.models_dir, "sim") == [dt.date(2015, 3, 9), dt.date(2015, 3, 12)]
    runs = []
    for day in (dt.date(2015, 3, 9), dt.date(2015, 3, 10), dt.date(2015, 3, 11), dt.date(2015, 3, 12)):
        r = forecast(ctx, day)
        # the first run's blend has nothing verified to learn from: said; every later run is ok
        assert (not r.degraded) if runs else r.reason.startswith(NOTHING_VERIFIED), r.reason
        runs.append(r)
        verify_maps(ctx, r.target_day)  # the truth of the target day is archived: verified before the next run
    for k, r in enumerate(runs):
        nc, ionex = r.products["residual"]
        with xr.open_dataset(nc) as f:
            f = f.load()
        assert f.attrs["map_model"] == "nodes" and list(f["member"].values) == list(MEMBERS)
        if k == len(runs) - 1:  # the published map, members and all, is CF-1.8 to the checker
            assert cf_findings(nc) == []
        # point in time: the newest model trained on the maps before the issue day
        assert f.attrs["map_node_model_train_end"] == ("2015-03-09" if k < 3 else "2015-03-12")
        # the network shared by the nodes, point in time too; its forecast is averaged into the node map
        assert f.attrs["map_node_network_train_end"] == ("2015-03-09" if k < 3 else "2015-03-12")
        assert f.attrs["map_weights_days"] == k and f.attrs["map_calibration_days"] == k
        w = q.map_blend_weights(engine, r.run_id)
        assert set(w.lat_band) == set(LAT_BANDS) and set(w.member) == set(MEMBERS) and (w.n_days == k).all()
        assert np.allclose(w.groupby(["lat_band", "lead_h"]).weight.sum(), 1.0) and (w.weight >= -1e-12).all()
        if k == 0:  # nothing verified yet: the prior member alone
            assert np.allclose(w[w.member == PRIOR_MEMBER].weight, 1.0)
        else:
            assert not np.allclose(w[w.member == PRIOR_MEMBER].weight, 1.0)
        # the published map is the stored weights' blend of the stored members
        lat = f["lat"].values
        band = np.where(np.abs(lat) < 30, "low", np.where(np.abs(lat) <= 60, "mid", "high"))
        table = w.set_index(["lat_band", "member", "lead_h"]).weight
        leads = np.sort(w.lead_h.unique())
        expected = np.zeros(f["tec"].shape)
        for m, name in enumerate(MEMBERS):
            wm = np.array([[table[(b, name, lead)] for lead in leads] for b in band])  # (lat, E)
            expected += f["member_tec"].values[m] * wm.T[:, :, None]
        np.testing.assert_allclose(f["tec"].values, np.maximum(expected, 0), atol=2e-3)
        # the IONEX RMS maps are the calibrated sigma (0.1 TECU resolution)
        back = read_ionex(ionex)
        np.testing.assert_allclose(back["rms"].values, f["tec_sigma"].values, atol=0.051)
        if k == 0:  # no calibration yet: the node models' out-of-fold sigma
            np.testing.assert_allclose(f["tec_sigma"].values, f["tec_sigma_model"].values, rtol=1e-6)
    # the verification: the map, its members and the persistence map, with the cos-latitude RMSE,
    # the coverage and the CRPS of the published sigma, globally and away from the stations
    rows = q.skill_table(engine, published=True)
    maps = rows[rows.scope == "global"]
    assert {"map:residual", "map:nodes", "map:corrected", "map:median27", "map:persistence"} <= set(maps.model)
    mine = maps[(maps.model == "map:residual")]
    assert {"global", AWAY_REGION, "lat_band:low"} <= set(mine.station_code)
    glob = mine[mine.station_code == "global"]
    assert len(glob) == 4 and glob.rmse_area.notna().all() and glob.crps.notna().all()
    assert ((glob.coverage68 > 0.3) & (glob.coverage68 < glob.coverage95) & (glob.coverage95 <= 1)).all()
    # the node model's point-in-time files are what the runs read
    model, info = load_node_model(node_model_path(ctx.settings.models_dir, "sim", dt.date(2015, 3, 9)))
    assert info.train_end == "2015-03-09" and model.coef_.shape[0] == 71 * 73
    # the daily update refits them on the maps before its day, once
    assert update_nodes(ctx, dt.date(2015, 3, 13)).startswith("refitted on")
    assert update_nodes(ctx, dt.date(2015, 3, 13)) == "already trained on the maps before 2015-03-13"
    assert node_model_ends(ctx.settings.models_dir, "sim")[-1] == dt.date(2015, 3, 13)
    # ... and the network only when it is older than NET_REFRESH_DAYS
    assert node_net_ends(ctx.settings.models_dir, "sim") == [dt.date(2015, 3, 9), dt.date(2015, 3, 12)]
    # a network that fails to train leaves the new ridges serving and says so, not "models kept"
    import swx.pipeline.nodes as nodes_stage

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    with monkeypatch.context() as mp:
        mp.setattr(nodes_stage, "_train_node_net", broken)
        got = train_node_model(ctx, dt.date(2015, 3, 14))
    assert got["trained"] and got["network"] == "failed: RuntimeError: out of memory"
    assert node_model_ends(ctx.settings.models_dir, "sim")[-1] == dt.date(2015, 3, 14)
    assert node_net_ends(ctx.settings.models_dir, "sim")[-1] == dt.date(2015, 3, 12)
    # a past product damaged since it was published is left out of the next map's weights, said in one
    # line naming it, never a crash of the run
    from swx.pipeline.global_map import verified_maps

    grid = (f["lat"].values, f["lon"].values)
    assert len(verified_maps(ctx, "residual", dt.date(2015, 3, 13), dt.date(2015, 3, 12), *grid)) == 3
    damaged = runs[0].products["residual"][0]
    damaged.write_bytes(b"not a netCDF file")
    with caplog.at_level("WARNING", logger="swx.pipeline.global_map"):
        assert len(verified_maps(ctx, "residual", dt.date(2015, 3, 13), dt.date(2015, 3, 12), *grid)) == 2
    assert f"{damaged}: the published product cannot be read" in caplog.text and "left out of the map's weights" \
        in caplog.text
    # a rerun of the last day that publishes the stations-only map leaves no weights of the first attempt
    monkeypatch.setenv("SWX_MAP_MODEL", "stations")
    get_settings.cache_clear()
    again = forecast(context(get_settings()), dt.date(2015, 3, 12))
    assert again.run_id == runs[-1].run_id and q.map_blend_weights(engine, again.run_id).empty


def test_without_a_node_model_the_run_is_degraded_and_says_why(database, monkeypatch):
    ctx = node_map_site(monkeypatch, dt.date(2015, 2, 10), dt.date(2015, 3, 14), ridge_end=dt.date(2015, 3, 10),
                        node_end=None)
    r = forecast(ctx, dt.date(2015, 3, 12))
    assert r.degraded and "no sim node model trained on the maps before 2015-03-12" in r.reason
    assert q.latest_run(ctx.engine)["status"] == "degraded"
    # five weeks of maps are too few to train them: said, not raised (the main job goes on)
    got = ensure_node_model(ctx, dt.date(2015, 3, 11))
    assert not got["trained"] and "need at least 130" in got["reason"]
    # a damaged model file: the run still publishes, degraded, and names the file
    bad = node_model_path(ctx.settings.models_dir, "sim", dt.date(2015, 3, 1))
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not a model")
    r = forecast(ctx, dt.date(2015, 3, 12))
    assert r.degraded and "nodes_20150301.npz: not a readable node model" in r.reason
    with xr.open_dataset(r.products["residual"][0]) as f:
        assert f.attrs["map_model"] == "stations" and "member_tec" not in f
    # the seed's configuration, chosen: not degraded
    monkeypatch.setenv("SWX_MAP_MODEL", "stations")
    get_settings.cache_clear()
    r2 = forecast(context(get_settings()), dt.date(2015, 3, 12))
    assert not r2.degraded or r2.reason.startswith(NOTHING_VERIFIED), r2.reason  # (the site's first run)
    with xr.open_dataset(r2.products["residual"][0]) as f:
        assert f.attrs["map_model"] == "stations"
