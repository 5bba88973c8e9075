"""A fill booked at its price in exact decimals: what the service's ledger stores.

The ledger keeps each position as the venue quotes it: a signed quantity in the instrument's
native unit (:attr:`Instrument.quantity_unit`: USD for Deribit inverse futures, coins for
options and linear contracts, contracts on OKX) and an average entry price in the price
currency. ``k = base_units(1, native, 1)`` is the base units (linear) or the quote notional
(inverse futures and perpetuals) of one native unit. A trade of ``q`` native units at ``p``
on a position ``h`` entered at ``a``:

* **options and spot** (paid in full): the cash asset's balance changes by ``-q k p``; the
  average price is the quantity-weighted one while the position grows.
* **futures and perpetuals**: the part of ``q`` that reduces ``h`` (``c = min(|q|, |h|)``
  native units with ``h``'s sign) realises ``c k (p - a)`` quote currency (linear) or
  ``c k (1/a - 1/p)`` coin (inverse) into the cash asset; what grows the position moves the
  average to the one that keeps the unrealised P&L of :func:`~pmargin.book.unrealised_pnl`
  additive: quantity-weighted (linear), notional over ``sum(notional / price)`` (inverse);
  a flip opens the rest at ``p``.

A position that reaches exactly 0 has no average price. Every amount is a
:class:`~decimal.Decimal`; only ``k`` comes from the instrument's float arithmetic (exact for
every shipped contract size).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pmargin.errors import InputError
from pmargin.instruments import Instrument

__all__ = ["LedgerFill", "ledger_fill"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class LedgerFill:
    """A fill's effect on one account's ledger.

    Attributes
    ----------
    cash_asset
        The balance the fill's cash or realised P&L is booked in (:attr:`Instrument.cash_asset`).
    cash
        Change of that balance (cash asset units), the fee excluded.
    quantity
        The position after the fill (signed native units).
    avg_price
        Its average entry price after the fill (price currency per unit); None when flat.
    """

    cash_asset: str
    cash: Decimal
    quantity: Decimal
    avg_price: Decimal | None


def ledger_fill(
    instrument: Instrument,
    held: Decimal,
    avg_price: Decimal | None,
    quantity: Decimal,
    price: Decimal,
) -> LedgerFill:
    """Book ``quantity`` native units (buy > 0) at ``price`` on ``held`` at ``avg_price``.

    Parameters
    ----------
    instrument
        What is traded.
    held, avg_price
        The position before (signed native units) and its average price (None when flat).
    quantity
        Signed native units traded, non-zero.
    price
        Fill price as the venue quotes it (coin per coin for inverse options, quote currency
        per unit otherwise); > 0 for futures-style contracts.

    Returns
    -------
    LedgerFill
        The rules of the module docstring.

    Raises
    ------
    InputError
        ``quantity`` zero, ``price`` negative (or not > 0 for futures-style contracts).
    """
    if quantity == _ZERO:
        raise InputError("quantity", str(quantity), "must be non-zero (buy > 0, sell < 0)")
    futures = instrument.is_futures_style
    if price < _ZERO or (futures and price == _ZERO):
        bound = "> 0" if futures else ">= 0"
        raise InputError("price", str(price), f"must be {bound}")
    k = Decimal(repr(instrument.base_units(1.0, instrument.quantity_unit, 1.0)))
    after = held + quantity
    growing = held == _ZERO or (held > _ZERO) == (quantity > _ZERO)
    average: Decimal | None
    if not futures:
        average = _weighted(held, avg_price, quantity, price) if growing else avg_price
        average = None if after == _ZERO else (average if _same_side(held, after) else price)
        return LedgerFill(instrument.cash_asset, -quantity * k * price, after, average)
    if growing:
        return LedgerFill(
            instrument.cash_asset,
            _ZERO,
            after,
            _grown(instrument, held, avg_price, quantity, price),
        )
    entry = avg_price if avg_price is not None else price
    closed = held if abs(quantity) >= abs(held) else -quantity
    if instrument.is_inverse:
        realised = closed * k * (1 / entry - 1 / price)
    else:
        realised = closed * k * (price - entry)
    if after == _ZERO:
        average = None
    elif _same_side(held, after):
        average = entry
    else:
        average = price
    return LedgerFill(instrument.cash_asset, realised, after, average)


def _same_side(held: Decimal, after: Decimal) -> bool:
    return held != _ZERO and (held > _ZERO) == (after > _ZERO)


def _weighted(held: Decimal, avg: Decimal | None, quantity: Decimal, price: Decimal) -> Decimal:
    if held == _ZERO or avg is None:
        return price
    return (held * avg + quantity * price) / (held + quantity)


def _grown(
    instrument: Instrument, held: Decimal, avg: Decimal | None, quantity: Decimal, price: Decimal
) -> Decimal:
    if held == _ZERO or avg is None:
        return price
    if not instrument.is_inverse:
        return _weighted(held, avg, quantity, price)
    return (held + quantity) / (held / avg + quantity / price)
