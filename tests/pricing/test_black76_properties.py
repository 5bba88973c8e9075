"""Model-free properties of Black-76 prices, checked on hypothesis-generated options."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.special import ndtr

from pmargin.pricing import black76, black76_value

forwards = st.floats(1e-2, 1e6)
moneyness = st.floats(0.2, 5.0)  # strike / forward
times = st.floats(10.0 / 525_600.0, 2.0)
vols = st.floats(0.05, 3.0)
rates = st.floats(-0.02, 0.10)
calls = st.booleans()

EPS = float(np.finfo(np.float64).eps)
TINY = float(np.finfo(np.float64).tiny)
# Rounding budget of one Black-76 evaluation: about eight rounded operations (ratio, log, d1,
# N(d), products by df and F, the final difference) each within half an ulp, doubled because a
# property compares two evaluations. Every tolerance below is this budget times the condition
# number of what it compares: a value is the difference of terms as large as df * max(F, K),
# so it is known to ROUNDING * df * max(F, K) however small it is; Greeks follow d1 (see
# _homogeneity_tolerances). test_tolerances_hold_on_a_near_expiry_sweep measures how much of
# the budget is used: at most 0.17 on its 300,000 options (0.2 on 2.4 million in a wider scan).
ROUNDING = 16.0 * EPS


def _homogeneity_tolerances(f, k, t, v, r, scale, base):
    """Bounds on how far value, delta and gamma of ``(sF, sK)`` may stray from ``(F, K)``.

    Scaling ``F`` and ``K`` by ``s`` rounds both (half an ulp each), so ``ln(sF/sK)`` differs from
    ``ln(F/K)`` by a few ulps of 1 (absolute, not relative: ``ln`` of a ratio near 1) plus its own
    rounding of ``|ln(F/K)|`` ulps. ``d1 = ln(F/K) / (vol sqrt(T)) + vol sqrt(T) / 2`` divides that
    by ``vol sqrt(T)`` and adds its own rounding of ``|d1|`` ulps, so

        |delta d1| <= ROUNDING * cond,   cond = (1 + |ln(F/K)|) / (vol sqrt(T)) + |d1|.

    Near expiry ``vol sqrt(T)`` is small (``2.2e-4`` at ten minutes and 5 % vol), so a change of
    ``F/K`` in its last bit moves ``d1`` by ``1e-12``: the scaled option is a different option.
    Then the value moves by at most ``df K N(d2) |delta ln(F/K)|`` plus its own rounding, both on
    the scale of ``df max(F, K)``; delta by ``df n(d1) |delta d1|``; gamma, proportional to
    ``n(d1) = exp(-d1^2 / 2)``, by the relative ``expm1(|d1| |delta d1|)`` (``d1^2`` times the
    relative error of ``d1`` plus ``|d1| / (vol sqrt(T))`` times that of ``F/K``). Where gamma,
    ``n(d1)`` or ``df F n(d1)`` leaves the normal range (``|d1|`` above about 37) only an absolute
    bound holds: a few subnormal ulps (``TINY * EPS``) carried into gamma's unit.

    Arguments are floats or arrays of one shape ``(n,)``, ``scale`` the factor ``s`` and
    ``base`` the :class:`Black76Result` at ``(F, K)``. Returns the three absolute tolerances
    (value in the premium currency per unit, delta unitless, gamma per unit of forward
    squared), each of that shape.
    """
    sd = v * np.sqrt(t)
    x = np.log(f / k)
    d1 = x / sd + 0.5 * sd
    cond = (1.0 + np.abs(x)) / sd + np.abs(d1)
    df = np.exp(-r * t)
    pdf = np.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    value_tol = ROUNDING * (df * np.maximum(f, k) * (1.0 + np.abs(x)) + np.abs(base.value))
    delta_tol = ROUNDING * (np.abs(base.delta) + df * pdf * cond)
    gamma_rel = np.expm1(ROUNDING * np.abs(d1) * cond) + ROUNDING
    # A subnormal is known to 2**-1074 = TINY * EPS absolute. One may occur in gamma itself (the
    # scaled gamma is then multiplied by s), in n(d1) (carried into gamma over F vol sqrt(T)) or
    # in df F n(d1) (carried over F^2 vol sqrt(T), for the scaled option times 1 / s).
    subnormal_ulp = ROUNDING * TINY
    carried = np.maximum(scale, 1.0) + 1.0 / (f * sd) + 1.0 / (np.minimum(scale, 1.0) * f * f * sd)
    gamma_tol = gamma_rel * base.gamma + subnormal_ulp * carried
    return value_tol, delta_tol, gamma_tol


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates)
def test_put_call_parity(f, m, t, v, r):
    k = f * m
    call, put = black76(f, k, t, v, [True, False], r).value
    df = math.exp(-r * t)
    assert math.isclose(call - put, df * (f - k), rel_tol=0.0, abs_tol=ROUNDING * df * max(f, k))


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls)
def test_value_within_no_arbitrage_bounds(f, m, t, v, r, c):
    k = f * m
    value = float(black76(f, k, t, v, c, r).value)
    df = math.exp(-r * t)
    intrinsic = max(f - k, 0.0) if c else max(k - f, 0.0)
    upper = f if c else k
    slack = ROUNDING * df * max(f, k)
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
    slack = ROUNDING * math.exp(-r * t) * f * 5.0  # the largest strike
    if c:
        assert np.all(steps <= slack), "call value must not increase with the strike"
    else:
        assert np.all(steps >= -slack), "put value must not decrease with the strike"


@settings(max_examples=200)
@given(forwards, moneyness, times, rates, calls)
def test_increasing_in_vol(f, m, t, r, c):
    value = black76(f, f * m, t, np.linspace(0.05, 3.0, 200), c, r).value
    assert np.all(np.diff(value) >= -ROUNDING * math.exp(-r * t) * f * max(m, 1.0))


@settings(max_examples=200)
@given(st.floats(1.0, 1e5), times, vols, rates, calls)
def test_monotone_in_forward(k, t, v, r, c):
    forwards_ = k * np.linspace(0.2, 5.0, 200)
    value = black76(forwards_, k, t, v, c, r).value
    steps = np.diff(value)
    slack = ROUNDING * math.exp(-r * t) * k * 5.0  # the largest forward
    if c:
        assert np.all(steps >= -slack), "call value must not decrease with the forward"
    else:
        assert np.all(steps <= slack), "put value must not increase with the forward"


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls, st.floats(1e-3, 1e3))
# Found on a fresh clone (issue 9): ten minutes, 5.5 % vol, 0.06 % out of the money, where gamma
# moves by 2.3e-12 relative and delta by 1.6e-14 when F and K are scaled by 0.1.
@example(f=1.0, m=1.0006, t=1.9e-5, v=0.055, r=0.0, c=True, scale=0.1)
@example(f=10.0, m=1.0006, t=1.9e-5, v=0.055, r=0.0, c=True, scale=0.1)
def test_homogeneous_of_degree_one_in_forward_and_strike(f, m, t, v, r, c, scale):
    """V(sF, sK) = s V(F, K), delta unchanged, gamma / s, to the conditioning of each.

    ``d1`` is only known to ``delta_d1 = ROUNDING * cond`` (see :func:`_d1_and_its_error`), so:
    the value moves by at most ``df K N(d2) |delta ln(F/K)|`` plus its own rounding (on the
    scale of ``df max(F, K)``); delta by ``df n(d1) delta_d1``; and gamma, proportional to
    ``n(d1) = exp(-d1^2 / 2)``, by the relative ``expm1(|d1| delta_d1)``. Below the normal range
    (``n(d1)`` subnormal, ``|d1| > 37.5``) only an absolute ``TINY / (F^2 vol sqrt(T))`` holds.
    """
    k = f * m
    base = black76(f, k, t, v, c, r)
    scaled = black76(scale * f, scale * k, t, v, c, r)
    value_tol, delta_tol, gamma_tol = _homogeneity_tolerances(f, k, t, v, r, scale, base)
    assert abs(float(scaled.value) / scale - float(base.value)) <= value_tol
    assert abs(float(scaled.delta) - float(base.delta)) <= delta_tol
    assert abs(float(scaled.gamma) * scale - float(base.gamma)) <= gamma_tol


def test_tolerances_hold_on_a_near_expiry_sweep():
    """The homogeneity tolerances on 300,000 seeded options, a third of them within 0.2 % of the
    money and half of them within 20 minutes of expiry (where d1 is worst conditioned).

    Measured usage of the budget: at most about 0.2 for value, delta and gamma alike, so the
    bounds are tight to within a factor of 5 and the property test cannot fail by chance.
    """
    rng = np.random.default_rng(20261206)
    n = 300_000
    f = np.exp(rng.uniform(math.log(1e-2), math.log(1e6), n))
    m = np.exp(rng.uniform(math.log(0.2), math.log(5.0), n))
    m[::3] = 1.0 + rng.uniform(-2e-3, 2e-3, m[::3].size)
    t = np.exp(rng.uniform(math.log(10.0 / 525_600.0), math.log(2.0), n))
    t[::2] = 10.0 / 525_600.0 * (1.0 + rng.random(t[::2].size))
    v = np.exp(rng.uniform(math.log(0.05), math.log(3.0), n))
    v[::4] = 0.05 + 0.01 * rng.random(v[::4].size)
    r = rng.uniform(-0.02, 0.10, n)
    c = rng.random(n) < 0.5
    scale = np.exp(rng.uniform(math.log(1e-3), math.log(1e3), n))
    k = f * m
    base = black76(f, k, t, v, c, r)
    scaled = black76(scale * f, scale * k, t, v, c, r)
    value_tol, delta_tol, gamma_tol = _homogeneity_tolerances(f, k, t, v, r, scale, base)
    errors = {
        "value": (np.abs(scaled.value / scale - base.value), value_tol),
        "delta": (np.abs(scaled.delta - base.delta), delta_tol),
        "gamma": (np.abs(scaled.gamma * scale - base.gamma), gamma_tol),
    }
    # error / tolerance, 0 where both are 0 and infinite where only the tolerance is.
    usage = {
        name: np.divide(err, tol, out=np.where(err > 0.0, np.inf, 0.0), where=tol > 0.0)
        for name, (err, tol) in errors.items()
    }
    worst = {name: float(np.max(u)) for name, u in usage.items()}
    assert max(worst.values()) <= 0.5, worst
    # The d1 term is what the failure needed: without it gamma would break 1e-12.
    relative = np.abs(scaled.gamma * scale - base.gamma) / np.where(base.gamma > 0, base.gamma, 1)
    assert float(np.max(relative[base.gamma > 1e-250])) > 1e-12


@settings(max_examples=300)
@given(forwards, moneyness, times, vols, rates, calls, st.integers(-10, 10))
def test_scaling_by_a_power_of_two_is_exact(f, m, t, v, r, c, power):
    """Scaling F and K by 2^j rounds nothing, so value, delta, gamma and vega scale bit for bit.

    This is the other half of the homogeneity tolerances: the kernel adds no error of its own
    beyond that of its inputs. It holds while every intermediate stays in the normal range; a
    product below ``TINY`` (a subnormal) loses bits, so there only both being tiny is checked.
    """
    k = f * m
    scale = 2.0**power
    base = black76(f, k, t, v, c, r)
    scaled = black76(scale * f, scale * k, t, v, c, r)
    assert float(scaled.delta) == float(base.delta)
    sd = v * math.sqrt(t)
    d1 = math.log(f / k) / sd + 0.5 * sd
    sign = 1.0 if c else -1.0
    df = math.exp(-r * t)
    low_f, low_k = min(f, scale * f), min(k, scale * k)
    normal = 2.0**8 * TINY  # a margin of 2^8 for the test's own recomputation of the terms
    # value = F * delta - sign * df * K * N(sign * d2): both products normal.
    terms = low_f * abs(float(base.delta)), low_k * df * float(ndtr(sign * (d1 - sd)))
    if min(terms) > normal:
        assert float(scaled.value) == scale * float(base.value)
    # gamma and vega start from a = df * F * n(d1) / sqrt(2 pi).
    a = df * low_f * math.exp(-0.5 * d1 * d1) / math.sqrt(2.0 * math.pi)
    if a * min(1.0, math.sqrt(t)) > normal and float(base.gamma) / max(1.0, scale) > normal:
        assert float(scaled.vega) == scale * float(base.vega)
        assert float(scaled.gamma) * scale == float(base.gamma)


@settings(max_examples=300)
@given(forwards, moneyness, vols, rates, calls)
def test_converges_to_intrinsic_near_expiry(f, m, v, r, c):
    k = f * m
    t = 1e-14
    value = float(black76(f, k, t, v, c, r).value)
    df = math.exp(-r * t)
    intrinsic = df * (max(f - k, 0.0) if c else max(k - f, 0.0))
    # Time value is largest at the money: df F (2 N(s/2) - 1) <= df F s / sqrt(2 pi), with
    # s = vol sqrt(T); the value itself is rounded on the scale of its terms, df max(F, K).
    bound = df * f * v * math.sqrt(t) / math.sqrt(2.0 * math.pi)
    slack = ROUNDING * df * max(f, k)
    assert math.isclose(value, intrinsic, rel_tol=0.0, abs_tol=bound + slack)


@settings(max_examples=200)
@given(forwards, moneyness, times, vols, rates, calls)
def test_value_only_path_equals_full_path(f, m, t, v, r, c):
    full = black76(f, f * m, t, v, c, r).value
    assert black76_value(f, f * m, t, v, c, r) == full
