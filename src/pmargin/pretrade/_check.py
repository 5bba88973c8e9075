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
coin (inverse). A given price must be possible and near the mark
(:class:`~pmargin.pretrade.FillPriceBounds`, bands in ``fill_price_bounds.toml``): an
impossible fill would otherwise create equity from nothing.

Acceptance: an order is accepted when equity after it covers IM after it, or when it lowers
the account's IM (a risk-reducing order, the only kind a ``reduce_only`` account may place)
without leaving equity below MM.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from pmargin._validation import input_limits
from pmargin.book import NATIVE, BookArrangement, Fill, Position, base_quantity, fill
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health import HealthStatus, MarginSnapshot, Requirement
from pmargin.instruments import Instrument
from pmargin.margin import IncrementalMargin, MarginModel, MarginResult
from pmargin.market import MarketSnapshot
from pmargin.pretrade._price_bounds import FillPriceBounds, load_price_bounds
from pmargin.valuation import ResolvedInstruments, resolve_instruments, value_instruments

__all__ = ["Order", "OrderCheck", "PreTradeChecker"]


@dataclass(frozen=True, slots=True)
class Order:
    """A proposed trade.

    Attributes
    ----------
    instrument
        What is traded.
    quantity
        Signed amount in ``unit`` (buy > 0), non-zero, at most ``numbers.max_quantity`` of
        ``input_limits.toml`` in absolute value (the limit of a portfolio file's quantities).
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
        most = input_limits().number("numbers", "max_quantity")
        if (
            isinstance(q, bool)
            or not isinstance(q, int | float)
            or not math.isfinite(q)
            or q == 0
            or abs(q) > most
        ):
            raise InputError(
                "order.quantity", q, f"must be a non-zero number in [-{most:g}, {most:g}] (buy > 0)"
            )
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
    price_bounds
        Bands of accepted fill prices; the shipped ``fill_price_bounds.toml`` when not given.
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        market: MarketSnapshot,
        result: MarginResult | None = None,
        price_bounds: FillPriceBounds | None = None,
    ) -> None:
        self.model = model
        self.price_bounds = load_price_bounds() if price_bounds is None else price_bounds
        self.book = book
        self.market = market
        self.result = model.compute(book, market) if result is None else result
        self.equity = account_equity(book, market).equity
        self._quantity = sparse.csr_array(book.quantity)
        self._unrealised = sparse.csr_array(book.unrealised)
        self._new: dict[str, ResolvedInstruments] = {}
        self._marks = book.valuation.price
        self._new_marks: dict[str, float] = {}
        make_incremental = getattr(model, "incremental", None)
        self._incremental: IncrementalMargin | None = (
            None if make_incremental is None else make_incremental(book, market, self.result)
        )

    def check(self, account_id: str, order: Order) -> OrderCheck:
        """Margin ``account_id`` with ``order`` added, and accept or reject it.

        Raises
        ------
        InputError
            An unknown account, a bad order, a fill price outside
            :attr:`price_bounds` (field ``order.price``), an instrument the market cannot
            price, or a non-finite equity or margin after the order (an input out of range).
        """
        row = self.book.row(account_id)
        column = self.book.column(order.instrument.symbol)
        one = self._resolved_one(order.instrument, column)
        q = base_quantity(
            Position(order.instrument, order.quantity, order.unit),
            float(one.underlying_price[0]),
        )
        mark = self._mark_of(one, column)
        if order.price is not None:
            forward = float(one.underlying_price[0])
            self.price_bounds.check(order.instrument, float(order.price), forward, mark)
        booked = _order_fill(one, q, order.price, mark)
        equity_before = float(self.equity[row])
        with np.errstate(over="ignore", invalid="ignore"):
            cash_usd = self.market.usd_price(booked.cash_asset)
            equity_after = equity_before + booked.equity_change * cash_usd
        if self._incremental is not None:
            im_after, mm_after = self._incremental.margin_after(row, one, column, q)
        else:
            margin = self.model.compute(
                self._account_after(row, one, column, q, booked), self.market
            )
            im_after = float(margin.initial_margin[0])
            mm_after = float(margin.maintenance_margin[0])
        im_before = float(self.result.initial_margin[row])
        mm_before = float(self.result.maintenance_margin[row])
        before = MarginSnapshot(equity_before, im_before, mm_before, account_id)
        after = MarginSnapshot(equity_after, im_after, mm_after, f"{account_id} after")
        status_before, status_after = before.status, after.status
        if after.covers(Requirement.INITIAL):
            accepted, reason = True, "equity after the order covers its initial margin"
        elif after.initial_margin < before.initial_margin and status_after not in (
            HealthStatus.LIQUIDATION,
            HealthStatus.BANKRUPT,
        ):
            accepted, reason = True, "the order reduces the initial margin (risk-reducing)"
        else:
            short = -after.surplus(Requirement.INITIAL)
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
            status_before=status_before.value,
            status_after=status_after.value,
        )

    def check_by_recomputing(self, account_id: str, order: Order) -> OrderCheck:
        """:meth:`check` through the model's full computation of the account (no fast path).

        The reference the incremental path is tested against; also what models without an
        incremental path always use.
        """
        fast, self._incremental = self._incremental, None
        try:
            return self.check(account_id, order)
        finally:
            self._incremental = fast

    def _resolved_one(self, instrument: Instrument, column: int | None) -> ResolvedInstruments:
        """Resolve the ordered instrument: the book's cached row, else looked up once."""
        if column is not None:
            return self.book.resolved.take([column])
        if instrument.symbol not in self._new:
            self._new[instrument.symbol] = resolve_instruments([instrument], self.market)
        return self._new[instrument.symbol]

    def _mark_of(self, one: ResolvedInstruments, column: int | None) -> float:
        """Mark price of the ordered instrument (premium currency per unit), cached."""
        if column is not None:
            return float(self._marks[column])
        symbol = one.instruments[0].symbol
        if symbol not in self._new_marks:
            self._new_marks[symbol] = float(value_instruments(one).price[0])
        return self._new_marks[symbol]

    def _account_after(
        self, row: int, one: ResolvedInstruments, column: int | None, q: float, booked: Fill
    ) -> BookArrangement:
        """Build the account's one-row book with the order applied."""
        book = self.book
        start, end = self._quantity.indptr[row], self._quantity.indptr[row + 1]
        columns = [int(j) for j in self._quantity.indices[start:end]]
        quantities = [float(x) for x in self._quantity.data[start:end]]
        unrealised_row = self._unrealised[[row], :]
        unrealised = [float(unrealised_row[0, j]) for j in columns]
        resolved = book.resolved.take(columns)
        if column is not None and column in columns:
            k = columns.index(column)
        else:
            resolved = resolved.concat(one)
            k = len(columns)
            quantities.append(0.0)
            unrealised.append(0.0)
        quantities[k] += q
        unrealised[k] += booked.pnl
        balances = book.balance_matrix[[row], :].copy()
        assets = list(book.assets)
        if not booked.futures_style:
            if booked.cash_asset not in assets:
                assets.append(booked.cash_asset)
                balances = np.hstack([balances, np.zeros((1, 1))])
            balances[0, assets.index(booked.cash_asset)] += booked.cash
        return BookArrangement.one_account(
            book.account_ids[row], resolved, quantities, unrealised, tuple(assets), balances
        )


def _order_fill(one: ResolvedInstruments, q: float, price: float | None, mark: float) -> Fill:
    """Book filling ``q`` base units at ``price`` (the mark if None) with :func:`pmargin.book.fill`.

    Futures and perpetuals are marked at their forward (``one.underlying_price``), options and
    spot at ``mark`` (premium currency per unit for options). A future opened away from the
    mark keeps the fill's P&L as unrealised P&L; an option or spot fill pays its cash.

    Raises
    ------
    InputError
        A future or perpetual fill price <= 0 (field ``order.price``).
    """
    inst = one.instruments[0]
    if inst.is_futures_style:
        mark = float(one.underlying_price[0])
    at = mark if price is None else price
    if inst.is_futures_style and at <= 0:
        raise InputError("order.price", price, "must be > 0 for a future or perpetual")
    return fill(inst, q, at, mark)
