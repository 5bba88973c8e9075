"""Branch-free ``exp``, ``log`` and normal CDF that a compiled loop can vectorise.

numba from PyPI calls the C library for ``math.exp``, ``math.log`` and ``math.erfc``, one scalar
call per element, so a loop that uses them never runs in SIMD registers. The functions here are
written only with ``+ - * /``, fused multiply-adds and integer bit operations, with no branch a
vector lane could disagree on, so LLVM turns a loop over them into AVX2/AVX-512 code.

Importing this module needs numba (the ``fast`` extra); :mod:`pmargin.pricing._black76_jit`
imports it only when numba is installed.

Accuracy (measured by ``tests/pricing/test_vecmath.py`` against the C library and SciPy, and
when the coefficients were fitted against 50-digit mpmath values, see
``tests/pricing/fit_vecmath_coefficients.py``):

- :func:`exp_sum` (``exp(hi + lo)``): within 1 ulp of the correctly rounded result for
  ``hi + lo`` in ``[-708, 709]``; below ``-708`` the result is subnormal (absolute accuracy
  ``2**-1074``) and below ``-745.2`` it is 0; above ``709.78`` it is ``inf``.
- :func:`log_normal` (``log(x)``): within 1 ulp for positive normal ``x``; other inputs
  (zero, subnormal, negative, infinite, NaN) give a meaningless finite number, so callers must
  route them elsewhere.
- :func:`ndtr` (standard normal CDF ``N(x)``): within 4 ulp of ``N(x)`` for ``x <= 0`` while
  ``N(x)`` is a normal number (``x >= -37.5``; measured: 3.5), subnormal below and 0 below
  about ``-38.6``; ``N(x) = 1 - N(-x)`` for ``x > 0``, so within half an ulp of 1 plus that.
  SciPy's ``ndtr``, which rounds ``x**2`` before its ``exp``, carries up to ``1.3 x**2`` ulp
  in the tail. Non-finite ``x`` gives a meaningless number.

The fused multiply-add (``llvm.fma``) rounds once, so every lane, vectorised or not, gives the
same bits: a block's last few elements (the scalar remainder loop) agree with the vector body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from llvmlite import ir
from numba import extending as _extending
from numba import types

from pmargin._compiled import njit_inline

__all__ = [
    "exp_sum",
    "fma",
    "gauss",
    "log_normal",
    "ndtr",
    "ndtr_from_gauss",
    "ndtr_pair",
]


def _intrinsic(func: Callable[..., tuple[Any, Any]]) -> Any:
    """Register ``func`` as a numba intrinsic: its ``codegen`` writes LLVM IR directly."""
    return cast(Any, _extending).intrinsic(func)


# --- LLVM intrinsics: fused multiply-add and bit casts ---------------------------------------


@_intrinsic
def _fma(typingctx: object, a: types.Type, b: types.Type, c: types.Type) -> tuple[Any, Any]:
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        f64 = ir.DoubleType()
        fnty = ir.FunctionType(f64, [f64, f64, f64])
        fn = builder.module.declare_intrinsic("llvm.fma", [f64], fnty)
        return builder.call(fn, args)

    return sig, codegen


@_intrinsic
def _bits(typingctx: object, x: types.Type) -> tuple[Any, Any]:
    sig = types.int64(types.float64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@_intrinsic
def _from_bits(typingctx: object, n: types.Type) -> tuple[Any, Any]:
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


# The intrinsics seen by mypy as the plain functions they compile to.
fma = cast(Callable[[float, float, float], float], _fma)
"""``fma(a, b, c)``: ``a * b + c`` rounded once (float64)."""
_bits_of = cast(Callable[[float], int], _bits)
_float_of = cast(Callable[[int], float], _from_bits)


# --- exp ----------------------------------------------------------------------------------------

_INV_LN2 = 1.4426950408889634
_LN2_HI = 0.6931471805599453  # float64(ln 2)
_LN2_LO = 2.3190468138462996e-17  # ln 2 - _LN2_HI
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND - _ROUND rounds |x| < 2**51 to an integer
# (exp(r) - 1 - r) / r**2 on |r| <= ln(2) / 2, degree 11: error below 2e-18 relative.
_E0, _E1, _E2, _E3 = 0.5, 0.16666666666666666, 0.04166666666666668, 0.008333333333333333
_E4, _E5, _E6 = 0.0013888888888879082, 0.00019841269841263304, 2.480158733642132e-05
_E7, _E8, _E9 = 2.755731924720479e-06, 2.755726330147475e-07, 2.5052071109214447e-08
_E10, _E11 = 2.0918129454967065e-09, 1.6086622436215554e-10


@njit_inline
def exp_sum(hi: float, lo: float) -> float:
    """Return ``exp(hi + lo)`` where ``lo`` is a correction to ``hi`` with ``|lo| <= 4``.

    Passing ``-x * x / 2`` as ``hi`` and its rounding error as part of ``lo`` keeps
    ``exp(-x**2 / 2)`` accurate to a few ulp for ``|x|`` up to 38, where one rounded argument
    would lose ``x**2 / 2`` ulp. ``hi`` is clamped to ``[-746, 710]`` (NaN becomes -746): the
    result is then 0 or ``inf`` as the true value underflows or overflows.
    """
    x = hi if hi > -746.0 else -746.0
    x = x if x < 710.0 else 710.0
    n = ((x + lo) * _INV_LN2 + _ROUND) - _ROUND
    r = fma(-n, _LN2_HI, x) + lo
    r = fma(-n, _LN2_LO, r)
    # Estrin's scheme: a dependency chain of 5 operations instead of Horner's 11, so the
    # out-of-order core overlaps more lanes of a long loop body.
    r2 = r * r
    r4 = r2 * r2
    q01 = fma(r2, fma(r, _E3, _E2), fma(r, _E1, _E0))
    q45 = fma(r2, fma(r, _E7, _E6), fma(r, _E5, _E4))
    q89 = fma(r2, fma(r, _E11, _E10), fma(r, _E9, _E8))
    q = fma(r4 * r4, q89, fma(r4, q45, q01))
    p = fma(r2, q, r) + 1.0
    # 2**n as two factors, each a normal number, so results down to 2**-1075 round correctly.
    k = int(n)
    k1 = k >> 1
    k2 = k - k1
    s1 = _float_of((k1 + 1023) << 52)
    s2 = _float_of((k2 + 1023) << 52)
    return p * s1 * s2


# --- log ----------------------------------------------------------------------------------------

_LN2_HI_LOG = 6.93147180369123816490e-01  # ln 2 with 32 trailing zero bits: e * it is exact
_LN2_LO_LOG = 1.9082149292705877e-10  # ln 2 - _LN2_HI_LOG
_SQRT2 = 1.4142135623730951
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
# R(z) / z with R(z) = sum_k 2 z**k / (2k + 1), z = s**2 <= 0.0295, degree 7: error 2e-18.
_L0, _L1, _L2 = 0.6666666666666666, 0.4000000000000088, 0.28571428570803614
_L3, _L4, _L5 = 0.22222222391713917, 0.18181795640132906, 0.15386239702814658
_L6, _L7 = 0.13268773138656886, 0.13086626147840102


@njit_inline
def log_normal(x: float) -> float:
    """Return ``log(x)`` for a positive normal float64 ``x`` (other inputs: meaningless).

    ``x = m * 2**e`` with ``m`` in ``[sqrt(1/2), sqrt(2))``; ``log(m) = log(1 + f)`` with
    ``f = m - 1`` exact, from ``s = f / (2 + f)`` and ``log(1 + f) = 2 atanh(s)`` written as
    ``f - (f**2 / 2 - s (f**2 / 2 + R(s**2)))`` so that the rounding of ``s`` only enters a
    correction term.
    """
    b = _bits_of(x)
    e = (b >> 52) - 1023
    m = _float_of((b & _MANTISSA) | _ONE_BITS)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    z2 = z * z
    poly = fma(z2, fma(z, _L3, _L2), fma(z, _L1, _L0))
    poly = fma(z2 * z2, fma(z2, fma(z, _L7, _L6), fma(z, _L5, _L4)), poly)
    r = z * poly
    hfsq = 0.5 * f * f
    ef = float(e)
    return ef * _LN2_HI_LOG - ((hfsq - fma(s, hfsq + r, ef * _LN2_LO_LOG)) - f)


# --- normal CDF ---------------------------------------------------------------------------------

# N(-w) = t h(t) exp(-w**2 / 2) for w >= 0 with t = 3 / (3 + w): h is the scaled Mills ratio,
# smooth on t in [3/43, 1] (w in [0, 40]); a degree-23 polynomial in y = 2.15 t - 1.15 (that
# interval mapped onto [-1, 1]), fitted by Chebyshev interpolation, is within 2.2e-16 relative.
_W_MAX = 40.0
_H = (
    0.2552512935927586,
    0.168093831952373,
    0.06910578990714428,
    0.011809196721363175,
    -0.0031969227492327523,
    -0.0014954814984472836,
    0.000323845337270127,
    0.0001765787033050924,
    -6.275183476404415e-05,
    -1.692332393990008e-05,
    1.3382963109347582e-05,
    -3.5528540580871874e-07,
    -2.270981000380673e-06,
    7.746652311977644e-07,
    1.6872645864814865e-07,
    -2.17720718369607e-07,
    5.4171410317661205e-08,
    2.442471206437991e-08,
    -2.4519696568631054e-08,
    4.466646734480182e-09,
    4.6063542622837384e-09,
    -2.2582249375025103e-09,
    -3.703191287808365e-10,
    3.036123062085583e-10,
)
(_H0, _H1, _H2, _H3, _H4, _H5, _H6, _H7, _H8, _H9, _H10, _H11) = _H[:12]
(_H12, _H13, _H14, _H15, _H16, _H17, _H18, _H19, _H20, _H21, _H22, _H23) = _H[12:]


@njit_inline
def gauss(x: float) -> float:
    """Return ``exp(-x**2 / 2)`` (the normal density times ``sqrt(2 pi)``) to a few ulp.

    ``x**2`` is split into its rounded value and rounding error (one fused multiply-add), so
    the result keeps its relative accuracy in the tail; ``|x| > 38.6`` gives 0, NaN gives 0.
    """
    w = _abs_clamped(x)
    w2 = w * w
    return exp_sum(-0.5 * w2, -0.5 * fma(w, w, -w2))


@njit_inline
def _lower_tail(t: float, gauss_x: float) -> float:
    """``N(-w) = t h(t) gauss(w)`` from ``t = 3 / (3 + w)`` and ``gauss(w)``."""
    y = fma(2.15, t, -1.15)
    # Estrin's scheme (dependency chain of 6 operations instead of Horner's 23).
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    a0 = fma(y2, fma(y, _H3, _H2), fma(y, _H1, _H0))
    a1 = fma(y2, fma(y, _H7, _H6), fma(y, _H5, _H4))
    a2 = fma(y2, fma(y, _H11, _H10), fma(y, _H9, _H8))
    a3 = fma(y2, fma(y, _H15, _H14), fma(y, _H13, _H12))
    a4 = fma(y2, fma(y, _H19, _H18), fma(y, _H17, _H16))
    a5 = fma(y2, fma(y, _H23, _H22), fma(y, _H21, _H20))
    b0 = fma(y4, a1, a0)
    b1 = fma(y4, a3, a2)
    b2 = fma(y4, a5, a4)
    h = fma(y8 * y8, b2, fma(y8, b1, b0))
    return t * h * gauss_x


@njit_inline
def _abs_clamped(x: float) -> float:
    """``min(|x|, 40)``: beyond 38.6 the tail ``N(-|x|)`` is 0 in float64."""
    w = -x if x < 0.0 else x
    return w if w < _W_MAX else _W_MAX


@njit_inline
def ndtr_from_gauss(x: float, gauss_x: float) -> float:
    """Return the standard normal CDF ``N(x)`` given ``gauss_x = gauss(x)`` (dimensionless).

    Computing ``gauss(x)`` once serves both the density and the CDF of ``x`` (Black-76 needs
    both at ``d1``).
    """
    lower = _lower_tail(3.0 / (3.0 + _abs_clamped(x)), gauss_x)
    return lower if x <= 0.0 else 1.0 - lower


@njit_inline
def ndtr_pair(x1: float, gauss_x1: float, x2: float, gauss_x2: float) -> tuple[float, float]:
    """Return ``(N(x1), N(x2))`` given ``gauss(x1)`` and ``gauss(x2)``, one division for both.

    ``t = 3 / (3 + w)`` of both arguments comes from ``1 / ((3 + w1) (3 + w2))``, which adds
    one rounding (half an ulp) to each result.
    """
    u1 = 3.0 + _abs_clamped(x1)
    u2 = 3.0 + _abs_clamped(x2)
    inv = 3.0 / (u1 * u2)
    lower1 = _lower_tail(u2 * inv, gauss_x1)
    lower2 = _lower_tail(u1 * inv, gauss_x2)
    n1 = lower1 if x1 <= 0.0 else 1.0 - lower1
    n2 = lower2 if x2 <= 0.0 else 1.0 - lower2
    return n1, n2


@njit_inline
def ndtr(x: float) -> float:
    """Return the standard normal CDF ``N(x)`` of a finite float64 ``x`` (dimensionless)."""
    return ndtr_from_gauss(x, gauss(x))
