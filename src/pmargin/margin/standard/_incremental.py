"""``standard`` margin of one account after an order, from the cached per-instrument rates.

The ``standard`` model charges every (account, instrument) position on its own: a future's or
perpetual's charge depends on that net position only (``future_margin``), a short option's on
its own quantity, and a unit's IM and MM are plain sums of those charges, the account's the
sum of its units in USD (:meth:`~pmargin.margin.MarginResult.from_units`). No charge nets
positions across instruments or accounts, so an order of ``q`` base units of instrument ``j``
changes the account's IM (MM) by ``charge(q_old + q) - charge(q_old)`` of that one position
(times the instrument's settlement-currency USD rate), and nothing else: O(1) per order, with
the same rule functions :meth:`StandardModel.compute` uses. Each position is its own unit of
:class:`~pmargin.margin._incremental.UnitIncremental` (its state: the rates and the quantity
held); balances move no charge.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pmargin.book import BookArrangement
from pmargin.margin._incremental import (
    PositionChange,
    UnitIncremental,
    held_quantity,
)
from pmargin.margin._result import MarginResult
from pmargin.margin.standard._rules import future_margin
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.standard._model import StandardModel, _Charges

__all__ = ["StandardIncremental"]


@dataclass(slots=True)
class _Position:
    """One position of one account: its rates (row ``j`` of ``charges``) and quantity."""

    charges: _Charges
    j: int
    usd: float  # USD per unit of the settlement currency
    quantity: float  # base units held


class StandardIncremental(UnitIncremental[_Position]):
    """Cached rates and quantities of a ``standard`` margin run, for position changes.

    Parameters
    ----------
    model
        The model.
    book
        The book ``result`` was computed on (at its market).
    result
        ``model.compute(book)``.
    """

    def __init__(
        self,
        model: StandardModel,
        book: BookArrangement,
        result: MarginResult,
    ) -> None:
        super().__init__(book, result)
        self.model = model
        self.charges = model.charges(book.resolved, book.market)
        self.settlement_usd = np.asarray(book.resolved.settlement_usd, dtype=np.float64)
        self._new: dict[str, tuple[_Charges, float]] = {}

    def unit_of(self, change: PositionChange) -> Hashable:
        """Return the position itself (its book column, else its symbol)."""
        return change.key

    def unit_state(
        self, row: int, unit: Hashable, change: PositionChange
    ) -> tuple[_Position, float, float]:
        """Return the position's rates and quantity held, and its charges (USD)."""
        if change.column is not None:
            column = change.column
            usd = float(self.settlement_usd[column])
            state = _Position(self.charges, column, usd, held_quantity(self.quantity, row, column))
        else:
            charges, usd = self._alone(change.instrument)
            state = _Position(charges, 0, usd, 0.0)
        return (state, *self.unit_margin(state))

    def apply(self, state: _Position, row: int, change: PositionChange) -> None:
        """Add the change's quantity to the position."""
        state.quantity += change.quantity

    def copy(self, state: _Position) -> _Position:
        """Return a copy of the position (the rates are shared, never changed)."""
        return _Position(state.charges, state.j, state.usd, state.quantity)

    def unit_margin(self, state: _Position) -> tuple[float, float]:
        """Return the position's IM and MM in USD."""
        im, mm = _position_charge(state.charges, state.j, state.quantity)
        return im * state.usd, mm * state.usd

    def contributions(self, row: int, keys: Sequence[Hashable]) -> dict[Hashable, float]:
        """IM contribution (USD) of account ``row``'s positions ``keys`` now.

        Each position's own IM, what :meth:`StandardModel.compute` attributes: the committed
        position's charge, else the cached run's ``im_contribution`` entry (keys: book
        columns, or the symbol of an instrument the book lacks; absent where none is stored).
        """
        c = self.result.im_contribution
        start, end = c.indptr[row], c.indptr[row + 1]
        stored = dict(zip(c.indices[start:end].tolist(), c.data[start:end].tolist(), strict=True))
        out: dict[Hashable, float] = {}
        for key in keys:
            committed = self._units.get((row, key))
            if committed is not None:
                out[key] = committed[1]
            elif key in stored:
                out[key] = stored[key]
        return out

    def _alone(self, instrument: ResolvedInstruments) -> tuple[_Charges, float]:
        """Rates of an instrument the book does not hold, looked up once and cached."""
        symbol = instrument.instruments[0].symbol
        if symbol not in self._new:
            charges = self.model.charges(instrument, self.market)
            self._new[symbol] = (charges, float(instrument.settlement_usd[0]))
        return self._new[symbol]


def _position_charge(charges: _Charges, j: int, q: float) -> tuple[float, float]:
    """IM and MM of a net position of ``q`` base units in instrument ``j`` (settlement ccy)."""
    if charges.is_future[j]:
        qa = np.array([q])
        im = future_margin(
            qa, charges.im_rate[j : j + 1], charges.im_rate_per_unit[j : j + 1], charges.price[j]
        )
        mm = future_margin(
            qa, charges.mm_rate[j : j + 1], charges.mm_rate_per_unit[j : j + 1], charges.price[j]
        )
        return float(im[0]), float(mm[0])
    short = max(-q, 0.0)
    return short * float(charges.option_im[j]), short * float(charges.option_mm[j])
