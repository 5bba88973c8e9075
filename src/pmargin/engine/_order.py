"""One account's margin after a proposed order, and accept or reject: ``pmargin check-order``.

The facade margins the book with the model, builds the pre-trade checker over that result
(:class:`pmargin.pretrade.PreTradeChecker`: the model's incremental path where it has one) and
checks the order; the rules live in :mod:`pmargin.pretrade`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmargin._files import read_csv_rows, read_structured
from pmargin.book import Portfolio
from pmargin.engine._inputs import instruments_for
from pmargin.engine._margin import margin_report
from pmargin.engine._move import moved_book
from pmargin.errors import InputError
from pmargin.health import MarginSnapshot
from pmargin.margin import MarginResult, get_model
from pmargin.market import MarketSnapshot
from pmargin.pretrade import MaxSize, Order, OrderCheck, PreTradeChecker, load_price_bounds

__all__ = ["OrderLeg", "OrderReport", "legs_report", "load_order_legs", "order_report"]

ORDER_FILE_COLUMNS = ("instrument", "quantity", "unit", "price")
"""Fields of one leg in an orders file (``instrument`` and ``quantity`` required)."""


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
    now: MarginSnapshot | None = None
    move: str | None = None
    balances: Mapping[str, float] | None = None
    max_size: MaxSize | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin check-order --json`` document (``notes`` only when any).

        With a move: ``move`` and ``now`` (equity, IM, MM before the move, USD), and the
        ``*_before`` fields are after the move, before the order. ``balances`` (the deposits
        and withdrawals) and ``max_size`` only when given.
        """
        document = self.check.to_dict()
        if self.now is not None:
            document["move"] = self.move
            document["now"] = {
                "equity": self.now.equity,
                "initial_margin": self.now.initial_margin,
                "maintenance_margin": self.now.maintenance_margin,
                "status": self.now.status.value,
            }
        if self.balances:
            document["balances"] = dict(self.balances)
        if self.max_size is not None:
            document["max_size"] = self.max_size.to_dict()
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
    balances: Mapping[str, float] | None = None,
    move: str | None = None,
    max_size: bool = False,
) -> OrderReport:
    """Check orders placed together (one or several legs): :func:`order_report` of them all.

    The account is margined once after every leg and balance change
    (:meth:`pmargin.pretrade.PreTradeChecker.check_legs`, the one what-if path); parameters
    as :func:`order_report`, and:

    balances
        Deposits (> 0) and withdrawals (< 0): asset -> units of the asset.
    move
        A market move first (``"BTC=-0.1,vol=+0.2"``, :func:`pmargin.engine._move.moved_book`):
        the check's *before* is the account after the move, and :attr:`OrderReport.now` the
        account today.
    max_size
        Also find the first leg's largest accepted size (:meth:`pmargin.pretrade.
        PreTradeChecker.max_size`).

    Raises
    ------
    InputError
        As :func:`order_report`, for any leg; no legs and no balance change (field
        ``order.legs``).
    """
    bounds = load_price_bounds(price_bounds)
    report = margin_report(portfolio, market, model, params)
    symbols = instruments_for([leg.instrument for leg in legs], portfolio.instruments)
    built = get_model(model, params)
    book, now = report.book, None
    result: MarginResult | None = report.result
    if move is not None:
        row, h = book.row(account), report.health
        now = MarginSnapshot(
            float(h.equity[row]),
            float(h.initial_margin[row]),
            float(h.maintenance_margin[row]),
            account,
        )
        book = moved_book(book, move)
        result = None
    checker = PreTradeChecker(built, book, result, price_bounds=bounds)
    orders = [
        Order(symbol, leg.quantity, leg.unit.lower(), leg.price)
        for symbol, leg in zip(symbols, legs, strict=True)
    ]
    check = checker.check_legs(account, orders, balances)
    size = checker.max_size(account, orders, 0, balances) if max_size and orders else None
    return OrderReport(check, report.result.notes, now, move, balances, size)


def load_order_legs(path: str | Path) -> list[OrderLeg]:
    """Read the legs of an orders file: ``pmargin check-order --orders FILE``.

    A CSV file with the header ``instrument,quantity[,unit][,price]``, or a JSON/YAML list of
    objects with those keys (:data:`ORDER_FILE_COLUMNS`); an empty unit is ``native`` and an
    empty price the mark.

    Raises
    ------
    InputError
        An unreadable file, a missing column or key, or a number that is not one (the field
        names the file and line or item).
    """
    name = str(path)
    items: list[tuple[str, dict[str, Any]]] = []
    if name.lower().endswith(".csv"):
        rows = read_csv_rows(
            path, "orders file", columns=ORDER_FILE_COLUMNS, required=ORDER_FILE_COLUMNS[:2]
        )
        items = [(f"{name}:{line}", dict(cells)) for line, cells in rows]
    else:
        data = read_structured(path, "orders file")
        if not isinstance(data, list):
            raise InputError(name, type(data).__name__, "must be a list of legs")
        for k, item in enumerate(data):
            if not isinstance(item, dict) or not {"instrument", "quantity"} <= set(item):
                raise InputError(f"{name}[{k}]", item, "must have instrument and quantity")
            items.append((f"{name}[{k}]", item))
    legs = []
    for where, item in items:
        extra = set(item) - set(ORDER_FILE_COLUMNS)
        if extra:
            raise InputError(where, sorted(extra), f"are not leg fields {ORDER_FILE_COLUMNS}")
        price = item.get("price")
        legs.append(
            OrderLeg(
                str(item["instrument"]),
                _leg_number(item["quantity"], f"{where}.quantity"),
                str(item.get("unit") or "native"),
                None if price in (None, "") else _leg_number(price, f"{where}.price"),
            )
        )
    if not legs:
        raise InputError(name, [], "holds no legs")
    return legs


def _leg_number(value: object, field: str) -> float:
    """Read a leg's number from a CSV cell or a JSON/YAML number."""
    if isinstance(value, bool):
        raise InputError(field, value, "must be a number")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(field, value, "must be a number") from None
