"""Array pieces of TIMS: valuation points, the per-contract minimum, product-group offsets.

Pure functions on arrays; every amount is USD.
"""

from __future__ import annotations

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin.errors import InputError

__all__ = ["offset_factors", "offset_pnl", "per_contract_minimum", "valuation_points"]


def valuation_points(down: float, up: float, per_side: int = 5) -> FloatArray:
    """Equidistant relative moves of the underlying, ``per_side`` down and up, zero excluded.

    Parameters
    ----------
    down
        Size of the largest fall, in (0, 1): 0.15 for -15%.
    up
        Size of the largest rise, > 0: 0.06 for +6%.
    per_side
        Points on each side (5 under Cboe 10.4 / FINRA 4210(g)).

    Returns
    -------
    FloatArray
        Shape ``(2 * per_side,)``, ascending: ``-down * k / per_side`` for
        ``k = per_side .. 1``, then ``up * k / per_side`` for ``k = 1 .. per_side``.
        ``(0.15, 0.15)`` gives -15, -12, -9, -6, -3, +3, +6, +9, +12, +15 %.
    """
    if not 0.0 < down < 1.0:
        raise InputError("down", down, "must be a relative move in (0, 1)")
    if not up > 0.0:
        raise InputError("up", up, "must be a relative move > 0")
    if isinstance(per_side, bool) or not isinstance(per_side, int) or per_side < 1:
        raise InputError("per_side", per_side, "must be an integer >= 1")
    k = np.arange(1, per_side + 1, dtype=np.float64) / per_side
    return np.concatenate([-down * k[::-1], up * k])


def per_contract_minimum(contracts: ArrayLike, multiplier: ArrayLike, rate: float) -> FloatArray:
    """Minimum requirement of option/future positions, long or short, hedged or not.

    Parameters
    ----------
    contracts
        Signed number of contracts per position, any shape.
    multiplier
        Units of underlying per contract (100 for a standard equity option), broadcastable.
    rate
        USD per unit of underlying (OCC: 0.375, i.e. 37.50 USD per 100-share contract).

    Returns
    -------
    FloatArray
        ``rate * multiplier * |contracts|``, the broadcast shape (USD).
    """
    result: FloatArray = (
        rate * np.asarray(multiplier, dtype=np.float64) * np.abs(np.asarray(contracts, np.float64))
    )
    return result


def offset_factors(class_pnl: ArrayLike, offset: float) -> FloatArray:
    """Weight of each class group's P&L in its product group: 1 on a loss, ``offset`` on a gain.

    Parameters
    ----------
    class_pnl
        Shape ``(n_groups, n_accounts, n_points)``: each class group's P&L (USD).
    offset
        Fraction of a gain that may offset other class groups' losses, in [0, 1].

    Returns
    -------
    FloatArray
        The shape of ``class_pnl``.
    """
    p = np.asarray(class_pnl, dtype=np.float64)
    result: FloatArray = np.where(p < 0.0, 1.0, offset)
    return result


def offset_pnl(class_pnl: ArrayLike, offset: float) -> FloatArray:
    """Product-group P&L per valuation point: losses in full, gains at ``offset``.

    ``sum_c min(P_c, 0) + offset * sum_c max(P_c, 0)``, point by point.

    Parameters
    ----------
    class_pnl
        Shape ``(n_groups, n_accounts, n_points)`` (USD).
    offset
        In [0, 1]: 0.90 lets 90% of one class group's gain offset another's loss.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts, n_points)`` (USD).
    """
    p = np.asarray(class_pnl, dtype=np.float64)
    result: FloatArray = (offset_factors(p, offset) * p).sum(axis=0)
    return result
