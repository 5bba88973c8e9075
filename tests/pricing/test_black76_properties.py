"""Model-free properties of Black-76 prices, checked on hypothesis-generated options."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.pricing import black76, black76_value

forwards = st.floats(1e-2, 1e6)
moneyness = st.floats(0.2, 5.0)  # strike / forward
times = st.floats(10.0 / 525_600.0, 2.0)
vols = st.floats(0.05, 3.0)
rates = st.floats(-0.02, 0.10)
calls = st.booleans()

# Prices are computed from terms as large as max(F, K); comparisons allow that rounding.
ULP = 64 * np.finfo(np.float64).eps


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates)
def test_put_call_parity(f, m, t, v, r):
    k = f * m
    call, put = black76(f, k, t, v, [True, False], r).value
    df = math.exp(-r * t)
    assert math.isclose(call - put, df * (f - k), rel_tol=0.0, abs_tol=ULP * df * max(f, k))


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls)
def test_value_within_no_arbitrage_bounds(f, m, t, v, r, c):
    k = f * m
    value = float(black76(f, k, t, v, c, r).value)
    df = math.exp(-r * t)
    intrinsic = max(f - k, 0.0) if c else max(k - f, 0.0)
    upper = f if c else k
    slack = ULP * df * max(f, k)
    assert df * intrinsic - slack <= value <= df * upper + slack
    assert value >= 0.0


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls)
def test_gamma_and_vega_non_negative(f, m, t, v, r, c):
    result = black76(f, f * m, t, v, c, r)
    assert result.gamma >= 0.0
    assert result.vega >= 0.0


@settings(max_examples=200)
@given(forwards, times, vols, rates, calls)
def test_monotone_in_strike(f, t, v, r, c):
    strikes = f * np.linspace(0.2, 5.0, 200)
    value = black76(f, strikes, t, v, c, r).value
    steps = np.diff(value)
    slack = ULP * f * 5.0
    if c:
        assert np.all(steps <= slack), "call value must not increase with the strike"
    else:
        assert np.all(steps >= -slack), "put value must not decrease with the strike"


@settings(max_examples=200)
@given(forwards, moneyness, times, rates, calls)
def test_increasing_in_vol(f, m, t, r, c):
    value = black76(f, f * m, t, np.linspace(0.05, 3.0, 200), c, r).value
    assert np.all(np.diff(value) >= -ULP * f * max(m, 1.0))


@settings(max_examples=200)
@given(st.floats(1.0, 1e5), times, vols, rates, calls)
def test_monotone_in_forward(k, t, v, r, c):
    forwards_ = k * np.linspace(0.2, 5.0, 200)
    value = black76(forwards_, k, t, v, c, r).value
    steps = np.diff(value)
    slack = ULP * k * 5.0
    if c:
        assert np.all(steps >= -slack), "call value must not decrease with the forward"
    else:
        assert np.all(steps <= slack), "put value must not increase with the forward"


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls, st.floats(1e-3, 1e3))
def test_homogeneous_of_degree_one_in_forward_and_strike(f, m, t, v, r, c, scale):
    k = f * m
    base = black76(f, k, t, v, c, r)
    scaled = black76(scale * f, scale * k, t, v, c, r)
    tol = ULP * math.exp(-r * t) * max(f, k)
    assert math.isclose(float(scaled.value), scale * float(base.value), rel_tol=1e-12, abs_tol=tol)
    assert math.isclose(float(scaled.delta), float(base.delta), rel_tol=1e-12, abs_tol=ULP)
    assert math.isclose(
        float(scaled.gamma) * scale, float(base.gamma), rel_tol=1e-12, abs_tol=ULP / f
    )


@settings(max_examples=300)
@given(forwards, moneyness, vols, rates, calls)
def test_converges_to_intrinsic_near_expiry(f, m, v, r, c):
    k = f * m
    t = 1e-14
    value = float(black76(f, k, t, v, c, r).value)
    intrinsic = max(f - k, 0.0) if c else max(k - f, 0.0)
    # Time value is largest at the money: F (2 N(s/2) - 1) <= F s / sqrt(2 pi), s = vol sqrt(T).
    bound = f * v * math.sqrt(t) / math.sqrt(2.0 * math.pi)
    assert math.isclose(value, intrinsic, rel_tol=0.0, abs_tol=bound * (1.0 + 1e-9) + ULP * f)


@settings(max_examples=200)
@given(forwards, moneyness, times, vols, rates, calls)
def test_value_only_path_equals_full_path(f, m, t, v, r, c):
    full = black76(f, f * m, t, v, c, r).value
    assert black76_value(f, f * m, t, v, c, r) == full
