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

What a fill does to the position it trades (:func:`position_after`, applied to an account's
:class:`AccountHoldings` by :meth:`AccountHoldings.trade`; the one rule the what-if's account
state and the liquidation ledger both book with), for a trade ``dq`` on a position ``q`` with
unrealised P&L ``U``:

* options and spot: the cash leg ``fill.cash`` is paid into the cash asset's balance;
* futures and perpetuals: the part of ``dq`` that reduces ``q`` (``c = min(|dq|, |q|)`` base
  units, 0 when opening or adding) realises ``U c / |q|`` and its share ``c / |dq|`` of the
  trade's P&L against the mark into the cash asset's balance; the rest of the trade's P&L
  stays as the position's unrealised P&L. So opening or adding keeps ``fill.pnl`` unrealised,
  reducing realises ``U (-dq / q) + fill.pnl``, closing realises ``U + fill.pnl``, and
  flipping realises ``U + fill.pnl |q| / |dq|`` and opens ``q + dq`` with the rest.

A position that reaches exactly 0 is removed (with its unrealised P&L); a balance change of
exactly 0 books nothing (no new balance key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pmargin.instruments import Instrument
from pmargin.pricing import delta_one_pnl

__all__ = ["AccountHoldings", "Fill", "fill", "position_after", "trade_pnl"]


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


def position_after(
    held: float, unrealised: float, quantity: float, booked: Fill
) -> tuple[float, float, float]:
    """Position, unrealised P&L and cash after a fill (the rules of the module docstring).

    Parameters
    ----------
    held
        Signed base units held before the trade.
    unrealised
        The position's unrealised P&L before (cash asset units; 0 for options and spot).
    quantity
        Signed base units traded (``booked`` is their :func:`fill`).
    booked
        The trade's bookings.

    Returns
    -------
    tuple of float
        ``(held + quantity, unrealised after, cash)``: the cash asset's balance change (cash
        asset units): the realised P&L of a future or perpetual, the cash leg of an option or
        spot trade.
    """
    after = held + quantity
    if not booked.futures_style:
        return after, unrealised, booked.cash
    if held != 0.0 and quantity * held < 0.0:  # reduces the position
        if abs(quantity) >= abs(held):  # closes it (and opens the rest)
            closed_share, pnl_share = unrealised, booked.pnl * (abs(held) / abs(quantity))
        else:
            closed_share, pnl_share = unrealised * (-quantity / held), booked.pnl
        realised = closed_share + pnl_share
        return after, (unrealised - closed_share) + (booked.pnl - pnl_share), realised
    return after, unrealised + booked.pnl, 0.0


@dataclass(slots=True)
class AccountHoldings:
    """One account's positions, their unrealised P&L and its balances: what fills change.

    Attributes
    ----------
    positions
        Column -> signed base units (closed positions removed). Columns are the holder's own
        (a book's columns, or the what-if's).
    unrealised
        Column -> unrealised P&L of a future or perpetual (settlement currency).
    balances
        Asset -> amount (asset units; negative = borrowed).
    """

    positions: dict[int, float]
    unrealised: dict[int, float]
    balances: dict[str, float]

    def copy(self) -> AccountHoldings:
        """Return an independent copy."""
        return AccountHoldings(dict(self.positions), dict(self.unrealised), dict(self.balances))

    def trade(self, column: int, quantity: float, booked: Fill) -> None:
        """Book a trade of ``quantity`` base units in ``column`` (:func:`position_after`).

        ``booked`` is the trade's :func:`fill`; its cash asset's balance takes the realised
        P&L or the cash leg. A position that reaches exactly 0 is removed.
        """
        held = self.positions.get(column, 0.0)
        after, unrealised, cash = position_after(
            held, self.unrealised.get(column, 0.0), quantity, booked
        )
        if booked.futures_style:
            self.unrealised[column] = unrealised
        self.credit_asset(booked.cash_asset, cash)
        if after == 0.0:
            self.positions.pop(column, None)
            self.unrealised.pop(column, None)
        else:
            self.positions[column] = after

    def credit(self, balances: Mapping[str, float]) -> None:
        """Add balance deltas (asset -> units of the asset)."""
        for asset, amount in balances.items():
            self.credit_asset(asset, amount)

    def credit_asset(self, asset: str, amount: float) -> None:
        """Add ``amount`` units to the balance of ``asset`` (0 books nothing)."""
        if amount:
            self.balances[asset] = self.balances.get(asset, 0.0) + amount
