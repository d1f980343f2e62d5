"""CODE's real 1-day predicted GIM for 27 October 2014 scored against the IGS final map of that day with
the scores swx gives its own map (`map_scores`): the published figure, 5.6 TECU cos-latitude weighted
(solar maximum), is reproduced — the rival swx's forecast must beat (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest

from swx.io.ionex import read_ionex
from swx.science.verify import map_scores


def test_code_prediction_scored_against_the_igs_final_as_swx_scores_its_own_map(shared_data):
    folder = shared_data / "ionex-predicted"
    predicted, final = read_ionex(folder / "c1pg3000.14i"), read_ionex(folder / "igsg3000.14i")
    assert predicted.sizes == final.sizes == {"time": 13, "lat": 71, "lon": 73}
    np.testing.assert_array_equal(predicted.time.values, final.time.values)
    rows = {r["region"]: r for r in map_scores(predicted.tec.values, final.tec.values, final.lat.values,
                                               final.lon.values)}
    assert rows["global"]["rmse_area"] == pytest.approx(5.62, abs=0.01)
    assert rows["global"]["rmse"] == pytest.approx(5.22, abs=0.01)  # per grid node (the poles count fully)
    assert rows["global"]["n"] == 13 * 71 * 73
    # by latitude band and surface, as swx's maps are verified: the low latitudes carry the error
    assert rows["lat_band:low"]["rmse"] > rows["lat_band:mid"]["rmse"] > rows["lat_band:high"]["rmse"]
    assert {"surface:land", "surface:ocean"} <= set(rows)
