"""Deribit S:PM's account stages as one compiled pass over the book's entries.

:func:`account_pass` lays the risk units' account-independent inputs out flat (each book
column's unit and row of the stacked P&L matrix, expiry groups numbered across units) and runs
:func:`pmargin.margin.deribit._jit.account_pass` over the book's CSR entries in place: no column
selection, no ``(block, cells)`` temporaries. It answers ``None`` where the compiled pass does
not apply (numba absent or ``PMARGIN_JIT=0``, a book of moved rows, a unit with more than
:data:`~pmargin.margin.deribit._jit.MAX_GROUPS` expiries, a negative dampener, a NaN in an
aggregated vector): :meth:`~pmargin.margin.deribit.DeribitModel.compute` then takes its NumPy
path, which gives the same bits (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from pmargin._compiled import compiled_module
from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.margin.deribit._risk_matrix import tie_order

if TYPE_CHECKING:
    from pmargin.margin.deribit._model import _Unit

__all__ = ["PassOutput", "account_pass", "jit_kernel"]

_LANES = 4
"""The stacked P&L matrix's rows are padded with zeros to a multiple of this many cells (the
float64 lanes of a 256-bit vector): the pass's row sums then run without a scalar remainder
(35 cells padded to 36: ~18 % off the sums, measured). The padding is never read as a cell."""


def jit_kernel() -> ModuleType | None:
    """Return the compiled pass's module, or ``None`` without numba or with ``PMARGIN_JIT=0``."""
    return compiled_module("pmargin.margin.deribit._jit")


@dataclass(frozen=True, slots=True)
class PassOutput:
    """What the compiled pass gives for ``n_units`` units and ``n`` accounts.

    Attributes
    ----------
    aggregated
        Shape ``(n_units, n, n_scenarios)``: aggregated risk vectors, unit's currency.
    loss, worst, roll, net_delta, held
        Shape ``(n_units, n)``: worst-case loss and roll shock (unit's currency), the worst
        cell (-1: none loses), net USD delta, whether the account holds an entry of the unit.
    contribution
        CSR ``(n, n_instruments)``: each position's USD IM contribution (worst-cell share plus
        roll share), the book's stored entries whose contribution is nonzero, in stored order
        (not yet canonical where the book is not).
    """

    aggregated: FloatArray
    loss: FloatArray
    worst: IntArray
    roll: FloatArray
    net_delta: FloatArray
    held: BoolArray
    contribution: Any


def account_pass(
    units: list[_Unit],
    quantity: Any,
    *,
    threshold: bool,
    abs_size: bool,
    vectors: bool = True,
    attribute: bool = True,
    kernel: ModuleType,
) -> PassOutput | None:
    """Run the compiled pass of S:PM ``units`` over the CSR ``quantity`` of the whole book.

    Parameters
    ----------
    units
        The book's S:PM units (one part each, a scalar USD rate), columns not taken out.
    quantity
        CSR ``(n_accounts, n_instruments)`` base-unit quantities: the book's.
    threshold, abs_size
        Dampener mode ``"threshold"``; roll-shock basis ``"abs_size"``.
    vectors
        Keep the aggregated vectors (``False``: ``aggregated`` has no accounts, shape
        ``(n_units, 0, n_scenarios)``).
    attribute
        Compute the contributions (``False``: ``contribution`` is an empty matrix of the
        book's shape; the other outputs are the same bits).
    kernel
        :func:`jit_kernel`'s module.

    Returns
    -------
    PassOutput or None
        ``None`` where the pass does not apply (see the module docstring).
    """
    if not units:
        return None
    first = units[0].matrix
    n_s, n_standard = len(first.scenarios), first.n_standard
    for unit in units:
        part = unit.parts[0]
        if (
            len(unit.parts) != 1
            or len(unit.matrix.scenarios) != n_s
            or unit.matrix.n_standard != n_standard
            or np.ndim(unit.usd_rate) > 0
            or np.ndim(part.cap) > 0
            or (part.dampener.size and float(part.dampener.min()) < 0.0)
        ):
            return None
    n_acc, n_inst = quantity.shape
    width = -(-n_s // _LANES) * _LANES
    pnl = np.zeros((sum(u.columns.size for u in units), width))
    column_unit = np.full(n_inst, -1, dtype=np.int64)
    column_row = np.zeros(n_inst, dtype=np.int64)
    groups: list[IntArray] = []
    group_start = [0]
    rates: list[FloatArray] = []
    row = 0
    for k, unit in enumerate(units):
        m = unit.matrix
        n_unit = unit.columns.size
        column_unit[unit.columns] = k
        column_row[unit.columns] = row + np.arange(n_unit)
        pnl[row : row + n_unit, :n_s] = unit.pnl
        row += n_unit
        key = np.nan_to_num(m.resolved.time[unit.rows], nan=-1.0)
        _, group = np.unique(key, return_inverse=True)
        n_groups = int(group.max(initial=-1)) + 1
        if n_groups > kernel.MAX_GROUPS:
            return None
        groups.append(group.reshape(n_unit) + group_start[-1])
        group_start.append(group_start[-1] + n_groups)
        rates.append(unit.roll_rate if abs_size else m.delta[unit.rows] * unit.roll_rate)
    order = np.array(
        [tie_order(tuple(s.vol_shock for s in u.matrix.scenarios)) for u in units], dtype=np.int64
    )
    out = PassOutput(
        aggregated=np.empty((len(units), n_acc if vectors else 0, n_s)),
        loss=np.empty((len(units), n_acc)),
        worst=np.empty((len(units), n_acc), dtype=np.int64),
        roll=np.empty((len(units), n_acc)),
        net_delta=np.empty((len(units), n_acc)),
        held=np.empty((len(units), n_acc), dtype=bool),
        contribution=None,
    )
    indptr = np.empty(n_acc + 1, dtype=quantity.indptr.dtype)
    indices = np.empty(quantity.nnz, dtype=quantity.indices.dtype)
    data = np.empty(quantity.nnz)
    clean = kernel.account_pass(
        quantity.indptr, quantity.indices, np.asarray(quantity.data, dtype=np.float64),
        column_unit, column_row,
        pnl,
        np.concatenate([u.delta_usd for u in units]), np.concatenate(rates),
        np.concatenate(groups), np.array(group_start, dtype=np.int64),
        np.array([u.parts[0].pnl_offset for u in units], dtype=np.float64),
        np.array([u.parts[0].cap for u in units], dtype=np.float64),
        np.array([u.parts[0].dampener for u in units], dtype=np.float64).reshape(
            len(units), n_s - n_standard
        ),
        order, np.array([u.usd_rate for u in units], dtype=np.float64),
        n_standard, threshold, abs_size, vectors, attribute,
        out.aggregated, out.loss, out.worst, out.roll, out.net_delta, out.held, indptr, indices,
        data,
    )  # fmt: skip
    if not clean:
        return None
    n_kept = int(indptr[-1])
    contribution = sparse.csr_array((data[:n_kept], indices[:n_kept], indptr), shape=quantity.shape)
    return replace(out, contribution=contribution)
