"""Pre-trade check: an account's margin after a proposed order, and accept or reject.

The checker keeps the book, its margin result and equity. For an order it builds the
account's own one-row book from the cached, already resolved instruments (adding the ordered
instrument, resolved alone if the book does not hold it), applies the order, and margins that
row alone with the same model: nothing else in the book is looked up or revalued.

Order prices (``price``) are in the instrument's price currency: premium currency per unit of
underlying for options (coin for inverse options), quote currency per unit for futures,
perpetuals and spot; without a price the order fills at the mark. Buying an option pays
``q * price`` of its settlement currency from the balance; a future or perpetual opened away
from the mark starts with unrealised P&L ``q (F - price)`` (linear) or ``q (F / price - 1)``
coin (inverse).

Acceptance: an order is accepted when equity after it covers IM after it, or when it lowers
the account's IM (a risk-reducing order, the only kind a ``reduce_only`` account may place)
without leaving equity below MM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from pmargin.book import NATIVE, Position, base_quantity
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health import HealthStatus, assess
from pmargin.instruments import Instrument, Kind
from pmargin.margin import MarginModel, MarginResult
from pmargin.market import MarketSnapshot
from pmargin.risk import BookArrangement
from pmargin.valuation import resolve_instruments, value_instruments

__all__ = ["Order", "OrderCheck", "PreTradeChecker"]


@dataclass(frozen=True, slots=True)
class Order:
    """A proposed trade.

    Attributes
    ----------
    instrument
        What is traded.
    quantity
        Signed amount in ``unit`` (buy > 0), non-zero.
    unit
        ``"native"`` (the venue's unit), ``"base"``, ``"quote"`` or ``"contracts"``.
    price
        Fill price in the instrument's price currency (see the module docstring); ``None``
        fills at the mark.
    """

    instrument: Instrument
    quantity: float
    unit: str = NATIVE
    price: float | None = None

    def __post_init__(self) -> None:
        q = self.quantity
        if isinstance(q, bool) or not isinstance(q, int | float) or not math.isfinite(q) or q == 0:
            raise InputError("order.quantity", q, "must be a finite non-zero number (buy > 0)")
        p = self.price
        if p is not None and (
            isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p) or p < 0
        ):
            raise InputError("order.price", p, "must be a finite number >= 0")


@dataclass(frozen=True, slots=True)
class OrderCheck:
    """The account before and after an order; amounts in USD.

    ``accepted`` is the decision and ``reason`` says why in one sentence.
    """

    account: str
    accepted: bool
    reason: str
    equity_before: float
    equity_after: float
    initial_margin_before: float
    initial_margin_after: float
    maintenance_margin_before: float
    maintenance_margin_after: float
    status_before: str
    status_after: str

    @property
    def available_after(self) -> float:
        """Equity minus IM after the order (USD)."""
        return self.equity_after - self.initial_margin_after

    def to_dict(self) -> dict[str, object]:
        """Return the JSON object of ``pmargin check-order --json``."""
        return {
            "account": self.account,
            "accepted": self.accepted,
            "reason": self.reason,
            "equity_before": self.equity_before,
            "equity_after": self.equity_after,
            "initial_margin_before": self.initial_margin_before,
            "initial_margin_after": self.initial_margin_after,
            "maintenance_margin_before": self.maintenance_margin_before,
            "maintenance_margin_after": self.maintenance_margin_after,
            "available_after": self.available_after,
            "status_before": self.status_before,
            "status_after": self.status_after,
        }


class PreTradeChecker:
    """Checks orders against one model's margin of a book, re-margining one account at a time.

    Parameters
    ----------
    model
        The margin model.
    book, market
        The book and snapshot ``result`` was computed on.
    result
        ``model.compute(book, market)``; computed here when not given.
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult | None = None,
    ) -> None:
        self.model = model
        self.book = book
        self.market = market
        self.result = model.compute(book, market) if result is None else result
        self.equity = account_equity(book, market).equity
        self._column = {inst.symbol: j for j, inst in enumerate(book.instruments)}
        self._quantity = sparse.csr_array(book.quantity)

    def check(self, account_id: str, order: Order) -> OrderCheck:
        """Margin ``account_id`` with ``order`` added, and accept or reject it.

        Raises
        ------
        InputError
            An unknown account, a bad order, or an instrument the market cannot price.
        """
        row = self.result.row(account_id)
        after = self._account_after(row, order)
        margin = self.model.compute(after, self.market)
        equity_after = float(account_equity(after, self.market).equity[0])
        im_before = float(self.result.initial_margin[row])
        mm_before = float(self.result.maintenance_margin[row])
        im_after = float(margin.initial_margin[0])
        mm_after = float(margin.maintenance_margin[0])
        equity_before = float(self.equity[row])
        before = assess(np.array([equity_before]), np.array([im_before]), np.array([mm_before]))
        health = assess(np.array([equity_after]), np.array([im_after]), np.array([mm_after]))
        status_after = str(health.status[0])
        if equity_after >= im_after:
            accepted, reason = True, "equity after the order covers its initial margin"
        elif im_after < im_before and status_after not in (
            HealthStatus.LIQUIDATION,
            HealthStatus.BANKRUPT,
        ):
            accepted, reason = True, "the order reduces the initial margin (risk-reducing)"
        else:
            short = im_after - equity_after
            accepted, reason = (
                False,
                f"initial margin after the order exceeds equity by {short:.2f} USD",
            )
        return OrderCheck(
            account=account_id,
            accepted=accepted,
            reason=reason,
            equity_before=equity_before,
            equity_after=equity_after,
            initial_margin_before=im_before,
            initial_margin_after=im_after,
            maintenance_margin_before=mm_before,
            maintenance_margin_after=mm_after,
            status_before=str(before.status[0]),
            status_after=status_after,
        )

    def _account_after(self, row: int, order: Order) -> BookArrangement:
        """Build the account's one-row book with the order applied."""
        book = self.book
        start, end = self._quantity.indptr[row], self._quantity.indptr[row + 1]
        columns = list(self._quantity.indices[start:end])
        quantities = list(self._quantity.data[start:end])
        unrealised_row = sparse.csr_array(book.unrealised)[[row], :]
        unrealised = [float(unrealised_row[0, j]) for j in columns]
        resolved = book.resolved.take(columns)
        symbol = order.instrument.symbol
        if symbol in self._column and self._column[symbol] in columns:
            k = columns.index(self._column[symbol])
        else:
            new = (
                book.resolved.take([self._column[symbol]])
                if symbol in self._column
                else resolve_instruments([order.instrument], self.market)
            )
            resolved = resolved.concat(new)
            k = len(columns)
            quantities.append(0.0)
            unrealised.append(0.0)
        price = float(resolved.underlying_price[k])
        position = Position(order.instrument, order.quantity, order.unit)
        q = base_quantity(position, price)
        quantities[k] += q
        balances = book.balance_matrix[[row], :].copy()
        assets = list(book.assets)
        inst = order.instrument
        if inst.kind in (Kind.FUTURE, Kind.PERPETUAL):
            fill = price if order.price is None else order.price
            if fill <= 0:
                raise InputError("order.price", order.price, "must be > 0 for a future")
            unrealised[k] += q * (price / fill - 1.0) if inst.is_inverse else q * (price - fill)
        else:
            mark = float(value_instruments(resolved.take([k])).price[0])
            fill = mark if order.price is None else order.price
            cash = inst.quote if inst.kind is Kind.SPOT else inst.settlement_currency
            if cash not in assets:
                assets.append(cash)
                balances = np.hstack([balances, np.zeros((1, 1))])
            balances[0, assets.index(cash)] -= q * fill
        n = len(quantities)
        quantity = sparse.csr_array(
            (np.array(quantities), (np.zeros(n, int), np.arange(n))), shape=(1, n)
        )
        upnl = sparse.csr_array(
            (np.array(unrealised), (np.zeros(n, int), np.arange(n))), shape=(1, n)
        )
        return BookArrangement(
            account_ids=(book.account_ids[row],),
            resolved=resolved,
            quantity=quantity,
            assets=tuple(assets),
            balances=balances,
            unrealised=upnl,
        )
