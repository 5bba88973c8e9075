"""Delta-one P&L and deltas against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.pricing import (
    inverse_future_delta,
    inverse_future_pnl,
    linear_future_delta,
    linear_future_pnl,
)


def test_linear_pnl_and_delta():
    np.testing.assert_array_equal(linear_future_pnl([110.0, 90.0], 100.0), [10.0, -10.0])
    np.testing.assert_array_equal(linear_future_delta([110.0, 90.0]), [1.0, 1.0])


def test_inverse_pnl_hand_values():
    # Long 1 BTC of notional at 50,000 = 50,000 USD of contracts. At 40,000 the contracts lose
    # 50,000 * (1/50,000 - 1/40,000) = 1 - 1.25 = -0.25 BTC; at 100,000 they gain 0.5 BTC.
    np.testing.assert_allclose(
        inverse_future_pnl([40_000.0, 100_000.0, 50_000.0], 50_000.0),
        [-0.25, 0.5, 0.0],
        rtol=1e-15,
    )


def test_inverse_pnl_matches_relative_move_convention():
    moves = np.array([-0.5, -0.16, 0.0, 0.25, 3.0])
    entry = 2_000.0
    np.testing.assert_allclose(
        inverse_future_pnl(entry * (1.0 + moves), entry), 1.0 - 1.0 / (1.0 + moves), rtol=1e-14
    )


def test_inverse_pnl_matches_usd_notional_formula():
    notional_usd, entry, price = 30_000.0, 60_000.0, 45_000.0
    coins = notional_usd * (1.0 / entry - 1.0 / price)
    base_notional = notional_usd / entry
    assert inverse_future_pnl(price, entry) * base_notional == pytest.approx(coins, rel=1e-14)


def test_inverse_delta_hand_value_and_derivative():
    # d/dp (1 - E/p) = E / p^2: at E = 50,000 and p = 40,000 that is 3.125e-5 BTC per USD.
    assert inverse_future_delta(40_000.0, 50_000.0) == pytest.approx(3.125e-5, rel=1e-15)
    price, h = 40_000.0, 1e-2
    slope = (inverse_future_pnl(price + h, 50_000.0) - inverse_future_pnl(price - h, 50_000.0)) / (
        2 * h
    )
    assert inverse_future_delta(price, 50_000.0) == pytest.approx(float(slope), rel=1e-7)


def test_inverse_non_positive_prices_give_nan():
    assert np.isnan(inverse_future_pnl([0.0, -1.0], 100.0)).all()
    assert np.isnan(inverse_future_pnl(100.0, 0.0))
    assert np.isnan(inverse_future_delta([0.0, -1.0], 100.0)).all()


def test_broadcasts_positions_against_scenarios():
    entries = np.array([[100.0], [200.0]])
    prices = np.array([100.0, 150.0, 200.0])
    assert linear_future_pnl(prices, entries).shape == (2, 3)
    np.testing.assert_allclose(inverse_future_pnl(prices, entries)[1], [-1.0, -1.0 / 3.0, 0.0])
