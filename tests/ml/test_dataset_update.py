"""Registry and daily incremental learning: versions saved atomically and linked to their parent,
walk-forward scoring strictly out of sample, and the guardrail that keeps the previous version."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from swx.ml.dataset import build_dataset
from swx.ml.nets import ModelConfig
from swx.ml.registry import ModelRegistry, RegistryError
from swx.ml.training import StationForecaster, TrainConfig
from swx.ml.update import daily_update, walk_forward_split
from swx.science.stations import Station
from swx.sources.indices.history import load_history
from swx.store import queries as q
from swx.store.db import make_engine, upgrade
from swx.store.writes import upsert_stations

STATIONS = [Station("A40", "a", 40.0, 10.0, "0", "mid", "land"), Station("B10", "b", 10.0, 10.0, "0", "low", "ocean")]


@pytest.fixture
def setup(tmp_path):
    t = pd.date_range("2015-01-01", "2015-02-28 22:00", freq="2h", tz="UTC")
    rng = np.random.default_rng(0)
    lt = (t.hour.to_numpy() + 10 / 15) % 24
    day = 20 + 12 * np.clip(np.cos((lt - 14) / 24 * 2 * np.pi), 0, None)
    wide = pd.DataFrame({"A40": day + rng.normal(0, 1, len(t)), "B10": 1.5 * day + rng.normal(0, 1, len(t))}, index=t)
    wide.iloc[100:104] = np.nan  # a gap of 4 steps: dropped windows, never filled
    ds = build_dataset(wide, STATIONS, load_history().kp["kp"])
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    upsert_stations(engine, [dict(code=s.code, name=s.name, lat=s.lat, lon=s.lon, sector=s.sector,
                                  lat_band=s.lat_band, surface=s.surface) for s in STATIONS])
    registry = ModelRegistry(tmp_path / "models", engine)
    train, _ = walk_forward_split(ds.issue, dt.date(2015, 2, 20))
    cut = int(len(train) * 0.95)
    x_tr, y_tr = ds.take(train[:cut])
    x_va, y_va = ds.take(train[cut:])
    est = StationForecaster(ModelConfig(architecture="cnn", units=10, n_features=ds.x.shape[-1]),
                            TrainConfig(epochs=15, batch_size=32, patience=5), station_seeds=[1, 2])
    est.fit(x_tr, y_tr, x_va, y_va)
    versions = [registry.register(s.code, one, hyperparameters={"units": 10}, train_start=None,
                                  train_end=dt.datetime(2015, 2, 20, tzinfo=dt.UTC),  # targets before the 20th
                                  val_rmse=None, status="active") for s, one in zip(STATIONS, est.split())]
    return ds, registry, engine, versions


def test_dataset_aligns_stations_and_drops_gap_windows(setup):
    ds, *_ = setup
    assert ds.x.shape[0] == 2 and ds.x.shape[1] == ds.y.shape[1] == len(ds.issue)
    gap = pd.Timestamp("2015-01-09 08:00", tz="UTC")  # steps 100..103
    assert not ((ds.issue - pd.Timedelta(hours=22) <= gap) & (gap <= ds.issue + pd.Timedelta(hours=24))).any()


def test_walk_forward_scoring_is_out_of_sample(setup):
    ds, *_ = setup
    day = dt.date(2015, 2, 21)
    train, score = walk_forward_split(ds.issue, day)
    assert len(np.intersect1d(train, score)) == 0
    last_trained_target = (ds.issue[train] + pd.Timedelta(hours=24)).max()
    first_scored_target = (ds.issue[score] + pd.Timedelta(hours=2)).min()
    assert last_trained_target < pd.Timestamp(day, tz="UTC") <= first_scored_target
    # an in-sample "score" (on windows already trained on) would break this property:
    leaky = train[-len(score):]
    assert (ds.issue[leaky] + pd.Timedelta(hours=2)).min() < pd.Timestamp(day, tz="UTC")


def test_registry_versions_parents_and_checksums(setup):
    ds, registry, engine, versions = setup
    v1 = registry.active("A40", "cnn")
    assert v1.version == 1 and v1.path.is_file() and len(v1.sha256) == 64
    est = registry.load(v1)
    mean, _ = est.predict(ds.x[:1, :5])
    assert mean.shape == (1, 5, 12)
    v1.path.write_bytes(v1.path.read_bytes()[:-3])
    with pytest.raises(RegistryError, match="checksum mismatch"):
        registry.load(v1)
    with pytest.raises(RegistryError):
        registry.get("A40", "cnn", 99)
    v1.path.unlink()
    with pytest.raises(RegistryError, match=r"checkpoint .* of A40 cnn v1 is missing"):
        registry.load(v1)
    v1.path.mkdir()  # a fifth round: a folder in the checkpoint's place was called "missing"
    with pytest.raises(RegistryError, match=r"checkpoint .* of A40 cnn v1 is a folder: expected the model file"):
        registry.load(v1)
    v1.path.rmdir()
    v1.path.symlink_to(v1.path)  # a seventh round: a loop of links was called "missing"
    with pytest.raises(RegistryError, match=r"of A40 cnn v1 is a link to \S+, which leads to no file \(a broken link or a loop\)"):
        registry.load(v1)
    v1.path.unlink()
    import shutil

    models = v1.path.parent.parent.parent  # a ninth round: the models folder a loop, called "missing"
    shutil.move(models, models.with_name("models.real"))
    models.symlink_to(models)
    with pytest.raises(RegistryError, match=r"lies under \S*models, which is a link to \S*models, which leads to no file"):
        registry.load(v1)
    models.unlink()
    shutil.move(models.with_name("models.real"), models)
    station_folder = v1.path.parent.parent
    shutil.rmtree(station_folder)
    station_folder.write_text("not a folder")  # a sixth round: this was called "missing", nothing more
    with pytest.raises(RegistryError, match=r"is missing: \S*models/A40 is a file, where a folder of the models"):
        registry.load(v1)


def test_daily_update_accepts_a_good_update_and_links_it(setup):
    ds, registry, engine, _ = setup
    d = daily_update(registry, ds, 0, "cnn", dt.date(2015, 2, 21), margin=0.5)
    assert d.accepted and d.version.version == 2
    active = registry.active("A40", "cnn")
    assert active.version == 2 and active.parent_id == registry.get("A40", "cnn", 1).id
    assert registry.get("A40", "cnn", 1).status == "retired"
    assert "walk-forward on 2015-02-21" in active.reason
    # point in time: the update was accepted on the windows issued on the 21st (targets to the 22nd,
    # 22:00): a forecast issued before that sees version 1, one issued after it version 2
    assert active.train_end == dt.datetime(2015, 2, 23, tzinfo=dt.UTC)
    assert registry.usable_at("A40", "cnn", dt.datetime(2015, 2, 22, 20, tzinfo=dt.UTC)).version == 1
    assert registry.usable_at("A40", "cnn", dt.datetime(2015, 2, 22, 22, tzinfo=dt.UTC)).version == 2


def test_guardrail_keeps_the_previous_version_when_the_update_is_worse(setup):
    ds, registry, engine, _ = setup
    d = daily_update(registry, ds, 1, "cnn", dt.date(2015, 2, 21), margin=0.0, learning_rate=0.5, epochs=10)
    assert not d.accepted and d.rmse_candidate > d.rmse_active
    assert registry.active("B10", "cnn").version == 1
    cand = registry.get("B10", "cnn", 2)
    assert cand.status == "rejected" and cand.reason.startswith("guardrail:") and "kept version 1" in cand.reason
    assert registry.usable_at("B10", "cnn", dt.datetime(2015, 3, 1, tzinfo=dt.UTC)).version == 1  # never a rejected one
    reg = q.model_registry(engine)
    assert set(reg[reg.station == "B10"].status) == {"active", "rejected"}


def test_walk_forward_scoring_of_the_second_day_is_out_of_sample(setup):
    """Lead day 2 (targets 26-48 h after the issue): a window trained on ends before the scored day."""
    ds, *_ = setup
    day = dt.date(2015, 2, 21)
    train, score = walk_forward_split(ds.issue, day, lead_day=2)
    assert (ds.issue[train] + pd.Timedelta(hours=48)).max() < pd.Timestamp(day, tz="UTC")
    assert (ds.issue[score] + pd.Timedelta(hours=26)).min() > pd.Timestamp(day, tz="UTC")
    assert len(train) == len(walk_forward_split(ds.issue, day)[0]) - 12  # a day fewer windows than lead day 1
