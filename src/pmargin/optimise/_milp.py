"""The hedge as a (mixed-integer) linear programme over a :class:`LinearCore`, solved by HiGHS.

Variables, in this order: per candidate ``i`` the lots bought ``b_i >= 0`` and sold
``s_i >= 0`` (integers when trading in whole lots; the trade is ``x_i = lot_i (b_i - s_i)``
base units), one epigraph variable per :class:`MaxTerm` and :class:`AbsTerm`, and per
:class:`TailTerm` its epigraph variable, then per scenario set the Rockafellar-Uryasev
threshold ``eta`` (free) and one excess ``z_s >= 0`` per scenario:

    ES_j(x) = min_eta  eta + (1 / beta_j) sum_s p_js max(0, L_js(x) - eta)

so ``T >= eta_j + (1 / beta_j) sum_s p_js z_js`` and ``z_js >= L_js(x) - eta_j`` make ``T``
an upper bound of every ``ES_j`` that the minimisation pulls down to the largest. A set's
cash rows (:attr:`TailSet.cash`) enter on each side's lots (buying and selling move a coin
balance by different prices). The cost of a
trade is ``lot_i (buy_cost_i b_i + sell_cost_i s_i)`` (USD).

Two goals (:func:`solve_hedge`): minimise ``IM + cost``; or, given a target utilisation ``u``,
minimise the cost subject to ``IM <= u x (equity - cost)`` (equity after the trades). Limits:
lots per side (size), per underlying ``lo <= delta + sum_i delta_i x_i <= hi`` (base units),
``cost <= max_cost``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from pmargin._typing import FloatArray
from pmargin.optimise._core import LinearCore

__all__ = ["DeltaBand", "LpSolution", "solve_hedge"]


@dataclass(frozen=True, slots=True)
class DeltaBand:
    """``low <= delta_now + exposure . x <= high`` (base units of one underlying).

    ``exposure`` has shape ``(n,)``: each candidate's delta per base unit in the underlying
    (0 for other underlyings).
    """

    underlying: str
    low: float
    high: float
    delta_now: float
    exposure: FloatArray


@dataclass(frozen=True, slots=True)
class LpSolution:
    """What HiGHS found.

    Attributes
    ----------
    feasible
        Whether a solution exists within the limits.
    quantity
        Shape ``(n,)``: the trade in base units (zeros when infeasible).
    objective
        HiGHS's objective at ``quantity`` (USD): ``IM + cost``, or the cost for a target.
    bound
        A lower bound of the optimum (USD): the LP relaxation's optimum (equal to
        ``objective`` for an LP).
    status
        HiGHS's message.
    """

    feasible: bool
    quantity: FloatArray
    objective: float
    bound: float
    status: str


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send the process's C-level stdout to stderr while HiGHS runs.

    SciPy's HiGHS prints a debug line (``HighsMipSolverData::transformNewIntegerFeasible
    Solution``) on the C stdout in some MIP solves, whatever ``disp`` says; ``pmargin hedge
    --json`` must print only its document there.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout to guard
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        ctypes.CDLL(None).fflush(None)
        os.dup2(saved, 1)
        os.close(saved)


class _Rows:
    """Sparse rows ``lower <= A v <= upper`` collected one block at a time."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.blocks: list[sparse.csr_array] = []
        self.lower: list[FloatArray] = []
        self.upper: list[FloatArray] = []

    def add(self, matrix: object, lower: object, upper: object) -> None:
        block = sparse.csr_array(matrix)
        n = block.shape[0]
        self.blocks.append(block)
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy())

    def constraint(self) -> optimize.LinearConstraint:
        matrix = sparse.vstack(self.blocks, format="csr")
        return optimize.LinearConstraint(
            matrix, np.concatenate(self.lower), np.concatenate(self.upper)
        )


def solve_hedge(
    core: LinearCore,
    lot: FloatArray,
    buy_cost: FloatArray,
    sell_cost: FloatArray,
    max_lots: FloatArray,
    *,
    integer: bool,
    bands: Sequence[DeltaBand] = (),
    max_cost: float | None = None,
    target: tuple[float, float] | None = None,
    time_limit: float = 10.0,
    window: int | None = 8,
) -> LpSolution:
    """Solve the hedge programme (module docstring).

    Parameters
    ----------
    core
        The account's IM over the candidates.
    lot
        Shape ``(n,)``: base units per lot (the variables' unit).
    buy_cost, sell_cost
        Shape ``(n,)``: USD per base unit bought / sold.
    max_lots
        Shape ``(n,)``: most lots per side (``inf``: unbounded).
    integer
        Whole lots (a MILP) or any amount (an LP).
    bands
        Delta bands per underlying.
    max_cost
        Most USD the trades may cost.
    target
        ``(utilisation, equity now)``: minimise cost subject to ``IM <= u (equity - cost)``;
        ``None`` minimises ``IM + cost``.
    time_limit
        Seconds HiGHS may take (each solve).
    window
        With ``integer``: first solve the LP relaxation (a lower bound of the whole-lot
        optimum), then the MILP with each side's lots within ``window`` of the relaxation's
        of the candidates the relaxation trades, the others at 0 (HiGHS proves an optimum
        over millions of tiny lots slowly: interchangeable futures of slightly different lots
        make it a subset-sum problem); ``bound`` is then the relaxation's optimum, a lower
        bound of the whole-lot optimum. ``None``: the MILP over every lot count, its own dual
        bound.
    """
    n = core.n
    dense_tail = [(t, s) for t in core.tail_terms for s in t.sets]
    n_eps = len(core.max_terms) + len(core.abs_terms) + len(core.tail_terms)
    n_scen = sum(s.pnl.size for _, s in dense_tail)
    width = 2 * n + n_eps + len(dense_tail) + n_scen
    trade = sparse.hstack([sparse.diags_array(lot), -sparse.diags_array(lot)]).tocsr()  # x = T v

    def on_trades(slope: FloatArray) -> sparse.csr_array:
        """Rows ``slope @ x`` over the whole variable vector."""
        head = sparse.csr_array(np.atleast_2d(slope)) @ trade
        return sparse.hstack([head, sparse.csr_array((head.shape[0], width - 2 * n))]).tocsr()

    def on_sides(buy: FloatArray, sell: FloatArray) -> sparse.csr_array:
        """Rows ``buy @ b_lots + sell @ s_lots`` (slopes per base unit) over every variable."""
        head = sparse.hstack([sparse.csr_array(buy * lot), sparse.csr_array(sell * lot)])
        return sparse.hstack([head, sparse.csr_array((head.shape[0], width - 2 * n))]).tocsr()

    def unit_column(rows: int, column: int, value: float) -> sparse.csr_array:
        data = np.full(rows, value)
        return sparse.csr_array((data, (np.arange(rows), np.full(rows, column))), (rows, width))

    cost_row = np.zeros(width)
    cost_row[:n] = lot * buy_cost
    cost_row[n : 2 * n] = lot * sell_cost
    im_row = np.zeros(width)
    rows = _Rows(width)
    k = 2 * n
    for term in core.max_terms:  # slope x - t <= -offset
        cells = term.offset.size
        rows.add(on_trades(term.slope.T) + unit_column(cells, k, -1.0), -np.inf, -term.offset)
        im_row[k] = term.weight
        k += 1
    for abs_term in core.abs_terms:  # +-(slope x) - u <= -+offset
        rows.add(on_trades(abs_term.slope) + unit_column(1, k, -1.0), -np.inf, -abs_term.offset)
        rows.add(on_trades(-abs_term.slope) + unit_column(1, k, -1.0), -np.inf, abs_term.offset)
        im_row[k] = abs_term.weight
        k += 1
    tail_var = {}
    for tail in core.tail_terms:
        tail_var[id(tail)] = k
        im_row[k] = tail.weight
        k += 1
    eta = k
    z = eta + len(dense_tail)
    for j, (tail, tset) in enumerate(dense_tail):
        m = tset.pnl.size
        # -rows x - eta - z_s <= pnl_s
        buy, sell = -tset.rows.T, tset.rows.T
        if tset.cash is not None:
            buy, sell = buy - tset.cash[0].T, sell - tset.cash[1].T
        block = (
            on_sides(buy, sell)
            + unit_column(m, eta + j, -1.0)
            + sparse.csr_array((-np.ones(m), (np.arange(m), z + np.arange(m))), (m, width))
        )
        rows.add(block, -np.inf, tset.pnl)
        # eta + (1/beta) p . z - T <= 0
        line = np.zeros(width)
        line[eta + j] = 1.0
        line[z : z + m] = tset.probability / tset.tail_mass
        line[tail_var[id(tail)]] = -1.0
        rows.add(line[None, :], -np.inf, 0.0)
        z += m
    for band in bands:
        rows.add(on_trades(band.exposure), band.low - band.delta_now, band.high - band.delta_now)
    if max_cost is not None:
        rows.add(cost_row[None, :], -np.inf, max_cost)
    if target is None:
        objective = im_row + cost_row
    else:
        utilisation, equity = target
        rows.add(
            (im_row + utilisation * cost_row)[None, :],
            -np.inf,
            utilisation * equity - core.constant,
        )
        objective = cost_row
    lower = np.zeros(width)
    upper = np.full(width, np.inf)
    upper[:n] = max_lots
    upper[n : 2 * n] = max_lots
    lower[eta : eta + len(dense_tail)] = -np.inf
    constraint = rows.constraint()
    constant = core.constant if target is None else 0.0

    def run(low: FloatArray, high: FloatArray, whole: bool) -> optimize.OptimizeResult:
        integrality = np.zeros(width)
        if whole:
            integrality[: 2 * n] = 1
        return optimize.milp(
            objective,
            integrality=integrality,
            bounds=optimize.Bounds(low, high),
            constraints=constraint,
            options={"time_limit": time_limit, "mip_rel_gap": 0.0},
        )

    with _stdout_to_stderr():
        relaxed = run(lower, upper, whole=integer and window is None)
    nothing = np.zeros(n)
    if relaxed.x is None:
        return LpSolution(False, nothing, np.nan, np.nan, str(relaxed.message))
    result = relaxed
    bound = float(relaxed.fun) + constant
    if integer and window is not None:
        v = np.asarray(relaxed.x, dtype=np.float64)[: 2 * n]
        low, high = lower.copy(), upper.copy()
        low[: 2 * n] = np.maximum(np.floor(v) - window, 0.0)
        high[: 2 * n] = np.minimum(np.ceil(v) + window, upper[: 2 * n])
        unused = np.tile(v[:n] + v[n:] <= 1e-9, 2)  # candidates the relaxation does not trade
        high[: 2 * n][unused] = 0.0
        with _stdout_to_stderr():
            result = run(low, high, whole=True)
        if result.x is None:  # nothing whole near the relaxation: every lot count
            with _stdout_to_stderr():
                result = run(lower, upper, whole=True)
        if result.x is None:
            return LpSolution(False, nothing, np.nan, np.nan, str(result.message))
    elif integer:
        bound = float(getattr(result, "mip_dual_bound", np.nan)) + constant
    v = np.asarray(result.x, dtype=np.float64)
    if integer:
        v[: 2 * n] = np.round(v[: 2 * n])
    quantity = lot * (v[:n] - v[n : 2 * n])
    fun = float(result.fun) + constant
    return LpSolution(True, quantity, fun, min(bound, fun), str(result.message))
