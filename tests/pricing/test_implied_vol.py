"""Implied volatility: round trips, status codes and the iteration cap.

"Vega not negligible" means ``vega >= 1e-5 * max(F, K)``: a price is known to a few ulps of
``max(F, K)`` (an in-the-money price carries its intrinsic value), so a price error of
``4 eps max(F, K)`` moves the vol by at most ``4 eps / 1e-5 ~ 1e-10``. Below that the vol is
not determined by a float64 price, by any solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.pricing import (
    IVStatus,
    black76,
    black76_value,
    describe_iv_status,
    implied_vol,
)

OK, AT, BELOW, ABOVE, NOT_CONVERGED, INVALID = (
    IVStatus.OK,
    IVStatus.AT_INTRINSIC,
    IVStatus.BELOW_INTRINSIC,
    IVStatus.ABOVE_MAXIMUM,
    IVStatus.NOT_CONVERGED,
    IVStatus.INVALID,
)


def test_round_trip_where_vega_is_not_negligible(make_options):
    f, k, t, v, c, r = make_options(100_000, seed=7)
    result = black76(f, k, t, v, c, r)
    solved = implied_vol(result.value, f, k, t, c, r)
    informative = result.vega >= 1e-5 * np.maximum(f, k)
    assert informative.sum() > 20_000  # the set is not trivially small
    assert np.all(solved.status[informative] == OK)
    error = np.abs(solved.vol - v)[informative]
    assert error.max() <= 1e-10


def test_every_positive_model_price_is_solved_or_at_its_floor(make_options):
    f, k, t, v, c, r = make_options(50_000, seed=8)
    price = black76_value(f, k, t, v, c, r)
    solved = implied_vol(price, f, k, t, c, r)
    assert np.isin(solved.status, [OK, AT]).all()
    assert np.isfinite(solved.vol).all()
    # Where solved, the vol reprices the option to within the price's rounding.
    ok = solved.status == OK
    reprice = black76_value(f[ok], k[ok], t[ok], solved.vol[ok], c[ok], r[ok])
    scale = np.maximum(f, k)[ok] * np.exp(-r[ok] * t[ok])
    assert np.all(np.abs(reprice - price[ok]) <= 1e-13 * scale + 1e-10 * price[ok])


@pytest.mark.parametrize("is_call", [True, False])
def test_statuses_at_and_outside_no_arbitrage_bounds(is_call):
    f, t, r = 100.0, 0.5, 0.04
    df = math.exp(-r * t)
    k_itm = 80.0 if is_call else 120.0
    k_otm = 120.0 if is_call else 80.0
    ceiling = df * (f if is_call else k_itm)
    cases = [
        (df * 20.0, k_itm, AT),  # exactly intrinsic
        (df * 20.0 - 1e-6, k_itm, BELOW),
        (0.0, k_otm, AT),  # worthless out-of-the-money option
        (ceiling, k_itm, ABOVE),
        (ceiling * 1.5, k_itm, ABOVE),
        (df * 25.0, k_itm, OK),
    ]
    price, strike, expected = (np.array(col) for col in zip(*cases, strict=True))
    solved = implied_vol(price, f, strike, t, is_call, r)
    np.testing.assert_array_equal(solved.status, expected.astype(np.int8))
    np.testing.assert_array_equal(solved.vol[expected == AT], 0.0)
    assert np.isnan(solved.vol[(expected == BELOW) | (expected == ABOVE)]).all()
    assert solved.vol[-1] > 0.0


@pytest.mark.parametrize(
    "bad",
    [
        {"price": np.nan},
        {"price": -1.0},
        {"forward": np.nan},
        {"forward": 0.0},
        {"strike": -100.0},
        {"time": 0.0},
        {"time": -0.5},
        {"time": np.nan},
        {"rate": np.nan},
        {"price": np.inf},
    ],
)
def test_invalid_inputs(bad):
    args = {"price": 5.0, "forward": 100.0, "strike": 100.0, "time": 0.5, "is_call": True}
    args.update(bad)
    solved = implied_vol(**args)
    assert solved.status == INVALID
    assert np.isnan(solved.vol)


def test_deep_in_and_out_of_the_money():
    f, t = 100.0, 1.0
    strikes = np.array([20.0, 500.0, 20.0, 500.0])
    calls = np.array([True, True, False, False])
    vol = 0.8
    price = black76_value(f, strikes, t, vol, calls)
    solved = implied_vol(price, f, strikes, t, calls)
    np.testing.assert_array_equal(solved.status, OK)
    np.testing.assert_allclose(solved.vol, vol, rtol=0.0, atol=1e-10)


def test_iteration_cap_returns_not_converged(make_options):
    f, k, t, v, c, r = make_options(1_000, seed=9)
    price = black76_value(f, k, t, v, c, r)
    capped = implied_vol(price, f, k, t, c, r, max_iter=1)
    free = implied_vol(price, f, k, t, c, r)
    solvable = free.status == OK
    assert np.all(np.isin(capped.status[solvable], [OK, NOT_CONVERGED]))
    assert (capped.status[solvable] == NOT_CONVERGED).mean() > 0.9
    assert np.isnan(capped.vol[capped.status == NOT_CONVERGED]).all()


def test_price_just_below_the_maximum_does_not_hang():
    # The root lies beyond any sensible volatility; the answer is a clear status, quickly.
    solved = implied_vol(100.0 * (1.0 - 1e-15), 100.0, 100.0, 1.0, True)
    assert solved.status in (OK, NOT_CONVERGED, ABOVE)


def test_broadcast_shape_and_dtypes():
    strikes = np.array([[80.0], [100.0], [120.0]])
    vols = np.array([0.3, 0.6])
    price = black76_value(100.0, strikes, 0.5, vols, True)
    solved = implied_vol(price, 100.0, strikes, 0.5, True)
    assert solved.vol.shape == solved.status.shape == (3, 2)
    assert solved.vol.dtype == np.float64
    assert solved.status.dtype == np.int8
    np.testing.assert_allclose(solved.vol, np.broadcast_to(vols, (3, 2)), rtol=0.0, atol=1e-12)


def test_rejects_bad_solver_settings():
    with pytest.raises(ValueError, match="tol"):
        implied_vol(5.0, 100.0, 100.0, 1.0, True, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        implied_vol(5.0, 100.0, 100.0, 1.0, True, max_iter=0)


def test_describe_iv_status():
    for status in IVStatus:
        text = describe_iv_status(status)
        assert isinstance(text, str)
        assert text
    assert "intrinsic" in describe_iv_status(int(BELOW))
    with pytest.raises(ValueError, match="code"):
        describe_iv_status(42)
