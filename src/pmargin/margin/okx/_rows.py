"""The inputs of OKX's compiled account passes (``_jit.py``): instrument rows and unit plans.

:class:`CompiledRows` holds every instrument's USD ingredients (the scenario, basis and rate
columns of :meth:`~pmargin.margin.okx.OkxModel.matrices`, the MR3 vol span and the raw MR7
rate) as one C-contiguous row per instrument, shared by every risk unit; :class:`UnitPlan`
says which rows are a unit's and its expiry buckets (what no price moves:
:class:`~pmargin.margin.okx._totals.OkxTotals` keeps them across ticks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.margin._aligned import aligned_zeros
from pmargin.valuation import ResolvedInstruments, columns_by

__all__ = [
    "ROW_EXTRAS",
    "ROW_LANES",
    "CompiledRows",
    "UnitBuffers",
    "UnitPlan",
    "row_matrix",
    "unit_plans",
]

ROW_LANES = 8
"""The rows' width is padded with zeros to a multiple of this many columns: the row sums'
loop then runs whole vectors (AVX-512: 8 float64), no scalar remainder per position.
Measured on the 10,000-account bench block (120,769 positions, OKX's 28 columns padded to 32):
the row sums alone ~0.93 -> ~0.80 ms, :func:`~pmargin.margin.okx._jit.unit_reduce`
~1.48 -> ~1.43 ms."""


ROW_EXTRAS = 2
"""Columns after the scenario, basis and rate columns: each row's MR3 vol span and raw MR7 rate,
read from the row :func:`~pmargin.margin.okx._jit.unit_reduce` loads anyway (its row sums add
them up too, unused). Measured on the 10,000-account bench block: ``unit_reduce`` ~1.62 ->
~1.54 ms against reading them from their own arrays."""


def row_matrix(n: int, n_scenarios: int) -> FloatArray:
    """Return a zero ``(n, width)`` matrix for :class:`CompiledRows`.

    ``width`` is ``n_scenarios + 4 + ROW_EXTRAS`` (scenarios, basis, rate, vol span, MR7 rate)
    rounded up to :data:`ROW_LANES`; the padding stays 0. C-contiguous, starting on a cache
    line (:func:`~pmargin.margin._aligned.aligned_zeros`): rows of whole AVX-512 vectors, no
    load straddling two lines.
    """
    width = -(-(n_scenarios + 4 + ROW_EXTRAS) // ROW_LANES) * ROW_LANES
    return aligned_zeros(n, width)


@dataclass(frozen=True, slots=True)
class CompiledRows:
    """The compiled passes' per-instrument inputs (rows = the book's instruments, USD).

    Attributes
    ----------
    matrix
        Shape ``(n, width)`` (:func:`row_matrix`), C-contiguous: USD P&L per base unit in the
        scenarios (MR1 grid, MR2, weighted MR6), basis (2) and rate (2) moves, then
        ``vol_span`` and ``gross_rate`` (copies: :data:`ROW_EXTRAS`), zero padding.
    vol_span, gross_rate
        Shape ``(n,)``: USD P&L of MR3's vol shift per base unit; raw MR7 per base unit held.
    n_scenarios, n_mr1
        The scenario columns; the MR1 grid's share of them.
    """

    matrix: FloatArray  # (n, width): scenarios | basis (2) | rate (2) | span | MR7 rate | zeros
    vol_span: FloatArray  # (n,)
    gross_rate: FloatArray  # (n,) raw MR7 per base unit held
    n_scenarios: int
    n_mr1: int


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """One risk unit's static inputs to the compiled passes.

    Attributes
    ----------
    underlying
        The unit.
    column_row
        Shape ``(n,)``: the book column's row of :class:`CompiledRows` (itself) where in the
        unit, else -1.
    bucket
        Shape ``(n,)``: the row's expiry among the unit's ``n_buckets`` (-1: none, or not
        in the unit).
    n_buckets
        The unit's option expiries.
    """

    underlying: str
    column_row: IntArray  # (n,) the column itself where in the unit, else -1
    bucket: IntArray  # (n,) the row's expiry among the unit's buckets, -1: none (or not in it)
    n_buckets: int


@dataclass(frozen=True, slots=True)
class UnitBuffers:
    """The outputs of one unit's first pass (:func:`~pmargin.margin.okx._jit.unit_reduce`).

    Attributes
    ----------
    charges
        Shape ``(8, n_accounts)``: MR1, MR2, MR6, the worst scenario loss, MR4, MR5, MR3 and
        the raw MR7 (USD).
    binding
        Shape ``(3, n_accounts)``: binding scenario, basis and rate columns (-1: none).
    weights
        Shape ``(n_accounts, n_buckets)``: MR3's Euler weights.
    held
        Shape ``(n_accounts,)``: the account holds an entry of the unit.
    """

    charges: FloatArray
    binding: IntArray
    weights: FloatArray
    held: BoolArray

    @classmethod
    def of(cls, n_accounts: int, n_buckets: int) -> UnitBuffers:
        """Allocate the buffers of a unit with ``n_buckets`` expiries (content undefined)."""
        return cls(
            charges=np.empty((8, n_accounts)),
            binding=np.empty((3, n_accounts), dtype=np.int64),
            weights=np.empty((n_accounts, n_buckets)),
            held=np.empty(n_accounts, dtype=bool),
        )


def unit_plans(resolved: ResolvedInstruments, expiry_bucket: IntArray) -> list[UnitPlan]:
    """Return each risk unit's :class:`UnitPlan` (units in :func:`columns_by`'s order).

    ``expiry_bucket``: each instrument's option expiry bucket (-1 otherwise). A unit's
    buckets are its expiries in increasing bucket number, as
    :meth:`~pmargin.margin.okx.OkxModel` orders its one-hot columns (``_ingredients``).
    """
    n = len(resolved)
    plans = []
    for underlying, columns in columns_by(resolved.terms.underlying).items():
        bucket = expiry_bucket[columns]
        used = np.unique(bucket[bucket >= 0])
        column_row = np.full(n, -1, dtype=np.int64)
        column_row[columns] = columns
        position = np.full(n, -1, dtype=np.int64)
        position[columns] = np.where(bucket >= 0, np.searchsorted(used, bucket), -1)
        plans.append(UnitPlan(underlying, column_row, position, int(used.size)))
    return plans
