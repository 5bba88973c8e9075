"""One account's margin after a proposed order, and accept or reject: ``pmargin check-order``.

The facade margins the book with the model, builds the pre-trade checker over that result
(:class:`pmargin.pretrade.PreTradeChecker`: the model's incremental path where it has one) and
checks the order; the rules live in :mod:`pmargin.pretrade`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmargin.book import Portfolio
from pmargin.engine._inputs import instruments_for
from pmargin.engine._margin import margin_report
from pmargin.margin import get_model
from pmargin.market import MarketSnapshot
from pmargin.pretrade import Order, OrderCheck, PreTradeChecker, load_price_bounds

__all__ = ["OrderLeg", "OrderReport", "legs_report", "order_report"]


@dataclass(frozen=True, slots=True)
class OrderReport:
    """A pre-trade check with the model's one-line notes.

    Attributes
    ----------
    check
        IM, MM and equity before and after the order (USD) and the decision.
    notes
        The margin model's notes (:attr:`pmargin.margin.MarginResult.notes`).
    """

    check: OrderCheck
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin check-order --json`` document (``notes`` only when any)."""
        document = self.check.to_dict()
        if self.notes:
            document["notes"] = list(self.notes)
        return document


@dataclass(frozen=True, slots=True)
class OrderLeg:
    """One leg of an order as the adapters receive it (a symbol, not an instrument).

    Attributes
    ----------
    instrument
        Venue symbol, or the symbol of one of the portfolio's explicit instruments.
    quantity
        Signed amount in ``unit`` (buy > 0).
    unit
        ``native``, ``base``, ``quote`` or ``contracts`` (any case).
    price
        Fill price as the venue quotes it; ``None`` fills at the mark.
    """

    instrument: str
    quantity: float
    unit: str = "native"
    price: float | None = None


def order_report(
    portfolio: Portfolio,
    market: MarketSnapshot,
    account: str,
    instrument: str,
    quantity: float,
    *,
    unit: str = "native",
    price: float | None = None,
    model: str = "deribit",
    params: str | Path | None = None,
    price_bounds: str | Path | None = None,
) -> OrderReport:
    """Check an order of one account against a model's margin of the whole book.

    Parameters
    ----------
    portfolio, market
        The book and the snapshot.
    account
        Account id.
    instrument, quantity, unit, price
        The order, as the attributes of :class:`OrderLeg`.
    model, params
        Model name and an optional parameter file replacing its shipped one.
    price_bounds
        Fill price bounds file replacing the shipped ``fill_price_bounds.toml``.

    Raises
    ------
    InputError
        Bad bounds file, unknown account or instrument, a price outside its band, a quantity
        out of range (fields ``order.price``, ``order.quantity``, ...).
    """
    leg = OrderLeg(instrument, quantity, unit, price)
    return legs_report(
        portfolio, market, account, [leg], model=model, params=params, price_bounds=price_bounds
    )


def legs_report(
    portfolio: Portfolio,
    market: MarketSnapshot,
    account: str,
    legs: Sequence[OrderLeg],
    *,
    model: str = "deribit",
    params: str | Path | None = None,
    price_bounds: str | Path | None = None,
) -> OrderReport:
    """Check orders placed together (one or several legs): :func:`order_report` of them all.

    The account is margined once after every leg (:meth:`pmargin.pretrade.PreTradeChecker.
    check_legs`, the one what-if path); parameters as :func:`order_report`.

    Raises
    ------
    InputError
        As :func:`order_report`, for any leg; no legs (field ``order.legs``).
    """
    bounds = load_price_bounds(price_bounds)
    report = margin_report(portfolio, market, model, params)
    symbols = instruments_for([leg.instrument for leg in legs], portfolio.instruments)
    checker = PreTradeChecker(
        get_model(model, params), report.book, report.result, price_bounds=bounds
    )
    orders = [
        Order(symbol, leg.quantity, leg.unit.lower(), leg.price)
        for symbol, leg in zip(symbols, legs, strict=True)
    ]
    check = checker.check_legs(account, orders)
    return OrderReport(check, report.result.notes)
