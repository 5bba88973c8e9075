"""One account's margin after a change: the what-if path every consumer asks.

:class:`AccountWhatIf` is built once per (model, book, market, result) and answers "this
account's :class:`~pmargin.health.MarginSnapshot` after this change", where a change is a set
of trades (instrument, signed base quantity, fill price; booked with
:func:`pmargin.book.fill`) and/or balance deltas (asset -> units of the asset).

How it is margined:

* a model with an incremental path (``model.capabilities.incremental``: Deribit's S:PM,
  ``standard``, ``okx`` without its borrowing charge) answers a single trade from its
  cached per-account vectors (:class:`~pmargin.margin.IncrementalMargin`);
* otherwise (several trades, balance deltas, or a model without one) the account is cut out
  as a one-row book (:meth:`~pmargin.book.BookArrangement.take_accounts`), changed with
  :meth:`~pmargin.book.BookArrangement.with_account` and margined alone by the model;
* :meth:`AccountWhatIf.margin_after_reference` is the slow, obvious twin: it rebuilds the
  account's one-row book from its explicit positions, unrealised P&L and balances
  (:meth:`~pmargin.book.BookArrangement.one_account`) and margins it with the model, with no
  fast path.

Equity after = equity before + each trade's equity change (:attr:`pmargin.book.Fill.equity_change`,
cash asset) + each balance delta, all at the market's USD prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from pmargin.book import BookArrangement, Fill, fill
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health._snapshot import MarginSnapshot
from pmargin.instruments import Instrument
from pmargin.margin import IncrementalMargin, MarginModel, MarginResult
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments, resolve_instruments, value_instruments

__all__ = ["AccountWhatIf", "Trade"]


@dataclass(frozen=True, slots=True)
class Trade:
    """A trade to add to an account.

    Attributes
    ----------
    instrument
        What is traded.
    quantity
        Signed base units (buy > 0).
    price
        Fill price in the instrument's price currency (premium currency per unit for options,
        quote currency per unit otherwise); ``None`` fills at the mark (a future's or
        perpetual's forward).
    """

    instrument: Instrument
    quantity: float
    price: float | None = None


class AccountWhatIf:
    """One account's margin after a change, for one model's margin of a book.

    Parameters
    ----------
    model
        The margin model.
    book, market
        The book and the snapshot ``result`` was computed on.
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
        self._quantity = sparse.csr_array(book.quantity)
        self._unrealised = sparse.csr_array(book.unrealised)
        self._new: dict[str, ResolvedInstruments] = {}
        self._new_marks: dict[str, float] = {}
        self.incremental: IncrementalMargin | None = None
        make = getattr(model, "incremental", None)
        if model.capabilities.incremental and make is not None:
            self.incremental = make(book, market, self.result)

    def snapshot(self, row: int) -> MarginSnapshot:
        """Account ``row``'s margin before any change (from ``result``; USD)."""
        return MarginSnapshot(
            float(self.equity[row]),
            float(self.result.initial_margin[row]),
            float(self.result.maintenance_margin[row]),
            self.book.account_ids[row],
        )

    def resolved(self, instrument: Instrument) -> tuple[ResolvedInstruments, int | None]:
        """Return the instrument resolved (one entry) and its book column (``None``: not held).

        The book's cached row where it holds the instrument, else resolved once and cached.
        """
        column = self.book.column(instrument.symbol)
        if column is not None:
            return self.book.resolved.take([column]), column
        if instrument.symbol not in self._new:
            self._new[instrument.symbol] = resolve_instruments([instrument], self.market)
        return self._new[instrument.symbol], None

    def mark(self, instrument: Instrument) -> float:
        """Mark price of ``instrument`` (premium currency per unit for options), cached."""
        column = self.book.column(instrument.symbol)
        if column is not None:
            return float(self.book.valuation.price[column])
        if instrument.symbol not in self._new_marks:
            one, _ = self.resolved(instrument)
            self._new_marks[instrument.symbol] = float(value_instruments(one).price[0])
        return self._new_marks[instrument.symbol]

    def fill_of(self, trade: Trade) -> Fill:
        """Book ``trade`` against its mark (:func:`pmargin.book.fill`).

        Futures and perpetuals are marked at their forward, options and spot at
        :meth:`mark`.

        Raises
        ------
        InputError
            A future or perpetual fill price <= 0 (field ``order.price``).
        """
        inst = trade.instrument
        if inst.is_futures_style:
            one, _ = self.resolved(inst)
            mark = float(one.underlying_price[0])
        else:
            mark = self.mark(inst)
        at = mark if trade.price is None else trade.price
        if inst.is_futures_style and at <= 0:
            raise InputError("order.price", trade.price, "must be > 0 for a future or perpetual")
        return fill(inst, trade.quantity, at, mark)

    def margin_after(
        self,
        row: int,
        trades: Sequence[Trade] = (),
        balances: Mapping[str, float] | None = None,
    ) -> MarginSnapshot:
        """Account ``row``'s margin after ``trades`` and balance deltas ``balances`` (USD).

        The incremental path for a single trade where the model has one, else the account's
        one-row book margined alone (see the module docstring).
        """
        return self._after(row, trades, balances, reference=False)

    def margin_after_reference(
        self,
        row: int,
        trades: Sequence[Trade] = (),
        balances: Mapping[str, float] | None = None,
    ) -> MarginSnapshot:
        """:meth:`margin_after` by re-margining a one-account book rebuilt from scratch."""
        return self._after(row, trades, balances, reference=True)

    def _after(
        self,
        row: int,
        trades: Sequence[Trade],
        balances: Mapping[str, float] | None,
        *,
        reference: bool,
    ) -> MarginSnapshot:
        deltas = {} if balances is None else dict(balances)
        fills = [self.fill_of(t) for t in trades]
        equity = float(self.equity[row])
        with np.errstate(over="ignore", invalid="ignore"):
            for booked in fills:
                equity = equity + booked.equity_change * self.market.usd_price(booked.cash_asset)
            for asset, amount in deltas.items():
                equity = equity + amount * self.market.usd_price(asset)
        account = f"{self.book.account_ids[row]} after"
        if not reference and self.incremental is not None and len(trades) == 1 and not deltas:
            one, column = self.resolved(trades[0].instrument)
            im, mm = self.incremental.margin_after(row, one, column, trades[0].quantity)
            return MarginSnapshot(equity, im, mm, account)
        changed = (
            self._account_reference(row, trades, fills, deltas)
            if reference
            else self._account_one_row(row, trades, fills, deltas)
        )
        margin = self.model.compute(changed, self.market)
        return MarginSnapshot(
            equity, float(margin.initial_margin[0]), float(margin.maintenance_margin[0]), account
        )

    def _account_one_row(
        self, row: int, trades: Sequence[Trade], fills: Sequence[Fill], deltas: dict[str, float]
    ) -> BookArrangement:
        """Return the account's one-row book (``take_accounts``) changed with ``with_account``."""
        small = self.book.take_accounts([row])
        symbols = {inst.symbol: j for j, inst in enumerate(small.instruments)}
        new = {t.instrument.symbol: t.instrument for t in trades}
        extra = [self.resolved(i)[0] for s, i in new.items() if s not in symbols]
        if extra:
            resolved = small.resolved
            for one in extra:
                symbols[one.instruments[0].symbol] = len(resolved)
                resolved = resolved.concat(one)
            n = len(resolved)
            small = BookArrangement(
                account_ids=small.account_ids,
                resolved=resolved,
                quantity=sparse.csr_array(small.quantity, shape=(1, n)),
                assets=small.assets,
                balances=small.balances,
                unrealised=sparse.csr_array(small.unrealised, shape=(1, n)),
                market=small.market,
            )
        q = sparse.csr_array(small.quantity)
        u = sparse.csr_array(small.unrealised).toarray()[0]
        positions = {int(j): float(x) for j, x in zip(q.indices, q.data, strict=True)}
        unrealised = {j: float(u[j]) for j in positions}
        cash = dict(zip(small.assets, (float(b) for b in small.balance_matrix[0]), strict=True))
        for trade, booked in zip(trades, fills, strict=True):
            j = symbols[trade.instrument.symbol]
            positions[j] = positions.get(j, 0.0) + trade.quantity
            unrealised[j] = unrealised.get(j, 0.0) + booked.pnl
            if not booked.futures_style:
                cash[booked.cash_asset] = cash.get(booked.cash_asset, 0.0) + booked.cash
        for asset, amount in deltas.items():
            cash[asset] = cash.get(asset, 0.0) + amount
        return small.with_account(0, positions=positions, unrealised=unrealised, balances=cash)

    def _account_reference(
        self, row: int, trades: Sequence[Trade], fills: Sequence[Fill], deltas: dict[str, float]
    ) -> BookArrangement:
        """Return the account's one-row book rebuilt from its explicit positions and balances."""
        book = self.book
        start, end = self._quantity.indptr[row], self._quantity.indptr[row + 1]
        columns = [int(j) for j in self._quantity.indices[start:end]]
        quantities = [float(x) for x in self._quantity.data[start:end]]
        unrealised_row = self._unrealised[[row], :]
        unrealised = [float(unrealised_row[0, j]) for j in columns]
        resolved = book.resolved.take(columns)
        symbols = [book.instruments[j].symbol for j in columns]
        balances = book.balance_matrix[[row], :].copy()
        assets = list(book.assets)

        def add_cash(asset: str, amount: float) -> None:
            nonlocal balances
            if asset not in assets:
                assets.append(asset)
                balances = np.hstack([balances, np.zeros((1, 1))])
            balances[0, assets.index(asset)] += amount

        for trade, booked in zip(trades, fills, strict=True):
            symbol = trade.instrument.symbol
            if symbol not in symbols:
                resolved = resolved.concat(self.resolved(trade.instrument)[0])
                symbols.append(symbol)
                quantities.append(0.0)
                unrealised.append(0.0)
            k = symbols.index(symbol)
            quantities[k] += trade.quantity
            unrealised[k] += booked.pnl
            if not booked.futures_style:
                add_cash(booked.cash_asset, booked.cash)
        for asset, amount in deltas.items():
            add_cash(asset, amount)
        return BookArrangement.one_account(
            book.account_ids[row],
            resolved,
            quantities,
            unrealised,
            tuple(assets),
            balances,
            book.market,
        )
