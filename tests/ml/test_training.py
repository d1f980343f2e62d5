"""Models and training: shapes, determinism, grouped (batched) = one by one, save/load, the Gaussian
head, baselines that never see the day scored, and a real end-to-end run that beats persistence."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from swx.config import ARCHITECTURES, NETWORKS
from swx.ml.nets import GroupedStationModel, ModelConfig, pick_device
from swx.ml.training import RIDGE_ALPHAS, SKIP_RIDGE_ALPHA, StationForecaster, TrainConfig, _ridge_solve
from swx.science.features import (
    MEDIAN_AHEAD_COLUMN,
    Scaler,
    feature_matrix,
    fill_single_gaps,
    make_windows,
    persistence_from_windows,
)
from swx.science.verify import climatology_series, median27_series, scores, windows_reference
from swx.sources.indices.history import load_history


def synthetic(s: int = 3, n: int = 300, seed: int = 0):
    """A daily cycle (12 steps) plus 1 TECU noise per station, as windows with the columns of
    `swx.science.features.FEATURES`: vTEC, the cycle's phase in the local-time slot, zeros for Kp and the
    other encodings, and the noise-free cycle as the "27-day median" of the target times."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + 24)
    clean = 20 + 8 * np.sin(2 * np.pi * t / 12)[None, :] + np.arange(s)[:, None]
    base = clean + rng.normal(0, 1, (s, n + 24))
    phase = np.sin(2 * np.pi * (t % 12) / 12)[None].repeat(s, 0)
    zeros = np.zeros((s, n + 24))
    cols = [base, zeros, phase, zeros, zeros, zeros, clean]  # the median at t+24 h = the cycle at t
    x = np.stack([np.stack([c[:, k:k + 12] for c in cols], -1) for k in range(n)], axis=1).astype(np.float32)
    y = np.stack([base[:, k + 12:k + 24] for k in range(n)], axis=1).astype(np.float32)
    return x, y


@pytest.mark.parametrize("arch", NETWORKS)
@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("target", ["level", "departure"])
def test_shapes_and_glorot_init(arch, gaussian, target):
    m = GroupedStationModel(ModelConfig(architecture=arch, units=7, n_features=2, gaussian=gaussian, target=target),
                            3, [1, 2, 3])
    mean, sigma = m(torch.randn(3, 5, 12, 2))
    assert mean.shape == (3, 5, 12)
    assert (sigma is None) != gaussian and (sigma is None or bool((sigma > 0).all()))
    w = (m.w0 if arch == "cnn" else m.w_ih).detach()  # hidden layers: Glorot normal
    fan_in, fan_out = w.shape[1], w.shape[2]
    assert abs(float(w.std()) - (2 / (fan_in + fan_out)) ** 0.5) < 0.35 * (2 / (fan_in + fan_out)) ** 0.5
    if target == "departure":  # the output layer starts at zero: the untrained model is the baseline
        assert float(m.head.detach().abs().max()) == 0.0 and float(mean.detach().abs().max()) == 0.0
    else:
        w = m.head.detach()
        fan_in, fan_out = w.shape[1], w.shape[2]
        assert abs(float(w.std()) - (2 / (fan_in + fan_out)) ** 0.5) < 0.35 * (2 / (fan_in + fan_out)) ** 0.5


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_an_untrained_departure_model_is_the_issue_time_baseline(arch):
    """Before any training step the forecast is w * persistence + (1 - w) * 27-day median plus the
    training departures' mean — a baseline's skill to start from, never a random level."""
    x, y = synthetic(2, 200)
    cfg = ModelConfig(architecture=arch, units=5, n_features=x.shape[-1], persistence_weight=0.3, linear_skip=False)
    est = StationForecaster(cfg, TrainConfig(epochs=0))
    if arch == "ridge":  # fitted in closed form on fit(): build the untouched model by hand
        est.scalers = [Scaler.fit(x[i], y[i] - est.baseline(x)[i]) for i in range(2)]
        est.model = GroupedStationModel(cfg, 2).to(est.device)
    else:
        est.fit(x, y, None, None)  # no epoch: scalers fitted, weights as initialised
    mean, _ = est.predict(x)
    base = 0.3 * persistence_from_windows(x, 12) + 0.7 * x[..., -12:, MEDIAN_AHEAD_COLUMN]
    shift = np.array([sc.target_location[0] for sc in est.scalers])[:, None, None]
    np.testing.assert_allclose(mean, base + shift, atol=1e-4)


@pytest.mark.parametrize("arch", [a for a in ARCHITECTURES if a != "ridge"])
def test_a_networks_linear_path_starts_at_the_ridge_solution(arch):
    """Before any gradient step a network with its linear path forecasts what a ridge on the same scaled
    windows does: its epochs start from the linear forecast, not from the baseline."""
    x, y = synthetic(2, 300)
    cfg = ModelConfig(architecture=arch, units=5, n_features=x.shape[-1])
    assert cfg.linear_skip
    est = StationForecaster(cfg, TrainConfig(epochs=0)).fit(x, y, None, None)
    xs, ys = est._scale(x, y)
    w, b = _ridge_solve(xs.reshape(2, 300, -1).astype(np.float64), ys.astype(np.float64), SKIP_RIDGE_ALPHA)
    expected = xs.reshape(2, 300, -1) @ w + b[:, None]
    loc = np.array([sc.target_location for sc in est.scalers])
    expected = expected * loc[:, 1, None, None] + loc[:, 0, None, None] + est.baseline(x)
    mean, _ = est.predict(x)
    np.testing.assert_allclose(mean, expected, rtol=1e-4, atol=1e-3)
    base = est.baseline(x)
    assert np.mean((mean - y) ** 2) < np.mean((base - y) ** 2)  # the ridge start already beats the baseline


def test_a_checkpoint_without_the_linear_path_loads_as_it_was(tmp_path):
    """Models saved before the linear path existed keep forecasting as they did."""
    x, y = synthetic(1, 120)
    old = StationForecaster(ModelConfig(architecture="cnn", units=4, n_features=x.shape[-1], linear_skip=False),
                            TrainConfig(epochs=2)).fit(x, y, None, None)
    state = old.state()
    state["model_config"].pop("linear_skip")  # as written before the option existed
    buf = io.BytesIO()
    torch.save(state, buf)
    (tmp_path / "old.pt").write_bytes(buf.getvalue())
    back = StationForecaster.load(tmp_path / "old.pt", device="cpu")
    assert not back.model_config.linear_skip and not hasattr(back.model, "skip")
    np.testing.assert_allclose(back.predict(x)[0], old.predict(x)[0], rtol=1e-6)


def test_departure_models_learn_the_cycle_better_than_level_models_start():
    """On the synthetic cycle the 27-day median *is* the signal: a departure CNN reaches the noise floor
    (1 TECU) where persistence errs by sqrt(2), and the ridge member too."""
    x, y = synthetic(2, 400, seed=2)
    for arch in ("cnn", "ridge"):
        est = StationForecaster(ModelConfig(architecture=arch, units=8, n_features=x.shape[-1]),
                                TrainConfig(epochs=10, patience=10))
        est.fit(x[:, :300], y[:, :300], x[:, 300:350], y[:, 300:350])
        mean, _ = est.predict(x[:, 350:])
        r = scores(y[:, 350:].ravel(), mean.ravel(), persistence=persistence_from_windows(x[:, 350:], 12).ravel())
        assert r["rmse"] < 1.15 and r["skill_vs_persistence"] > 0.2, (arch, r)
    assert len(est.history["alpha"][0]) == 2  # the ridge penalty chosen per station by cross-validation


def test_a_grouped_ridge_splits_into_single_stations():
    """18 stations in one closed-form fit, then one registered model per station (more stations than
    penalties tried: the per-station history must follow the station axis)."""
    x, y = synthetic(18, 500, seed=5)
    est = StationForecaster(ModelConfig(architecture="ridge", n_features=x.shape[-1])).fit(x, y, None, None)
    singles = est.split()
    assert len(singles) == 18
    for i in (0, 17):
        one = singles[i]
        assert one.history["alpha"] == [est.history["alpha"][0][i]]
        assert len(one.history["cv_rmse_scaled"]) == len(RIDGE_ALPHAS)
        np.testing.assert_allclose(one.predict(x[i:i + 1])[0][0], est.predict(x)[0][i], atol=1e-5)
    # its "validation" RMSE is the cross-validated one (it was fitted on the validation windows too),
    # in TECU: the synthetic series' noise is 1 TECU
    assert all(0.8 < v < 1.5 for v in est.history["best_val"])


def test_training_is_deterministic_and_grouped_equals_one_by_one():
    x, y = synthetic()
    cfg = ModelConfig(architecture="gru", units=6, n_features=x.shape[-1])
    tc = TrainConfig(epochs=4, batch_size=32, seed=3)
    grouped = StationForecaster(cfg, tc, station_seeds=[11, 12, 13]).fit(x[:, :250], y[:, :250], x[:, 250:], y[:, 250:])
    again = StationForecaster(cfg, tc, station_seeds=[11, 12, 13]).fit(x[:, :250], y[:, :250], x[:, 250:], y[:, 250:])
    pg, _ = grouped.predict(x[:, 250:])
    np.testing.assert_array_equal(pg, again.predict(x[:, 250:])[0])
    for s, seed in enumerate([11, 12, 13]):
        alone = StationForecaster(cfg, tc, station_seeds=[seed]).fit(x[s:s + 1, :250], y[s:s + 1, :250],
                                                                     x[s:s + 1, 250:], y[s:s + 1, 250:])
        np.testing.assert_allclose(alone.predict(x[s:s + 1, 250:])[0][0], pg[s], atol=1e-3)


def test_save_load_round_trip_and_checksum(tmp_path):
    x, y = synthetic(2, 120)
    est = StationForecaster(ModelConfig(architecture="lstm", units=5, n_features=x.shape[-1], gaussian=True),
                            TrainConfig(epochs=2)).fit(x[:, :100], y[:, :100], x[:, 100:], y[:, 100:])
    sha = est.save(tmp_path / "m.pt")
    back = StationForecaster.load(tmp_path / "m.pt", sha256=sha)
    for a, b in zip(est.predict(x), back.predict(x)):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "m.pt").write_bytes((tmp_path / "m.pt").read_bytes() + b"x")
    with pytest.raises(ValueError, match="checksum mismatch"):
        StationForecaster.load(tmp_path / "m.pt", sha256=sha)


def test_gaussian_head_gives_intervals():
    x, y = synthetic(1, 400)
    est = StationForecaster(ModelConfig(architecture="cnn", units=8, n_features=x.shape[-1], gaussian=True),
                            TrainConfig(epochs=30, patience=30)).fit(x[:, :350], y[:, :350], x[:, 350:], y[:, 350:])
    mean, sigma = est.predict(x[:, 350:])
    r = scores(y[0, 350:], mean[0], sigma=sigma[0])
    assert 0.4 < r["coverage68"] <= 1.0 and r["coverage95"] >= r["coverage68"]
    assert 0.3 < float(np.median(sigma)) < 5.0  # noise of the synthetic series is 1 TECU


def test_devices():
    from swx.ml.nets import describe_device

    assert describe_device("cpu").startswith("cpu (")
    assert describe_device("auto").startswith("cuda:" if torch.cuda.is_available() else "cpu (")
    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        from swx.errors import InputError

        with pytest.raises(InputError, match="SWX_DEVICE=cuda: no CUDA device is available here"):
            pick_device("cuda")


def test_baselines_never_use_the_scored_day():
    t = pd.date_range("2015-01-01", periods=40 * 12, freq="2h", tz="UTC")
    s = pd.Series(10.0, index=t)
    s.loc["2015-02-05"] = 100.0  # a spike on the scored day
    med = median27_series(s)
    assert (med.loc["2015-02-05"] == 10.0).all()  # the day itself is not in its own reference
    assert (med.loc["2015-02-06"] == 10.0).all()  # one spike day out of 27 does not move a median
    x = np.arange(24.0).reshape(1, 24, 1)[:, :12]
    np.testing.assert_array_equal(persistence_from_windows(np.arange(12.0).reshape(1, 12, 1), 12), x[..., 0])


def _real_code_series(shared_data):
    from swx.science.series import read_doy_csv

    return pd.concat([read_doy_csv(shared_data / "real-series" / "randa-code-10E-3lat" / f)
                      for f in ("Training_data_VTEC.csv", "Test_data_VTEC.csv")])


@pytest.mark.slow
def test_cnn_on_real_code_vtec_beats_persistence_on_the_last_43_days(shared_data):
    d = _real_code_series(shared_data)
    s = d["VTEC_40N"]
    s, _ = fill_single_gaps(s[s.index.hour % 2 == 0])
    h = load_history()
    x, y, issue = make_windows(feature_matrix(s, h.kp["kp"], lon=10.0, f107=h.daily["f107_obs"]))
    test_start = pd.Timestamp("2017-11-19", tz="UTC")  # the last 43 days, as in the method
    train = np.flatnonzero(issue < test_start - pd.Timedelta(hours=24))  # no target reaches the test days
    n_val = max(1, len(train) // 100)
    tr, va, te = train[:-n_val], train[-n_val:], np.flatnonzero(issue >= test_start)
    est = StationForecaster(ModelConfig(architecture="cnn", units=20, n_features=x.shape[-1]),
                            TrainConfig(epochs=40, batch_size=64, patience=6))
    est.fit(x[None, tr], y[None, tr], x[None, va], y[None, va])
    mean, _ = est.predict(x[None, te])
    r = scores(y[te], mean[0], persistence=persistence_from_windows(x[te], 12),
               median27=windows_reference(issue[te], 12, median27_series(s)))
    clim = windows_reference(issue[te], 12, climatology_series(s))  # from 2015-2016 only
    rmse_clim = float(np.sqrt(np.mean((clim - y[te]) ** 2)))
    msg = (f"CNN RMSE {r['rmse']:.2f} TECU vs persistence {r['rmse_persistence']:.2f}, 27-day median "
           f"{r['rmse_median27']:.2f} and climatology {rmse_clim:.2f} on {r['n']} forecasts "
           f"(skill vs persistence {r['skill_vs_persistence']:.1%})")
    print(msg)
    assert r["skill_vs_persistence"] > 0.03, msg
    assert r["skill_vs_median27"] > 0.05, msg
    assert r["rmse"] < rmse_clim, msg


def test_ensemble_gives_a_spread_and_reasonable_coverage():
    from swx.ml.training import EnsembleForecaster

    x, y = synthetic(2, 400, seed=4)
    ens = EnsembleForecaster.train(4, ModelConfig(architecture="cnn", units=6, n_features=x.shape[-1], gaussian=True),
                                   TrainConfig(epochs=25, patience=25), x[:, :350], y[:, :350], x[:, 350:], y[:, 350:])
    assert len(ens.members) == 4
    mean, sigma = ens.predict(x[:, 350:])
    assert mean.shape == sigma.shape == (2, 50, 12) and (sigma > 0).all()
    spreads = np.stack([m.predict(x[:, 350:])[0] for m in ens.members]).std(axis=0)
    assert spreads.mean() > 0  # members differ (different seeds)
    r = scores(y[0, 350:], mean[0], sigma=sigma[0])
    assert r["coverage95"] > 0.6


def test_climatology_uses_earlier_years_only():
    t = pd.date_range("2015-01-01", "2017-12-31 22:00", freq="2h", tz="UTC")
    s = pd.Series(np.where(t.year == 2017, 100.0, 10.0) + (t.year - 2015), index=t)
    c = climatology_series(s)
    assert c.loc["2015"].isna().all()  # no earlier year
    assert c.loc["2016-06-01 12:00"] == 10.0 and c.loc["2017-06-01 12:00"] == 10.5  # never 2017's own 101


@pytest.mark.slow
def test_gaussian_cnn_ensemble_is_20_percent_below_persistence_on_real_data(shared_data):
    """The issue's goal: RMSE at least 20 % below persistence on held-out days. A 5-member Gaussian CNN
    ensemble on real CODE vTEC at 10E and 10/40/70N, last 43 days of 2017 held out (measured here:
    21-26 % below persistence, 68/95 % intervals covering ~78/97 %)."""
    from swx.ml.training import EnsembleForecaster

    d = _real_code_series(shared_data)
    h = load_history()
    per = []
    for col in ("VTEC_10N", "VTEC_40N", "VTEC_70N"):
        s = d[col]
        s, _ = fill_single_gaps(s[s.index.hour % 2 == 0])
        per.append(make_windows(feature_matrix(s, h.kp["kp"], lon=10.0, f107=h.daily["f107_obs"])))
    issue = per[0][2].intersection(per[1][2]).intersection(per[2][2])
    x = np.stack([xx[ii.get_indexer(issue)] for xx, _, ii in per])
    y = np.stack([yy[ii.get_indexer(issue)] for _, yy, ii in per])
    test_start = pd.Timestamp("2017-11-19", tz="UTC")
    te = np.flatnonzero(issue >= test_start)
    train = np.flatnonzero(issue < test_start - pd.Timedelta(hours=24))
    n_val = max(1, len(train) // 100)
    ens = EnsembleForecaster.train(5, ModelConfig(architecture="cnn", units=20, n_features=x.shape[-1], gaussian=True),
                                   TrainConfig(epochs=40, batch_size=64, patience=6),
                                   x[:, train[:-n_val]], y[:, train[:-n_val]], x[:, train[-n_val:]], y[:, train[-n_val:]])
    mean, sigma = ens.predict(x[:, te])
    lines, results = [], []
    for k, lat in enumerate((10, 40, 70)):
        r = scores(y[k, te], mean[k], persistence=persistence_from_windows(x[k, te], 12), sigma=sigma[k])
        results.append(r)
        lines.append(f"{lat}N: RMSE {r['rmse']:.2f} vs persistence {r['rmse_persistence']:.2f} TECU "
                     f"({r['skill_vs_persistence']:.1%} below), coverage {r['coverage68']:.0%}/{r['coverage95']:.0%}")
    msg = "; ".join(lines)
    print(msg)
    for r in results:
        assert r["skill_vs_persistence"] >= 0.20, msg
        assert 0.6 <= r["coverage68"] <= 0.9 and 0.9 <= r["coverage95"] <= 1.0, msg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: the CPU/GPU "
                    "equality check runs where one is present (e.g. the GPU worker)")
def test_cuda_and_cpu_give_the_same_forecasts():  # pragma: no cover - needs a GPU
    x, y = synthetic(3, 200)
    cfg, tc = ModelConfig(architecture="lstm", units=8, n_features=x.shape[-1]), TrainConfig(epochs=3, seed=1)
    cpu = StationForecaster(cfg, tc, station_seeds=[1, 2, 3], device="cpu").fit(x[:, :180], y[:, :180], x[:, 180:],
                                                                               y[:, 180:])
    gpu = StationForecaster(cfg, tc, station_seeds=[1, 2, 3], device="cuda").fit(x[:, :180], y[:, :180], x[:, 180:],
                                                                                y[:, 180:])
    np.testing.assert_allclose(cpu.predict(x[:, 180:])[0], gpu.predict(x[:, 180:])[0], atol=0.05)
