"""The grid search runs its combinations in parallel with Dask and ranks them by validation RMSE."""

from __future__ import annotations

import json

from swx.ml.gridsearch import METHOD_GRID, grid_search, save_results
from tests.ml.test_training import synthetic


def test_grid_search_in_parallel_processes(tmp_path):
    x, y = synthetic(2, 160)
    df = grid_search(x[:, :130], y[:, :130], x[:, 130:], y[:, 130:], "cnn",
                     {"units": [2, 16], "batch_size": [32], "epochs": [6]}, scheduler="processes", num_workers=2)
    assert len(df) == 2 and list(df.val_rmse) == sorted(df.val_rmse)
    assert set(df.units) == {2, 16} and all(len(v) == 2 for v in df.val_rmse_per_station)
    assert df.val_rmse.iloc[0] < 5.0  # the synthetic series' noise is 1 TECU
    p = save_results(df, tmp_path / "grid.json")
    assert json.loads(p.read_text())[0]["architecture"] == "cnn"


def test_method_grid_matches_the_paper():
    assert METHOD_GRID["units"] == [5, 10, 15, 20, 50, 100] and METHOD_GRID["batch_size"] == [16, 32, 64, 128]
