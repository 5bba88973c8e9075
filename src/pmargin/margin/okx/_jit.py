"""The compiled account passes of OKX portfolio margin (numba, the ``fast`` extra).

Two passes over the book's CSR entries per risk unit, reading the entries in place (no column
selection): :func:`unit_reduce` sums each account's scenario, basis, rate and expiry-bucket P&L
(stored order from 0, as the sparse product of
:meth:`~pmargin.margin.okx.OkxModel.compute_reference` sums them) and reduces them to MR1-MR6,
the binding columns, MR3's Euler weights and the raw MR7; after MR7's progressive scaling
(NumPy), :func:`unit_attribute` writes each position's IM contribution. Same operations in the
same order as the NumPy path (``argmin``'s first index on ties, NumPy's pairwise sums over
expiries), so the same bits (tested); a NaN anywhere answers ``False`` and the caller takes the
NumPy path.

Importing this module needs numba; :mod:`pmargin.margin.okx._model` imports it lazily
(:func:`pmargin._compiled.compiled_module`).
"""

from __future__ import annotations

import math

import numpy as np

from pmargin._compiled import njit, njit_inline
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.margin._sum_jit import MAX_TERMS, pairwise_sum

__all__ = ["MAX_BUCKETS", "fill_matrix", "unit_attribute", "unit_reduce"]

MAX_BUCKETS = MAX_TERMS
"""Most expiries a unit may have here (:func:`~pmargin.margin._sum_jit.pairwise_sum` adds up to
that many in NumPy's order); more go the NumPy way."""


@njit_inline
def _smallest(values: FloatArray, start: int, stop: int) -> tuple[float, int]:
    """Return the smallest of one row's columns ``start:stop`` and its column (first on ties).

    ``(inf, -1)`` where there are none.
    """
    if stop == start:
        return math.inf, -1
    cell = start
    smallest = values[start]
    for c in range(start + 1, stop):
        if values[c] < smallest:
            smallest = values[c]
            cell = c
    return smallest, cell


@njit_inline
def _worst(values: FloatArray, start: int, stop: int) -> tuple[float, int]:
    """``worst_loss`` of one row's columns ``start:stop``: (loss, column or -1)."""
    if stop == start:
        return 0.0, -1
    smallest, cell = _smallest(values, start, stop)
    return max(-smallest, 0.0), (cell - start) if smallest < 0.0 else -1


@njit
def unit_reduce(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    column_row: IntArray,
    matrix: FloatArray,
    bucket: IntArray,
    n_scenarios: int,
    n_buckets: int,
    n_mr1: int,
    keep: bool,
    pnl: FloatArray,
    charges: FloatArray,
    binding: IntArray,
    weights: FloatArray,
    held: BoolArray,
) -> bool:
    """Reduce one unit's P&L per account (the first pass).

    Parameters
    ----------
    indptr, indices, data
        The book's CSR quantity matrix ``(n_accounts, n_instruments)``, base units.
    column_row
        Shape ``(n_instruments,)``: each book column's row of ``matrix``, -1 outside the unit.
    matrix
        Shape ``(n_rows, width)``, ``width >= n_scenarios + 6`` (zero padding after, read and
        summed, never used: :data:`~pmargin.margin.okx._rows.ROW_LANES`): USD P&L per base
        unit: scenarios (MR1 grid, MR2, weighted MR6), basis (2), rate (2); then the row's
        USD P&L of MR3's vol shift per base unit and its raw MR7 per base unit held
        (:class:`~pmargin.margin.okx._rows.CompiledRows`).
    bucket
        Shape ``(n_rows,)``: the row's expiry bucket among the unit's ``n_buckets`` (-1: none).
    n_scenarios, n_buckets, n_mr1
        Scenario columns; the unit's expiry buckets; the MR1 grid's share of the scenarios.
    keep
        Write the scenario P&L into ``pnl``; else ``pnl`` is not touched (any shape).
    pnl
        Out, shape ``(n_accounts, n_scenarios)``: the unit's scenario P&L.
    charges
        Out, shape ``(8, n_accounts)``: MR1, MR2, MR6, the worst scenario loss, MR4, MR5, MR3
        and the raw MR7.
    binding
        Out, shape ``(3, n_accounts)``: binding scenario, basis and rate columns (-1: none).
    weights
        Out, shape ``(n_accounts, n_buckets)``: MR3's Euler weights.
    held
        Out, shape ``(n_accounts,)``: the account holds an entry of the unit.

    Returns
    -------
    bool
        ``False`` where a NaN was met, or a quantity or vol span that is not finite: rerun
        the NumPy path (the outputs are then incomplete).

    Notes
    -----
    The bucket sums are the sparse product's columns of the one-hot ``(n_rows, n_buckets)``
    vol-span matrix: its zero cells add ``x * 0 = +-0``, which leaves a sum started at
    ``+0`` unchanged, so only the row's own bucket is added here (the same bits where ``x``
    and the span are finite; else the pass declines, as the NumPy path's ``inf * 0`` would
    give NaN). A row without a bucket adds to a spare cell that nothing reads (no branch).
    The worst scenario loss is the least of MR1's, MR2's and MR6's smallest P&L, the first
    column on ties: ``worst_loss`` over all the scenario columns.
    """
    n_accounts = indptr.size - 1
    width = matrix.shape[1]
    first = width
    spare = width + n_buckets
    span_column = n_scenarios + 4
    rate_column = n_scenarios + 5
    total = np.zeros(width + n_buckets + 1)
    check = 0.0  # NaN once a quantity or vol span is not finite (x * 0 is NaN iff x is)
    for a in range(n_accounts):
        total[:] = 0.0
        gross = 0.0
        holds = False
        for jj in range(indptr[a], indptr[a + 1]):
            r = column_row[indices[jj]]
            if r < 0:
                continue
            holds = True
            x = data[jj]
            for c in range(width):
                total[c] += x * matrix[r, c]
            span = matrix[r, span_column]
            check += x * 0.0 + span * 0.0
            b = bucket[r]
            total[first + b if b >= 0 else spare] += x * span
            gross += abs(x) * matrix[r, rate_column]
        held[a] = holds
        nan = False
        for c in range(n_scenarios + 4):
            nan |= np.isnan(total[c])
        for c in range(first, first + n_buckets):
            nan |= np.isnan(total[c])
        if nan:
            return False
        if keep:
            for c in range(n_scenarios):
                pnl[a, c] = total[c]
        least1, cell1 = _smallest(total, 0, n_mr1)
        least2, cell2 = _smallest(total, n_mr1, n_mr1 + 1)
        least6, cell6 = _smallest(total, n_mr1 + 1, n_scenarios)
        charges[0, a] = max(-least1, 0.0)
        charges[1, a] = max(-least2, 0.0)
        charges[2, a] = max(-least6, 0.0)
        least, cell = least1, cell1
        if least2 < least:
            least, cell = least2, cell2
        if least6 < least:
            least, cell = least6, cell6
        charges[3, a] = max(-least, 0.0)
        binding[0, a] = cell if least < 0.0 else -1
        charges[4, a], binding[1, a] = _worst(total, n_scenarios, n_scenarios + 2)
        charges[5, a], binding[2, a] = _worst(total, n_scenarios + 2, n_scenarios + 4)
        signed = pairwise_sum(total, first, first + n_buckets, False)
        absolute = pairwise_sum(total, first, first + n_buckets, True)
        charges[6, a] = max(absolute - abs(signed), 0.0)
        charges[7, a] = gross
        for e in range(n_buckets):
            weights[a, e] = np.sign(total[first + e]) - np.sign(signed)
    return not np.isnan(check)


@njit
def unit_attribute(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    column_row: IntArray,
    matrix: FloatArray,
    vol_span: FloatArray,
    bucket: IntArray,
    gross_rate: FloatArray,
    n_scenarios: int,
    binding: IntArray,
    weights: FloatArray,
    mr_binds: BoolArray,
    gross_scale: FloatArray,
    im_factor: float,
    values: FloatArray,
) -> None:
    """Write each of the unit's stored entries' IM contribution (the second pass).

    Parameters
    ----------
    indptr, indices, data, column_row, matrix, vol_span, bucket, gross_rate, n_scenarios
        As :func:`unit_reduce`.
    binding, weights
        From :func:`unit_reduce`.
    mr_binds
        Shape ``(n_accounts,)``: ``MR >= MR7`` (MR's attribution binds, else MR7's).
    gross_scale
        Shape ``(n_accounts,)``: scaled over raw MR7 (0 where raw is 0).
    im_factor
        IMR over MMR.
    values
        Out, shape ``(nnz,)``: each stored entry of the unit its contribution (USD); entries
        of other units are left as they are.
    """
    n_accounts = indptr.size - 1
    for a in range(n_accounts):
        scen, basis, rate = binding[0, a], binding[1, a], binding[2, a]
        for jj in range(indptr[a], indptr[a + 1]):
            r = column_row[indices[jj]]
            if r < 0:
                continue
            x = data[jj]
            if mr_binds[a]:
                s = -x * matrix[r, max(scen, 0)] if scen >= 0 else 0.0
                b = -x * matrix[r, n_scenarios + max(basis, 0)] if basis >= 0 else 0.0
                t = -x * matrix[r, n_scenarios + 2 + max(rate, 0)] if rate >= 0 else 0.0
                w = weights[a, bucket[r]] if bucket[r] >= 0 else 0.0
                part = ((s + b) + t) + x * vol_span[r] * w
            else:
                part = abs(x) * gross_rate[r] * gross_scale[a]
            values[jj] = im_factor * part


@njit
def fill_matrix(
    grid: FloatArray,
    grid_mult: FloatArray,
    decay: FloatArray,
    pair: FloatArray,
    value: FloatArray,
    rate_factor: FloatArray,
    gross_rate: FloatArray,
    inverse: BoolArray,
    settlement_usd: FloatArray,
    quote_usd: FloatArray,
    is_option: BoolArray,
    n_mr1: int,
    mr6_weight: float,
    matrix: FloatArray,
    vol_span: FloatArray,
) -> None:
    """Write the USD ingredient rows of ``n`` instruments from their settlement-currency P&L.

    :meth:`~pmargin.margin.okx.OkxModel.matrices`' conversions and layout (its
    :func:`~pmargin.risk.settlement_to_usd` products, the MR6 weight), the same operations on
    each cell, from the scenario-major P&L a kept plan computes.

    Parameters
    ----------
    grid, grid_mult
        Shape ``(n_grid, n)``: the MR1 grid then MR6 P&L per base unit (settlement currency)
        and their spot multipliers.
    decay
        Shape ``(n,)``: the MR2 time-decay P&L (settlement currency).
    pair
        Shape ``(3, n)``: the two MR4 basis P&L and the MR3 vol-shift P&L (settlement
        currency, the coin unmoved).
    value, rate_factor
        Shape ``(n,)`` and ``(n, 2)``: the options' USD values (0 elsewhere, NaN taken as 0)
        and :func:`~pmargin.margin.okx._components.rate_shift_factors`: the MR5 rate P&L is
        their products (:func:`~pmargin.margin.okx._components.rate_shift_pnl`'s).
    gross_rate
        Shape ``(n,)``: the raw MR7 per base unit held, USD (copied into its column).
    inverse, settlement_usd, quote_usd, is_option
        Shape ``(n,)``: the instruments' settlement, USD prices and kind.
    n_mr1, mr6_weight
        MR1's share of the grid rows; MR6's weight.
    matrix
        Out, shape ``(n, width)``: columns ``0 .. n_grid + 6``: scenarios (MR1 grid, MR2,
        weighted MR6), basis (2), rate (2), USD per base unit, the vol span and the raw MR7
        rate (:class:`~pmargin.margin.okx._rows.CompiledRows`); the padding after them is left
        as it is.
    vol_span
        Out, shape ``(n,)``: the MR3 vol-shift P&L in USD, 0 on other rows than options.
    """
    n_grid = grid.shape[0]
    for i in range(grid.shape[1]):
        coin = inverse[i]
        su = settlement_usd[i]
        qu = quote_usd[i]
        unmoved = su * 1.0 if coin else qu
        for c in range(n_mr1):
            matrix[i, c] = grid[c, i] * (su * grid_mult[c, i] if coin else qu)
        matrix[i, n_mr1] = decay[i] * unmoved
        for c in range(n_mr1, n_grid):
            matrix[i, c + 1] = mr6_weight * (grid[c, i] * (su * grid_mult[c, i] if coin else qu))
        matrix[i, n_grid + 1] = pair[0, i] * unmoved
        matrix[i, n_grid + 2] = pair[1, i] * unmoved
        matrix[i, n_grid + 3] = value[i] * rate_factor[i, 0]
        matrix[i, n_grid + 4] = value[i] * rate_factor[i, 1]
        span = pair[2, i] * unmoved if is_option[i] else 0.0
        vol_span[i] = span
        matrix[i, n_grid + 5] = span
        matrix[i, n_grid + 6] = gross_rate[i]
