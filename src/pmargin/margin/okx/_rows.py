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

from pmargin._typing import FloatArray, IntArray
from pmargin.valuation import ResolvedInstruments, columns_by

__all__ = ["CompiledRows", "UnitPlan", "unit_plans"]


@dataclass(frozen=True, slots=True)
class CompiledRows:
    """The compiled passes' per-instrument inputs (rows = the book's instruments, USD).

    Attributes
    ----------
    matrix
        Shape ``(n, n_scenarios + 4)``, C-contiguous: USD P&L per base unit in the scenarios
        (MR1 grid, MR2, weighted MR6), basis (2) and rate (2) moves.
    vol_span, gross_rate
        Shape ``(n,)``: USD P&L of MR3's vol shift per base unit; raw MR7 per base unit held.
    n_mr1
        The MR1 grid's scenario columns.
    """

    matrix: FloatArray  # (n, n_scenarios + 4) C-contiguous: scenarios | basis (2) | rate (2)
    vol_span: FloatArray  # (n,)
    gross_rate: FloatArray  # (n,) raw MR7 per base unit held
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
