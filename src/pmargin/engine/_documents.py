"""The facade for documents already parsed (the service): portfolios, markets, fills, margin.

The service receives the portfolio-file and market-file forms as JSON bodies, not files; these
functions take the parsed documents, validate them with the same readers the files go through
(so the same bad field gives the same :class:`~pmargin.errors.InputError`), and return plain
results. :func:`margin_document` is ``pmargin margin --json`` for a document pair (with
``--scenarios`` and ``--liquidation`` as keywords) and :func:`order_document` is ``pmargin
check-order --json`` of one or several legs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pmargin.book import LedgerFill, ledger_fill, portfolio_from_dict
from pmargin.engine._margin import margin_report
from pmargin.engine._order import OrderLeg, legs_report
from pmargin.errors import InputError
from pmargin.instruments import parse_symbol
from pmargin.market import MarketSnapshot, market_from_dict

__all__ = [
    "DEFAULT_MODEL",
    "LedgerFill",
    "book_fill",
    "check_market_document",
    "margin_document",
    "order_document",
]

DEFAULT_MODEL = "deribit"
"""The model ``pmargin margin`` and the service use when none is named."""


def check_market_document(data: Mapping[str, Any]) -> MarketSnapshot:
    """Validate a market-file document (no portfolio: marks of venue symbols are checked lazily).

    Raises
    ------
    InputError
        Naming the field, as for a market file.
    """
    return market_from_dict(data)


def margin_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    model: str = DEFAULT_MODEL,
    *,
    scenarios: bool = False,
    liquidation: bool = False,
) -> dict[str, Any]:
    """Return the ``pmargin margin --json`` document of a portfolio at a market (documents).

    Parameters
    ----------
    portfolio
        Portfolio-file form (``{"accounts": [...]}`` or one account).
    market
        Market-file form.
    model
        A registered model name.
    scenarios
        ``--scenarios``: each risk unit's scenario labels and P&L vector (its risk matrix).
    liquidation
        ``--liquidation``: each account's distance to liquidation (the ``liquidation`` object).

    Returns
    -------
    dict
        ``{"model", "timestamp", "accounts": [...]}`` exactly as ``pmargin margin --json``
        prints it (amounts USD; position quantities in base units).
    """
    book = portfolio_from_dict(portfolio)
    snapshot = market_from_dict(market, book.instruments)
    report = margin_report(book, snapshot, model, liquidation=liquidation)
    return report.to_dict(scenarios=scenarios)


def order_document(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    account: str,
    legs: Sequence[OrderLeg],
    model: str = DEFAULT_MODEL,
) -> dict[str, Any]:
    """Return ``pmargin check-order --json`` of orders placed together (documents).

    Parameters
    ----------
    portfolio, market
        Portfolio-file and market-file forms.
    account
        The account placing the orders.
    legs
        One or several legs, checked together (one what-if of them all).
    model
        A registered model name.

    Returns
    -------
    dict
        ``{"account", "accepted", "reason", "equity_before", "equity_after", ...}`` (USD), as
        ``pmargin check-order --json`` prints it.

    Raises
    ------
    InputError
        A bad leg (fields ``order.quantity``, ``order.price``, ``order.legs``) or document.
    """
    book = portfolio_from_dict(portfolio)
    snapshot = market_from_dict(market, book.instruments)
    return legs_report(book, snapshot, account, legs, model=model).to_dict()


def book_fill(
    symbol: str, held: Decimal, avg_price: Decimal | None, quantity: Decimal, price: Decimal
) -> LedgerFill:
    """Book a fill of a venue symbol on a ledger position (:func:`pmargin.book.ledger_fill`).

    Parameters
    ----------
    symbol
        Venue symbol (``BTC-PERPETUAL``, ``BTC-27DEC24-60000-C``).
    held, avg_price
        The position before, in native units, and its average price (None when flat).
    quantity, price
        The fill: signed native units and the price as the venue quotes it.

    Raises
    ------
    InputError
        An unknown symbol, a zero quantity or a bad price.
    """
    try:
        instrument = parse_symbol(symbol)
    except InputError as err:
        raise InputError("instrument", err.value, err.reason) from None
    return ledger_fill(instrument, held, avg_price, quantity, price)
