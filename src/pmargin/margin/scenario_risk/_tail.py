"""Per-account VaR / ES and their tail scenarios, vectorised across accounts.

The same estimators as :mod:`pmargin.risk` (``var``, ``expected_shortfall``,
``euler_contributions``; conventions in ``shared/methodologies/backtesting.md``), applied to
every row of an ``(n_accounts, n_scenarios)`` P&L matrix at once. Each account's tail is kept
compactly as ``K`` scenario columns and their normalised weights, so that

    measure[a] = -sum_k weight[a, k] * pnl[a, index[a, k]]

and the Euler contribution of any part of the account's P&L (a position, a balance) is minus
its P&L averaged with the same weights (the shared attribution stage,
:meth:`pmargin.margin._scenario_margin.UnitPositions.tail_loss`). ``K`` is
``ceil((1 - level) n)`` for ES with equal weights, 1 for VaR, and the largest tail size over
the accounts otherwise (padding weights 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pmargin._typing import FloatArray, IntArray

__all__ = [
    "AccountTail",
    "account_tail",
    "equal_tail",
    "smallest",
    "smallest_reference",
    "tail_count",
    "tail_measure",
    "tail_measure_of_smallest",
    "tail_of",
]

_LEVEL_TOLERANCE = 1e-9
"""Same tolerance as :mod:`pmargin.risk._measures`: ``(1 - a) W`` within ``1e-9 W`` of a step."""


@dataclass(frozen=True, slots=True)
class AccountTail:
    """The tail scenarios of every account.

    Attributes
    ----------
    index
        Shape ``(n_accounts, K)``: scenario columns in the tail (worst first).
    weight
        Shape ``(n_accounts, K)``: their weights, each row summing to 1 (padding 0).
    measure
        Shape ``(n_accounts,)``: VaR or ES, a loss as a positive number (USD); negative when
        the account gains in its tail.
    """

    index: IntArray
    weight: FloatArray
    measure: FloatArray

    def dense(self, n_scenarios: int) -> FloatArray:
        """Tail weights as a dense ``(n_accounts, n_scenarios)`` matrix (tests, displays)."""
        out = np.zeros((self.index.shape[0], n_scenarios))
        rows = np.repeat(np.arange(self.index.shape[0]), self.index.shape[1])
        np.add.at(out, (rows, self.index.ravel()), self.weight.ravel())
        return out


def account_tail(
    pnl: FloatArray,
    level: float,
    weights: FloatArray,
    measure: str,
    boundary: str = "whole",
) -> AccountTail:
    """VaR or ES of each row of ``pnl`` and the scenarios that make it.

    Parameters
    ----------
    pnl
        Signed P&L, shape ``(n_accounts, n_scenarios)``, USD.
    level
        Confidence level in (0, 1).
    weights
        Probability weights, shape ``(n_scenarios,)``, >= 0, positive sum.
    measure
        ``"es"`` or ``"var"``.
    boundary
        ES boundary rule, ``"whole"`` or ``"split"`` (as :func:`pmargin.risk.expected_shortfall`).

    Returns
    -------
    AccountTail
        Tail columns, weights and the measure per account. Ties in P&L are ordered as a
        stable sort orders them (the earlier scenario ranks worse), as in :mod:`pmargin.risk`.
    """
    n = pnl.shape[1]
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(w == w[0]):
        order = np.argsort(pnl, axis=1, kind="stable")
        index, weight = _weighted_tail(order, w, level, measure, boundary)
    else:
        index, weight = equal_tail(_k_worst(pnl, tail_count(n, level)), n, level, measure, boundary)
    return tail_of(pnl, index, weight)


def equal_tail(
    worst: IntArray, n: int, level: float, measure: str, boundary: str = "whole"
) -> tuple[IntArray, FloatArray]:
    """Tail columns and weights of equally weighted scenarios from each row's worst columns.

    Parameters
    ----------
    worst
        Shape ``(n_accounts, k)`` with ``k = tail_count(n, level)``: each row's ``k`` worst
        columns, worst first (ties as a stable sort ranks them).
    n
        Scenarios per row.
    level, measure, boundary
        As :func:`account_tail`.

    Returns
    -------
    index
        Shape ``(n_accounts, K)``, C-contiguous int64: ``worst`` for ES, its last column
        for VaR (``K = 1``).
    weight
        Shape ``(n_accounts, K)``: the normalised weights (each row summing to 1).
    """
    n_acc, k = worst.shape
    if measure == "var":
        index = worst[:, k - 1 : k]
        weight = np.ones((n_acc, 1))
    else:
        index = worst
        weight = np.ones((n_acc, k))
        if boundary == "split":
            weight[:, k - 1] = np.clip((1.0 - level) * n - (k - 1), 0.0, 1.0)
        weight /= weight.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(index, dtype=np.int64), weight


def tail_of(pnl: FloatArray, index: IntArray, weight: FloatArray) -> AccountTail:
    """Return the :class:`AccountTail` of ``pnl`` (``(n, n_scenarios)``, USD) at given columns.

    ``index`` and ``weight``: shape ``(n_accounts, K)``; the measure is
    ``-sum_k weight x pnl[a, index[a, k]]``.
    """
    index = np.ascontiguousarray(index, dtype=np.int64)
    values = np.take_along_axis(pnl, index, axis=1)
    return AccountTail(index, weight, -np.sum(weight * values, axis=1))


def _k_worst(pnl: FloatArray, k: int) -> IntArray:
    """Columns of the ``k`` smallest P&L of each row, worst first, as a stable sort ranks them.

    ``O(n_scenarios)`` per row (a partition, not a full sort): the ``k``-th smallest value
    ``v``, every column below it, and the first columns (in column order) equal to it; among
    equal values the earlier column ranks worse, as with ``argsort(kind="stable")``.
    """
    n_acc, n = pnl.shape
    if k >= n:
        return np.argsort(pnl, axis=1, kind="stable")[:, :k].astype(np.int64)
    kth = np.partition(pnl, k - 1, axis=1)[:, k - 1 : k]
    below = pnl < kth
    equal = pnl == kth
    room = k - below.sum(axis=1)
    chosen = below | equal
    tied = np.flatnonzero(equal.sum(axis=1) > room)  # more columns equal to v than room
    if tied.size:
        first = np.cumsum(equal[tied], axis=1) <= room[tied, None]
        chosen[tied] = below[tied] | (equal[tied] & first)
    columns = np.nonzero(chosen)[1].reshape(n_acc, k)  # ascending column order per row
    values = np.take_along_axis(pnl, columns, axis=1)
    ranked = np.argsort(values, axis=1, kind="stable")
    return np.take_along_axis(columns, ranked, axis=1).astype(np.int64)


def tail_measure(
    pnl: FloatArray, level: float, weights: FloatArray, measure: str, boundary: str = "whole"
) -> FloatArray:
    """VaR or ES of each row of ``pnl`` only (no tail columns): ``account_tail(...).measure``.

    With equal weights one partition per row (``O(n_scenarios)``); otherwise
    :func:`account_tail`. Shapes and units as :func:`account_tail`.
    """
    n = pnl.shape[1]
    w = np.asarray(weights, dtype=np.float64)
    if not np.all(w == w[0]):
        return account_tail(pnl, level, w, measure, boundary).measure
    k = tail_count(n, level)
    part = np.partition(pnl, k - 1, axis=1)
    return tail_measure_of_smallest(part, n, level, measure, boundary)


def tail_count(n: int, level: float) -> int:
    """Scenarios in the tail of ``n`` equally weighted ones: ``ceil((1 - level) n)``, >= 1.

    ``(1 - level) n`` within ``1e-9 n`` of an integer counts as that integer (the tolerance
    of :mod:`pmargin.risk`).
    """
    return max(1, math.ceil((1.0 - level) * n - _LEVEL_TOLERANCE * n))


def tail_measure_of_smallest(
    part: FloatArray, n: int, level: float, measure: str, boundary: str = "whole"
) -> FloatArray:
    """VaR or ES of equally weighted scenarios from the smallest P&L of each row.

    Parameters
    ----------
    part
        Shape ``(..., m)`` with ``m >= k = tail_count(n, level)``: along the last axis, the
        ``k``-th smallest P&L of the row at ``k - 1`` and the ``k - 1`` smaller ones before
        it (a partition at ``k - 1``, or the smallest sorted ascending), USD.
    n
        Scenarios in each row (equally weighted).
    level, measure, boundary
        As :func:`tail_measure`.

    Returns
    -------
    FloatArray
        Shape ``part.shape[:-1]``: the measure, a loss as a positive number (USD).
    """
    k = tail_count(n, level)
    if measure == "var":
        var: FloatArray = -part[..., k - 1]
        return var
    if boundary == "split":
        last = np.clip((1.0 - level) * n - (k - 1), 0.0, 1.0)
        total = part[..., : k - 1].sum(axis=-1) + last * part[..., k - 1]
        split: FloatArray = -total / (k - 1 + last)
        return split
    whole: FloatArray = -part[..., :k].sum(axis=-1) / k  # the mean, as ndarray.mean sums
    return whole


def smallest(row: FloatArray, k: int, block: int = 8) -> FloatArray:
    """Return the ``k`` smallest values of a row, ascending, sorting only a few candidates.

    The row is cut into blocks of ``block`` values; ``t``, the ``k``-th smallest block
    minimum, has at least ``k`` values ``<= t`` (one per block), so the ``k`` smallest of the
    row are among the values ``<= t``: those are sorted, not the row. With fewer than ``k``
    blocks the row is partitioned (:func:`numpy.partition`) and its ``k`` smallest sorted.

    Parameters
    ----------
    row
        Shape ``(n,)``, ``n >= k >= 1``.
    k
        How many values.
    block
        Values per block (8: a block minimum per cache line of float64).

    Returns
    -------
    FloatArray
        Shape ``(k,)``: the ``k`` smallest values, ascending (ties kept as values).
    """
    n = row.shape[0]
    if -(-n // block) < k:
        return np.sort(np.partition(row, k - 1)[:k])
    minima = np.minimum.reduceat(row, np.arange(0, n, block))
    minima.partition(k - 1)
    candidates = row[row <= minima[k - 1]]
    candidates.sort()
    result: FloatArray = candidates[:k]
    return result


def smallest_reference(row: FloatArray, k: int) -> FloatArray:
    """:func:`smallest` by sorting the whole row: ``sort(row)[:k]``, shape ``(k,)``."""
    result: FloatArray = np.sort(row)[:k]
    return result


def _weighted_tail(
    order: IntArray, w: FloatArray, level: float, measure: str, boundary: str
) -> tuple[IntArray, FloatArray]:
    """Tail of each row with unequal weights (the weighted inverted cdf of :mod:`pmargin.risk`)."""
    n_acc = order.shape[0]
    sorted_w = w[order]
    cumulative = np.cumsum(sorted_w, axis=1)
    total = float(w.sum())
    threshold = (1.0 - level) * total - _LEVEL_TOLERANCE * total
    j = np.argmax((cumulative >= threshold) & (sorted_w > 0), axis=1)
    rows = np.arange(n_acc)
    if measure == "var":
        return order[rows, j][:, None], np.ones((n_acc, 1))
    k = int(j.max()) + 1
    columns = np.arange(k)[None, :]
    tail = np.where(columns <= j[:, None], sorted_w[:, :k], 0.0)
    if boundary == "split":
        before = cumulative[rows, j] - sorted_w[rows, j]
        tail[rows, j] = np.clip((1.0 - level) * total - before, 0.0, sorted_w[rows, j])
    return order[:, :k], tail / tail.sum(axis=1, keepdims=True)
