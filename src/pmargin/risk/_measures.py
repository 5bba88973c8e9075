"""Historical risk measures: value at risk, expected shortfall and their Euler allocation.

Pure functions on float64 arrays of shape ``(n_observations[, n_assets])`` that reduce along
axis 0. P&L is signed (a gain is positive); the measures are LOSSES AS POSITIVE NUMBERS (a
portfolio that cannot lose has a negative VaR).

Conventions (``shared/methodologies/backtesting.md``)
-----------------------------------------------------
With ``n`` observations and level ``a`` (0.99 for 99%), let ``k = ceil((1 - a) n)`` and sort
the P&L ascending (worst first):

* ``var = -sorted[k - 1]``: the empirical quantile of P&L at ``1 - a`` with numpy's
  ``"inverted_cdf"`` method, negated;
* ``expected_shortfall = -mean(sorted[:k])``: the mean of the ``k`` worst P&L values, negated.

``(1 - a) n`` is taken as an integer when it lies within ``1e-9 n`` of one, so that floating
point noise (``(1 - 0.99) * 100 = 1.0000000000000009``) does not move ``k``.

Probability weights
-------------------
``weights`` (shape ``(n_observations,)``, non-negative, not all zero, normalised internally)
give each scenario a probability: stressed-period weighting, age weighting (BRW). With the P&L
sorted ascending (a stable sort: ties keep their input order), ``w`` the weights in that order
and ``W_j = w_0 + ... + w_j`` their cumulative sum over the total ``W``:

* VaR is ``-sorted[j]`` for the first ``j`` with ``w_j > 0`` and ``W_j >= (1 - a) W`` (the
  weighted inverted-cdf quantile; same ``1e-9 W`` tolerance);
* ES with ``boundary="whole"`` (the default) is the weighted mean of the observations up to
  and including ``j``: its tail mass is ``W_j / W >= 1 - a``;
* ES with ``boundary="split"`` takes only the part ``(1 - a) W - W_(j-1)`` of observation
  ``j``'s weight, so that the tail mass is exactly ``1 - a`` (Acerbi and Tasche's ES of the
  weighted empirical distribution). Without weights it reads
  ``-(sum(sorted[:k-1]) + ((1 - a) n - (k - 1)) sorted[k-1]) / ((1 - a) n)``.

Equal weights reproduce the unweighted results (to rounding): ``W_j / W = (j + 1) / n``. The
two boundary rules agree whenever ``(1 - a) n`` (or ``(1 - a) W`` over a weight) is reached
exactly by the cumulative weights; "whole" is the backtesting.md and ORE convention, "split"
is the coherent choice when a few heavy weights make the boundary observation large.

With "whole" and unequal weights, ties in P&L at the boundary are included in input order;
"split" does not depend on that order.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from pmargin._typing import ArrayLike, FloatArray
from pmargin._validation import as_float
from pmargin.errors import InputError

__all__ = [
    "euler_contributions",
    "expected_shortfall",
    "var",
]

IndexArray = npt.NDArray[np.intp]

Boundary = Literal["whole", "split"]
"""How expected shortfall treats the observation at the VaR boundary."""

_LEVEL_TOLERANCE = 1e-9
"""Relative tolerance (of the total weight) within which ``(1 - a) W`` hits a cumulative weight."""


def _as_pnl(pnl: ArrayLike, field: str, ndims: tuple[int, ...]) -> FloatArray:
    """Return ``pnl`` as a finite float64 array with one of ``ndims`` and observations."""
    try:
        array = np.asarray(pnl, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(field, pnl, "must be numeric") from exc
    if array.ndim not in ndims:
        shapes = " or ".join(
            "(n_observations,)" if d == 1 else "(n_observations, n_assets)" for d in ndims
        )
        raise InputError(f"{field}.shape", array.shape, f"must be {shapes}")
    if array.shape[0] == 0 or array.size == 0:
        raise InputError(f"{field}.shape", array.shape, "must hold at least one observation")
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InputError(
            f"{field}[{', '.join(str(int(i)) for i in bad)}]",
            float(array[tuple(bad)]),
            "must be finite (no NaN or infinity)",
        )
    return array


def _as_level(level: float) -> float:
    """Return the confidence level as a float in the open interval (0, 1)."""
    return as_float(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)


def _as_weights(weights: ArrayLike | None, n_observations: int) -> FloatArray | None:
    """Return probability weights of shape ``(n_observations,)`` (unnormalised) or None."""
    if weights is None:
        return None
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError("weights", weights, "must be numeric") from exc
    if w.shape != (n_observations,):
        raise InputError(
            "weights.shape", w.shape, f"must be ({n_observations},), one weight per observation"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        i = int(np.argmax(~np.isfinite(w) | (w < 0)))
        raise InputError(f"weights[{i}]", float(w[i]), "must be a finite number >= 0")
    if not w.sum() > 0:
        raise InputError("weights", "all zero", "must have a positive sum")
    return w


def _k_unweighted(level: float, n: int) -> int:
    """``ceil((1 - level) n)`` with ``(1 - level) n`` snapped to an integer within ``1e-9 n``."""
    return max(1, math.ceil((1.0 - level) * n - _LEVEL_TOLERANCE * n))


def _tail(
    pnl: FloatArray, level: float, weights: FloatArray | None
) -> tuple[IndexArray, FloatArray, FloatArray, IndexArray, FloatArray]:
    """Sort each column and locate the VaR observation.

    Parameters
    ----------
    pnl
        P&L, shape ``(n_observations, n_columns)``.
    level
        Confidence level in (0, 1).
    weights
        Weights, shape ``(n_observations,)``, or None for equal weights.

    Returns
    -------
    order, sorted_weights, cumulative, index, target
        ``order`` (n, m) the stable ascending sort of each column; ``sorted_weights`` and
        ``cumulative`` (n, m) the weights in that order and their cumulative sums (ones and
        ``1..n`` without weights); ``index`` (m,) the row of the VaR observation in sorted
        order; ``target`` (m,) the tail mass ``(1 - level) W``.
    """
    n, m = pnl.shape
    order = np.argsort(pnl, axis=0, kind="stable")
    if weights is None:
        sorted_weights = np.ones((n, m))
        cumulative = np.broadcast_to(np.arange(1.0, n + 1.0)[:, None], (n, m))
        index = np.full(m, _k_unweighted(level, n) - 1)
        total = float(n)
    else:
        sorted_weights = weights[order]
        cumulative = np.cumsum(sorted_weights, axis=0)
        total = float(cumulative[-1, 0])
        threshold = (1.0 - level) * total - _LEVEL_TOLERANCE * total
        index = np.argmax((cumulative >= threshold) & (sorted_weights > 0), axis=0)
    target = np.full(m, (1.0 - level) * total)
    return order, sorted_weights, cumulative, index, target


def _tail_weights(
    sorted_weights: FloatArray,
    cumulative: FloatArray,
    index: IndexArray,
    target: FloatArray,
    boundary: Boundary,
) -> FloatArray:
    """Weight of each sorted observation in the tail mean (rows after ``index`` get 0), (n, m)."""
    n, m = sorted_weights.shape
    rows = np.arange(n)[:, None]
    tail = np.where(rows <= index[None, :], sorted_weights, 0.0)
    if boundary == "split":
        columns = np.arange(m)
        before = cumulative[index, columns] - sorted_weights[index, columns]
        part = np.clip(target - before, 0.0, sorted_weights[index, columns])
        tail[index, columns] = part
    return tail


def _check_boundary(boundary: str) -> Boundary:
    if boundary == "whole":
        return "whole"
    if boundary == "split":
        return "split"
    raise InputError("boundary", boundary, "must be 'whole' or 'split'")


def _reduce(values: FloatArray, one_dimensional: bool) -> float | FloatArray:
    return float(values[0]) if one_dimensional else values


def var(
    pnl: ArrayLike, level: float = 0.99, weights: ArrayLike | None = None
) -> float | FloatArray:
    """Historical value at risk: the negated empirical ``1 - level`` quantile of P&L.

    Parameters
    ----------
    pnl
        Signed P&L per scenario, shape ``(n_observations,)`` or ``(n_observations, n_assets)``
        (one column per asset or portfolio), any currency unit.
    level
        Confidence level in (0, 1), e.g. 0.99.
    weights
        Optional probability weights, shape ``(n_observations,)``, non-negative, normalised
        internally (see the module docstring).

    Returns
    -------
    float or FloatArray
        The loss (positive number, same unit as ``pnl``): a float for 1-D input, shape
        ``(n_assets,)`` for 2-D. Unweighted: ``-sorted(pnl)[ceil((1 - level) n) - 1]``.

    Raises
    ------
    InputError
        Non-numeric, empty or non-finite ``pnl``; ``level`` outside (0, 1); weights of the
        wrong shape, negative, non-finite or all zero.
    """
    x = _as_pnl(pnl, "pnl", (1, 2))
    a = _as_level(level)
    w = _as_weights(weights, x.shape[0])
    one_dimensional = x.ndim == 1
    x2 = x.reshape(x.shape[0], -1)
    order, _, _, index, _ = _tail(x2, a, w)
    columns = np.arange(x2.shape[1])
    values = -x2[order[index, columns], columns]
    return _reduce(values, one_dimensional)


def expected_shortfall(
    pnl: ArrayLike,
    level: float = 0.99,
    weights: ArrayLike | None = None,
    boundary: Boundary = "whole",
) -> float | FloatArray:
    """Historical expected shortfall: the negated mean of the worst ``1 - level`` of P&L.

    Parameters
    ----------
    pnl
        Signed P&L per scenario, shape ``(n_observations,)`` or ``(n_observations, n_assets)``.
    level
        Confidence level in (0, 1), e.g. 0.99 (0.975 for the FRTB ES).
    weights
        Optional probability weights, shape ``(n_observations,)``, non-negative.
    boundary
        ``"whole"`` (default): the tail holds the ``ceil((1 - level) n)`` worst observations
        whole (backtesting.md, ORE). ``"split"``: only part of the VaR observation counts, so
        that the tail mass is exactly ``1 - level``.

    Returns
    -------
    float or FloatArray
        The loss (positive number, unit of ``pnl``): a float for 1-D input, shape
        ``(n_assets,)`` for 2-D. Never below :func:`var` at the same level.

    Raises
    ------
    InputError
        As :func:`var`, and for an unknown ``boundary``.
    """
    x = _as_pnl(pnl, "pnl", (1, 2))
    a = _as_level(level)
    w = _as_weights(weights, x.shape[0])
    mode = _check_boundary(boundary)
    one_dimensional = x.ndim == 1
    x2 = x.reshape(x.shape[0], -1)
    if w is None and mode == "whole":
        k = _k_unweighted(a, x2.shape[0])
        values = -np.mean(np.sort(x2, axis=0)[:k], axis=0)
        return _reduce(values, one_dimensional)
    order, sorted_weights, cumulative, index, target = _tail(x2, a, w)
    tail = _tail_weights(sorted_weights, cumulative, index, target, mode)
    sorted_pnl = np.take_along_axis(x2, order, axis=0)
    values = -np.sum(tail * sorted_pnl, axis=0) / np.sum(tail, axis=0)
    return _reduce(values, one_dimensional)


def euler_contributions(
    component_pnl: ArrayLike,
    level: float = 0.99,
    measure: Literal["es", "var"] = "es",
    weights: ArrayLike | None = None,
    boundary: Boundary = "whole",
) -> FloatArray:
    """Euler allocation of a portfolio's historical ES or VaR to its components.

    The portfolio P&L is the row sum of ``component_pnl``. Its tail scenarios are chosen once,
    on the portfolio, exactly as :func:`expected_shortfall` / :func:`var` choose them (stable
    ascending sort: among scenarios with equal portfolio P&L the earlier one ranks worse), and
    every component is measured on those same scenarios:

    * ``"es"``: contribution = minus the component's (weighted) mean P&L over the tail, with the
      boundary observation's weight cut as in :func:`expected_shortfall` for ``"split"``;
    * ``"var"``: contribution = minus the component's P&L in the VaR scenario.

    The contributions add up to the portfolio measure (to rounding). For a smooth P&L
    distribution they are ``x_i d rho / d x_i``, the Euler (gradient) allocation of the measure
    ``rho`` with respect to the scale ``x_i`` of component ``i``; with historical scenarios the
    tail set is locally constant, so this holds exactly for small scalings without ties.

    Parameters
    ----------
    component_pnl
        Signed P&L, shape ``(n_observations, n_components)``.
    level
        Confidence level in (0, 1).
    measure
        ``"es"`` (default) or ``"var"``.
    weights
        Optional probability weights, shape ``(n_observations,)``.
    boundary
        ES boundary rule, ``"whole"`` or ``"split"`` (ignored for VaR).

    Returns
    -------
    FloatArray
        Contributions, shape ``(n_components,)``, losses positive, unit of ``component_pnl``.

    Raises
    ------
    InputError
        As :func:`expected_shortfall`, for a 1-D ``component_pnl`` and an unknown ``measure``.
    """
    x = _as_pnl(component_pnl, "component_pnl", (2,))
    a = _as_level(level)
    w = _as_weights(weights, x.shape[0])
    mode = _check_boundary(boundary)
    if measure not in ("es", "var"):
        raise InputError("measure", measure, "must be 'es' or 'var'")
    portfolio = x.sum(axis=1)[:, None]
    order, sorted_weights, cumulative, index, target = _tail(portfolio, a, w)
    rows = order[:, 0]
    if measure == "var":
        contributions: FloatArray = -x[rows[index[0]]]
        return contributions
    tail = _tail_weights(sorted_weights, cumulative, index, target, mode)[:, 0]
    contributions = -(tail @ x[rows]) / tail.sum()
    return contributions
