import math

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.simulate import ImpactModel, interpolate_log_prices


def test_move_is_linear_in_signed_flow_and_clipped():
    model = ImpactModel(max_move=0.05)
    depth = 1_000_000.0
    # a net sale of the depth moves the log price by -1 %
    assert model.move(-depth, depth) == pytest.approx(-0.01)
    assert model.move(2 * depth, depth) == pytest.approx(0.02)
    assert model.move(-100 * depth, depth) == -0.05
    assert model.move(0.0, depth) == 0.0


def test_disabled_and_zero_scale_move_nothing():
    assert ImpactModel(enabled=False).move(-1e9, 1e6) == 0.0
    assert ImpactModel(scale=0.0).move(-1e9, 1e6) == 0.0


def test_depth_from_open_interest_or_given():
    model = ImpactModel(depth_oi_fraction=0.03, depth_usd={"ETH": 5e6})
    assert model.depth("BTC", 1e9) == pytest.approx(3e7)
    assert model.depth("ETH", 1e9) == 5e6


def test_decay_half_life():
    model = ImpactModel(half_life_hours=4.0)
    assert model.decay(4.0) == pytest.approx(0.5)
    assert model.decay(2.0) == pytest.approx(math.sqrt(0.5))


def test_bad_parameters_name_the_field():
    with pytest.raises(InputError, match=r"impact\.half_life_hours"):
        ImpactModel(half_life_hours=0.0)
    with pytest.raises(InputError, match=r"impact\.depth_oi_fraction"):
        ImpactModel(depth_oi_fraction=-1.0)


def _interp(method: str, seed: int = 3):
    closes = np.array([[100.0, 10.0], [90.0, 8.0], [95.0, 9.0]])
    return interpolate_log_prices(
        closes,
        np.array([4, 4]),
        method=method,
        sigma_per_sqrt_hour=np.array([0.01, 0.012]),
        chol=np.linalg.cholesky(np.array([[1.0, 0.8], [0.8, 1.0]])),
        hours=np.array([4.0, 4.0]),
        rng=np.random.default_rng(seed),
    ), closes


def test_interpolation_keeps_closes_and_is_log_linear():
    (prices, is_close), closes = _interp("linear")
    assert prices.shape == (9, 2)
    np.testing.assert_array_equal(prices[is_close], closes)
    expected = np.exp(np.log(100.0) + 0.25 * (np.log(90.0) - np.log(100.0)))
    assert prices[1, 0] == pytest.approx(expected, rel=1e-12)


def test_bridge_is_pinned_and_seeded():
    (a, flags), closes = _interp("bridge", seed=3)
    (b, _), _ = _interp("bridge", seed=3)
    (c, _), _ = _interp("bridge", seed=4)
    np.testing.assert_array_equal(a[flags], closes)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
