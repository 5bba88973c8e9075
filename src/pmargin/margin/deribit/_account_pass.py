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
from pmargin.margin._aligned import aligned_zeros
from pmargin.margin.deribit._risk_matrix import tie_order

if TYPE_CHECKING:
    from pmargin.margin.deribit._model import _Unit

__all__ = [
    "PassInputs",
    "PassLayout",
    "PassOutput",
    "account_pass",
    "jit_kernel",
    "pass_layout",
    "run_pass",
    "unit_delta",
]

_LANES = 4
"""The stacked P&L matrix's rows hold the cells, then each row's USD delta (column
``n_scenarios``: the pass's row sums add up the net delta with the cells, the same operations
in the same order as a sum of its own, ~0.3 ms less on a 6,044-account block), padded with
zeros to a multiple of this many cells (the float64 lanes of a 256-bit vector): the row sums
then run without a scalar remainder (35 cells and the delta: 36, ~18 % off the sums,
measured). The padding is never read as a cell."""

_ROLL_COLUMNS = 12
"""Most expiries of a unit whose roll nets the row sums take (columns ``n_scenarios + 1`` on
of the stacked rows, each row's roll rate in its expiry's column, 0 in the others: no net per
entry and expiry; 35 cells, the delta and 11 expiries: 48 columns, ~5 % off the pass,
measured). A layout of more expiries nets them one by one."""


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
    layout = pass_layout(units, quantity.shape[1], kernel=kernel)
    if layout is None:
        return None
    inputs = PassInputs.empty(layout)
    for k, unit in enumerate(units):
        rows = layout.unit_rows[k]
        inputs.pnl[rows, : layout.n_scenarios] = unit.pnl
        inputs.delta_usd[rows] = unit.delta_usd
        inputs.roll_rate[rows] = unit.roll_rate if abs_size else unit_delta(unit) * unit.roll_rate
        part = unit.parts[0]
        if not inputs.set_unit(k, part.pnl_offset, part.cap, part.dampener, unit.usd_rate):
            return None
    return run_pass(
        layout, inputs, quantity, threshold=threshold, abs_size=abs_size, vectors=vectors,
        attribute=attribute, kernel=kernel,
    )  # fmt: skip


def unit_delta(unit: _Unit) -> FloatArray:
    """Shape ``(n_unit,)``: the Black delta per base unit the unit's roll shock nets."""
    delta: FloatArray = unit.matrix.delta[unit.rows]
    return delta


@dataclass(frozen=True, slots=True)
class PassLayout:
    """Where each unit's rows sit in the pass's stacked inputs: what stays while prices move.

    It depends on the units' columns, their expiries (times to expiry) and their scenarios
    only, so a monitor builds it once per block and reuses it on every tick
    (:class:`~pmargin.margin.deribit._totals.DeribitTotals`).

    Attributes
    ----------
    n_scenarios, n_standard, width
        Cells, standard cells, and the stacked P&L matrix's padded width (the cells and the
        delta column, rounded up to a multiple of :data:`_LANES`).
    column_unit, column_row
        Shape ``(n_instruments,)``: each book column's unit (-1: none) and stacked row.
    unit_rows
        Each unit's rows of the stacked inputs (consecutive, unit after unit).
    group, group_start
        Shape ``(n_rows,)``: each row's expiry group, numbered across units; shape
        ``(n_units + 1,)``: unit ``u``'s groups are ``group_start[u]:group_start[u + 1]``.
    order
        Shape ``(n_units, n_scenarios)``: each unit's cells in tie-break order.
    roll_index
        Shape ``(n_rows,)``: the flat index into the stacked P&L matrix (C order) of each
        row's roll-rate column (``n_scenarios + 1 +`` its expiry group within its unit); shape
        ``(0,)`` where the units have more than :data:`_ROLL_COLUMNS` expiries.
    """

    n_scenarios: int
    n_standard: int
    width: int
    column_unit: IntArray
    column_row: IntArray
    unit_rows: tuple[slice, ...]
    group: IntArray
    group_start: IntArray
    order: IntArray
    roll_index: IntArray


def pass_layout(units: list[_Unit], n_instruments: int, *, kernel: ModuleType) -> PassLayout | None:
    """Lay ``units`` out for the pass; ``None`` where it does not apply (shapes, expiries).

    Parameters
    ----------
    units
        S:PM units of a book with ``n_instruments`` columns.
    kernel
        :func:`jit_kernel`'s module (its ``MAX_GROUPS``).
    """
    if not units:
        return None
    first = units[0].matrix
    n_s, n_standard = len(first.scenarios), first.n_standard
    for unit in units:
        m = unit.matrix
        if len(unit.parts) != 1 or len(m.scenarios) != n_s or m.n_standard != n_standard:
            return None
    column_unit = np.full(n_instruments, -1, dtype=np.int64)
    column_row = np.zeros(n_instruments, dtype=np.int64)
    groups: list[IntArray] = []
    group_start = [0]
    spans: list[slice] = []
    row = 0
    for k, unit in enumerate(units):
        n_unit = unit.columns.size
        column_unit[unit.columns] = k
        column_row[unit.columns] = row + np.arange(n_unit)
        spans.append(slice(row, row + n_unit))
        row += n_unit
        key = np.nan_to_num(unit.matrix.resolved.time[unit.rows], nan=-1.0)
        _, group = np.unique(key, return_inverse=True)
        n_groups = int(group.max(initial=-1)) + 1
        if n_groups > kernel.MAX_GROUPS:
            return None
        groups.append(group.reshape(n_unit) + group_start[-1])
        group_start.append(group_start[-1] + n_groups)
    order = np.array(
        [tie_order(tuple(s.vol_shock for s in u.matrix.scenarios)) for u in units], dtype=np.int64
    )
    group = np.concatenate(groups)
    starts = np.array(group_start, dtype=np.int64)
    most = int(np.diff(starts).max())
    columns = n_s + 1 + (most if most <= _ROLL_COLUMNS else 0)
    width = -(-columns // _LANES) * _LANES
    if most <= _ROLL_COLUMNS:
        unit_of_row = np.repeat(np.arange(len(units)), [s.stop - s.start for s in spans])
        local = group - starts[unit_of_row]
        roll_index = np.arange(group.size) * width + n_s + 1 + local
    else:
        roll_index = np.empty(0, dtype=np.int64)
    return PassLayout(
        n_s, n_standard, width, column_unit, column_row, tuple(spans), group, starts, order,
        roll_index.astype(np.int64),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PassInputs:
    """The pass's price-dependent inputs, stacked as a :class:`PassLayout` says; refilled per tick.

    Attributes
    ----------
    pnl
        Shape ``(n_rows, width)``: each row's P&L per base unit in its unit's currency
        (extended cells weighted), then its USD delta (column ``n_scenarios``), then (where
        the layout has ``roll_index``) the roll-rate columns, which :func:`run_pass` fills
        from ``roll_rate`` for the net-delta basis; the other columns stay 0.
    delta_usd
        Shape ``(n_rows,)``: USD delta of one base unit, a view of ``pnl``'s column
        ``n_scenarios``.
    roll_rate
        Shape ``(n_rows,)``: roll shock per base unit (times the delta for the net-delta
        basis).
    offset, cap, rate
        Shape ``(n_units,)``: pnl offset, offset cap (unit currency), USD per unit currency.
    dampener
        Shape ``(n_units, n_extended)``.
    """

    pnl: FloatArray
    delta_usd: FloatArray
    roll_rate: FloatArray
    offset: FloatArray
    cap: FloatArray
    rate: FloatArray
    dampener: FloatArray

    @classmethod
    def empty(cls, layout: PassLayout) -> PassInputs:
        """Zeroed inputs for ``layout``."""
        n_rows, n_units = layout.group.size, len(layout.unit_rows)
        n_ext = layout.n_scenarios - layout.n_standard
        pnl = aligned_zeros(n_rows, layout.width)  # starts on a cache line
        return cls(
            pnl, pnl[:, layout.n_scenarios], np.zeros(n_rows), np.zeros(n_units),
            np.zeros(n_units), np.zeros(n_units), np.zeros((n_units, n_ext)),
        )  # fmt: skip

    def set_unit(
        self, k: int, offset: float, cap: Any, dampener: FloatArray, rate: float | FloatArray
    ) -> bool:
        """Set unit ``k``'s scalars; ``False`` where the pass does not take them.

        It does not take a per-row rate or cap (a book of moved rows) or a negative dampener.
        """
        if np.ndim(rate) > 0 or np.ndim(cap) > 0 or (dampener.size and dampener.min() < 0.0):
            return False
        self.offset[k], self.cap[k], self.rate[k] = offset, cap, rate
        self.dampener[k] = dampener
        return True


def run_pass(
    layout: PassLayout,
    inputs: PassInputs,
    quantity: Any,
    *,
    threshold: bool,
    abs_size: bool,
    vectors: bool,
    attribute: bool,
    kernel: ModuleType,
    out: PassOutput | None = None,
) -> PassOutput | None:
    """Run the compiled pass on filled ``inputs``; ``None`` where an aggregated vector is NaN.

    ``out``: outputs to write into (``vectors`` and ``attribute`` off, a previous call's
    with ``n_accounts`` rows), else new ones. Other arguments as :func:`account_pass`.
    """
    n_acc, n_units = quantity.shape[0], len(layout.unit_rows)
    n_s = layout.n_scenarios
    if out is None:
        out = PassOutput(
            aggregated=np.empty((n_units, n_acc if vectors else 0, n_s)),
            loss=np.empty((n_units, n_acc)),
            worst=np.empty((n_units, n_acc), dtype=np.int64),
            roll=np.empty((n_units, n_acc)),
            net_delta=np.empty((n_units, n_acc)),
            held=np.empty((n_units, n_acc), dtype=bool),
            contribution=None,
        )
    roll_columns = not abs_size and layout.roll_index.size > 0
    if roll_columns:  # each row's roll rate in its expiry's column (the others stay 0)
        np.put(inputs.pnl, layout.roll_index, inputs.roll_rate)
    nnz = quantity.nnz if attribute else 0
    indptr = np.empty(n_acc + 1, dtype=quantity.indptr.dtype)
    indices = np.empty(nnz, dtype=quantity.indices.dtype)
    data = np.empty(nnz)
    clean = kernel.account_pass(
        quantity.indptr, quantity.indices, np.asarray(quantity.data, dtype=np.float64),
        layout.column_unit, layout.column_row,
        inputs.pnl, inputs.roll_rate, layout.group, layout.group_start,
        inputs.offset, inputs.cap, inputs.dampener, layout.order, inputs.rate,
        layout.n_standard, threshold, abs_size, roll_columns, vectors, attribute,
        out.aggregated, out.loss, out.worst, out.roll, out.net_delta, out.held, indptr, indices,
        data,
    )  # fmt: skip
    if not clean:
        return None
    if not attribute:
        return out if out.contribution is not None else replace(out, contribution=_none(quantity))
    n_kept = int(indptr[-1])
    contribution = sparse.csr_array((data[:n_kept], indices[:n_kept], indptr), shape=quantity.shape)
    return replace(out, contribution=contribution)


def _none(quantity: Any) -> Any:
    """Return an empty CSR matrix of ``quantity``'s shape (no contributions)."""
    return sparse.csr_array(
        (np.empty(0), np.empty(0, dtype=quantity.indices.dtype),
         np.zeros(quantity.shape[0] + 1, dtype=quantity.indptr.dtype)),
        shape=quantity.shape,
    )  # fmt: skip
