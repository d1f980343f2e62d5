"""The published map's blend and its calibration: the weights follow the verified errors per latitude
band and lead (the prior member alone with nothing verified), shrink with few days, and the calibrated
sigma makes the bands hold what they claim on maps like the verified ones."""

from __future__ import annotations

import numpy as np

from swx.science.map_blend import (
    MEMBERS,
    PRIOR_MEMBER,
    MapBlendConfig,
    VerifiedMaps,
    blend_members,
    calibrated_sigma,
    calibration_factors,
    fit_map_weights,
)
from swx.science.verify import Z68, Z95

LAT = np.arange(87.5, -88.0, -2.5)
LON = np.arange(-180.0, 181.0, 5.0)
E = 13
UT = np.arange(E) * 2.0


def _day(rng, noise: tuple[float, ...], *, published_scale: float = 1.0) -> VerifiedMaps:
    truth = 10 + rng.standard_normal((E, len(LAT), len(LON)))
    members = np.stack([truth + s * rng.standard_normal(truth.shape) for s in noise])
    published = truth + published_scale * rng.standard_normal(truth.shape)
    return VerifiedMaps(members, published, np.ones_like(truth), truth, UT)


def test_without_verified_maps_the_prior_member_is_published():
    w, n = fit_map_weights([], LAT, LON, E)
    assert n == 0 and w.shape == (3, len(MEMBERS), E)
    np.testing.assert_allclose(w[:, MEMBERS.index(PRIOR_MEMBER)], 1.0)
    members = np.stack([np.full((E, len(LAT), len(LON)), float(k)) for k in range(len(MEMBERS))])
    np.testing.assert_allclose(blend_members(members, w, LAT), MEMBERS.index(PRIOR_MEMBER))


def test_weights_go_to_the_better_member_and_shrink_with_few_days():
    rng = np.random.default_rng(1)
    noise = (0.5, 2.0, 2.0, 3.0)  # the node member is far better than the others
    one, n1 = fit_map_weights([_day(rng, noise)], LAT, LON, E)
    many, n20 = fit_map_weights([_day(rng, noise) for _ in range(20)], LAT, LON, E)
    assert (n1, n20) == (1, 20)
    nodes = MEMBERS.index("nodes")
    assert (many[:, nodes] > 0.7).all() and (many[:, nodes] > one[:, nodes]).all()
    np.testing.assert_allclose(many.sum(axis=1), 1.0) and np.testing.assert_array_less(-1e-12, many)
    # one day: n / (n + n0) of the fitted weights, the rest on the prior member
    keep = 1 / (1 + MapBlendConfig().shrink_days)
    assert (one[:, MEMBERS.index(PRIOR_MEMBER)] >= 1 - keep - 1e-9).all()


def test_weights_are_per_latitude_band():
    rng = np.random.default_rng(2)
    days = []
    for _ in range(10):
        d = _day(rng, (1.0, 1.0, 1.0, 1.0))
        low = np.abs(LAT) < 30
        members = d.members.copy()
        members[0][:, low] += 3 * rng.standard_normal(members[0][:, low].shape)  # nodes poor at low latitudes
        days.append(VerifiedMaps(members, d.published, d.sigma_model, d.truth, d.ut_hours))
    w, _ = fit_map_weights(days, LAT, LON, E)
    nodes = MEMBERS.index("nodes")
    assert (w[0, nodes] < 0.1).all() and (w[1, nodes] > 0.15).all() and (w[2, nodes] > 0.15).all()


def test_calibration_makes_the_bands_hold_what_they_claim():
    rng = np.random.default_rng(3)
    # the model sigma says 1, the published errors are of size 2 (and heavier-tailed: a Student t)
    past = []
    for _ in range(10):
        truth = 10 + rng.standard_normal((E, len(LAT), len(LON)))
        err = 2 * rng.standard_t(5, truth.shape) / np.sqrt(5 / 3)
        past.append(VerifiedMaps(np.stack([truth] * 4), truth + err, np.ones_like(truth), truth, UT))
    factors, n = calibration_factors(past, LAT, LON)
    assert n == 10 and (factors > 1.6).all() and (factors < 2.4).all()
    sigma = calibrated_sigma(np.ones((E, len(LAT), len(LON))), factors, LAT, LON, UT)
    truth = 10 + rng.standard_normal((E, len(LAT), len(LON)))
    err = 2 * rng.standard_t(5, truth.shape) / np.sqrt(5 / 3)
    cover68, cover95 = np.mean(np.abs(err) <= Z68 * sigma), np.mean(np.abs(err) <= Z95 * sigma)
    assert 0.63 <= cover68 <= 0.75 and 0.90 <= cover95 <= 0.97
    none, n0 = calibration_factors([], LAT, LON)
    assert n0 == 0 and (none == 1).all()


def test_a_lead_whose_truth_is_not_known_yet_keeps_the_prior_weights():
    rng = np.random.default_rng(4)
    day = _day(rng, (0.5, 2.0, 2.0, 3.0))
    truth = day.truth.copy()
    truth[-1] = np.nan  # the issue day's last map is the target day's first epoch: not known at issue time
    w, n = fit_map_weights([VerifiedMaps(day.members, day.published, day.sigma_model, truth, UT)], LAT, LON, E)
    assert n == 1
    prior = MEMBERS.index(PRIOR_MEMBER)
    np.testing.assert_allclose(w[:, prior, -1], 1.0)  # nothing fitted at that lead
    assert (w[:, MEMBERS.index("nodes"), :-1] > 0.1).all()  # the other leads learnt from the day
    # a member missing somewhere is not a perfect forecast there: those nodes are left out of the fit
    members = day.members.copy()
    members[2][:, :10] = np.nan
    w2, _ = fit_map_weights([VerifiedMaps(members, day.published, day.sigma_model, day.truth, UT)], LAT, LON, E)
    assert np.isfinite(w2).all() and w2[:, 2].max() < 0.1
