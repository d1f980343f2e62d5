"""The node models' files: written atomically, read back as they were, refused in one line when
damaged, and found point in time (never a model trained on the issue day's own maps)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from swx.ml.node_model import (
    NodeModelFileError,
    NodeModelInfo,
    load_node_model,
    node_model_at,
    node_model_ends,
    save_node_model,
)
from swx.science.nodes import NodeRidge


def _model() -> NodeRidge:
    m = NodeRidge()
    rng = np.random.default_rng(0)
    m.coef_ = rng.standard_normal((6, 5, 3)).astype(np.float32)
    m.mean_, m.scale_ = rng.standard_normal(5), rng.uniform(1, 2, 5)
    m.sigma_ = rng.uniform(1, 2, (6, 3)).astype(np.float32)
    return m


def _info(end: dt.date) -> NodeModelInfo:
    return NodeModelInfo(centre="sim", lat=[0.0, 2.5], lon=[0.0, 5.0, 10.0], epochs=3, train_start="2014-01-01",
                         train_end=str(end), n_days=200, alpha=0.1, cv_rmse=1.5, cv_rmse_prior=2.0)


def test_saved_models_read_back_and_are_found_point_in_time(tmp_path):
    model = _model()
    for end in (dt.date(2015, 3, 9), dt.date(2015, 3, 12)):
        save_node_model(model, _info(end), tmp_path)
    assert node_model_ends(tmp_path, "sim") == [dt.date(2015, 3, 9), dt.date(2015, 3, 12)]
    back, info = load_node_model(node_model_at(tmp_path, "sim", dt.date(2015, 3, 12)))
    assert info.end == dt.date(2015, 3, 12) and info.cv_skill == pytest.approx(0.25)
    np.testing.assert_array_equal(back.coef_, model.coef_)
    np.testing.assert_array_equal(back.sigma_, model.sigma_)
    # a forecast from the maps of 11 March: the model trained on the maps before 12 March saw 11 March
    assert node_model_at(tmp_path, "sim", dt.date(2015, 3, 11)).name == "nodes_20150309.npz"
    assert node_model_at(tmp_path, "sim", dt.date(2015, 3, 8)) is None
    assert node_model_at(tmp_path, "esa", dt.date(2015, 3, 20)) is None
    assert not list(tmp_path.rglob("*.part"))


def test_a_damaged_file_is_refused_in_one_line(tmp_path):
    path = save_node_model(_model(), _info(dt.date(2015, 3, 9)), tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(NodeModelFileError, match="nodes_20150309.npz: not a readable node model") as exc:
        load_node_model(path)
    assert "\n" not in str(exc.value)


def test_the_node_network_is_found_point_in_time_and_a_broken_file_is_a_clear_error(tmp_path):
    from swx.ml.nets import ModelConfig
    from swx.ml.node_model import (
        NodeModelFileError,
        load_node_net,
        node_net_at,
        node_net_ends,
        node_net_path,
        save_node_net,
    )
    from swx.ml.training import StationForecaster, TrainConfig

    rng = np.random.default_rng(0)
    x, y = rng.normal(20, 3, (1, 64, 12, 9)).astype(np.float32), rng.normal(20, 3, (1, 64, 12)).astype(np.float32)
    net = StationForecaster(ModelConfig(architecture="cnn", units=4, n_features=9), TrainConfig(epochs=1)).fit(x, y, None, None)
    for end in (dt.date(2015, 3, 9), dt.date(2015, 3, 12)):
        save_node_net(net, tmp_path, "sim", end)
    assert node_net_ends(tmp_path, "sim") == [dt.date(2015, 3, 9), dt.date(2015, 3, 12)]
    assert node_net_at(tmp_path, "sim", dt.date(2015, 3, 8)) is None
    assert node_net_at(tmp_path, "sim", dt.date(2015, 3, 11)) == node_net_path(tmp_path, "sim", dt.date(2015, 3, 9))
    back = load_node_net(node_net_at(tmp_path, "sim", dt.date(2015, 3, 12)))
    np.testing.assert_allclose(back.predict(x)[0], net.predict(x)[0], rtol=1e-6)
    node_net_path(tmp_path, "sim", dt.date(2015, 3, 12)).write_bytes(b"not a checkpoint")
    with pytest.raises(NodeModelFileError, match="nodes_net2_20150312.pt: not a readable node network"):
        load_node_net(node_net_path(tmp_path, "sim", dt.date(2015, 3, 12)))


def test_a_node_network_of_an_older_input_rule_is_not_read(tmp_path):
    """A network file of the older input rule (TECU windows) beside the ridges is ignored: read as
    today's it would forecast nonsense; the next update trains one of the current rule."""
    from swx.ml.node_model import NET_FORMAT, node_model_dir, node_net_at, node_net_ends, node_net_path

    folder = node_model_dir(tmp_path, "sim")
    folder.mkdir(parents=True)
    (folder / "nodes_net_20150309.pt").write_bytes(b"an older rule's checkpoint")
    assert node_net_ends(tmp_path, "sim") == []
    assert node_net_at(tmp_path, "sim", dt.date(2015, 3, 20)) is None
    assert node_net_path(tmp_path, "sim", dt.date(2015, 3, 9)).name == f"nodes_net{NET_FORMAT}_20150309.pt"


def test_the_node_network_forecasts_relative_to_the_windows_level():
    """One network serves the crests and the polar night: it learns windows relative to their level,
    so the same day's shape at ten times the TEC is forecast at ten times the TEC, and a window at the
    crests does not swamp the loss of one at 3 TECU."""
    from swx.ml.nets import ModelConfig
    from swx.ml.node_model import fit_node_net, predict_node_net
    from swx.ml.training import TrainConfig
    from swx.science.features import FEATURES
    from swx.science.nodes import NET_FEATURES

    rng = np.random.default_rng(3)
    n, steps = 400, 12
    shape = 1 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, 2 * steps))[None, :] + rng.normal(0, 0.02, (n, 2 * steps))
    scale = rng.choice([3.0, 30.0], n)[:, None]
    x = rng.normal(0, 1, (n, steps, len(NET_FEATURES))).astype(np.float32)
    x[:, :, FEATURES.index("vtec")] = scale * shape[:, :steps]
    x[:, :, FEATURES.index("median27_ahead")] = scale * shape[:, steps:]
    y = (scale * shape[:, steps:]).astype(np.float32)
    train = np.arange(n) < 360
    net = fit_node_net(ModelConfig(architecture="cnn", units=8, n_features=len(NET_FEATURES)),
                       TrainConfig(epochs=3, batch_size=64), x, y, train, ~train)
    low = x[~train].copy()
    low[:, :, FEATURES.index("vtec")] = 3.0 * shape[~train, :steps]
    low[:, :, FEATURES.index("median27_ahead")] = 3.0 * shape[~train, steps:]
    high = low.copy()
    high[:, :, [FEATURES.index("vtec"), FEATURES.index("median27_ahead")]] *= 10.0
    np.testing.assert_allclose(predict_node_net(net, high), 10.0 * predict_node_net(net, low), rtol=1e-4)
    err = np.abs(predict_node_net(net, x[~train]) - y[~train]) / scale[~train]
    assert err.mean() < 0.1  # relative to the level, both kinds of node are forecast alike
