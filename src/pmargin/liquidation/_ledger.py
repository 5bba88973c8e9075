"""The mutable state an episode changes, and the one function that applies an event to it.

The :class:`Ledger` starts from a book and an insurance fund balance and holds, for every
account an event touched, its positions (base units), the unrealised P&L of its futures
(settlement currency) and its balances (asset units); plus the money that left the accounts:
the insurance fund, the liquidators' fees, the market counterparties' slippage gains and the
bad debt written off (all USD). The engine changes the ledger only through :meth:`apply`, and
:func:`~pmargin.liquidation.replay` applies the same events to a fresh ledger, so replaying an
episode reaches the same state by construction of one code path.

Fill rules: the one rule of :mod:`pmargin.book` (:meth:`pmargin.book.AccountHoldings.trade`,
shared with the what-if's account state), restricted to trades that reduce a position
(:func:`reduce_position`): a future or perpetual realises the closed share of its unrealised
P&L, ``U (-dq / q)``, plus the trade's own P&L against the mark, ``dq (m - p)`` (linear, quote
currency) or ``dq (m / p - 1)`` (inverse, coin), into the settlement-currency balance; options
and spot pay the cash leg ``-dq p`` into the settlement (spot: quote) balance, and the
position's mark value ``dq m`` leaves with it. A trade within ``1e-12`` (relative) of the whole
position closes it.

In both cases the account's equity changes by ``-slippage`` (USD), which the market
counterparty receives; a penalty is debited from the same balance and credited to the fund
and the liquidator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

from pmargin.book import AccountHoldings, BookArrangement, fill
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.liquidation._events import (
    AdlFill,
    BadDebt,
    FundDraw,
    LiquidationEvent,
    LiquidationFill,
)

__all__ = ["Ledger", "reduce_position"]


def reduce_position(
    state: AccountHoldings,
    instrument: Instrument,
    column: int,
    quantity: float,
    mark: float,
    price: float,
    account: str = "",
) -> None:
    """Trade ``quantity`` base units of the position in ``column`` toward zero at ``price``.

    Books the trade on ``state`` in place by the fill rules of :mod:`pmargin.book`
    (:meth:`~pmargin.book.AccountHoldings.trade` of :func:`~pmargin.book.fill`); a trade
    within ``1e-12`` (relative) of the whole position closes it, realising the trade's whole
    P&L.

    Raises
    ------
    InputError
        The trade would open or increase a position, or go past zero.
    """
    held = state.positions.get(column, 0.0)
    if held == 0.0 or quantity * held > 0.0 or abs(quantity) > abs(held) * (1.0 + 1e-12):
        raise InputError(
            f"trade of {instrument.symbol!r} by {account!r}",
            quantity,
            f"must reduce the position {held!r} toward zero",
        )
    booked = fill(instrument, quantity, price, mark)
    closes = abs(quantity) >= abs(held) * (1.0 - 1e-12)  # no dust left by rounding
    state.trade(column, -held if closes else quantity, booked)


class Ledger:
    """Accounts, insurance fund, liquidators, market counterparties and bad debt.

    Parameters
    ----------
    book
        The book before the episode (never modified).
    fund_usd
        Insurance fund balance (USD) before the episode.
    """

    def __init__(self, book: BookArrangement, fund_usd: float) -> None:
        self.book = book
        self.fund_usd = float(fund_usd)
        self.liquidator_usd = 0.0
        self.market_usd = 0.0
        self.bad_debt_usd = 0.0
        self._quantity = sparse.csr_array(book.quantity)
        self._unrealised = sparse.csr_array(book.unrealised)
        self._accounts: dict[int, AccountHoldings] = {}
        self._csc_cache: sparse.csc_array | None = None

    # ------------------------------------------------------------------ reading
    def row(self, account_id: str) -> int:
        """Row of an account in the book; an unknown id is an :class:`InputError`."""
        return self.book.row(account_id)

    def column(self, symbol: str) -> int:
        """Column of an instrument in the book; an unknown symbol is an :class:`InputError`."""
        column = self.book.column(symbol)
        if column is None:
            raise InputError("instrument", symbol, "is not in the book")
        return column

    def account(self, row: int) -> AccountHoldings:
        """Return the state of account ``row`` (read from the book on first use)."""
        state = self._accounts.get(row)
        if state is None:
            q, u = self._quantity, self._unrealised
            held: dict[int, float] = {}
            for j, x in _row_entries(q, row):
                held[j] = held.get(j, 0.0) + x
            positions = {j: x for j, x in held.items() if x != 0.0}
            unrealised = dict.fromkeys(positions, 0.0)
            for j, x in _row_entries(u, row):
                if j in unrealised:
                    unrealised[j] += x
            balance_row = self.book.balance_matrix[row].tolist()
            state = AccountHoldings(
                positions=positions,
                unrealised=unrealised,
                balances=dict(zip(self.book.assets, balance_row, strict=True)),
            )
            self._accounts[row] = state
        return state

    @property
    def touched(self) -> tuple[int, ...]:
        """Rows whose state was read or changed, in first-use order."""
        return tuple(self._accounts)

    def holders(self, column: int) -> list[tuple[int, float]]:
        """Every account's signed position (base units) in ``column``: ``[(row, q), ...]``."""
        csc = self._csc()
        start, end = csc.indptr[column], csc.indptr[column + 1]
        rows = {
            int(r): float(x)
            for r, x in zip(csc.indices[start:end], csc.data[start:end], strict=True)
        }
        for r, state in self._accounts.items():
            rows[r] = state.positions.get(column, 0.0)
        return [(r, x) for r, x in sorted(rows.items()) if x != 0.0]

    def unrealised_of(self, row: int, column: int) -> float:
        """Unrealised P&L (settlement currency) of one position, without caching the account."""
        state = self._accounts.get(row)
        if state is not None:
            return state.unrealised.get(column, 0.0)
        return float(self._unrealised[row, column]) if self._unrealised.nnz else 0.0

    def _csc(self) -> sparse.csc_array:
        if self._csc_cache is None:
            self._csc_cache = sparse.csc_array(self._quantity)
        return self._csc_cache

    def assets(self) -> tuple[str, ...]:
        """Assets of the book plus any an event booked (sorted)."""
        extra = {a for s in self._accounts.values() for a in s.balances}
        return tuple(sorted(set(self.book.assets) | extra))

    def to_book(self) -> BookArrangement:
        """Return the book after the episode: same instruments, changed rows replaced.

        Closed positions have no stored entry; assets an event booked are added as columns.
        """
        book = self.book
        assets = self.assets()
        touched = np.zeros(book.shape[0], dtype=bool)
        touched[list(self._accounts)] = True
        coo = sparse.coo_array(self._quantity)
        ucoo = sparse.coo_array(self._unrealised)
        keep = ~touched[coo.row]
        ukeep = ~touched[ucoo.row]
        rows = [coo.row[keep]]
        cols = [coo.col[keep]]
        data = [coo.data[keep]]
        urows, ucols, udata = [ucoo.row[ukeep]], [ucoo.col[ukeep]], [ucoo.data[ukeep]]
        balances = np.zeros((book.shape[0], len(assets)))
        for k, asset in enumerate(assets):
            if asset in book.assets:
                balances[:, k] = book.balance_matrix[:, book.assets.index(asset)]
        for r, state in self._accounts.items():
            columns = np.array(list(state.positions), dtype=np.int64)
            rows.append(np.full(columns.size, r, dtype=np.int64))
            cols.append(columns)
            data.append(np.array([state.positions[j] for j in state.positions]))
            urows.append(np.full(columns.size, r, dtype=np.int64))
            ucols.append(columns)
            udata.append(np.array([state.unrealised.get(j, 0.0) for j in state.positions]))
            balances[r, :] = [state.balances.get(a, 0.0) for a in assets]
        shape = book.shape

        def build(r: list[Any], c: list[Any], d: list[Any]) -> sparse.csr_array:
            return sparse.csr_array(
                (
                    np.concatenate(d).astype(np.float64),
                    (np.concatenate(r).astype(np.int64), np.concatenate(c).astype(np.int64)),
                ),
                shape=shape,
            )

        return BookArrangement(
            account_ids=book.account_ids,
            resolved=book.resolved,
            quantity=build(rows, cols, data),
            assets=assets,
            balances=balances,
            unrealised=build(urows, ucols, udata),
            market=book.market,
        )

    # ------------------------------------------------------------------ changing
    def apply(self, event: LiquidationEvent) -> None:
        """Apply one event (events that change nothing are accepted and ignored)."""
        if isinstance(event, LiquidationFill):
            row = self.row(event.account)
            column = self.column(event.instrument)
            self._trade(row, column, event.quantity, event.mark, event.fill_price)
            state = self.account(row)
            state.balances[event.cash_asset] = (
                state.balances.get(event.cash_asset, 0.0) - event.penalty_usd / event.cash_usd
            )
            self.fund_usd += event.penalty_fund_usd
            self.liquidator_usd += event.penalty_liquidator_usd
            self.market_usd += event.slippage_usd
        elif isinstance(event, AdlFill):
            column = self.column(event.instrument)
            self._trade(
                self.row(event.account), column, event.quantity, event.mark, event.bankruptcy_price
            )
            self._trade(
                self.row(event.counterparty),
                column,
                -event.quantity,
                event.mark,
                event.bankruptcy_price,
            )
        elif isinstance(event, FundDraw):
            self.fund_usd -= event.amount_usd
            self._credit(self.row(event.account), event.credits)
        elif isinstance(event, BadDebt):
            self.bad_debt_usd += event.amount_usd
            self._credit(self.row(event.account), event.credits)

    def _credit(self, row: int, credits: Mapping[str, float]) -> None:
        self.account(row).credit({asset: float(amount) for asset, amount in credits.items()})

    def _trade(self, row: int, column: int, quantity: float, mark: float, price: float) -> None:
        reduce_position(
            self.account(row),
            self.book.instruments[column],
            column,
            quantity,
            mark,
            price,
            self.book.account_ids[row],
        )


def _row_entries(matrix: sparse.csr_array, row: int) -> zip[tuple[int, float]]:
    """Return the stored ``(column, value)`` entries of one CSR row (duplicates as stored)."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    return zip(matrix.indices[start:end].tolist(), matrix.data[start:end].tolist(), strict=True)
