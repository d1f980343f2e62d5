"""`swx train` and `swx evaluate` on a small simulated archive: models registered, scores against the
baselines stored in the database, JSON rows, and the plot."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from swx.archive import Archive, load_indices
from swx.cli import app
from swx.config import get_settings
from swx.pipeline.days import daterange
from swx.pipeline.ingest import ingest_gims
from swx.sources.simulated import simulated_source
from swx.store import queries as q
from swx.store.db import engine_from_settings

runner = CliRunner()


@pytest.fixture
def demo_archive(monkeypatch):
    monkeypatch.setenv("SWX_SIM_CADENCE_MIN", "120")
    get_settings.cache_clear()
    settings = get_settings()
    archive = Archive(settings.archive_dir)
    src = simulated_source(settings, load_indices(archive))
    ingest_gims(src, archive, [("sim", d) for d in daterange(dt.date(2015, 2, 1), dt.date(2015, 3, 20))])
    return settings


def test_train_and_evaluate_store_scores_against_baselines(demo_archive, tmp_path):
    r = runner.invoke(app, ["train", "--station", "E000N50", "--station", "E000N20", "--arch", "cnn",
                            "--epochs", "8", "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    assert "persistence" in r.output and "median27" in r.output and "cnn" in r.output
    engine = engine_from_settings(get_settings())
    reg = q.model_registry(engine)
    assert set(reg.station) == {"E000N50", "E000N20"} and set(reg.status) == {"active"}
    plot = tmp_path / "fc.png"
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-18", "--station", "E000N50",
                            "--station", "E000N20", "--format", "json", "--plot", str(plot)])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    models = {row["model"] for row in rows}
    assert models == {"cnn", "blend", "persistence", "median27"}  # the walk-forward blend beside its members
    blend = next(row for row in rows if row["model"] == "blend" and row["kp_class"] == "all" and row["station"] == "E000N50")
    assert blend["n"] > 0 and blend["coverage95"] is not None
    assert {row["kp_class"] for row in rows} >= {"all", "storm", "quiet"}  # 17 March 2015 is a storm day
    cnn = next(row for row in rows if row["model"] == "cnn" and row["kp_class"] == "all" and row["station"] == "E000N50")
    assert cnn["n"] > 0 and cnn["rmse"] > 0 and cnn["skill_persistence"] is not None
    assert cnn["window"].startswith("2015-03-12T") and cnn["window"].endswith("T22")
    assert cnn["corr"] is not None and -1 <= cnn["corr"] <= 1
    assert {"station", "model", "window", "n", "rmse", "mae", "bias", "corr", "skill_persistence", "skill_median27", "coverage68",
            "coverage95"} <= set(cnn)
    assert plot.stat().st_size > 10_000
    # without --format json: the pooled headline first (as the main job's summary pools), rows on demand
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-18", "--station", "E000N50",
                            "--station", "E000N20"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("skill of the active models and their blend, issued 2015-03-12 .. 2015-03-18")
    assert "all stations" in lines[1] and "mid lat" in lines[1] and "storm windows" in lines[1]
    import pandas as pd

    from swx.science.verify import pooled_skill

    frame = pd.DataFrame(rows).rename(columns={"station": "station_code", "window": "window_start"})
    want = pooled_skill(frame[frame.station_code.isin(["E000N50", "E000N20"]) & (frame.kp_class == "all")], [])
    want = want.set_index("model")
    [blend_line] = [ln for ln in lines if ln.startswith("blend ")]
    assert blend_line.split()[1:3] == [f"{want.loc['blend', 'rmse']:.2f}", f"({want.loc['blend', 'skill_persistence']:+.0%})"]
    assert "--detail" in r.stdout and len(lines) < 15
    groups = {row["station"] for row in rows} - {"E000N50", "E000N20"}
    assert groups == {"lat_band:mid", "lat_band:low", "surface:ocean", "surface:land"}
    pooled = next(row for row in rows if row["station"] == "lat_band:mid" and row["model"] == "cnn"
                  and row["kp_class"] == "all")
    assert pooled["n"] == cnn["n"]  # one mid-latitude station here: the group is that station
    sk = q.skill_table(engine)
    assert {"cnn", "persistence", "median27"} <= set(sk.model)
    assert set(sk[sk.scope == "station"].lat_band) == {"mid", "low"} and sk[sk.scope == "group"].lat_band.isna().all()
    # the daily run's issue time alone: one forecast a day, the same days
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-18", "--station", "E000N50",
                            "--issue-hour", "22", "--format", "json"])
    assert r.exit_code == 0, r.output
    daily = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    one = next(row for row in daily if row["model"] == "cnn" and row["kp_class"] == "all" and row["station"] == "E000N50")
    assert one["n"] == 7 * 12 and one["n"] < cnn["n"]  # 7 issue days x 12 leads, against every 2-hourly issue
    assert one["window"].startswith("2015-03-12T22") and one["window"].endswith("T22")
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-18", "--issue-hour", "21"])
    assert r.exit_code == 2 and "21: forecasts are issued at even UT hours" in r.output


def test_the_second_day_has_its_own_models_and_scores(demo_archive):
    """Lead day 2 (hours 26-48 after the issue time): its own models beside the first day's, scored
    against persistence and the 27-day median known at the issue time, kept apart from day 1's scores."""
    stations = ["--station", "E000N50", "--station", "E000N20"]
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-17", *stations, "--lead-day", "2"])
    assert r.exit_code != 0 and "swx train --lead-day 2" in str(r.exception)
    for day in ("1", "2"):
        r = runner.invoke(app, ["train", *stations, "--arch", "ridge", "--train-end", "2015-03-10", "--lead-day", day])
        assert r.exit_code == 0, r.output
    engine = engine_from_settings(get_settings())
    reg = q.model_registry(engine)
    assert sorted(set(reg.architecture)) == ["ridge", "ridge@d2"] and set(reg.status) == {"active"}
    first = reg[reg.architecture == "ridge"].train_end.max()
    second = reg[reg.architecture == "ridge@d2"].train_end.max()
    assert second == first  # both saw nothing after the training end: day 2's windows end a day earlier
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-17", *stations,
                            "--lead-day", "2", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    assert {row["lead_day"] for row in rows} == {2} and {"ridge", "blend", "persistence"} <= {row["model"] for row in rows}
    ridge = next(row for row in rows if row["model"] == "ridge" and row["kp_class"] == "all" and row["station"] == "E000N50")
    # issued 12 March 00 UT .. 17 March 22 UT, the last targets two days later
    assert ridge["window"] == "2015-03-12T00..2015-03-19T22" and ridge["n"] == 6 * 12 * 12
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-17", *stations, "--format", "json"])
    day1 = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    one = next(row for row in day1 if row["model"] == "ridge" and row["kp_class"] == "all" and row["station"] == "E000N50")
    assert one["lead_day"] == 1 and one["window"] == "2015-03-12T00..2015-03-18T22"
    assert one["rmse"] < ridge["rmse"]  # a day further ahead is harder
    stored = q.skill_table(engine)  # the pages' default: the first day's scores only
    assert set(stored.lead_day) == {1} and set(q.skill_table(engine, lead_day=None).lead_day) == {1, 2}
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-17", *stations, "--lead-day", "2",
                            "--issue-hour", "22"])
    assert r.exit_code == 0 and "hours 26-48 after each issue time" in r.stdout
    # a ninth round: said "verified 2015-03-12", a day before the first value issued at 22 UT is verified
    assert "verified 2015-03-14 .. 2015-03-19" in " ".join(r.stdout.split()), r.stdout


def test_a_model_far_worse_than_persistence_is_never_made_active(demo_archive, monkeypatch):
    """A ninth round: a ridge trained on 20 days forecast 650 TECU errors on its test days and was made
    active (retiring a good version), exit 0. Such a model is registered rejected, the command says
    why and exits 1; the active version keeps serving. `--gaussian`/`--ensemble` for the ridge alone
    are refused (they were ignored, yet recorded), an architecture named twice is trained once."""
    from swx.ml.training import StationForecaster

    stations = ["--station", "E000N50"]
    r = runner.invoke(app, ["train", *stations, "--arch", "ridge", "--arch", "ridge", "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    engine = engine_from_settings(get_settings())
    good = q.model_registry(engine)
    assert len(good) == 1 and good.status.iloc[0] == "active"
    # a tenth round: the ridge's record claimed the units, epochs and batch size it never used
    import json as _json

    from sqlalchemy import text as _text

    with engine.connect() as conn:
        hp = conn.execute(_text("SELECT hyperparameters FROM model_versions")).scalar_one()
    hp = _json.loads(hp) if isinstance(hp, str) else hp
    assert not {"units", "epochs", "batch_size"} & set(hp) and hp["gaussian"] is False and hp["ensemble"] == 1
    predict = StationForecaster.predict

    def broken(self, x):
        mean, sigma = predict(self, x)
        return mean + 600.0, sigma

    monkeypatch.setattr(StationForecaster, "predict", broken)
    r = runner.invoke(app, ["train", *stations, "--arch", "ridge", "--train-end", "2015-03-10"])
    assert r.exit_code == 1, r.output
    said = " ".join(r.output.split())
    assert "not made active: E000N50 ridge: its RMSE on" in said and "times persistence's" in said, said
    reg = q.model_registry(engine).sort_values("version")
    assert list(reg.status) == ["active", "rejected"] and reg.reason.iloc[1].startswith("not made active: its RMSE")
    r = runner.invoke(app, ["train", *stations, "--arch", "ridge", "--gaussian", "--ensemble", "3"])
    assert r.exit_code == 2 and "the ridge member has no Gaussian head" in " ".join(r.output.replace("│", " ").split())


def test_evaluate_without_models_is_a_clear_error(demo_archive):
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-13", "--station", "E000N50"])
    assert r.exit_code != 0 and "swx train" in str(r.exception)


def test_gridsearch_command_records_results(demo_archive):
    r = runner.invoke(app, ["gridsearch", "--arch", "cnn", "--units", "4", "--units", "8", "--batch-size", "32",
                            "--epochs", "3", "--station", "E000N50", "--workers", "2"])
    assert r.exit_code == 0, r.output
    files = list((get_settings().data_dir / "gridsearch").glob("cnn-*.json"))
    assert len(files) == 1 and len(json.loads(files[0].read_text())) == 2


def test_update_command_walks_forward_and_records_decisions(demo_archive):
    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "gru", "--epochs", "5",
                            "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["update", "--day", "2015-03-12", "--station", "E000N50", "--arch", "gru"])
    assert r.exit_code == 0, r.output
    assert "E000N50" in r.stdout and "2015-03-12" in r.stdout
    reg = q.model_registry(engine_from_settings(get_settings()))
    assert len(reg) == 2 and reg.iloc[1]["parent_id"] == reg.iloc[0]["id"]
    assert "walk-forward on 2015-03-12" in reg.iloc[1]["reason"]
    # an eighth round: run again (or after a killed run), every model was fine-tuned a second time on
    # the same day, its "walk-forward" score on windows its parent had learnt
    r = runner.invoke(app, ["update", "--day", "2015-03-12", "--station", "E000N50", "--arch", "gru"])
    assert r.exit_code == 0 and "already updated" in r.stdout, r.output
    assert len(q.model_registry(engine_from_settings(get_settings()))) == 2


def test_two_updates_at_once_run_one_after_the_other(demo_archive):
    """An eighth round: two `swx update --day D` at once both fine-tuned from the same parent and both
    were "accepted" against it, the second never compared with the first. The update holds a lock."""
    import os
    import subprocess
    import sys

    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "ridge", "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    env = {**os.environ, "SWX_DATA_DIR": str(get_settings().data_dir)}
    procs = [subprocess.Popen([sys.executable, "-m", "swx.cli", "update", "--day", "2015-03-12", "--station", "E000N50",
                               "--arch", "ridge"], env=env, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("already updated" in o for o in outs) == 1, outs  # the second waited, then found it done
    assert len(q.model_registry(engine_from_settings(get_settings()))) == 2


def test_a_failed_node_refit_fails_the_update_command(demo_archive, monkeypatch):
    """An eighth round: the node models' refit failed (a full disk) and `swx update` exited 0."""
    import errno

    from swx.pipeline import update as stage

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("SWX_MAP_MODEL", "nodes")
    get_settings.cache_clear()
    monkeypatch.setattr(stage, "update_node_model", full)
    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "ridge", "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["update", "--day", "2015-03-12"])
    assert r.exit_code == 1, r.output
    assert "node models of the global map: failed: " in r.output and "No space left on device" in r.output


def test_user_station_catalog_from_settings(tmp_path, monkeypatch):
    from swx.pipeline.context import context

    cat = tmp_path / "stations.csv"
    cat.write_text("code,name,lat,lon,sector,lat_band,surface\nTUC,Tucuman,-26.8,-65.2,-65,low,land\n")
    monkeypatch.setenv("SWX_STATION_CATALOG", str(cat))
    get_settings.cache_clear()
    ctx = context(get_settings())
    assert [s.code for s in ctx.stations] == ["TUC"]
    with pytest.raises(ValueError, match="unknown station"):
        context(get_settings(), ["E000N50"])


def test_ensemble_models_are_registered_and_give_intervals(demo_archive):
    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "cnn", "--epochs", "5", "--ensemble", "3",
                            "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-12", "--end", "2015-03-14", "--station", "E000N50",
                            "--format", "json"])
    rows = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    cnn = next(row for row in rows if row["model"] == "cnn" and row["kp_class"] == "all" and row["station"] == "E000N50")
    assert cnn["coverage68"] is not None and 0 < cnn["coverage95"] <= 1 and cnn["coverage95"] >= cnn["coverage68"]
    r = runner.invoke(app, ["update", "--day", "2015-03-15", "--station", "E000N50", "--arch", "cnn", "--margin", "1"])
    assert r.exit_code == 0, r.output  # an ensemble fine-tunes and scores like a single model


def test_train_and_evaluate_an_imported_station(tmp_path):
    """A receiver's series loaded with import-series is trained and scored like a catalog station."""
    import numpy as np
    import pandas as pd

    t = pd.date_range("2015-01-01", "2015-03-31 23:00", freq="h", tz="UTC")
    lt = (t.hour.to_numpy() - 4.3) % 24
    v = 15 + 10 * np.clip(np.cos((lt - 14) / 24 * 2 * np.pi), 0, None) + np.random.default_rng(0).normal(0, 1, len(t))
    p = tmp_path / "tuc.csv"
    pd.DataFrame({"time": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "vtec": v.round(2)}).to_csv(p, index=False)
    r = runner.invoke(app, ["import-series", str(p), "--station", "TUC", "--lat", "-26.8", "--lon", "-65.2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["train", "--station", "TUC", "--arch", "cnn", "--epochs", "5", "--train-end", "2015-03-15"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-20", "--end", "2015-03-25", "--station", "TUC",
                            "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout[r.stdout.index("["): r.stdout.rindex("]") + 1])
    assert {row["station"] for row in rows} >= {"TUC"} and {"cnn", "persistence"} <= {row["model"] for row in rows}


def test_evaluate_never_scores_a_model_on_its_training_days(demo_archive):
    """A model trained through 10 March scores 11 March on (out of sample); asked to score 5-8 March, its
    own training days, evaluate refuses and says why instead of reporting in-sample skill."""
    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "cnn", "--epochs", "3",
                            "--train-end", "2015-03-10"])
    assert r.exit_code == 0, r.output
    for start in ("2015-03-05", "2015-03-10"):  # windows issued on the 10th have targets the model trained on
        r = runner.invoke(app, ["evaluate", "--start", start, "--end", "2015-03-12", "--station", "E000N50"])
        assert r.exit_code != 0 and f"trained before {start}" in str(r.exception) and "in-sample" in str(r.exception)
    r = runner.invoke(app, ["evaluate", "--start", "2015-03-11", "--end", "2015-03-12", "--station", "E000N50",
                            "--format", "json"])
    assert r.exit_code == 0, r.output


def test_a_model_is_never_trained_on_a_few_days(demo_archive):
    """A fresh round: a ridge trained on 3 days (600 TECU errors) was made active with exit 0."""
    r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "ridge", "--train-end", "2015-02-03"])
    assert r.exit_code != 0 and "a model needs at least 14 days to learn from" in str(r.exception)
    assert q.model_registry(engine_from_settings(get_settings())).empty


def test_a_station_given_twice_is_one_station(demo_archive):
    from swx.pipeline.context import context

    assert [s.code for s in context(get_settings(), ["E000N50", "E000N50"]).stations] == ["E000N50"]


def test_the_update_fine_tunes_the_second_days_models_on_the_windows_their_truth_has_reached(demo_archive):
    """The daily update of tomorrow's models (`ridge@d2`): scored walk-forward on the windows of the day
    before the update's day, whose targets 26-48 h ahead end with the same newest maps as the first
    day's on the update's day; point in time like them (usable from the same issue time on); a rerun
    leaves both alone."""
    for lead in ("1", "2"):
        r = runner.invoke(app, ["train", "--station", "E000N50", "--arch", "ridge", "--train-end", "2015-03-10",
                                "--lead-day", lead])
        assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["update", "--day", "2015-03-12", "--station", "E000N50", "--arch", "ridge"])
    assert r.exit_code == 0, r.output
    reg = q.model_registry(engine_from_settings(get_settings()))
    new = reg[reg.version == 2].set_index("architecture")
    assert set(new.index) == {"ridge", "ridge@d2"}
    assert "walk-forward on 2015-03-12" in new.loc["ridge", "reason"]
    assert "walk-forward on 2015-03-11" in new.loc["ridge@d2", "reason"]
    # both saw targets up to 13 March 22:00 (windows of the 12th + 24 h, of the 11th + 48 h): they serve
    # the runs issued from then on, never an earlier one
    end = pd.Timestamp("2015-03-14", tz="UTC")
    assert (pd.to_datetime(new.train_end, utc=True) == end).all()
    parents = reg[reg.version == 1].set_index("architecture")
    assert new.loc["ridge@d2", "parent_id"] == parents.loc["ridge@d2", "id"]
    r = runner.invoke(app, ["update", "--day", "2015-03-12", "--station", "E000N50", "--arch", "ridge"])
    assert r.exit_code == 0 and "already updated" in r.stdout, r.output
    assert len(q.model_registry(engine_from_settings(get_settings()))) == 4
