"""Deribit S:PM's IM and MM of one book structure at market after market: a monitor's ticks.

A monitor margins the same block of accounts and instruments on every tick; only prices move.
:class:`DeribitTotals` is built once from such a book and keeps what does not depend on prices:
the units (underlyings, settlement currencies, their rows and columns), each underlying's
scenario grid and spot multipliers, the extended cells' factors, the roll-shock moves (by time
to expiry), the compiled pass's layout (:class:`~pmargin.margin.deribit._account_pass.PassLayout`),
its stacked input arrays and its outputs. A call with a book of the same structure (the same
instrument terms, stored entries and times to expiry; quantities and prices may differ)
revalues the instruments, refills the inputs in place, runs the pass and sums the units in USD.

Every operation on numbers is the one :meth:`~pmargin.margin.deribit.DeribitModel.compute`
runs, in the same order, so the totals are ``compute``'s bit for bit (its twin; tested). A book
of another structure rebuilds the kept state first; where the pass does not apply (X:PM, no
numba, a book of moved rows, a NaN in an aggregated vector) the model's own
:meth:`~pmargin.margin.deribit.DeribitModel.margin_totals` runs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book import BookArrangement
from pmargin.margin._structure import BookStructure
from pmargin.margin.deribit._account_pass import (
    PassInputs,
    PassLayout,
    PassOutput,
    jit_kernel,
    pass_layout,
    run_pass,
)
from pmargin.margin.deribit._grid import extended_factor, grid_of, segregated_unit_value
from pmargin.margin.deribit._params import DampenerMode, DeribitMode, RollShockBasis
from pmargin.margin.deribit._revalue import GridRevaluation
from pmargin.margin.deribit._risk_matrix import roll_shock_rate
from pmargin.scenarios import ScenarioSet

if TYPE_CHECKING:
    from pmargin.margin.deribit._model import DeribitModel

__all__ = ["DeribitTotals"]


@dataclass(frozen=True, slots=True)
class _UnitSpec:
    """One unit's price-independent inputs: its matrix rows, currency and factors."""

    currency: str
    rows: IntArray  # (n_unit,) rows of the underlying's matrix
    factor: FloatArray  # (n_unit, n_extended): extended cells' weight and edge conversion
    move: FloatArray  # (n_unit,) roll-shock move per base unit's value
    coin: bool


@dataclass(frozen=True, slots=True)
class _Underlying:
    """One underlying's price-independent inputs and its units (consecutive in the layout)."""

    name: str
    columns: IntArray
    whole: bool  # the underlying's columns are the book's, in order
    revaluation: GridRevaluation  # the grid, the clamped multipliers: P&L into the pass's rows
    span: slice  # the units' rows of the pass's stacked inputs (consecutive)
    units: tuple[tuple[int, _UnitSpec], ...]


@dataclass(frozen=True, slots=True)
class _State:
    """What :class:`DeribitTotals` keeps between calls."""

    layout: PassLayout
    underlyings: tuple[_Underlying, ...]
    inputs: PassInputs
    output: PassOutput


class DeribitTotals:
    """Every account's IM and MM (USD) of books sharing one structure, set-up kept (S:PM).

    Parameters
    ----------
    model
        The Deribit model.
    book
        A book of the structure to keep (its prices are not kept).

    Raises
    ------
    InputError
        As :meth:`~pmargin.margin.deribit.DeribitModel.compute` does (an underlying or
        currency without parameters).

    Examples
    --------
    >>> totals = DeribitTotals(get_model("deribit"), block)  # doctest: +SKIP
    >>> im, mm = totals(block.rebased(market))  # == compute(...)'s totals  # doctest: +SKIP
    """

    def __init__(self, model: DeribitModel, book: BookArrangement) -> None:
        self._model = model
        self._state: _State | None = None
        self._structure: BookStructure | None = None
        self.builds = 0
        """How many times the kept state was built (1 + rebuilds for a new structure)."""
        self._build(book)

    def __call__(self, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
        """Return ``(initial_margin, maintenance_margin)`` of ``book``, shape ``(n_accounts,)``.

        USD, bit for bit ``model.compute(book)``'s.
        """
        if not self._same_structure(book):
            self._build(book)
        if self._state is not None:
            totals = self._run(self._state, book)
            if totals is not None:
                return totals
        return self._model.margin_totals(book)

    # ------------------------------------------------------------------ kept state

    def _same_structure(self, book: BookArrangement) -> bool:
        return self._structure is not None and self._structure.holds(book)

    def _applies(self, book: BookArrangement) -> bool:
        return (
            self._model.params.mode is DeribitMode.SEGREGATED
            and jit_kernel() is not None
            and book.row_moves is None
            and isinstance(book.quantity, sparse.csr_array | sparse.csr_matrix)
            and bool(book.quantity.has_canonical_format)
        )

    def _build(self, book: BookArrangement) -> None:
        """Keep ``book``'s structure (``None`` state where the pass does not apply)."""
        self.builds += 1
        self._state = None
        self._structure = BookStructure.of(book) if book.row_moves is None else None
        kernel = jit_kernel()
        if kernel is None or not self._applies(book):
            return
        model = self._model
        units = model._units(book, take=False)
        layout = pass_layout(units, book.shape[1], kernel=kernel)
        if layout is None:
            return
        specs: dict[str, list[tuple[int, _UnitSpec]]] = {}
        for k, unit in enumerate(units):
            m = unit.matrix
            res = m.resolved
            cp = model.params.currency(unit.currency)
            move = roll_shock_rate(
                res.time[unit.rows], cp.min_annualised_move, cp.annualised_move_risk
            )
            spec = _UnitSpec(
                unit.currency, unit.rows, extended_factor(m, res.is_inverse[unit.rows]), move,
                unit.coin,
            )  # fmt: skip
            specs.setdefault(m.underlying, []).append((k, spec))
        underlyings: list[_Underlying] = []
        n = len(book.resolved)
        for name, own in specs.items():
            m = units[own[0][0]].matrix
            spans = [layout.unit_rows[k] for k, _ in own]
            if any(a.stop != b.start for a, b in itertools.pairwise(spans)):
                return  # not consecutive in the layout (compute's units always are)
            whole = m.columns.size == n and bool(np.all(m.columns == np.arange(n)))
            grid = _grid_of(model, name)
            revaluation = GridRevaluation(
                grid, m.multiplier, m.resolved,
                np.concatenate([spec.rows for _, spec in own]),
                np.concatenate([spec.factor for _, spec in own]), m.n_standard,
            )  # fmt: skip
            underlyings.append(
                _Underlying(
                    name,
                    m.columns,
                    whole,
                    revaluation,
                    slice(spans[0].start, spans[-1].stop),
                    tuple(own),
                )
            )
        n_acc, n_units = book.shape[0], len(units)
        output = PassOutput(
            aggregated=np.empty((n_units, 0, layout.n_scenarios)),
            loss=np.empty((n_units, n_acc)),
            worst=np.empty((n_units, n_acc), dtype=np.int64),
            roll=np.empty((n_units, n_acc)),
            net_delta=np.empty((n_units, n_acc)),
            held=np.empty((n_units, n_acc), dtype=bool),
            contribution=sparse.csr_array((n_acc, book.shape[1])),
        )
        self._state = _State(layout, tuple(underlyings), PassInputs.empty(layout), output)

    # ------------------------------------------------------------------ one call

    def _run(self, state: _State, book: BookArrangement) -> tuple[FloatArray, FloatArray] | None:
        """Return the totals of ``book`` on the kept state; ``None`` where the pass declines."""
        kernel = jit_kernel()
        if kernel is None:  # PMARGIN_JIT=0 or a numpy_kernels block since the state was kept
            return None
        model = self._model
        assumptions = model.params.assumptions
        abs_size = assumptions.roll_shock_basis is RollShockBasis.ABS_SIZE
        layout, inputs = state.layout, state.inputs
        rates: dict[int, Any] = {}  # unit -> USD per unit currency (a float: set_unit checks)
        for u in state.underlyings:
            res = book.resolved if u.whole else book.resolved.take(u.columns)
            u.revaluation(res, inputs.pnl[u.span])
            # the book's cached valuation (the monitor's of this tick): value_instruments(res)'s
            # delta, element by element the same bits
            delta = book.valuation.delta if u.whole else book.valuation.delta[u.columns]
            delta_usd = delta * res.underlying_usd
            for k, spec in u.units:
                span = layout.unit_rows[k]
                rows = spec.rows
                inputs.delta_usd[span] = delta_usd[rows]
                roll_rate = spec.move * segregated_unit_value(res, rows)
                inputs.roll_rate[span] = roll_rate if abs_size else delta[rows] * roll_rate
                usd_rate = book.usd_price(spec.currency)
                terms = model._part_terms(u.name, spec.currency, usd_rate, coin=spec.coin)
                if not inputs.set_unit(k, *terms, usd_rate):
                    return None
                rates[k] = usd_rate
        out = run_pass(
            layout, inputs, book.quantity,
            threshold=assumptions.extended_dampener_mode is DampenerMode.THRESHOLD,
            abs_size=abs_size, vectors=False, attribute=False, kernel=kernel, out=state.output,
        )  # fmt: skip
        if out is None:
            return None
        n = book.shape[0]
        im, mm = np.zeros(n), np.zeros(n)
        mm_factor = model.params.general.mm_factor
        for u in state.underlyings:
            for k, _ in u.units:
                # compute's unit margin (loss + roll + shock + contingency) and its USD sum
                shock = model.delta_shock(u.name, out.net_delta[k], rates[k])
                rmm = out.loss[k] + out.roll[k] + shock + np.zeros(n)
                im += rmm * rates[k]
                mm += (mm_factor * rmm) * rates[k]
        return im, mm


def _grid_of(model: DeribitModel, underlying: str) -> ScenarioSet:
    """Return the scenario set ``compute`` revalues ``underlying`` under (the cached grid)."""
    params = model.params
    grid = grid_of(
        underlying, params.pair(underlying), params.general, params.vol_rule(underlying),
        params.assumptions.extended_weighting,
    )  # fmt: skip
    return grid.scenario_set
