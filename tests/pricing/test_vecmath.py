"""Accuracy of the vectorisable exp, log and normal CDF of the compiled kernel.

References: the C library's ``math.exp``/``math.log`` (correctly rounded to within half an ulp
on glibc) and normal CDF values computed with mpmath at 40 digits, written out below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr as scipy_ndtr

pytest.importorskip("numba", exc_type=ImportError)  # absent, or unusable with this NumPy

from pmargin._compiled import njit
from pmargin.pricing._vecmath import exp_sum, log_normal, ndtr

EPS = float(np.finfo(np.float64).eps)

# N(x) to 40 digits (mpmath.ncdf), rounded to float64.
NDTR_EXACT = {
    -0.5: 0.3085375387259869,
    -1.5: 0.06680720126885807,
    -3.0: 0.0013498980316300946,
    -6.0: 9.86587645037698e-10,
    -10.0: 7.619853024160525e-24,
    -20.0: 2.7536241186062337e-89,
    -30.0: 4.906713927148187e-198,
    -37.0: 5.725571222524577e-300,
    0.7: 0.758036347776927,
    2.5: 0.9937903346742238,
}


@njit
def _exp_loop(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = exp_sum(x[i], 0.0)


@njit
def _log_loop(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = log_normal(x[i])


@njit
def _ndtr_loop(x, out):  # type: ignore[no-untyped-def]
    for i in range(x.shape[0]):
        out[i] = ndtr(x[i])


def _apply(loop, x):
    out = np.empty_like(x)
    loop(x, out)
    return out


def _ulps(actual, expected):
    return np.abs(actual - expected) / np.spacing(np.abs(expected))


def test_exp_within_one_ulp():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-708.0, 709.0, 50_000), rng.uniform(-1.0, 1.0, 50_000)])
    expected = np.array([math.exp(v) for v in x])
    assert _ulps(_apply(_exp_loop, x), expected).max() <= 1.0


def test_exp_limits():
    x = np.array([0.0, -745.5, -800.0, -np.inf, 709.9, 1e6, np.inf, -740.0])
    out = _apply(_exp_loop, x)
    assert out[0] == 1.0
    np.testing.assert_array_equal(out[1:4], 0.0)
    np.testing.assert_array_equal(out[4:7], np.inf)
    assert abs(out[7] - math.exp(-740.0)) <= 2.0**-1074  # subnormal: absolute accuracy


def test_log_within_one_ulp():
    rng = np.random.default_rng(2)
    x = np.concatenate(
        [np.exp(rng.uniform(-700.0, 700.0, 50_000)), rng.uniform(0.5, 2.0, 50_000), [1.0]]
    )
    expected = np.array([math.log(v) for v in x])
    out = _apply(_log_loop, x)
    assert out[-1] == 0.0
    assert _ulps(out[:-1], expected[:-1]).max() <= 1.0


def test_ndtr_against_high_precision_values():
    x = np.array(list(NDTR_EXACT))
    expected = np.array(list(NDTR_EXACT.values()))
    assert _ulps(_apply(_ndtr_loop, x), expected).max() <= 4.0


def test_ndtr_against_scipy_where_scipy_is_accurate():
    # SciPy's ndtr is off by up to 11 ulp near x = -1.2 and by up to 1.3 x**2 ulp in the tail
    # (885 ulp at x = -26.9); |x| <= 37 keeps N(x) in the normal range (above 5.7e-300).
    rng = np.random.default_rng(3)
    x = rng.uniform(-37.0, 37.0, 200_000)
    out = _apply(_ndtr_loop, x)
    expected = scipy_ndtr(x)
    bound = (12.0 + 2.0 * x * x) * np.spacing(expected)
    assert np.all(np.abs(out - expected) <= bound)
    assert _apply(_ndtr_loop, np.array([-40.0, -1e6]))[0] == 0.0
    np.testing.assert_array_equal(_apply(_ndtr_loop, np.array([40.0, 1e6])), 1.0)
    assert _apply(_ndtr_loop, np.array([0.0]))[0] == 0.5
