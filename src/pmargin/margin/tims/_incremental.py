"""TIMS margin of one account after changes, from cached per-class-group vectors.

TIMS margins each product group of an account on its own (class groups of one product group
offset each other; a class group in no product group is its own), and the account's
requirement is the sum over product groups (:meth:`TimsModel.compute`). Within a product group
every class group's state is a sum over the account's positions in its underlying:

* its P&L at the underlying's valuation points, ``(n_points,)`` (USD);
* its minimum, ``sum |q| x rate`` over option and future positions (USD).

So an order of ``q`` base units of instrument ``i`` changes one product group only: its class
group's P&L gains ``q x`` the instrument's P&L row, its minimum ``(|held + q| - |held|) x
rate``. The product group is then reduced with the model's own functions (:func:`offset_pnl`,
:func:`~pmargin.margin._scenario_margin.worst_loss`): ``max(group loss, sum of minimums)``,
which the members share in proportion to their standalone requirements (the shares add up to
it; 0 where every standalone requirement is 0). IM = MM. Each product group is a unit of
:class:`~pmargin.margin._incremental.UnitIncremental`; an instrument the book does not hold is
revalued alone, once, and cached. Balances move no TIMS charge.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin._incremental import PositionChange, UnitIncremental, held_quantity
from pmargin.margin._result import MarginResult, RiskUnitMargin
from pmargin.margin._scenario_margin import worst_loss
from pmargin.margin.tims._pieces import offset_pnl
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.tims._model import TimsModel

__all__ = ["TimsIncremental"]


@dataclass(slots=True)
class _Product:
    """One account's state in one product group (USD), changed in place."""

    offset: float
    pnl: dict[str, FloatArray]  # class group (underlying) -> P&L at its points, (n_points,)
    minimum: dict[str, float]  # class group -> its minimum
    held: dict[int | str, float] = field(default_factory=dict)  # position key -> base units


class TimsIncremental(UnitIncremental[_Product]):
    """Cached class-group vectors of a TIMS margin run, for position changes.

    Parameters
    ----------
    model
        The model.
    book
        The book ``result`` was computed on (at its market).
    result
        ``model.compute(book)``.

    Attributes
    ----------
    pnl
        Shape ``(n_instruments, n_points)``: each book instrument's USD P&L per base unit at
        its underlying's points (the model's revaluation).
    rate
        Shape ``(n_instruments,)``: its minimum per base unit held (USD).
    """

    def __init__(self, model: TimsModel, book: BookArrangement, result: MarginResult) -> None:
        super().__init__(book, result)
        self.model = model
        self.pnl = model._instrument_pnl(book.resolved)
        self.rate = model._minimum_rate(book.resolved)
        self.n_points = 2 * model.params.points_per_side
        self._members: dict[Hashable, list[RiskUnitMargin]] = {}
        for unit in result.risk_units:
            self._members.setdefault(self._product(unit.underlying)[0], []).append(unit)
        self._new: dict[str, tuple[FloatArray, float]] = {}

    def _product(self, underlying: str) -> tuple[str, float]:
        """Return the product group key of an underlying (as the model keys it) and its offset."""
        product = self.model.params.product_group(underlying)
        if product is None:
            return underlying, 1.0
        return product.name, product.offset

    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the product group of the instrument's underlying."""
        return self._product(change.instrument.instruments[0].underlying)[0]

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_Product, float, float]:
        """Return the account's class groups in the product group, and its IM and MM now."""
        offset = self._product(change.instrument.instruments[0].underlying)[1]
        state = _Product(offset, {}, {})
        im = 0.0
        for member in self._members.get(unit, ()):
            assert member.scenario_pnl is not None
            state.pnl[member.underlying] = np.array(member.scenario_pnl[row], dtype=np.float64)
            state.minimum[member.underlying] = float(member.components["minimum"][row])
            im += float(member.initial_margin[row])
        return state, im, im

    def apply(self, state: _Product, row: int, change: PositionChange) -> None:
        """Add the quantity times the instrument's P&L row; the minimum by the change of |q|."""
        underlying = change.instrument.instruments[0].underlying
        if change.column is not None:
            row_pnl, rate = self.pnl[change.column], float(self.rate[change.column])
        else:
            row_pnl, rate = self._alone(change.instrument)
        key, quantity = change.key, change.quantity
        held = state.held.get(key)
        if held is None:
            held = (
                0.0 if change.column is None else held_quantity(self.quantity, row, change.column)
            )
        state.held[key] = held + quantity
        pnl = state.pnl.get(underlying)
        if pnl is None:
            pnl = state.pnl[underlying] = np.zeros(self.n_points)
        pnl += quantity * row_pnl
        minimum = state.minimum.get(underlying, 0.0) + (abs(held + quantity) - abs(held)) * rate
        state.minimum[underlying] = max(minimum, 0.0)

    def copy(self, state: _Product) -> _Product:
        """Return an independent copy."""
        return _Product(
            state.offset,
            {u: p.copy() for u, p in state.pnl.items()},
            dict(state.minimum),
            dict(state.held),
        )

    def unit_margin(self, state: _Product) -> tuple[float, float]:
        """Reduce the product group as :meth:`TimsModel.compute` does: IM and MM (USD)."""
        if not state.pnl:
            return 0.0, 0.0
        stacked = np.stack(list(state.pnl.values()))  # (n_members, n_points)
        member_loss, _ = worst_loss(stacked)
        group_loss, _ = worst_loss(offset_pnl(stacked[:, np.newaxis, :], state.offset))
        minimum = np.array([state.minimum.get(u, 0.0) for u in state.pnl])
        standalone = float(np.maximum(member_loss, minimum).sum())
        requirement = max(float(group_loss[0]), float(minimum.sum()))
        im = requirement if standalone > 0.0 else 0.0
        return im, im

    def _alone(self, instrument: ResolvedInstruments) -> tuple[FloatArray, float]:
        """P&L row and minimum rate of an instrument the book does not hold, cached."""
        symbol = instrument.instruments[0].symbol
        if symbol not in self._new:
            pnl = self.model._instrument_pnl(instrument)[0]
            self._new[symbol] = (pnl, float(self.model._minimum_rate(instrument)[0]))
        return self._new[symbol]
