"""The compiled Black-76 kernel against its reference twin, the NumPy kernel.

Both are evaluated on the same options; the differences are rounding (a few ulp of each
result's scale) and the reference's own tail errors, so every tolerance below is stated in
units of ``EPS`` times a scale:

- value: ``df * max(F, K)``, the size of the terms it is the difference of (measured: 3.3);
- delta: ``df`` (measured: 2.1);
- gamma and vega: their own size times ``1 + d1**2`` (measured: 3.1): the reference computes
  ``exp(-d1**2 / 2)`` from a rounded ``d1**2`` and so carries ``d1**2 / 2`` ulp itself;
- theta: its at-the-money scale ``df F vol / sqrt(T)`` (measured: 7).

Measured on 400,000 options of ``conftest.random_options`` and of the benchmark's ranges.
"""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.pricing import (
    SIGMA_SQRT_T_MIN,
    black76,
    black76_reference,
    black76_value,
    black76_value_reference,
    kernel_name,
)

pytest.importorskip("numba", exc_type=ImportError)  # absent, or unusable with this NumPy

from pmargin.pricing import _black76_jit

if kernel_name() != "numba":  # PMARGIN_JIT=0: black76 is the reference itself
    pytest.skip("the compiled kernel is switched off", allow_module_level=True)

EPS = float(np.finfo(np.float64).eps)
TOLERANCE = {"value": 8.0, "delta": 8.0, "gamma": 8.0, "vega": 8.0, "theta": 16.0}


def _scales(f, k, t, v, r, reference):
    with np.errstate(all="ignore"):  # lanes at expiry: compared bit for bit elsewhere
        df = np.exp(-r * t)
        sd = v * np.sqrt(t)
        d1 = np.log(f / k) / sd + 0.5 * sd
        cond = 1.0 + d1 * d1
        return {
            "value": df * np.maximum(f, k),
            "delta": df,
            "gamma": np.abs(reference.gamma) * cond + 1e-300,
            "vega": np.abs(reference.vega) * cond + 1e-300,
            # theta = rate V - df F n(d1) vol / (2 sqrt(T)): the scales of both terms
            "theta": df * f * v / np.sqrt(t) + np.abs(r) * df * np.maximum(f, k),
        }


def _assert_close_to_reference(options):
    f, k, t, v, c, r = options
    fast, reference = black76(*options), black76_reference(*options)
    scales = _scales(f, k, t, v, r, reference)
    for name in fast._fields:
        difference = np.abs(getattr(fast, name) - getattr(reference, name))
        with np.errstate(invalid="ignore"):  # NaN where both are NaN, 0 / 0 at expiry
            error = np.where(difference == 0.0, 0.0, difference / scales[name] / EPS)
        worst = int(np.argmax(error))
        assert error[worst] <= TOLERANCE[name], (
            f"{name}: {error[worst]:.1f} eps at F={f[worst]!r}, K={k[worst]!r}, T={t[worst]!r}, "
            f"vol={v[worst]!r}, call={c[worst]!r}, rate={r[worst]!r}"
        )


def test_the_compiled_kernel_runs_where_numba_is_installed():
    assert kernel_name() == "numba"
    assert _black76_jit._SIGMA_SQRT_T_MIN == SIGMA_SQRT_T_MIN


@pytest.mark.parametrize("seed", [1, 2])
def test_matches_reference_on_wide_random_options(make_options, seed):
    _assert_close_to_reference(make_options(200_000, seed=seed))


def _edge_grid():
    """Deep in and out of the money, near expiry, near-zero and huge vol, long expiries."""
    moneyness = np.array([1e-8, 1e-3, 0.2, 0.9, 1.0, 1.1, 5.0, 1e3, 1e8])
    times = np.array([1e-12, 1e-9, 1e-6, 1e-3, 0.5, 2.0, 30.0, 100.0])
    vols = np.array([1e-5, 1e-3, 0.05, 0.8, 3.0, 20.0, 100.0])
    calls = np.array([True, False])
    rates = np.array([-0.02, 0.0, 0.3])
    grid = np.meshgrid(moneyness, times, vols, calls, rates, indexing="ij")
    m, t, v, c, r = (a.reshape(-1) for a in grid)
    f = np.full(m.shape, 3_000.0)
    return f, f * m, t, v, c, r


def test_matches_reference_at_the_edges():
    f, k, t, v, c, r = _edge_grid()
    smooth = v * np.sqrt(t) > SIGMA_SQRT_T_MIN
    assert smooth.sum() > 3_000
    _assert_close_to_reference((f, k, t, v, c, r))


def test_off_domain_lanes_equal_the_reference_bit_for_bit():
    f = np.array([100.0, 100.0, 100.0, np.nan, 100.0, -1.0, 100.0, 1e-300, 100.0, 100.0])
    k = np.array([90.0, 100.0, 110.0, 100.0, np.nan, 100.0, 100.0, 1e300, 100.0, 100.0])
    t = np.array([0.0, 0.0, -0.1, 0.5, 0.5, 0.5, 1e-30, 0.5, 0.5, np.inf])
    v = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5])
    r = np.array([0.05, 0.05, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan, 0.0])
    for call in (True, False):
        fast = black76(f, k, t, v, call, r)
        reference = black76_reference(f, k, t, v, call, r)
        for name, a, b in zip(fast._fields, fast, reference, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=name)
        np.testing.assert_array_equal(
            black76_value(f, k, t, v, call, r), black76_value_reference(f, k, t, v, call, r)
        )


def test_off_domain_lanes_in_a_large_block_do_not_disturb_the_others(make_options):
    f, k, t, v, c, r = make_options(100_000, seed=4)
    t = t.copy()
    t[::997] = 0.0
    fast, reference = black76(f, k, t, v, c, r), black76_reference(f, k, t, v, c, r)
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(a[::997], b[::997])
    _assert_close_to_reference((f, k, t, v, c, r))


def test_value_is_never_negative_in_the_subnormal_tail():
    # Both terms of F N(d1) - K N(d2) subnormal: their difference could round below 0.
    k = np.linspace(1.0, 1.2, 10_000)
    value = black76_value(1.0, k * 2.7, 0.0082, 0.2435, True, 0.016)
    assert (value >= 0.0).all()


def test_value_path_equals_greeks_path_bit_for_bit(make_options):
    options = make_options(50_000, seed=6)
    np.testing.assert_array_equal(black76_value(*options), black76(*options).value)


def test_non_contiguous_and_broadcast_inputs(make_options):
    f, k, t, v, c, r = make_options(3_000, seed=9)
    strided = np.repeat(f, 2)[::2]  # every other element of a buffer
    assert not strided.flags.c_contiguous
    expected = black76(f, k, t, v, c, r).gamma
    np.testing.assert_array_equal(black76(strided, k, t, v, c, r).gamma, expected)
    grid = black76(f[:50, None], k[None, :70], 0.3, 0.6, True, 0.01)
    assert grid.value.shape == (50, 70)
    flat = black76(np.repeat(f[:50], 70), np.tile(k[:70], 50), 0.3, 0.6, True, 0.01)
    np.testing.assert_array_equal(grid.theta.reshape(-1), flat.theta)
