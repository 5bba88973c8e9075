"""Black-76 implied volatility: vectorised, bracketed, with a fixed iteration cap.

Method
------
The price is first checked against the no-arbitrage bounds ``df * intrinsic <= price < df * F``
(call) or ``< df * K`` (put). Inside them it is reduced to the normalised time value of the
out-of-the-money option of the same strike (put-call parity)::

    beta = (price / df - intrinsic) / sqrt(F K),   theta = -|ln(F / K)| <= 0,
    b(s) = exp(theta / 2) N(theta / s + s / 2) - exp(-theta / 2) N(theta / s - s / 2),

and ``b(s) = beta`` is solved for the total volatility ``s = vol * sqrt(T)``. ``b`` increases
from 0 to ``b_max = exp(theta / 2)``. Newton's method runs on ``ln b(s) - ln beta`` when
``beta < b_max / 2`` (the objective is concave in ``s``, so Newton never overshoots twice and
the logarithm keeps full precision for tiny prices) and on ``ln(b_max - beta) - ln(b_max - b(s))``
above (full precision near the upper bound). Each step is kept inside a bracket ``[lo, hi]``
that every evaluation tightens; a step that leaves it is replaced by bisection. The start is a
lower bound of the root (the larger of the at-the-money inversion and the small-``s``
asymptote ``|theta| / sqrt(-2 ln beta)``), so a typical solve takes 4 to 7 evaluations.

The loop stops for an option when the Newton step is below ``tol`` relative to ``s`` or when
the objective is within its own rounding noise of zero (the root cannot be located better),
and after ``max_iter`` steps at the latest, reporting :attr:`IVStatus.NOT_CONVERGED`.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import NamedTuple

import numpy as np

from pmargin._typing import ArrayLike, FloatArray, Int8Array
from pmargin.pricing._blocks import as_bool, as_float

__all__ = [
    "DEFAULT_MAX_ITER",
    "MAX_TOTAL_VOL",
    "IVStatus",
    "ImpliedVolResult",
    "describe_iv_status",
    "implied_vol",
]

DEFAULT_MAX_ITER = 64
"""Iteration cap: far above the 4-7 evaluations a solve takes, enough for a full bisection."""

MAX_TOTAL_VOL = 100.0
"""Largest total volatility ``vol * sqrt(T)`` searched (10,000 % for one year)."""

_EPS = float(np.finfo(np.float64).eps)
_INTRINSIC_RTOL = 8.0 * _EPS
"""In-the-money prices within ``8 eps * df * max(F, K)`` of ``df * intrinsic`` count as equal."""


class IVStatus(IntEnum):
    """Outcome of an implied-volatility solve, stored as ``int8`` in :class:`ImpliedVolResult`."""

    OK = 0
    """Converged; ``vol`` holds the implied volatility."""
    AT_INTRINSIC = 1
    """Price equals the discounted intrinsic value; ``vol`` is 0."""
    BELOW_INTRINSIC = 2
    """Price below the discounted intrinsic value: an arbitrage, no volatility fits."""
    ABOVE_MAXIMUM = 3
    """Call price ``>= df * F`` or put price ``>= df * K``: no finite volatility fits."""
    NOT_CONVERGED = 4
    """The iteration cap was reached (or the root lies beyond :data:`MAX_TOTAL_VOL`)."""
    INVALID = 5
    """NaN or infinite input, negative price, non-positive forward or strike, or ``time <= 0``."""


_DESCRIPTIONS = {
    IVStatus.OK: "the implied volatility was found",
    IVStatus.AT_INTRINSIC: "the price equals the discounted intrinsic value, so the implied "
    "volatility is 0",
    IVStatus.BELOW_INTRINSIC: "the price is below the discounted intrinsic value "
    "(df * max(F - K, 0) for a call, df * max(K - F, 0) for a put), which no volatility can "
    "produce; check the price, forward and rate",
    IVStatus.ABOVE_MAXIMUM: "the price is at or above the largest possible option value "
    "(df * F for a call, df * K for a put), which no finite volatility can produce; check the "
    "price, forward and rate",
    IVStatus.NOT_CONVERGED: "the solver did not converge within the iteration cap (or the "
    "volatility exceeds the search range); raise max_iter or loosen tol",
    IVStatus.INVALID: "an input is invalid: price must be >= 0, forward and strike > 0, "
    "time > 0 and every value finite",
}


def describe_iv_status(code: int) -> str:
    """Return a human sentence explaining an :class:`IVStatus` code, for error messages.

    Parameters
    ----------
    code
        An :class:`IVStatus` member or its integer value.

    Raises
    ------
    ValueError
        If ``code`` is not a status value.
    """
    try:
        status = IVStatus(int(code))
    except ValueError as exc:
        valid = ", ".join(f"{s.value} ({s.name})" for s in IVStatus)
        raise ValueError(f"code: {code!r} is not an IVStatus; valid codes are {valid}") from exc
    return _DESCRIPTIONS[status]


class ImpliedVolResult(NamedTuple):
    """Implied volatilities and status codes, both of the broadcast input shape."""

    vol: FloatArray
    """Annualised implied volatility (decimal); NaN unless status is OK or AT_INTRINSIC."""
    status: Int8Array
    """:class:`IVStatus` codes as ``int8``."""


def _check_controls(tol: float, max_iter: int) -> None:
    """Reject solver settings that would make it loop uselessly or never stop."""
    if not (isinstance(tol, float | int) and math.isfinite(tol) and 0.0 < tol < 1.0):
        raise ValueError(f"tol: {tol!r} must be a number in (0, 1), e.g. 1e-12")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: {max_iter!r} must be an integer >= 1")


class _Objective(NamedTuple):
    """Objective value, its derivative in ``s`` and its rounding noise, each ``(m,)``."""

    value: FloatArray
    slope: FloatArray
    noise: FloatArray


def _objective(
    theta: FloatArray,
    log_target: FloatArray,
    upper: np.ndarray[tuple[int], np.dtype[np.bool_]],
    s: FloatArray,
) -> _Objective:
    """Evaluate the branch objective at total volatility ``s`` (all arrays of shape ``(m,)``).

    ``upper`` selects ``ln(b_max - beta) - ln(b_max - b(s))`` (then ``log_target`` holds
    ``ln(b_max - beta)``); elsewhere ``ln b(s) - ln beta`` (``log_target`` is ``ln beta``).
    """
    from scipy.special import ndtr  # imported at first use: SciPy costs 0.2 s at start-up

    half = np.exp(0.5 * theta)
    inv_half = 1.0 / half
    d1 = theta / s + 0.5 * s
    d2 = d1 - s
    density = half * np.exp(-0.5 * d1 * d1) * (1.0 / math.sqrt(2.0 * math.pi))  # db/ds
    # Lower branch: b = A - B; upper branch: b_max - b = A' + B' (no cancellation).
    a = half * ndtr(np.where(upper, -d1, d1))
    b = inv_half * ndtr(d2)
    level = np.where(upper, a + b, a - b)
    value = np.where(upper, log_target - np.log(level), np.log(level) - log_target)
    slope = density / level
    noise = np.where(upper, 8.0 * _EPS, 4.0 * _EPS * (a + b) / level)
    return _Objective(value, slope, noise)


def _solve(
    theta: FloatArray, beta: FloatArray, tol: float, max_iter: int
) -> tuple[FloatArray, FloatArray]:
    """Solve ``b(theta, s) = beta`` for ``s``; return ``s`` (NaN where not converged) and steps.

    ``theta <= 0`` and ``0 < beta < exp(theta / 2)``, all of shape ``(n,)``.
    """
    from scipy.special import ndtri  # imported at first use: SciPy costs 0.2 s at start-up

    b_max = np.exp(0.5 * theta)
    upper = beta >= 0.5 * b_max
    gap = b_max - beta  # upper branch works with the distance to the bound
    log_target = np.where(upper, np.log(gap), np.log(beta))
    # Lower bounds of the root: at-the-money inversion and the small-s asymptote.
    s_atm = np.where(upper, -2.0 * ndtri(0.5 * gap / b_max), 2.0 * ndtri(0.5 + 0.5 * beta / b_max))
    s_asym = np.where(upper, 0.0, -theta / np.sqrt(-2.0 * np.log(np.minimum(beta, 0.5))))
    s = np.clip(np.maximum(s_atm, s_asym), 1e-300, MAX_TOTAL_VOL)

    result = np.full(theta.shape, np.nan)
    steps = np.zeros(theta.shape)
    index = np.arange(theta.shape[0])
    lo = np.zeros(theta.shape)
    hi = np.full(theta.shape, MAX_TOTAL_VOL)
    for step in range(1, max_iter + 1):
        obj = _objective(theta, log_target, upper, s)
        below = obj.value < 0.0
        lo = np.where(below, np.maximum(lo, s), lo)
        hi = np.where(obj.value > 0.0, np.minimum(hi, s), hi)
        proposal = s - obj.value / obj.slope
        inside = (proposal > lo) & (proposal < hi)
        proposal = np.where(inside, proposal, 0.5 * (lo + hi))
        at_noise = np.abs(obj.value) <= obj.noise
        small_step = np.abs(proposal - s) <= tol * proposal
        done = at_noise | small_step | (obj.value == 0.0)
        if done.any():
            result[index[done]] = np.where(at_noise[done], s[done], proposal[done])
            steps[index[done]] = step
        keep = ~done
        if not keep.any():
            break
        index, theta, log_target, upper = index[keep], theta[keep], log_target[keep], upper[keep]
        s, lo, hi = proposal[keep], lo[keep], hi[keep]
    # A "root" pinned to the top of the search range is the range, not the root.
    result[result >= MAX_TOTAL_VOL * (1.0 - 1e-9)] = np.nan
    return result, steps


def implied_vol(
    price: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    time: ArrayLike,
    is_call: ArrayLike,
    rate: ArrayLike = 0.0,
    *,
    tol: float = 1e-12,
    max_iter: int = DEFAULT_MAX_ITER,
) -> ImpliedVolResult:
    """Black-76 implied volatility of European option prices.

    Parameters
    ----------
    price
        Option price in the premium currency per unit of underlying (as :func:`black76`).
    forward
        Forward price ``F``, quote currency per unit of underlying.
    strike
        Strike ``K``, same unit as ``forward``.
    time
        ACT/365 year fraction to expiry; must be ``> 0``.
    is_call
        ``True`` for a call, ``False`` for a put.
    rate
        Continuously compounded discount rate of the premium currency, decimal per year.
    tol
        Relative tolerance on the volatility: a solve stops when the Newton step is below
        ``tol * vol`` (or the objective is at its rounding noise).
    max_iter
        Iteration cap per option; options still unsolved get :attr:`IVStatus.NOT_CONVERGED`.

    Returns
    -------
    ImpliedVolResult
        ``vol`` (float64, annualised decimal) and ``status`` (int8 :class:`IVStatus` codes),
        both of the broadcast shape of the inputs. ``vol`` is 0 for ``AT_INTRINSIC`` and NaN
        for every status other than ``OK`` and ``AT_INTRINSIC``.

    Raises
    ------
    ValueError
        If an argument is not numeric, the shapes do not broadcast, or ``tol`` / ``max_iter``
        are out of range.
    """
    _check_controls(tol, max_iter)
    arrays = [
        as_float("price", price),
        as_float("forward", forward),
        as_float("strike", strike),
        as_float("time", time),
        as_float("rate", rate),
    ]
    calls = as_bool("is_call", is_call)
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays), calls.shape)
    except ValueError as exc:
        raise ValueError(
            f"inputs: shapes {[a.shape for a in arrays]} and is_call={calls.shape} "
            "do not broadcast together"
        ) from exc
    p, f, k, t, r = (np.broadcast_to(a, shape).reshape(-1) for a in arrays)
    call = np.broadcast_to(calls, shape).reshape(-1)

    vol = np.full(p.shape, np.nan)
    status = np.full(p.shape, IVStatus.INVALID, dtype=np.int8)
    with np.errstate(all="ignore"):
        finite = np.isfinite(p) & np.isfinite(f) & np.isfinite(k) & np.isfinite(t) & np.isfinite(r)
        valid = finite & (p >= 0.0) & (f > 0.0) & (k > 0.0) & (t > 0.0)
        df = np.exp(-r * t)
        sign = np.where(call, 1.0, -1.0)
        intrinsic = np.maximum(sign * (f - k), 0.0)
        floor = df * intrinsic
        ceiling = df * np.where(call, f, k)

        # Band around the floor within which price and intrinsic value are indistinguishable:
        # an in-the-money price carries rounding of order eps * df * max(F, K); an
        # out-of-the-money price (floor 0) is exact, so only 0 itself is at the floor.
        band = np.where(intrinsic > 0.0, _INTRINSIC_RTOL * df * np.maximum(f, k), 0.0)
        below = valid & (p < floor - band)
        above = valid & ~below & (p >= ceiling)
        at_floor = valid & ~below & ~above & (p <= floor + band)
        status[below] = IVStatus.BELOW_INTRINSIC
        status[above] = IVStatus.ABOVE_MAXIMUM
        status[at_floor] = IVStatus.AT_INTRINSIC
        vol[at_floor] = 0.0

        todo = np.flatnonzero(valid & ~below & ~above & ~at_floor)
        time_value = p[todo] / df[todo] - intrinsic[todo]
        beta = time_value / np.sqrt(f[todo] * k[todo])
        theta = -np.abs(np.log(f[todo] / k[todo]))
        # Rounding can push a price that passed the checks above onto a bound.
        on_floor = time_value <= 0.0
        over = beta >= np.exp(0.5 * theta)
        status[todo[on_floor]] = IVStatus.AT_INTRINSIC
        vol[todo[on_floor]] = 0.0
        status[todo[over & ~on_floor]] = IVStatus.ABOVE_MAXIMUM
        solve = ~on_floor & ~over
        todo = todo[solve]
        total_vol, _ = _solve(theta[solve], beta[solve], tol, max_iter)
        converged = np.isfinite(total_vol)
        status[todo] = np.where(converged, IVStatus.OK, IVStatus.NOT_CONVERGED)
        vol[todo] = total_vol / np.sqrt(t[todo])
    return ImpliedVolResult(vol.reshape(shape), status.reshape(shape))
