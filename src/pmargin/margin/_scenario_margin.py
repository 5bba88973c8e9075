"""Machinery shared by the scenario (max-loss) margin models.

The steps every risk-matrix methodology takes, on arrays:

1. assign each unique instrument to a risk unit (:func:`group_columns`);
2. revalue each instrument once per scenario (the kernel, :mod:`pmargin.risk`);
3. aggregate a unit's accounts with one sparse product (:func:`unit_pnl`);
4. reduce scenarios to the worst loss and the scenario that sets it (:func:`worst_loss`);
5. attribute that loss to positions (:func:`binding_contribution`), so per-position
   contributions add up to the unit's worst loss exactly.

Losses are positive numbers, P&L is signed (DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.errors import InputError
from pmargin.instruments import Instrument

__all__ = [
    "binding_contribution",
    "group_columns",
    "scatter_columns",
    "unit_pnl",
    "worst_loss",
]

_K = TypeVar("_K", bound=Hashable)


def group_columns(
    instruments: Sequence[Instrument], key: Callable[[Instrument], _K]
) -> dict[_K, IntArray]:
    """Columns of the instruments in each risk unit, units in order of first appearance.

    Parameters
    ----------
    instruments
        The book's unique instruments (its column order).
    key
        Risk-unit key of an instrument, e.g. ``lambda i: (i.underlying, i.settlement_currency)``.

    Returns
    -------
    dict
        Unit key -> int64 array of column indices (ascending).
    """
    groups: dict[_K, list[int]] = {}
    for j, instrument in enumerate(instruments):
        groups.setdefault(key(instrument), []).append(j)
    return {k: np.asarray(v, dtype=np.int64) for k, v in groups.items()}


def unit_pnl(quantity: Any, columns: IntArray, instrument_pnl: FloatArray) -> FloatArray:
    """P&L of every account in one unit: ``quantity[:, columns] @ instrument_pnl``.

    Parameters
    ----------
    quantity
        Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
    columns
        The unit's instrument columns, shape ``(n_unit,)``.
    instrument_pnl
        P&L per base unit of the unit's instruments, shape ``(n_unit, n_scenarios)``, in the
        unit's currency.

    Returns
    -------
    FloatArray
        Dense ``(n_accounts, n_scenarios)``, in the unit's currency.
    """
    if instrument_pnl.shape[0] != columns.size:
        raise InputError(
            "instrument_pnl.shape", instrument_pnl.shape, f"must have {columns.size} rows"
        )
    return np.asarray(quantity[:, columns] @ instrument_pnl, dtype=np.float64)


def worst_loss(pnl: FloatArray) -> tuple[FloatArray, IntArray]:
    """Largest loss over scenarios and the scenario that sets it.

    Parameters
    ----------
    pnl
        Shape ``(n_accounts, n_scenarios)``, signed P&L.

    Returns
    -------
    loss
        Shape ``(n_accounts,)``: ``max(0, -min_s pnl)`` (positive = loss).
    scenario
        Shape ``(n_accounts,)``: the column of the smallest P&L (first on ties), -1 where no
        scenario loses money or there are no scenarios.
    """
    n = pnl.shape[0]
    if pnl.shape[1] == 0:
        return np.zeros(n), np.full(n, -1, dtype=np.int64)
    column = np.argmin(pnl, axis=1).astype(np.int64)
    smallest = pnl[np.arange(n), column]
    loss = np.maximum(-smallest, 0.0)
    return loss, np.where(smallest < 0.0, column, -1).astype(np.int64)


def binding_contribution(
    quantity: Any, columns: IntArray, instrument_pnl: FloatArray, scenario: IntArray
) -> Any:
    """Each position's loss in its account's binding scenario.

    Entry ``(a, j)`` is ``-q[a, j] * instrument_pnl[j, scenario[a]]`` (0 where
    ``scenario[a] == -1``), so each account's entries add up to its worst loss when the unit's
    P&L is the plain sum of its positions' P&L.

    Parameters
    ----------
    quantity
        Sparse ``(n_accounts, n_instruments)`` base-unit quantities.
    columns
        The unit's instrument columns, shape ``(n_unit,)``.
    instrument_pnl
        Shape ``(n_unit, n_scenarios)``, per base unit, in the unit's currency.
    scenario
        Shape ``(n_accounts,)``, from :func:`worst_loss`.

    Returns
    -------
    scipy.sparse.csr_array
        Shape ``(n_accounts, n_unit)``: loss contributions in the unit's currency.
    """
    sub = sparse.csr_array(quantity[:, columns])
    rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
    binding = scenario[rows]
    values = np.where(
        binding >= 0, -sub.data * instrument_pnl[sub.indices, np.maximum(binding, 0)], 0.0
    )
    return sparse.csr_array((values, sub.indices.copy(), sub.indptr.copy()), shape=sub.shape)


def scatter_columns(parts: Sequence[tuple[IntArray, Any]], shape: tuple[int, int]) -> Any:
    """Assemble per-unit ``(n_accounts, n_unit)`` sparse blocks into one full-width matrix.

    Parameters
    ----------
    parts
        ``(columns, block)`` pairs: ``block[:, k]`` lands in column ``columns[k]``.
    shape
        ``(n_accounts, n_instruments)``.

    Returns
    -------
    scipy.sparse.csr_array
        The sum of the scattered blocks.
    """
    rows: list[Any] = []
    cols: list[Any] = []
    data: list[Any] = []
    for columns, block in parts:
        coo = sparse.coo_array(block)
        rows.append(coo.row)
        cols.append(columns[coo.col])
        data.append(coo.data)
    if not data:
        return sparse.csr_array(shape, dtype=np.float64)
    coo = sparse.coo_array(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=shape
    )
    return sparse.csr_array(coo)
