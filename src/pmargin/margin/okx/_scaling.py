"""Progressive (tax-bracket-like) tier scaling of OKX's raw minimum charge (MR7)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin.errors import InputError

__all__ = ["progressive_scale"]


def progressive_scale(
    raw: ArrayLike, bounds: Sequence[float], multipliers: Sequence[float]
) -> FloatArray:
    """Scale amounts tier by tier, each slice by its own tier's multiplier.

    With tier upper bounds ``b_1 < ... < b_n`` (``b_0 = 0``, ``b_{n+1} = inf``) and multipliers
    ``m_1 .. m_{n+1}``::

        scaled(x) = sum_k m_k * clip(x - b_{k-1}, 0, b_k - b_{k-1})

    e.g. with OKX's BTC/ETH table (10k/70k/170k, x1/x2/x4, ...) a raw 80,000 USD becomes
    ``10,000 x 1 + 60,000 x 2 + 10,000 x 4 = 170,000``.

    Parameters
    ----------
    raw
        Raw amounts (USD), any shape, ``>= 0``.
    bounds
        Tier upper bounds (USD), strictly increasing and ``> 0``; ``n`` of them.
    multipliers
        ``n + 1`` multipliers ``> 0``, one per tier (the last tier is unbounded).

    Returns
    -------
    FloatArray
        Scaled amounts (USD), the shape of ``raw``.

    Raises
    ------
    InputError
        For a negative or non-finite amount, or an inconsistent table.
    """
    x = np.asarray(raw, dtype=np.float64)
    if not np.all(np.isfinite(x)) or np.any(x < 0.0):
        raise InputError("raw", raw, "must be finite amounts >= 0")
    try:
        lower, width, factor = _kept_tiers(tuple(bounds), tuple(multipliers))
    except TypeError:  # unhashable entries: checked (and refused) without the cache
        lower, width, factor = _tiers(tuple(bounds), tuple(multipliers))
    # the tiers run along the first axis (long inner loops: ~2x faster than along the last,
    # same values), then laid out (..., tiers) as the product has always read them (bits)
    flat = x.reshape(-1)
    tiers = np.clip(flat - lower[:, np.newaxis], 0.0, width[:, np.newaxis])
    slices = np.ascontiguousarray(tiers.T).reshape((*x.shape, lower.size))
    result: FloatArray = slices @ factor
    return result


def _tiers(
    bounds: tuple[float, ...], multipliers: tuple[float, ...]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check a table: its tiers' lower bounds, widths and multipliers (read-only)."""
    upper = np.asarray(bounds, dtype=np.float64)
    factor = np.asarray(multipliers, dtype=np.float64)
    if upper.ndim != 1 or np.any(upper <= 0.0) or np.any(np.diff(upper) <= 0.0):
        raise InputError("bounds", bounds, "must be strictly increasing numbers > 0")
    if factor.shape != (upper.size + 1,) or np.any(factor <= 0.0):
        raise InputError("multipliers", multipliers, f"must be {upper.size + 1} numbers > 0")
    lower = np.concatenate(([0.0], upper))
    width = np.concatenate((np.diff(lower), [np.inf]))
    for array in (lower, width, factor):
        array.flags.writeable = False
    return lower, width, factor


_kept_tiers = functools.lru_cache(maxsize=64)(_tiers)
""":func:`_tiers` of a table checked once (a monitor scales every tick by the same tables)."""
