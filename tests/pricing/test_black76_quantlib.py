"""Black-76 values and Greeks against QuantLib's BlackCalculator on 10,000 random options.

Tolerances: 1e-8 relative to the reference, with an absolute floor where the reference is
tiny, because both implementations then carry rounding of the size of the terms they
subtract (eps * F for the value), not of the result:

- value: floor 1e-6 * F (absolute 1e-14 * F),
- delta: floor 1e-6 * df (delta is of order df),
- gamma: floor 1e-6 * df / F (gamma * F is dimensionless),
- vega:  floor 1e-6 * df * F * sqrt(T) (the at-the-money vega scale).

Theta has no forward-based counterpart in BlackCalculator; it is checked against the closed
form written out here and a central finite difference of QuantLib values in T with F fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.pricing import black76, black76_reference, black76_value, black76_value_reference

ql = pytest.importorskip("QuantLib")

RTOL = 1e-8


@pytest.fixture(
    params=[(black76, black76_value), (black76_reference, black76_value_reference)],
    ids=["black76", "reference"],
)
def kernel(request):
    """``(greeks, value)``: the kernel ``black76`` runs and its NumPy reference twin."""
    return request.param


def _ql_value(forward: float, strike: float, time: float, vol: float, call: bool, rate: float):
    kind = ql.Option.Call if call else ql.Option.Put
    payoff = ql.PlainVanillaPayoff(kind, strike)
    return ql.BlackCalculator(payoff, forward, vol * math.sqrt(time), math.exp(-rate * time))


@pytest.fixture(scope="module")
def reference(options):
    rows = []
    for f, k, t, v, c, r in zip(*options, strict=True):
        calc = _ql_value(float(f), float(k), float(t), float(v), bool(c), float(r))
        rows.append((calc.value(), calc.deltaForward(), calc.gammaForward(), calc.vega(float(t))))
    return np.array(rows).T


def _assert_close(actual, expected, floor, name):
    error = np.abs(actual - expected) / np.maximum(np.abs(expected), floor)
    worst = int(np.argmax(error))
    assert error[worst] <= RTOL, f"{name}: {actual[worst]!r} vs QuantLib {expected[worst]!r}"


def test_value_matches_quantlib(options, reference, kernel):
    result = kernel[0](*options)
    _assert_close(result.value, reference[0], 1e-6 * options.forward, "value")


def test_value_only_path_matches_quantlib(options, reference, kernel):
    value = kernel[1](*options)
    _assert_close(value, reference[0], 1e-6 * options.forward, "value")


def test_delta_matches_quantlib(options, reference, kernel):
    df = np.exp(-options.rate * options.time)
    _assert_close(kernel[0](*options).delta, reference[1], 1e-6 * df, "delta")


def test_gamma_matches_quantlib(options, reference, kernel):
    df = np.exp(-options.rate * options.time)
    _assert_close(kernel[0](*options).gamma, reference[2], 1e-6 * df / options.forward, "gamma")


def test_vega_matches_quantlib(options, reference, kernel):
    df = np.exp(-options.rate * options.time)
    floor = 1e-6 * df * options.forward * np.sqrt(options.time)
    _assert_close(kernel[0](*options).vega, reference[3], floor, "vega")


def test_theta_matches_closed_form(options, reference, kernel):
    f, k, t, v, _, r = options
    total_vol = v * np.sqrt(t)
    d1 = np.log(f / k) / total_vol + 0.5 * total_vol
    density = np.exp(-0.5 * d1**2) / math.sqrt(2.0 * math.pi)
    df = np.exp(-r * t)
    expected = r * reference[0] - df * f * density * v / (2.0 * np.sqrt(t))
    floor = 1e-6 * df * f * v / np.sqrt(t)  # the at-the-money theta scale
    _assert_close(kernel[0](*options).theta, expected, floor, "theta")


def test_theta_matches_finite_difference_of_quantlib(options, kernel):
    # theta = dV/dt = -dV/dT with F fixed. With h = 1e-4 T the central difference carries a
    # truncation error of order (h/T)^2 (1 + d1^2)^2 ~ 1e-8 (1 + d1^2)^2 relative, and rounding of
    # eps V / h; 1e-5 covers |d1| up to about 5 and still catches any wrong term or factor.
    n = 2_000
    actual = kernel[0](*(a[:n] for a in options)).theta
    expected = np.empty(n)
    for i in range(n):
        f, k, t, v, c, r = (float(a[i]) for a in options)
        h = 1e-4 * t
        up = _ql_value(f, k, t + h, v, bool(c), r).value()
        down = _ql_value(f, k, t - h, v, bool(c), r).value()
        expected[i] = -(up - down) / (2.0 * h)
    f, t, v = options.forward[:n], options.time[:n], options.vol[:n]
    floor = 1e-3 * f * v / np.sqrt(t)
    error = np.abs(actual - expected) / np.maximum(np.abs(expected), floor)
    assert error.max() <= 1e-5
