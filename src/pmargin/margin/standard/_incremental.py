"""``standard`` margin of one account after an order, from the cached per-instrument rates.

The ``standard`` model charges every (account, instrument) position on its own: a future's or
perpetual's charge depends on that net position only (``future_margin``), a short option's on
its own quantity, and a unit's IM and MM are plain sums of those charges, the account's the
sum of its units in USD (:meth:`~pmargin.margin.MarginResult.from_units`). No charge nets
positions across instruments or accounts, so an order of ``q`` base units of instrument ``j``
changes the account's IM (MM) by ``charge(q_old + q) - charge(q_old)`` of that one position
(times the instrument's settlement-currency USD rate), and nothing else: O(1) per order, with
the same rule functions :meth:`StandardModel.compute` uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pmargin.book import BookArrangement
from pmargin.margin._incremental import canonical_quantity, held_quantity
from pmargin.margin._result import MarginResult
from pmargin.margin.standard._rules import future_margin
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments

if TYPE_CHECKING:  # _model imports this module: the model is a type here, never imported
    from pmargin.margin.standard._model import StandardModel, _Charges

__all__ = ["StandardIncremental"]


class StandardIncremental:
    """Cached rates and quantities of a ``standard`` margin run, for one-order updates.

    Parameters
    ----------
    model
        The model.
    book, market
        The book and the snapshot ``result`` was computed on.
    result
        ``model.compute(book, market)``.
    """

    def __init__(
        self,
        model: StandardModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult,
    ) -> None:
        self.model = model
        self.market = market
        self.result = result
        self.charges = model.charges(book.resolved, market)
        self.settlement_usd = np.asarray(book.resolved.settlement_usd, dtype=np.float64)
        self.quantity = canonical_quantity(book)
        self._new: dict[str, tuple[_Charges, float]] = {}

    def margin_after(
        self, row: int, instrument: ResolvedInstruments, column: int | None, quantity: float
    ) -> tuple[float, float]:
        """IM and MM (USD) of account ``row`` after adding ``quantity`` base units.

        Arguments as :meth:`pmargin.margin.IncrementalMargin.margin_after`.
        """
        if column is not None:
            charges, j = self.charges, column
            usd = float(self.settlement_usd[column])
            held = held_quantity(self.quantity, row, column)
        else:
            charges, usd = self._alone(instrument)
            j, held = 0, 0.0
        im_before, mm_before = _position_charge(charges, j, held)
        im_after, mm_after = _position_charge(charges, j, held + quantity)
        im = float(self.result.initial_margin[row]) + (im_after - im_before) * usd
        mm = float(self.result.maintenance_margin[row]) + (mm_after - mm_before) * usd
        return im, mm

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
