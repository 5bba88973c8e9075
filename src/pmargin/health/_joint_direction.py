"""The joint move of several underlyings: the first principal component of their returns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from pmargin._typing import FloatArray
from pmargin.errors import InputError
from pmargin.history import PriceHistory, log_returns

__all__ = ["joint_direction"]

_HISTORY_DAYS = 365
"""Daily returns used for the joint direction: the last year before the market timestamp."""

_MIN_RETURNS = 30
"""Fewer daily returns than this and the joint direction falls back to equal moves."""


def joint_direction(
    underlyings: Sequence[str],
    history: PriceHistory | None = None,
    as_of: datetime | None = None,
    *,
    days: int = _HISTORY_DAYS,
) -> tuple[FloatArray, str]:
    """Direction of the joint move: the first principal component of return covariance.

    Parameters
    ----------
    underlyings
        Names, ``n`` of them.
    history
        Daily closes; ``None``, or one missing an underlying, or fewer than 30 returns known
        at ``as_of``, gives equal moves.
    as_of
        Only closes at or before this instant are used (no look-ahead); ``None``: all.
    days
        Number of most recent closes used.

    Returns
    -------
    tuple
        ``(v, source)``: ``v`` of shape ``(n,)`` scaled so its largest ``|component|`` is 1
        and its sum is >= 0 (the "market up" sign); ``source`` ``"pca"`` or ``"equal"``.
    """
    n = len(underlyings)
    equal = (np.ones(n), "equal")
    if n == 0:
        return np.zeros(0), "equal"
    if history is None or any(u not in history.names for u in underlyings):
        return equal
    try:
        known = history.select(list(underlyings))
        if as_of is not None:
            known = known.as_of(as_of)
    except InputError:
        return equal
    returns = log_returns(known.closes[-(days + 1) :])
    returns = returns[np.all(np.isfinite(returns), axis=1)]
    if returns.shape[0] < _MIN_RETURNS:
        return equal
    covariance = np.atleast_2d(np.cov(returns, rowvar=False))
    _, vectors = np.linalg.eigh(covariance)
    v = np.asarray(vectors[:, -1], dtype=np.float64)
    if v.sum() < 0.0:
        v = -v
    v = v / np.max(np.abs(v))
    return v, "pca"
