"""Black-76 at and after expiry, for degenerate and invalid inputs, and over broadcast shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.pricing import SIGMA_SQRT_T_MIN, black76, black76_value
from pmargin.pricing._blocks import BLOCK_SIZE, iter_blocks

F = 100.0
STRIKES = np.array([80.0, 100.0, 120.0])


@pytest.mark.parametrize(("time", "vol"), [(0.0, 0.5), (0.5, 0.0), (1e-30, 0.5)])
def test_at_expiry_or_zero_vol_is_discounted_intrinsic(time, vol):
    rate = 0.05
    df = math.exp(-rate * time)
    calls = black76(F, STRIKES, time, vol, True, rate)
    puts = black76(F, STRIKES, time, vol, False, rate)
    np.testing.assert_array_equal(calls.value, df * np.array([20.0, 0.0, 0.0]))
    np.testing.assert_array_equal(puts.value, df * np.array([0.0, 0.0, 20.0]))
    np.testing.assert_array_equal(calls.delta, df * np.array([1.0, 0.5, 0.0]))
    np.testing.assert_array_equal(puts.delta, df * np.array([-0.0, -0.5, -1.0]))
    for result in (calls, puts):
        np.testing.assert_array_equal(result.gamma, 0.0)
        np.testing.assert_array_equal(result.vega, 0.0)
        np.testing.assert_array_equal(result.theta, rate * result.value)


def test_after_expiry_is_undiscounted_intrinsic():
    calls = black76(F, STRIKES, -0.1, 0.5, True, 0.05)
    puts = black76(F, STRIKES, -0.1, 0.5, False, 0.05)
    np.testing.assert_array_equal(calls.value, [20.0, 0.0, 0.0])
    np.testing.assert_array_equal(puts.value, [0.0, 0.0, 20.0])
    np.testing.assert_array_equal(calls.delta, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(puts.delta, [0.0, -0.5, -1.0])
    for result in (calls, puts):
        for greek in (result.gamma, result.vega, result.theta):
            np.testing.assert_array_equal(greek, 0.0)


def test_threshold_switches_between_formula_and_intrinsic_smoothly():
    # Just above the threshold the formula runs; an at-the-money value is then ~0.4 F sd.
    sd = 10.0 * SIGMA_SQRT_T_MIN
    value = float(black76(F, F, 1.0, sd, True).value)
    assert math.isclose(value, F * sd / math.sqrt(2.0 * math.pi), rel_tol=1e-3)
    assert float(black76(F, F, 1.0, SIGMA_SQRT_T_MIN, True).value) == 0.0


@pytest.mark.parametrize(
    "bad",
    [
        {"forward": np.nan},
        {"strike": np.nan},
        {"time": np.nan},
        {"vol": np.nan},
        {"rate": np.nan},
        {"forward": -1.0},
        {"forward": 0.0},
        {"strike": 0.0},
        {"strike": -5.0},
        {"vol": -0.2},
        {"forward": np.inf},
        {"vol": np.inf},
        {"time": np.inf},
    ],
)
def test_invalid_input_gives_nan_everywhere(bad):
    args = {"forward": F, "strike": 90.0, "time": 0.5, "vol": 0.4, "is_call": True, "rate": 0.01}
    args.update(bad)
    for time in (args["time"], 0.0, -1.0) if "time" not in bad else (args["time"],):
        result = black76(**{**args, "time": time})
        for name, field in zip(result._fields, result, strict=True):
            assert np.isnan(field), f"{name} for {bad} at time {time}: {field!r}"


def test_invalid_entries_do_not_spoil_their_neighbours():
    forward = np.array([100.0, np.nan, 100.0, -1.0])
    result = black76(forward, 90.0, 0.5, 0.4, True)
    expected = black76(100.0, 90.0, 0.5, 0.4, True)
    for field, single in zip(result, expected, strict=True):
        np.testing.assert_array_equal(field[[0, 2]], single)
        assert np.isnan(field[[1, 3]]).all()


def test_extreme_but_valid_inputs_give_finite_results():
    strikes = F * np.array([1e-8, 0.2, 1.0, 5.0, 1e8])
    for vol in (1e-6, 0.5, 50.0):
        for time in (1e-9, 1.0, 100.0):
            result = black76(F, strikes, time, vol, np.array([[True], [False]]), 0.1)
            for field in result:
                assert np.isfinite(field).all()


def test_broadcasts_instruments_against_scenarios():
    n_instruments, n_scenarios = 7, 5
    rng = np.random.default_rng(3)
    strikes = rng.uniform(50, 150, (n_instruments, 1))
    is_call = rng.random((n_instruments, 1)) < 0.5
    forwards = F * np.linspace(0.8, 1.2, n_scenarios)  # (n_scenarios,)
    result = black76(forwards, strikes, 0.25, 0.6, is_call, 0.03)
    assert all(field.shape == (n_instruments, n_scenarios) for field in result)
    for i in range(n_instruments):
        for j in range(n_scenarios):
            single = black76(forwards[j], strikes[i, 0], 0.25, 0.6, is_call[i, 0], 0.03)
            for field, one in zip(result, single, strict=True):
                assert field[i, j] == one
    assert black76_value(forwards, strikes, 0.25, 0.6, is_call, 0.03).shape == (7, 5)


def test_scalar_inputs_give_zero_dimensional_arrays():
    result = black76(100.0, 100.0, 1.0, 0.2, True)
    assert all(isinstance(f, np.ndarray) and f.shape == () for f in result)
    assert all(f.dtype == np.float64 for f in result)


@pytest.mark.parametrize("shape", [(3 * BLOCK_SIZE + 17,), (5, BLOCK_SIZE + 3), (2, 3, 4000)])
def test_block_walk_gives_same_result_as_elementwise(shape):
    rng = np.random.default_rng(11)
    forward = rng.uniform(50, 150, shape)
    strike = rng.uniform(50, 150, shape[-1:])  # broadcast along the leading axes
    result = black76(forward, strike, 0.3, 0.7, True, 0.02)
    flat = black76(
        forward.reshape(-1), np.broadcast_to(strike, shape).reshape(-1), 0.3, 0.7, True, 0.02
    )
    for field, reference in zip(result, flat, strict=True):
        np.testing.assert_array_equal(field.reshape(-1), reference)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (10, 0), (9000,), (3, 9000), (2, 2, 5000)])
def test_iter_blocks_covers_each_element_once(shape):
    seen = np.zeros(shape or (1,), dtype=int)
    target = seen if shape else seen.reshape(())
    for index in iter_blocks(shape, block_size=4096):
        block = target[index]
        assert block.size <= 4096
        target[index] += 1
    np.testing.assert_array_equal(seen, 1 if math.prod(shape) else seen)


def test_rejects_non_numeric_and_non_broadcastable_inputs():
    with pytest.raises(ValueError, match="forward"):
        black76("abc", 100.0, 1.0, 0.2, True)
    with pytest.raises(ValueError, match="is_call"):
        black76(100.0, 100.0, 1.0, 0.2, "call")
    with pytest.raises(ValueError, match="broadcast"):
        black76(np.ones(3), np.ones(4), 1.0, 0.2, True)
