"""The compiled account pass of Deribit S:PM (numba, the ``fast`` extra).

One pass over each account's stored positions margins all its risk units at once: the unit's
pre-aggregated P&L (the positions' rows of the instrument P&L matrix, summed in stored order
from 0, as the sparse product of :meth:`~pmargin.margin.deribit.DeribitModel.compute_reference`
sums them), the pnl offset and the extended dampener, the worst cell, the roll shock (expiry
nets summed in stored order; their absolute values summed pairwise, as NumPy's ``sum`` does),
the net USD delta, then each position's USD contribution. Same operations in the same order as
the NumPy path, so the same bits (tested); an account whose aggregated vector holds a NaN is
flagged and the caller reruns the NumPy path, whose ``argmin`` rule settles it.

Importing this module needs numba; :mod:`pmargin.margin.deribit._model` imports it lazily,
unless numba is missing or ``PMARGIN_JIT=0`` is set in the environment.
"""

from __future__ import annotations

import numpy as np

from pmargin._compiled import njit, njit_inline
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.margin._sum_jit import MAX_TERMS, pairwise_sum

__all__ = ["MAX_GROUPS", "account_pass"]

_HUGE = 1.7976931348623157e308  # largest finite float64

MAX_GROUPS = MAX_TERMS
"""Most expiries a unit may have here (:func:`~pmargin.margin._sum_jit.pairwise_sum` adds up to
that many in NumPy's order); more go the NumPy way."""


@njit_inline
def _unit_stages(
    pre: FloatArray,
    row: FloatArray,
    offset: float,
    cap: float,
    dampener: FloatArray,
    order: IntArray,
    n_standard: int,
    threshold: bool,
    loss: FloatArray,
    worst: IntArray,
) -> bool:
    """Offset and dampen ``pre`` into ``row``, its worst cell into ``worst[0]``, ``loss[0]``.

    The operations of :func:`~pmargin.margin.deribit.aggregate_risk_vector` and
    :func:`~pmargin.margin.deribit.worst_case` on one row of ``n_scenarios`` cells; ``False``
    where the row holds a NaN.
    """
    n_s = row.size
    for c in range(n_s):
        x = pre[c]
        row[c] = min(offset * x, cap) if x > 0.0 else x
    for c in range(n_standard, n_s):
        d = dampener[c - n_standard]
        x = row[c]
        if threshold:
            row[c] = x if x < -d else 0.0
        else:
            row[c] = min(x + d, 0.0)
    smallest = row[order[0]]
    cell = order[0]
    finite = not np.isnan(smallest)
    for k in range(1, n_s):
        c = order[k]
        finite &= not np.isnan(row[c])
        if row[c] < smallest:
            smallest = row[c]
            cell = c
    loss[0] = max(-smallest, 0.0)
    worst[0] = cell if smallest < 0.0 else -1
    return finite


@njit
def account_pass(
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    column_unit: IntArray,
    column_row: IntArray,
    pnl: FloatArray,
    roll_rate: FloatArray,
    group: IntArray,
    group_start: IntArray,
    unit_offset: FloatArray,
    unit_cap: FloatArray,
    unit_dampener: FloatArray,
    unit_order: IntArray,
    unit_rate: FloatArray,
    n_standard: int,
    threshold: bool,
    abs_size: bool,
    roll_columns: bool,
    vectors: bool,
    attribute: bool,
    aggregated: FloatArray,
    loss: FloatArray,
    worst: IntArray,
    roll: FloatArray,
    net_delta: FloatArray,
    held: BoolArray,
    kept_indptr: IntArray,
    kept_indices: IntArray,
    kept_data: FloatArray,
) -> bool:
    """Margin every account's S:PM units in one pass over its stored positions.

    Parameters
    ----------
    indptr, indices, data
        The book's CSR quantity matrix ``(n_accounts, n_instruments)``, base units.
    column_unit, column_row
        Shape ``(n_instruments,)``: each book column's unit (-1: none) and its row in ``pnl``.
    pnl
        Shape ``(n_rows, width)``: every unit's instrument P&L per base unit, in the unit's
        currency (extended cells weighted), then in column ``n_scenarios`` the USD delta of
        one base unit (summed with the cells into the account's net delta), with
        ``roll_columns`` the roll rates by expiry (below), rows stacked unit after unit;
        ``width > n_scenarios`` columns, the others zero (a width the row sums vectorise over
        without a scalar remainder).
    roll_rate, group
        Shape ``(n_rows,)``: roll shock per base unit
        (``delta * rate`` for the net-delta basis, ``rate`` for ``abs_size``); the row's expiry
        group, numbered across units.
    group_start
        Shape ``(n_units + 1,)``: unit ``u``'s groups are ``group_start[u]:group_start[u + 1]``.
    unit_offset, unit_cap, unit_rate
        Shape ``(n_units,)``: pnl offset fraction, offset cap (unit currency), USD per unit of
        the unit's currency.
    unit_dampener
        Shape ``(n_units, n_scenarios - n_standard)``: dampener per extended cell.
    unit_order
        Shape ``(n_units, n_scenarios)``: the cells in tie-break order (vol "none" first).
    n_standard
        Number of standard cells.
    threshold, abs_size
        Dampener mode ``"threshold"`` (else a deductible); roll basis ``"abs_size"``.
    roll_columns
        (Net-delta basis.) Each row also holds its roll rate in column
        ``n_scenarios + 1 + g`` (``g`` its expiry group within its unit) and 0 in the other
        groups' columns, so the row sums net the expiries: an entry adds ``x * 0 = +-0`` to
        the other groups' sums, which leaves a sum started at ``+0`` unchanged (the bits of
        a net per expiry); a quantity not finite (``inf * 0`` is NaN) returns ``False``.
    vectors
        Write the aggregated vectors into ``aggregated``; else it is not touched (any shape).
    attribute
        Write the contributions; else ``kept_indptr`` is all 0 (the IM and MM alone).
    aggregated
        Out, shape ``(n_units, n_accounts, n_scenarios)``: aggregated risk vectors.
    loss, worst, roll, net_delta, held
        Out, shape ``(n_units, n_accounts)``: worst-case loss, its cell (-1: none loses), roll
        shock, net USD delta, whether the account holds an entry of the unit.
    kept_indptr, kept_indices, kept_data
        Out, shapes ``(n_accounts + 1,)``, ``(nnz,)``, ``(nnz,)``: the USD IM contributions as
        a CSR matrix of the book's shape, the stored entries whose contribution in the unit's
        currency is nonzero, in their stored order (the first ``kept_indptr[-1]`` slots).

    Returns
    -------
    bool
        ``True`` where every aggregated vector is free of NaN; ``False``: rerun the NumPy path.
    """
    n_units, n_accounts, n_s = unit_order.shape[0], indptr.size - 1, unit_order.shape[1]
    width = pnl.shape[1]
    pre = np.zeros((n_units, width))
    scratch = np.empty((n_units, n_s))  # each unit's vector when ``aggregated`` is not kept
    nets = np.zeros(group_start[n_units])
    scale = np.zeros(n_units)
    touched = np.zeros(n_units, dtype=np.bool_)  # the account's units seen so far
    clean = True
    # the stages of an account without entries in a unit, run once per unit on zeros
    blank = np.empty((n_units, n_s))
    blank_loss = np.empty(n_units)
    blank_worst = np.empty(n_units, dtype=np.int64)
    for u in range(n_units):
        clean &= _unit_stages(
            pre[u], blank[u], unit_offset[u], unit_cap[u], unit_dampener[u], unit_order[u],
            n_standard, threshold, blank_loss[u:], blank_worst[u:],
        )  # fmt: skip
    kept_indptr[0] = 0
    n_kept = 0
    for a in range(n_accounts):
        for u in range(n_units):
            net_delta[u, a] = 0.0
            roll[u, a] = 0.0
            touched[u] = False
        for jj in range(indptr[a], indptr[a + 1]):
            u = column_unit[indices[jj]]
            if u < 0:
                continue
            r = column_row[indices[jj]]
            x = data[jj]
            # the cells and the delta (column n_s), one rounding per product and per sum,
            # summed from 0 (the first entry's 0.0 + product: -0.0 becomes 0.0 as there);
            # indexed in place (no row views), the loops vectorise over the fixed width
            if touched[u]:
                for c in range(width):
                    pre[u, c] += x * pnl[r, c]
            else:
                touched[u] = True
                for g in range(group_start[u], group_start[u + 1] if not roll_columns else 0):
                    nets[g] = 0.0
                for c in range(width):
                    pre[u, c] = 0.0 + x * pnl[r, c]
            if abs_size:
                roll[u, a] += abs(x) * roll_rate[r]
            elif roll_columns:
                clean &= abs(x) <= _HUGE  # inf * 0 would be NaN in the other expiries
            else:
                nets[group[r]] += x * roll_rate[r]
        for u in range(n_units):
            held[u, a] = touched[u]
        for u in range(n_units):
            row = aggregated[u, a] if vectors else scratch[u]
            if held[u, a]:
                net_delta[u, a] = pre[u, n_s]
            else:
                row[:] = blank[u]
                loss[u, a] = blank_loss[u]
                worst[u, a] = blank_worst[u]
                continue
            clean &= _unit_stages(
                pre[u], row, unit_offset[u], unit_cap[u], unit_dampener[u], unit_order[u],
                n_standard, threshold, loss[u, a:], worst[u, a:],
            )  # fmt: skip
            if roll_columns and not abs_size:
                n_groups = group_start[u + 1] - group_start[u]
                roll[u, a] = pairwise_sum(pre[u], n_s + 1, n_s + 1 + n_groups, True)
            elif not abs_size:
                roll[u, a] = pairwise_sum(nets, group_start[u], group_start[u + 1], True)
            lost = loss[u, a]
            raw_loss = -pre[u, max(worst[u, a], 0)]
            scale[u] = lost / raw_loss if worst[u, a] >= 0 and raw_loss > 0.0 else 0.0
        for jj in range(indptr[a], indptr[a + 1] if attribute else indptr[a]):
            u = column_unit[indices[jj]]
            if u < 0:
                continue
            r = column_row[indices[jj]]
            x = data[jj]
            raw = 0.0
            if worst[u, a] >= 0:
                raw = -x * pnl[r, worst[u, a]]
            if abs_size:
                share = abs(x) * roll_rate[r]
            elif roll_columns:
                net = pre[u, n_s + 1 + group[r] - group_start[u]]
                share = x * roll_rate[r] * np.sign(net)
            else:
                share = x * roll_rate[r] * np.sign(nets[group[r]])
            total = raw * scale[u] + share
            if total != 0.0:
                kept_indices[n_kept] = indices[jj]
                kept_data[n_kept] = total * unit_rate[u]
                n_kept += 1
        kept_indptr[a + 1] = n_kept
    return clean
