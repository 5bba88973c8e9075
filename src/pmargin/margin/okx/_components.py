"""Array pieces of the OKX components that are not a plain spot/vol grid (MR3, MR4, MR5, MR7).

All functions are pure: arrays in, arrays out, no books or markets. Shapes use ``n`` for
instruments and ``a`` for accounts; every amount is USD.
"""

from __future__ import annotations

import numpy as np

from pmargin._typing import ArrayLike, FloatArray

__all__ = [
    "MAX_BASIS_MOVE",
    "basis_multipliers",
    "minimum_charge_rates",
    "rate_shift_factors",
    "rate_shift_pnl",
    "term_structure_charge",
    "term_structure_weights",
]

MAX_BASIS_MOVE = 0.99
"""Cap on one forward's relative basis move, so a shocked forward stays positive."""


def basis_multipliers(
    time: ArrayLike, annual_move: ArrayLike, undated_move: ArrayLike = 0.0
) -> FloatArray:
    """Price multipliers of the MR4 basis scenarios: all up, or all down, together.

    Parameters
    ----------
    time
        Years to expiry (ACT/365) of each instrument, shape ``(n,)``; NaN for perpetuals and
        spot, which have no expiry.
    annual_move
        Annualised forward move of each instrument's underlying (0.05 = 5% a year), shape
        ``(n,)`` or scalar, ``>= 0``; applies where ``time`` is finite.
    undated_move
        Relative move of each undated instrument (a perpetual's mark against the index,
        0.002 = 0.2%; 0 for spot), shape ``(n,)`` or scalar, ``>= 0``; applies where ``time``
        is NaN.

    Returns
    -------
    FloatArray
        Shape ``(n, 2)``: column 0 ``1 + m``, column 1 ``1 - m`` with
        ``m = min(annual_move x T, MAX_BASIS_MOVE)`` for dated rows and
        ``m = min(undated_move, MAX_BASIS_MOVE)`` where ``T`` is NaN.
    """
    t = np.asarray(time, dtype=np.float64)
    rate = np.broadcast_to(np.asarray(annual_move, dtype=np.float64), t.shape)
    fixed = np.broadcast_to(np.asarray(undated_move, dtype=np.float64), t.shape)
    move = np.minimum(np.where(np.isnan(t), fixed, rate * np.nan_to_num(t)), MAX_BASIS_MOVE)
    return np.stack([1.0 + move, 1.0 - move], axis=-1)


def rate_shift_pnl(value: ArrayLike, time: ArrayLike, shift: float) -> FloatArray:
    """P&L of options whose discount rate moves up and down by ``shift`` (forward unchanged).

    A Black-76 value ``V = e^(-r T) B(F, K, T, sigma)`` becomes ``V e^(-/+ shift T)``.

    Parameters
    ----------
    value
        Option values per base unit (USD), shape ``(n,)``; 0 for non-options.
    time
        Years to expiry, shape ``(n,)``; NaN for non-options (treated as 0).
    shift
        Rate shift, decimal per year (``>= 0``).

    Returns
    -------
    FloatArray
        Shape ``(n, 2)``: ``V (e^(-shift T) - 1)`` (rates up) and ``V (e^(shift T) - 1)``.
    """
    v = np.nan_to_num(np.asarray(value, dtype=np.float64))
    factor = rate_shift_factors(time, shift)
    return np.stack([v * factor[..., 0], v * factor[..., 1]], axis=-1)


def rate_shift_factors(time: ArrayLike, shift: float) -> FloatArray:
    """Return what :func:`rate_shift_pnl` multiplies the values by (the same at any price).

    ``time`` (years, shape ``(n,)``, NaN taken as 0) and ``shift`` as :func:`rate_shift_pnl`'s.

    Returns
    -------
    FloatArray
        Shape ``(n, 2)``: ``e^(-shift T) - 1`` and ``e^(shift T) - 1``; the P&L of an option
        of value ``v`` (NaN taken as 0) is ``v x`` each (:func:`rate_shift_pnl`).
    """
    t = np.nan_to_num(np.asarray(time, dtype=np.float64))
    return np.stack([np.expm1(-shift * t), np.expm1(shift * t)], axis=-1)


def term_structure_charge(bucket_pnl: ArrayLike) -> FloatArray:
    """MR3 volatility span: the vol P&L per expiry not offset by a parallel move.

    Parameters
    ----------
    bucket_pnl
        Shape ``(a, n_expiries)``: each account's P&L (USD) when one expiry's vols rise by the
        shift, all others unchanged.

    Returns
    -------
    FloatArray
        Shape ``(a,)``: ``sum_e |v_e| - |sum_e v_e|`` (>= 0; 0 for a single expiry).
    """
    v = np.asarray(bucket_pnl, dtype=np.float64)
    result: FloatArray = np.maximum(np.abs(v).sum(axis=1) - np.abs(v.sum(axis=1)), 0.0)
    return result


def term_structure_weights(bucket_pnl: ArrayLike) -> FloatArray:
    """Euler weights of :func:`term_structure_charge`: ``sign(v_e) - sign(sum_e v_e)``.

    ``sum_e v_e * w_e`` equals the charge, so a position with bucket P&L ``p`` contributes
    ``p * w_e`` of its expiry.

    Returns
    -------
    FloatArray
        Shape ``(a, n_expiries)``.
    """
    v = np.asarray(bucket_pnl, dtype=np.float64)
    result: FloatArray = np.sign(v) - np.sign(v.sum(axis=1, keepdims=True))
    return result


def minimum_charge_rates(price_usd: ArrayLike, rate: ArrayLike) -> FloatArray:
    """Raw MR7 per base unit held, long or short: ``rate x price`` (USD per unit).

    Parameters
    ----------
    price_usd
        USD price of one unit of each instrument's underlying, shape ``(n,)``.
    rate
        Raw MR7 per USD of notional for each instrument's kind, shape ``(n,)``.

    Returns
    -------
    FloatArray
        Shape ``(n,)``; an account's raw MR7 is ``|quantity| @`` this.
    """
    result: FloatArray = np.asarray(price_usd, dtype=np.float64) * np.asarray(
        rate, dtype=np.float64
    )
    return result
