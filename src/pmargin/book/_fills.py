"""Fill accounting: what trading a quantity at a price does to an account, against the mark.

The one rule a pre-trade check (an order opening or adding to a position) and the liquidation
ledger (a close, an auto-deleveraging transfer) both book fills with. A trade of ``dq`` base
units at price ``p`` when the instrument's mark is ``m``:

* **futures and perpetuals** (futures-style: no premium changes hands): the trade's P&L
  against the mark, ``dq (m - p)`` for linear contracts (quote currency) and
  ``dq (m / p - 1)`` coin for inverse ones (:func:`pmargin.pricing.delta_one_pnl` with the
  base units counted at the mark), is the :attr:`Fill.pnl`. An opening fill keeps it as the
  position's unrealised P&L; a closing fill realises it into the cash asset's balance with
  the closed share of the position's earlier unrealised P&L.
* **options and spot** (paid in full): the cash leg ``-dq p`` leaves the cash asset's balance
  and the position gains the mark value ``dq m``.

Either way the account's equity changes by ``cash + value + pnl = dq (m - p)`` (or its
inverse form) in the cash asset (:attr:`Instrument.cash_asset`): filling at the mark changes
no equity; filling away from it moves equity to the counterparty.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmargin.instruments import Instrument
from pmargin.pricing import delta_one_pnl

__all__ = ["Fill", "fill", "trade_pnl"]


@dataclass(frozen=True, slots=True)
class Fill:
    """The effect of one fill on an account, in its cash asset's units.

    Attributes
    ----------
    cash_asset
        The balance the fill is booked in (:attr:`Instrument.cash_asset`).
    futures_style
        True for futures and perpetuals: no cash changes hands, the trade's P&L is booked
        (unrealised when opening, realised when closing).
    cash
        Change of the cash asset's balance: ``-dq p`` for options and spot, 0 for futures.
    value
        Mark value of the position taken on: ``dq m`` for options and spot, 0 for futures.
    pnl
        Futures and perpetuals: the trade's P&L against the mark, ``dq (m - p)`` or
        ``dq (m / p - 1)`` coin; 0 for options and spot.
    """

    cash_asset: str
    futures_style: bool
    cash: float
    value: float
    pnl: float

    @property
    def equity_change(self) -> float:
        """Change of the account's equity, in the cash asset: ``cash + value + pnl``."""
        return self.cash + self.value + self.pnl


def trade_pnl(instrument: Instrument, quantity: float, mark: float, price: float) -> float:
    """P&L against the mark of trading ``quantity`` base units at ``price``, in the cash asset.

    ``dq (m - p)`` for linear futures, options and spot; ``dq (m / p - 1)`` coin for inverse
    futures and perpetuals (a sale below the mark is a loss: negative). ``price > 0`` for
    inverse contracts.
    """
    inverse = instrument.is_futures_style and instrument.is_inverse
    return quantity * float(delta_one_pnl(mark, price, inverse, base_price=mark))


def fill(instrument: Instrument, quantity: float, price: float, mark: float) -> Fill:
    """Book a trade of ``quantity`` base units (buy > 0) at ``price`` against ``mark``.

    Parameters
    ----------
    instrument
        What is traded.
    quantity
        Signed base units.
    price
        Fill price in the instrument's price currency (premium currency per unit for options,
        quote currency per unit otherwise); > 0 for inverse futures and perpetuals.
    mark
        The instrument's mark in the same unit (the forward for futures and perpetuals).

    Returns
    -------
    Fill
        Cash, value and P&L per the module docstring.
    """
    asset = instrument.cash_asset
    if instrument.is_futures_style:
        return Fill(asset, True, 0.0, 0.0, trade_pnl(instrument, quantity, mark, price))
    return Fill(asset, False, -quantity * price, quantity * mark, 0.0)
