"""Margin after a change: the what-if path every consumer asks.

Two doors, one path. A change to MANY accounts at once (a price move, a new market, a cut to
some accounts) is a changed arranged book (:meth:`~pmargin.book.BookArrangement.moved`,
:meth:`~pmargin.book.BookArrangement.moved_rows`, :meth:`~pmargin.book.BookArrangement.rebased`,
:meth:`~pmargin.book.BookArrangement.take_accounts`) margined whole by :func:`margin_book`
(equity, the model's result, each requirement's surplus): the distance search, the monitor's
full recompute and the crash replay's reference ask it. A change to ONE account (trades,
balance deltas) is :class:`AccountWhatIf`, which pre-trade checks and liquidation trials ask:

:class:`AccountWhatIf` is built once per (model, book, result) and answers "this
account's :class:`~pmargin.health.MarginSnapshot` after this change", where a change is a set
of trades (instrument, signed base quantity, fill price; booked with
:func:`pmargin.book.fill`) and/or balance deltas (asset -> units of the asset).
:meth:`AccountWhatIf.margin_after` has no side effect; :meth:`AccountWhatIf.commit` books the
change into the what-if's own state of the account (:class:`WhatIfAccount`: positions,
unrealised P&L, balances, equity, and the model's cached vectors), so that later questions
about that account start from it. :meth:`AccountWhatIf.book_after_commits` is the whole book
with every committed change applied.

How it is margined:

* a model with an incremental path (``model.capabilities.incremental``: Deribit,
  ``standard``, ``okx`` without its borrowing charge, ``pmargin-es``) answers from its cached
  per-account vectors (:class:`~pmargin.margin.IncrementalMargin`): the trades are applied one
  by one to a scratch copy of the account's vectors (balance deltas too, where the model's
  margin reads balances), and a commit keeps the changed copy;
* otherwise the account is margined alone as a one-row book: the book's row cut out
  (:meth:`~pmargin.book.BookArrangement.take_accounts`), or the account's own one-row book
  after a commit, changed with :meth:`~pmargin.book.BookArrangement.with_account`;
* :meth:`AccountWhatIf.margin_after_reference` is the slow, obvious twin: it rebuilds the
  account's one-row book from its explicit positions, unrealised P&L and balances (after its
  commits, :meth:`~pmargin.book.BookArrangement.one_account`), margins it with the model, with
  no fast path, and values its equity from scratch (:func:`pmargin.collateral.account_equity`).

Fill rules: :meth:`WhatIfAccount.trade`, the one rule of :mod:`pmargin.book`
(:func:`pmargin.book.position_after`) that the liquidation ledger books with too: options and
spot pay their cash leg; a future or perpetual keeps the trade's P&L against the mark as
unrealised P&L when opening, and realises the closed share (and the trade's P&L on it) into
the cash asset's balance when reducing, closing or flipping.

Equity after = equity before + each trade's equity change (:attr:`pmargin.book.Fill.equity_change`,
cash asset) + each balance delta, all at the USD prices of the book's market
(``book.market``: the one source of prices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book import AccountHoldings, BookArrangement, Fill, fill
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.health._requirement import LiquidationEnd, Requirement, required_equity
from pmargin.health._snapshot import MarginSnapshot
from pmargin.health._status import AccountHealth, assess
from pmargin.instruments import Instrument
from pmargin.margin import (
    IncrementalMargin,
    MarginModel,
    MarginResult,
    PositionChange,
    canonical_csr,
    held_quantity,
)
from pmargin.valuation import ResolvedInstruments, resolve_instruments, value_instruments

__all__ = ["AccountWhatIf", "BookMargin", "Trade", "WhatIfAccount", "margin_book"]

_SCRATCH = 1 << 40
"""First scratch column: instruments a what-if asks about that no commit has added."""


@dataclass(frozen=True, slots=True)
class BookMargin:
    """Every account of a (changed) book margined by one model (USD).

    Attributes
    ----------
    book
        The book margined (already changed: moved, rebased, cut to some accounts).
    result
        ``model.compute(book)``.
    equity
        Shape ``(n_accounts,)``: :func:`pmargin.collateral.account_equity` of ``book``.
    """

    book: BookArrangement
    result: MarginResult
    equity: FloatArray

    def surplus(self, requirement: Requirement, end: LiquidationEnd | None = None) -> FloatArray:
        """``equity - required_equity(requirement)``, shape ``(n_accounts,)`` (negative: short)."""
        required = required_equity(
            requirement, self.result.initial_margin, self.result.maintenance_margin, end
        )
        gap: FloatArray = self.equity - required
        return gap

    def health(self) -> AccountHealth:
        """Statuses of every account (:func:`~pmargin.health.assess`)."""
        return assess(
            self.equity,
            self.result.initial_margin,
            self.result.maintenance_margin,
            self.book.account_ids,
        )

    def snapshot(self, row: int) -> MarginSnapshot:
        """Account ``row``'s :class:`MarginSnapshot`, named by its id."""
        return MarginSnapshot(
            float(self.equity[row]),
            float(self.result.initial_margin[row]),
            float(self.result.maintenance_margin[row]),
            self.book.account_ids[row],
        )


def margin_book(model: MarginModel, book: BookArrangement) -> BookMargin:
    """Margin every account of ``book`` with ``model``: the what-if for many accounts at once.

    ``book`` is the changed book (a price move: :meth:`~pmargin.book.BookArrangement.moved`
    or, each account at its own move, :meth:`~pmargin.book.BookArrangement.moved_rows` for a
    model with ``capabilities.row_prices``; a new market:
    :meth:`~pmargin.book.BookArrangement.rebased`); prices are the book's own.
    """
    return BookMargin(book, model.compute(book), account_equity(book).equity)


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


@dataclass(slots=True)
class WhatIfAccount(AccountHoldings):
    """One account's state in a what-if: what it holds and its equity.

    Its holdings change by the fill rules of :mod:`pmargin.book` (:meth:`trade`, the
    liquidation ledger's too).

    Attributes
    ----------
    positions
        What-if column (:meth:`AccountWhatIf.instrument`) -> signed base units.
    unrealised
        What-if column -> unrealised P&L of a future or perpetual (settlement currency).
    balances
        Asset -> amount (asset units; negative = borrowed).
    equity
        Marked-to-market equity, USD.
    cash
        Balance changes booked since it was last cleared (asset -> units): what a model that
        reads balances is told.
    """

    equity: float
    cash: dict[str, float] = field(default_factory=dict, repr=False)

    def copy(self) -> WhatIfAccount:
        """Return an independent copy (without :attr:`cash`)."""
        return WhatIfAccount(
            dict(self.positions), dict(self.unrealised), dict(self.balances), self.equity
        )

    def credit_asset(self, asset: str, amount: float) -> None:
        """Add ``amount`` units to the balance of ``asset`` and to :attr:`cash` (0: nothing)."""
        if amount:
            self.balances[asset] = self.balances.get(asset, 0.0) + amount
            self.cash[asset] = self.cash.get(asset, 0.0) + amount


class AccountWhatIf:
    """One account's margin after a change, for one model's margin of a book.

    Parameters
    ----------
    model
        The margin model.
    book
        The book ``result`` was computed on, at its market (``book.market``: marks, fills and
        USD prices all come from it).
    result
        ``model.compute(book)``; computed here when not given.
    incremental
        Use the model's incremental path where it has one (default); ``False`` margins every
        change on the account's one-row book (the path a model without one takes: what the
        incremental path is measured against).

    Attributes
    ----------
    book, result
        As given (never changed: commits live beside them).
    equity
        Shape ``(n_accounts,)``: every account's equity in ``book`` (USD), before commits.
    incremental
        The model's incremental path, ``None`` where it has none.
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        result: MarginResult | None = None,
        *,
        incremental: bool = True,
    ) -> None:
        self.model = model
        self.book = book
        self.result = model.compute(book) if result is None else result
        self.equity = account_equity(book).equity
        self._quantity = sparse.csr_array(book.quantity)
        self._unrealised = sparse.csr_array(book.unrealised)
        self._canonical = (canonical_csr(book.quantity), canonical_csr(book.unrealised))
        self._legs: dict[str, tuple[ResolvedInstruments, int | None, float, float]] = {}
        self._extra: list[ResolvedInstruments] = []  # instruments committed the book lacks
        self._extra_column: dict[str, int] = {}
        self._scratch: dict[str, int] = {}  # symbol -> scratch column (asked, never committed)
        self._accounts: dict[int, WhatIfAccount] = {}
        self._margins: dict[int, tuple[float, float]] = {}
        self._alone: dict[int, BookArrangement] = {}  # committed row -> its one-row book
        self.incremental: IncrementalMargin | None = None
        make = getattr(model, "incremental", None)
        if incremental and model.capabilities.incremental and make is not None:
            self.incremental = make(book, self.result)

    # ------------------------------------------------------------------ instruments
    def resolved(self, instrument: Instrument) -> tuple[ResolvedInstruments, int | None]:
        """Return the instrument resolved (one entry) and its book column (``None``: not held).

        The book's cached row where it holds the instrument, else resolved once; cached per
        symbol.
        """
        one, column, _, _ = self._leg(instrument)
        return one, column

    def mark(self, instrument: Instrument) -> float:
        """Mark price of ``instrument`` (premium currency per unit for options), cached.

        What a fill is booked against (:meth:`fill_of`): the book's valuation where it holds
        the instrument, else the instrument valued alone.
        """
        return self._leg(instrument)[2]

    def _leg(self, instrument: Instrument) -> tuple[ResolvedInstruments, int | None, float, float]:
        """Return ``(resolved, book column, mark, forward)`` of ``instrument``, cached."""
        leg = self._legs.get(instrument.symbol)
        if leg is None:
            column = self.book.column(instrument.symbol)
            if column is not None:
                one = self.book.resolved.take([column])
                mark = float(self.book.valuation.price[column])
            else:
                one = resolve_instruments([instrument], self.book.market)
                mark = float(value_instruments(one).price[0])
            leg = self._legs[instrument.symbol] = (
                one, column, mark, float(one.underlying_price[0])
            )  # fmt: skip
        return leg

    def column(self, symbol: str) -> int | None:
        """Return the what-if column of ``symbol``: its book column, else a commit's new one.

        Columns ``>= book.shape[1]`` are instruments the book lacks that a commit added (in
        the order first committed); ``None``: neither.
        """
        column = self.book.column(symbol)
        return self._extra_column.get(symbol) if column is None else column

    def instrument(self, column: int) -> Instrument:
        """Return the instrument of a what-if column (:meth:`column`)."""
        return self._resolved_columns([column]).instruments[0]

    @property
    def n_columns(self) -> int:
        """Book columns plus the instruments commits added."""
        return self.book.shape[1] + len(self._extra)

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
        _, _, value, forward = self._leg(inst)
        mark = forward if inst.is_futures_style else value
        at = mark if trade.price is None else trade.price
        if inst.is_futures_style and at <= 0:
            raise InputError("order.price", trade.price, "must be > 0 for a future or perpetual")
        return fill(inst, trade.quantity, at, mark)

    # ------------------------------------------------------------------ accounts
    def snapshot(self, row: int) -> MarginSnapshot:
        """Account ``row``'s margin now: ``result``'s row, or the last commit's (USD)."""
        account = self._accounts.get(row)
        if account is None:
            return MarginSnapshot(
                float(self.equity[row]),
                float(self.result.initial_margin[row]),
                float(self.result.maintenance_margin[row]),
                self.book.account_ids[row],
            )
        im, mm = self._margins[row]
        return MarginSnapshot(account.equity, im, mm, self.book.account_ids[row])

    def account_state(self, row: int) -> WhatIfAccount:
        """Account ``row``'s positions, unrealised P&L, balances and equity after its commits.

        A copy: changing it changes nothing in the what-if.
        """
        account = self._accounts.get(row)
        return self._from_book(row) if account is None else account.copy()

    def contributions(self, row: int) -> dict[int, float]:
        """IM contribution (USD) of each position of account ``row`` now, by what-if column.

        ``result``'s row before any commit; after one, the model's incremental path where it
        attributes (an ``incremental.contributions(row, keys)``, keys as
        :attr:`~pmargin.margin.PositionChange.key`), else the account's
        one-row book margined alone. Columns without a stored contribution are left out.
        """
        account = self._accounts.get(row)
        if account is None:
            c = self.result.im_contribution
            start, end = c.indptr[row], c.indptr[row + 1]
            out: dict[int, float] = {}
            for j, x in zip(c.indices[start:end].tolist(), c.data[start:end].tolist(), strict=True):
                out[j] = out.get(j, 0.0) + x
            return out
        attribute = getattr(self.incremental, "contributions", None)
        if attribute is not None:
            n = self.book.shape[1]
            keys = {j: j if j < n else self.instrument(j).symbol for j in account.positions}
            found = attribute(row, list(keys.values()))
            return {j: float(found[k]) for j, k in keys.items() if k in found}
        return self._contributions_alone(row, account)

    def contributions_reference(self, row: int) -> dict[int, float]:
        """:meth:`contributions` from the account rebuilt from scratch and margined alone."""
        return self._contributions_alone(row, self.account_state(row))

    def _contributions_alone(self, row: int, account: WhatIfAccount) -> dict[int, float]:
        columns = sorted(account.positions)
        margin = self.model.compute(self._one_account(row, account))
        c = sparse.coo_array(margin.im_contribution)
        out: dict[int, float] = {}
        for k, x in zip(c.col.tolist(), c.data.tolist(), strict=True):
            out[columns[k]] = out.get(columns[k], 0.0) + x
        return out

    @property
    def committed_rows(self) -> tuple[int, ...]:
        """Rows changed by :meth:`commit`, in the order first committed."""
        return tuple(self._accounts)

    def margin_after(
        self,
        row: int,
        trades: Sequence[Trade] = (),
        balances: Mapping[str, float] | None = None,
    ) -> MarginSnapshot:
        """Account ``row``'s margin after ``trades`` and balance deltas ``balances`` (USD).

        No side effect. The incremental path where the model has one, else the account's
        one-row book margined alone (see the module docstring); relative to the account's
        state after its commits.
        """
        return self._after(row, trades, balances, reference=False)[0]

    def margin_after_reference(
        self,
        row: int,
        trades: Sequence[Trade] = (),
        balances: Mapping[str, float] | None = None,
    ) -> MarginSnapshot:
        """:meth:`margin_after` by re-margining a one-account book rebuilt from scratch."""
        return self._after(row, trades, balances, reference=True)[0]

    def commit(
        self,
        row: int,
        trades: Sequence[Trade] = (),
        balances: Mapping[str, float] | None = None,
    ) -> MarginSnapshot:
        """Book ``trades`` and balance deltas into account ``row``; return its margin after.

        Later :meth:`margin_after`, :meth:`commit`, :meth:`snapshot`, :meth:`account_state` and
        :meth:`book_after_commits` start from the changed account (the model's incremental
        state is updated through :meth:`~pmargin.margin.IncrementalMargin.commit_changes`).
        The snapshot names the account by its id.
        """
        after, state, changes = self._after(row, trades, balances, reference=False, commit=True)
        assert state is not None
        if self.incremental is None:
            alone = self._one_account(row, state)
            margin = self.model.compute(alone)
            self._alone[row] = alone
            im, mm = float(margin.initial_margin[0]), float(margin.maintenance_margin[0])
        else:
            cash = state.cash if self.incremental.reads_balances else {}
            im, mm = self.incremental.commit_changes(row, changes, cash)
        state.cash = {}
        self._accounts[row] = state
        self._margins[row] = (im, mm)
        return MarginSnapshot(after.equity, im, mm, self.book.account_ids[row])

    def book_after_commits(self) -> BookArrangement:
        """Return the whole book with every committed change applied (same accounts and rows).

        Columns: the book's, then the instruments commits added; assets: the book's and any
        a commit added (sorted); a committed account's rows hold exactly its
        :meth:`account_state`.
        """
        book = self.book
        if not self._accounts:
            return book
        n_cols = self.n_columns
        resolved = self._resolved_columns(range(n_cols)) if self._extra else book.resolved
        assets = tuple(
            sorted(set(book.assets).union(*(a.balances for a in self._accounts.values())))
        )
        balances = np.zeros((len(book.account_ids), len(assets)))
        for k, asset in enumerate(book.assets):
            balances[:, assets.index(asset)] = book.balance_matrix[:, k]
        rows_q: dict[int, tuple[IntArray, FloatArray]] = {}
        rows_u: dict[int, tuple[IntArray, FloatArray]] = {}
        for row, account in self._accounts.items():
            columns = np.asarray(sorted(account.positions), dtype=np.int64)
            rows_q[row] = (columns, np.array([account.positions[int(j)] for j in columns]))
            rows_u[row] = (
                columns,
                np.array([account.unrealised.get(int(j), 0.0) for j in columns]),
            )
            balances[row] = 0.0
            for asset, amount in account.balances.items():
                balances[row, assets.index(asset)] = amount
        return BookArrangement(
            account_ids=book.account_ids,
            resolved=resolved,
            quantity=_rows_replaced(self._quantity, rows_q, n_cols),
            assets=assets,
            balances=balances,
            unrealised=_rows_replaced(self._unrealised, rows_u, n_cols),
            market=book.market,
        )

    # ------------------------------------------------------------------ the one path
    def _after(
        self,
        row: int,
        trades: Sequence[Trade],
        balances: Mapping[str, float] | None,
        *,
        reference: bool,
        commit: bool = False,
    ) -> tuple[MarginSnapshot, WhatIfAccount | None, list[PositionChange]]:
        """Margin of ``row`` after the change; the changed state when it is needed."""
        deltas = {} if balances is None else dict(balances)
        fills = [self.fill_of(t) for t in trades]
        account = self._accounts.get(row)
        equity = float(self.equity[row]) if account is None else account.equity
        market = self.book.market
        with np.errstate(over="ignore", invalid="ignore"):
            for booked in fills:
                equity = equity + booked.equity_change * market.usd_price(booked.cash_asset)
            for asset, amount in deltas.items():
                equity = equity + amount * market.usd_price(asset)
        name = f"{self.book.account_ids[row]} after"
        incremental = None if reference else self.incremental
        state: WhatIfAccount | None = None
        if reference or commit or incremental is None:
            state = self.account_state(row)
        elif incremental.reads_balances:  # the trades' cash only: their positions suffice
            state = self._traded_state(row, trades)
        if state is not None:
            state.cash = {}
            for trade, booked in zip(trades, fills, strict=True):
                column = self._column_for(trade.instrument, commit=commit)
                state.trade(column, trade.quantity, booked)
            state.credit(deltas)
            state.equity = equity
        changes: list[PositionChange] = []
        if incremental is not None:
            for trade in trades:
                one, held, _, _ = self._leg(trade.instrument)
                changes.append(PositionChange(one, held, trade.quantity))
        if commit:
            return MarginSnapshot(equity, 0.0, 0.0, name), state, changes
        if incremental is not None:
            cash = state.cash if state is not None and incremental.reads_balances else {}
            im, mm = incremental.margin_after_changes(row, changes, cash)
            return MarginSnapshot(equity, im, mm, name), state, changes
        assert state is not None
        if reference:
            whole = margin_book(self.model, self._one_account(row, state))
            return replace(whole.snapshot(0), account=name), state, changes
        margin = self.model.compute(self._one_row(row, trades, fills, deltas))
        im, mm = float(margin.initial_margin[0]), float(margin.maintenance_margin[0])
        return MarginSnapshot(equity, im, mm, name), state, changes

    # ------------------------------------------------------------------ one-row books
    def _one_row(
        self, row: int, trades: Sequence[Trade], fills: Sequence[Fill], deltas: dict[str, float]
    ) -> BookArrangement:
        """Return the account's one-row book (cut out, or its own after commits), changed."""
        small = self._alone.get(row)
        if small is None:
            small = self.book.take_accounts([row])
        if not trades and not deltas:
            return small
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
        state = WhatIfAccount(
            {int(j): float(x) for j, x in zip(q.indices, q.data, strict=True)},
            {},
            dict(zip(small.assets, (float(b) for b in small.balance_matrix[0]), strict=True)),
            0.0,
        )
        state.unrealised = {j: float(u[j]) for j in state.positions}
        for trade, booked in zip(trades, fills, strict=True):
            state.trade(symbols[trade.instrument.symbol], trade.quantity, booked)
        state.credit(deltas)
        return small.with_account(
            0, positions=state.positions, unrealised=state.unrealised, balances=state.balances
        )

    def _one_account(self, row: int, state: WhatIfAccount) -> BookArrangement:
        """Rebuild the account alone from its explicit state (``BookArrangement.one_account``)."""
        columns = sorted(state.positions)
        assets = tuple(sorted(state.balances))
        return BookArrangement.one_account(
            self.book.account_ids[row],
            self._resolved_columns(columns),
            [state.positions[j] for j in columns],
            [state.unrealised.get(j, 0.0) for j in columns],
            assets,
            np.array([[state.balances[a] for a in assets]]),
            self.book.market,
        )

    def _traded_state(self, row: int, trades: Sequence[Trade]) -> WhatIfAccount:
        """Account ``row``'s state in the traded instruments only (no balances, no equity)."""
        account = self._accounts.get(row)
        positions: dict[int, float] = {}
        unrealised: dict[int, float] = {}
        for trade in trades:
            column = self.column(trade.instrument.symbol)
            if column is None:
                continue
            if account is not None:
                held = account.positions.get(column)
                upnl = account.unrealised.get(column)
            elif column < self.book.shape[1]:
                held = held_quantity(self._canonical[0], row, column)
                upnl = held_quantity(self._canonical[1], row, column)
            else:
                held = upnl = None
            if held:
                positions[column] = held
            if upnl:
                unrealised[column] = upnl
        return WhatIfAccount(positions, unrealised, {}, 0.0)

    def _from_book(self, row: int) -> WhatIfAccount:
        """Account ``row``'s state read from the book."""
        q, u = self._quantity, self._unrealised
        start, end = q.indptr[row], q.indptr[row + 1]
        positions: dict[int, float] = {}
        for j, x in zip(q.indices[start:end].tolist(), q.data[start:end].tolist(), strict=True):
            positions[j] = positions.get(j, 0.0) + x
        unrealised = {j: 0.0 for j in positions}
        u_start, u_end = u.indptr[row], u.indptr[row + 1]
        for j, x in zip(
            u.indices[u_start:u_end].tolist(), u.data[u_start:u_end].tolist(), strict=True
        ):
            unrealised[j] = unrealised.get(j, 0.0) + x
        balances = {
            asset: float(b)
            for asset, b in zip(self.book.assets, self.book.balance_matrix[row], strict=True)
            if b != 0.0
        }
        return WhatIfAccount(positions, unrealised, balances, float(self.equity[row]))

    def _column_for(self, instrument: Instrument, *, commit: bool) -> int:
        """Return the what-if column of ``instrument``.

        An instrument neither the book nor a commit holds gets the next column when
        committed; a what-if that does not commit names it by a scratch column
        (``>= _SCRATCH``), so that questions alone never add columns to
        :meth:`book_after_commits`.
        """
        symbol = instrument.symbol
        column = self.column(symbol)
        if column is None and commit:
            column = self.n_columns
            self._extra.append(self.resolved(instrument)[0])
            self._extra_column[symbol] = column
        elif column is None:
            column = self._scratch.setdefault(symbol, _SCRATCH + len(self._scratch))
        return column

    def _resolved_columns(self, columns: Sequence[int] | range) -> ResolvedInstruments:
        """Return the resolved instruments of what-if (or scratch) ``columns``, in order."""
        n = self.book.shape[1]
        index = list(columns)
        if all(j < n for j in index):
            return self.book.resolved.take(index)
        scratch = {column: symbol for symbol, column in self._scratch.items()}
        resolved = self.book.resolved.take([])
        for j in index:
            if j < n:
                one = self.book.resolved.take([j])
            elif j >= _SCRATCH:
                one = self._legs[scratch[j]][0]
            else:
                one = self._extra[j - n]
            resolved = resolved.concat(one)
        return resolved


def _rows_replaced(
    matrix: sparse.csr_array, rows: Mapping[int, tuple[IntArray, FloatArray]], n_cols: int
) -> sparse.csr_array:
    """``matrix`` (CSR) widened to ``n_cols`` columns with ``rows``' rows replaced.

    ``rows``: row -> (sorted columns, values); every other row's entries kept as they are.
    """
    n_rows = matrix.shape[0]
    counts = np.diff(matrix.indptr).astype(np.int64)
    replaced = np.zeros(n_rows, dtype=bool)
    for row, (columns, _) in rows.items():
        counts[row] = columns.size
        replaced[row] = True
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    entry_row = np.repeat(np.arange(n_rows), np.diff(matrix.indptr))
    keep = ~replaced[entry_row]
    offset = np.arange(matrix.indices.size) - matrix.indptr[entry_row]
    target = indptr[entry_row[keep]] + offset[keep]
    data = np.empty(int(indptr[-1]))
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    data[target] = matrix.data[keep]
    indices[target] = matrix.indices[keep]
    for row, (columns, values) in rows.items():
        data[indptr[row] : indptr[row + 1]] = values
        indices[indptr[row] : indptr[row + 1]] = columns
    return sparse.csr_array((data, indices, indptr), shape=(n_rows, n_cols))
