"""The compiled Black-76 kernel: one SIMD loop per block of options (numba, the ``fast`` extra).

Same conventions, operations and order of operations as the NumPy kernel in
:mod:`pmargin.pricing._black76` (its reference twin), with three differences that move results
by a few ulp, not more (the bounds are in ``docs/pricing.md`` and tested in
``tests/pricing/test_black76_jit.py``):

- ``exp``, ``log`` and ``N`` are the branch-free ones of :mod:`pmargin.pricing._vecmath`
  (within 1, 1 and 3 ulp) instead of NumPy's and SciPy's (SciPy's ``ndtr`` loses up to
  ``x**2 / 2`` ulp in the tail: 300 ulp at ``x = -20``);
- one ``exp`` gives both densities: ``exp(-d**2 / 2)`` at the smaller of ``|d1|``, ``|d2|``
  (with ``d**2`` split in two, so a few ulp where the NumPy kernel loses ``d1**2 / 2`` ulp),
  scaled to the other by ``F / K`` or ``K / F`` (``F n(d1) = K n(d2)``); the densities also
  serve ``N(d1)`` and ``N(d2)``, and one division ``1 / (F vol sqrt(T))`` serves ``d1``, gamma
  and theta (one or two more roundings than the NumPy kernel's divisions);
- a deep out-of-the-money value, the difference of two subnormal terms, is clamped at 0;
- a lane whose inputs leave the smooth formula's domain (the NumPy kernel's ``_boundary``
  cases, plus ``F / K`` outside the normal float64 range and a non-finite ``rate * time``) is
  flagged, and :mod:`pmargin.pricing._black76` recomputes those lanes with the NumPy kernel, so
  at expiry, after it and for invalid input both paths agree bit for bit.

Importing this module needs numba; :mod:`pmargin.pricing._black76` imports it lazily, on the
first call, unless numba is missing or ``PMARGIN_JIT=0`` is set in the environment.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from pmargin._compiled import njit, njit_inline
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.pricing._vecmath import exp_sum, gauss, log_normal, ndtr_pair

__all__ = ["black76_lane", "greeks_into", "pnl_into", "row_values_into", "value_into"]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SIGMA_SQRT_T_MIN = 1e-12  # pmargin.pricing._black76.SIGMA_SQRT_T_MIN (asserted equal in tests)
_TINY = 2.2250738585072014e-308  # smallest positive normal float64
_HUGE = 1.7976931348623157e308  # largest finite float64
_INV_TINY = 1.0 / _TINY  # 1 / (F vol sqrt(T)) above this: F vol sqrt(T) is subnormal or 0


@njit_inline
def _off_domain(sd: float, ratio: float, inv_fsd: float, d1: float, rt: float) -> bool:
    """Whether a lane must be recomputed by the NumPy kernel.

    It must where the NumPy kernel itself leaves the formula (``vol sqrt(T)`` at or below
    ``SIGMA_SQRT_T_MIN``, non-finite ``d1``: expiry, zero vol, invalid input) and where the
    compiled one would lose accuracy (``F / K`` or ``F vol sqrt(T)`` outside the normal float64
    range, a non-finite ``rate T``).
    """
    smooth = (
        (sd > _SIGMA_SQRT_T_MIN)
        & (ratio >= _TINY)
        & (ratio <= _HUGE)
        & (inv_fsd >= _TINY)
        & (inv_fsd <= _INV_TINY)
        & (abs(d1) <= _HUGE)
        & (abs(rt) <= _HUGE)
    )
    return not smooth


@njit_inline
def black76_lane(
    f: float, k: float, t: float, v: float, r: float, call: bool
) -> tuple[float, float, float, float, float, float, bool]:
    """One option's value, delta and the terms its Greeks and domain check need.

    Returns ``(value, delta, sqrt_t, sd, inv_fsd, df_gauss, off)``: ``sd`` is ``vol sqrt(T)``,
    ``inv_fsd = 1 / (F sd)`` (one division serves ``d1``, gamma and theta),
    ``df_gauss = df exp(-d1**2 / 2)`` and ``off`` whether the lane is off the domain.
    """
    sign = call * 2.0 - 1.0
    sqrt_t = math.sqrt(t)
    sd = v * sqrt_t
    ratio = f / k
    inv_fsd = 1.0 / (f * sd)
    d1 = log_normal(ratio) * (f * inv_fsd) + sd * 0.5
    d2 = (d1 - sd) * sign
    d1 = d1 * sign
    rt = -r * t
    df = exp_sum(rt, 0.0)
    # F n(d1) = K n(d2): one exp serves both densities. It is taken at the smaller of |d1|,
    # |d2| (d1 when F <= K) and scaled down to the other by F / K or K / F <= 1, so the
    # smaller density underflows only when it truly does.
    low = ratio <= 1.0
    g = gauss(d1 if low else d2)
    g_other = g * (ratio if low else k * sd * inv_fsd)
    g1 = g if low else g_other
    n1, n2 = ndtr_pair(d1, g1, d2, g_other if low else g)
    delta = n1 * sign * df
    value = f * delta - k * n2 * sign * df
    # Where both terms are subnormal (N below 2.2e-308) their few bits can round the difference
    # below 0 (the NumPy kernel's SciPy N is 0 there); a price is never negative.
    value = value if value > 0.0 else 0.0
    return value, delta, sqrt_t, sd, inv_fsd, g1 * df, _off_domain(sd, ratio, inv_fsd, d1, rt)


@njit
def _greeks_loop(
    f: Any, k: Any, t: Any, v: Any, r: Any, c: Any, value: Any, delta: Any, gamma: Any,
    vega: Any, theta: Any, off: Any,
) -> int:  # fmt: skip
    """Fill the five outputs and ``off`` for ``n`` options; return how many lanes are off."""
    n_off = 0
    for i in range(f.shape[0]):
        fi, vi = f[i], v[i]
        val, dl, sqrt_t, _, inv_fsd, df_gauss, lane_off = black76_lane(
            fi, k[i], t[i], vi, r[i], c[i]
        )
        df_pdf = df_gauss * _INV_SQRT_2PI
        a = df_pdf * fi  # df F n(d1)
        value[i] = val
        delta[i] = dl
        vega[i] = a * sqrt_t
        gamma[i] = df_pdf * inv_fsd  # df n(d1) / (F sd)
        theta[i] = r[i] * val - a * vi * (vi * fi * inv_fsd) * 0.5  # - a vol / (2 sqrt(T))
        off[i] = lane_off
        n_off += lane_off
    return n_off


@njit
def _value_loop(f: Any, k: Any, t: Any, v: Any, r: Any, c: Any, value: Any, off: Any) -> int:
    """Fill ``value`` (bit for bit the greeks loop's) and ``off``; count the off lanes."""
    n_off = 0
    for i in range(f.shape[0]):
        val, _, _, _, _, _, lane_off = black76_lane(f[i], k[i], t[i], v[i], r[i], c[i])
        value[i] = val
        off[i] = lane_off
        n_off += lane_off
    return n_off


Arrays = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]
"""Forward, strike, time, vol, rate and is_call of ``m`` options, each C-contiguous ``(m,)``."""

_NONE = np.empty(0, dtype=np.int64)


def _run(loop: Callable[..., int], args: Arrays, *outs: FloatArray) -> Any:
    """Run ``loop`` over one block; return the indices of its off-domain lanes."""
    off = np.empty(args[0].shape, dtype=np.bool_)
    if loop(*args, *outs, off) == 0:
        return _NONE
    return np.flatnonzero(off)


def greeks_into(
    args: Arrays, out: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
) -> IntArray:
    """Write value, delta, gamma, vega and theta of ``m`` options into ``out``.

    Parameters
    ----------
    args
        Forward, strike, time (ACT/365 years), vol (decimal), rate (decimal per year) and
        is_call (``True`` for calls), each a C-contiguous array of shape ``(m,)`` (float64, the
        last boolean), conventions as :func:`pmargin.pricing.black76`.
    out
        Five writable C-contiguous float64 arrays of shape ``(m,)``, in the order of
        :class:`pmargin.pricing.Black76Result`.

    Returns
    -------
    IntArray
        Indices, shape ``(n_off,)``, of the lanes off the smooth domain, whose outputs are
        meaningless and must be recomputed by the NumPy kernel.
    """
    return cast(IntArray, _run(_greeks_loop, args, *out))


def value_into(args: Arrays, value: FloatArray) -> IntArray:
    """Write the value of ``m`` options into ``value``; return the lanes off the domain.

    Same arguments and result as :func:`greeks_into` with the one output ``value``.
    """
    return cast(IntArray, _run(_value_loop, args, value))


@njit
def _pnl_loop(
    f: Any, k: Any, t: Any, r: Any, c: Any, inv: Any, base: Any, rows: Any, mult: Any,
    vol: Any, pnl: Any, off: Any,
) -> int:  # fmt: skip
    """Fill ``pnl`` (``(m, S)``) with each option's value change under each scenario.

    Row ``i``, scenario ``s``: the value at forward ``f[i] * mult[i, s]`` and vol ``vol[i, s]``
    (time ``t[i]``, already shifted) less ``base[i]``, per coin of that forward where
    ``inv[i]`` (``V_s / F_s - base / F``). ``off`` flags the lanes off the smooth domain
    (invalid multipliers and vols included) of the rows where ``rows[i]``; the count of them
    is returned. Other rows are computed as well (a select would cost every lane) and are
    meaningless.
    """
    n_off = 0
    for i in range(f.shape[0]):
        fi, ki, ti, ri, ci, bi, row = f[i], k[i], t[i], r[i], c[i], base[i], rows[i]
        coin = inv[i]
        b_coin = bi / fi
        for s in range(mult.shape[1]):
            fs = fi * mult[i, s]
            val, _, _, _, _, _, lane_off = black76_lane(fs, ki, ti, vol[i, s], ri, ci)
            pnl[i, s] = val / fs - b_coin if coin else val - bi
            lane_off = lane_off and row
            off[i, s] = lane_off
            n_off += lane_off
    return n_off


@njit
def _pnl_loop_scenario_major(
    f: Any, k: Any, t: Any, r: Any, c: Any, inv: Any, base: Any, rows: Any, mult: Any,
    vol: Any, pnl: Any, off: Any,
) -> int:  # fmt: skip
    """:func:`_pnl_loop` over ``(S, m)`` arrays: scenario ``s``, option ``i`` at ``[s, i]``.

    The inner loop runs over the options, so it vectorises whole for any number of scenarios
    (a row of 35 cells leaves a scalar remainder; one cell does not vectorise at all). Each
    lane's operations are :func:`_pnl_loop`'s, so the same bits.
    """
    n_off = 0
    for s in range(mult.shape[0]):
        for i in range(f.shape[0]):
            fi = f[i]
            fs = fi * mult[s, i]
            val, _, _, _, _, _, lane_off = black76_lane(fs, k[i], t[i], vol[s, i], r[i], c[i])
            pnl[s, i] = val / fs - base[i] / fi if inv[i] else val - base[i]
            lane_off = lane_off and rows[i]
            off[s, i] = lane_off
            n_off += lane_off
    return n_off


@njit
def _row_value_loop(
    f: Any, k: Any, t: Any, v: Any, r: Any, c: Any, rows: Any, value: Any, off: Any
) -> int:  # fmt: skip
    """:func:`_value_loop` on the rows where ``rows[i]`` (``value`` 0 and not off elsewhere)."""
    n_off = 0
    for i in range(f.shape[0]):
        val, _, _, _, _, _, lane_off = black76_lane(f[i], k[i], t[i], v[i], r[i], c[i])
        row = rows[i]
        value[i] = val if row else 0.0
        lane_off = lane_off and row
        off[i] = lane_off
        n_off += lane_off
    return n_off


def row_values_into(args: Arrays, rows: BoolArray, value: FloatArray) -> IntArray:
    """Write the value of the options where ``rows`` into ``value`` (0 elsewhere).

    Arguments as :func:`value_into`, ``rows`` a C-contiguous ``(m,)`` boolean; returns the
    flagged rows' lanes off the domain (for the NumPy kernel to recompute).
    """
    off = np.empty(args[0].shape, dtype=np.bool_)
    if _row_value_loop(*args, rows, value, off) == 0:
        return _NONE
    return np.flatnonzero(off)


def pnl_into(
    args: tuple[
        FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, BoolArray, FloatArray,
        BoolArray,
    ],
    mult: FloatArray,
    vol: FloatArray,
    pnl: FloatArray,
    *,
    scenario_major: bool = False,
) -> IntArray:  # fmt: skip
    """Write ``m`` options' value changes under ``S`` scenarios into ``pnl``.

    Parameters
    ----------
    args
        Forward, strike, time (shifted, floored at 0), rate, is_call, inverse, base value and
        the rows to compute (others are meaningless and never flagged), each a C-contiguous
        array of shape ``(m,)``.
    mult, vol
        Shape ``(m, S)`` (any strides): multiplier of the forward, scenario vol; with
        ``scenario_major``, shape ``(S, m)``.
    pnl
        Out, float64 ``(m, S)`` (any strides); with ``scenario_major``, ``(S, m)``.
    scenario_major
        The arrays hold one scenario per row (:func:`_pnl_loop_scenario_major`: the same
        bits, faster where ``S`` is small).

    Returns
    -------
    IntArray
        Flat indices into ``pnl`` (C order) of the lanes off the smooth domain, whose values
        are meaningless and must be recomputed with the NumPy kernel.
    """
    off = np.empty(pnl.shape, dtype=np.bool_)
    loop = _pnl_loop_scenario_major if scenario_major else _pnl_loop
    if loop(*args, mult, vol, pnl, off) == 0:
        return _NONE
    return np.flatnonzero(off)
