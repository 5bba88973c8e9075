"""Delta-one P&L and deltas against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.pricing import (
    base_units_at_price,
    delta_one_pnl,
    delta_one_pnl_scalar,
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


EPS = float(np.finfo(np.float64).eps)


@given(price=st.floats(1.0, 1e6), move=st.floats(-0.9, 9.0))
def test_inverse_relative_move_closed_form(price: float, move: float) -> None:
    # DESIGN.md: an inverse future's P&L for a relative move m is q (1 - 1/(1+m)) coin, q in
    # base units at the price it moves from (per unit here: q = 1). Both sides round 1/(1+m)
    # (or F/(F(1+m))) within a few ulps of 1/(1+m) before the subtraction from 1: the absolute
    # error is a few eps of 1 + 1/(1+m).
    moved = price * (1.0 + move)
    got = float(delta_one_pnl(moved, price, True))
    want = 1.0 - 1.0 / (1.0 + move)
    assert abs(got - want) <= 4.0 * EPS * (1.0 + 1.0 / (1.0 + move))


@given(price=st.floats(1.0, 1e6), move=st.floats(-0.9, 9.0))
def test_linear_relative_move_closed_form(price: float, move: float) -> None:
    # linear: q F m in the quote currency (per unit: q = 1); F (1 + m) - F against F m differs
    # by the rounding of 1 + m and of F (1 + m), each within eps of F (1 + |m|).
    moved = price * (1.0 + move)
    got = float(delta_one_pnl(moved, price, False))
    want = price * move
    assert abs(got - want) <= 4.0 * EPS * price * (1.0 + abs(move))


def test_mask_picks_the_formula_per_element() -> None:
    price = np.array([40_000.0, 40_000.0, 60_000.0])
    entry = np.array([50_000.0, 50_000.0, 50_000.0])
    got = delta_one_pnl(price, entry, np.array([True, False, True]))
    # inverse: 1 - 50/40 = -0.25 coin; linear: -10,000 USD; inverse: 1 - 50/60 = 1/6 coin
    np.testing.assert_allclose(got, [-0.25, -10_000.0, 1.0 / 6.0], rtol=1e-15)
    assert delta_one_pnl([[1.0], [2.0]], [1.0, 2.0, 4.0], False).shape == (2, 3)


def test_base_counted_at_the_current_price() -> None:
    # A position of q base units at the mark F opened at avg A: its USD notional is q F, and
    # q F (1/A - 1/F) = q (F / A - 1) coin.
    q, mark, avg = 2.0, 45_000.0, 60_000.0
    usd_notional = q * mark
    coins = usd_notional * (1.0 / avg - 1.0 / mark)
    got = q * float(delta_one_pnl(mark, avg, True, base_price=mark))
    assert got == pytest.approx(coins, rel=1e-14)
    assert got == pytest.approx(q * (mark / avg - 1.0), rel=1e-15)
    # the linear formula does not depend on where base units are counted
    assert delta_one_pnl(mark, avg, False, base_price=mark) == mark - avg


def test_reproduces_the_consumers_former_expressions_exactly() -> None:
    # The forms the book, pre-trade, ledger, monitor and distance code wrote inline before
    # they called delta_one_pnl; the same bits, so every consumer keeps its numbers.
    rng = np.random.default_rng(7)
    f0 = rng.uniform(10.0, 1e5, 1000)
    f = f0 * rng.uniform(0.2, 3.0, 1000)
    ones = np.ones(1000, dtype=bool)
    np.testing.assert_array_equal(delta_one_pnl(f, f0, ones), 1.0 - f0 / f)
    np.testing.assert_array_equal(delta_one_pnl(f, f0, ones, base_price=f), f / f0 - 1.0)
    np.testing.assert_array_equal(delta_one_pnl(f, f0, ~ones), f - f0)
    np.testing.assert_array_equal(inverse_future_pnl(f, f0), 1.0 - f0 / f)


def test_non_positive_inverse_prices_give_nan_linear_does_not() -> None:
    got = delta_one_pnl([0.0, 0.0], [100.0, 100.0], [True, False])
    assert np.isnan(got[0])
    assert got[1] == -100.0


def test_base_units_at_price_keeps_the_inverse_usd_notional() -> None:
    # inverse: 1 coin at 50,000 is 50,000 USD of contracts, 1.25 coin at 40,000; linear: 1.
    got = base_units_at_price([40_000.0, 40_000.0], 50_000.0, [True, False])
    np.testing.assert_array_equal(got, [1.25, 1.0])
    rng = np.random.default_rng(11)
    f0 = rng.uniform(10.0, 1e5, 500)
    f = f0 * rng.uniform(0.2, 3.0, 500)
    units = base_units_at_price(f, f0, np.ones(500, dtype=bool))
    np.testing.assert_allclose(units * f, f0, rtol=2.3e-16)  # two roundings of f0 / f * f
    np.testing.assert_array_equal(units, f0 / f)  # the monitor's former expression
    assert np.isnan(base_units_at_price(0.0, 1.0, True))


def test_scalar_form_gives_the_array_bits() -> None:
    rng = np.random.default_rng(3)
    price = np.concatenate([rng.uniform(1.0, 1e5, 300), [0.0, -5.0, 100.0]])
    entry = np.concatenate([price[:300] * rng.uniform(0.3, 3.0, 300), [100.0, 100.0, 0.0]])
    for inverse in (False, True):
        for at_price in (False, True):
            base = price if at_price else None
            want = delta_one_pnl(price, entry, inverse, base_price=base)
            got = [
                delta_one_pnl_scalar(p, e, inverse, base_price=p if at_price else None)
                for p, e in zip(price.tolist(), entry.tolist(), strict=True)
            ]
            np.testing.assert_array_equal(got, want)  # NaN where the array form gives NaN
