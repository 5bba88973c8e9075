"""The compiled pass of ``standard``'s compute: one loop over the book's stored entries (numba).

For each stored position, in CSR order, the same operations as
:func:`pmargin.margin.standard._model._entry_charges` (``future_margin`` of
:mod:`._rules` for futures and perpetuals, ``max(-q, 0)`` times the per-unit charge for short
options), added to its (account, unit) cell from 0 in stored order as ``np.bincount`` adds
them: the same bits as the NumPy block path. Importing this module needs numba; the model
imports it lazily unless numba is missing or ``PMARGIN_JIT=0``.
"""

from __future__ import annotations

from pmargin._compiled import njit
from pmargin._typing import BoolArray, FloatArray, IntArray

__all__ = ["charge_entries"]


@njit
def charge_entries(
    indptr: IntArray,
    indices: IntArray,
    quantity: FloatArray,
    unit_of_column: IntArray,
    is_future: BoolArray,
    rates: FloatArray,
    option_charge: FloatArray,
    settlement_usd: FloatArray,
    sums: FloatArray,
    contribution: FloatArray,
) -> None:  # pragma: no cover - compiled
    """Charge every stored entry and sum the charges per (account, unit).

    Parameters
    ----------
    indptr, indices, quantity
        The CSR quantity matrix (base units), ``n_accounts`` rows.
    unit_of_column
        Shape ``(n_instruments,)``: each column's risk unit.
    is_future
        Shape ``(n_instruments,)``: futures-style columns.
    rates
        Shape ``(5, n_instruments)``: IM rate, IM rate per unit, MM rate, MM rate per unit,
        price (settlement currency per base unit) of futures columns.
    option_charge
        Shape ``(2, n_instruments)``: IM and MM per unit short of option columns (0 else).
    settlement_usd
        Shape ``(n_instruments,)``: USD per unit of each column's settlement currency.
    sums
        Shape ``(4, n_accounts, n_units)``, zeros: futures IM, short-option IM, MM, positions
        held, written.
    contribution
        Shape ``(nnz,)``: each entry's own IM in USD, written.
    """
    n_acc = indptr.shape[0] - 1
    for a in range(n_acc):
        for e in range(indptr[a], indptr[a + 1]):
            c = indices[e]
            q = quantity[e]
            u = unit_of_column[c]
            futures_im = 0.0
            futures_mm = 0.0
            if is_future[c]:
                size = abs(q)
                price = rates[4, c]
                futures_im = size * (rates[0, c] + size * rates[1, c]) * price
                futures_mm = size * (rates[2, c] + size * rates[3, c]) * price
            short = max(-q, 0.0)
            options_im = short * option_charge[0, c]
            options_mm = short * option_charge[1, c]
            sums[0, a, u] += futures_im
            sums[1, a, u] += options_im
            sums[2, a, u] += futures_mm + options_mm
            sums[3, a, u] += 1.0
            contribution[e] = (futures_im + options_im) * settlement_usd[c]
