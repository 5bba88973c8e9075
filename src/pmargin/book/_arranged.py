"""Arrange a portfolio for the kernel: unique instruments and a sparse quantity matrix.

Every account's positions become one row of a ``scipy.sparse.csr_array`` of shape
``(n_accounts, n_instruments)`` holding signed quantities in BASE units of the underlying
(coins, shares), so that account P&L over scenarios is one sparse product with the instrument
P&L matrix of shape ``(n_instruments, n_scenarios)``. Each instrument appears once, in the order
of first appearance across accounts, and is resolved against the market once.

Native, quote and contract quantities are converted with
:func:`~pmargin.book.base_quantity` at the instrument's resolved underlying price (the mark of
a perpetual or future, the forward of an option's expiry), e.g. Deribit ``BTC-PERPETUAL``'s USD
quantity divided by its mark price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book._portfolio import Portfolio, base_quantity, unrealised_pnl
from pmargin.instruments import Instrument
from pmargin.market import MarketSnapshot
from pmargin.valuation import ResolvedInstruments, resolve_instruments

__all__ = ["BookArrangement", "arrange"]


@dataclass(frozen=True, slots=True)
class BookArrangement:
    """Accounts x unique instruments, ready for the revaluation kernel.

    Attributes
    ----------
    account_ids
        Account ids in portfolio order; row ``a`` of ``quantity`` is ``account_ids[a]``.
    resolved
        The unique instruments held, in order of first appearance (column ``j`` of
        ``quantity`` is ``resolved.instruments[j]``), resolved against the market (arrays of
        shape ``(n_instruments,)``).
    quantity
        ``scipy.sparse.csr_array`` of float64, shape ``(n_accounts, n_instruments)``: signed
        quantity in base units (long > 0), duplicate positions summed. One stored entry per
        distinct (account, instrument) pair held, even when the positions net to zero.
    assets
        Collateral assets held by any account (upper case, sorted), the columns of
        ``balances``.
    balances
        Float64 array of shape ``(n_accounts, n_assets)``: balance of each asset in units of
        that asset (coins, stablecoins, USD); negative = borrowed; 0 where not held.
    unrealised
        ``scipy.sparse.csr_array`` of shape ``(n_accounts, n_instruments)``: unrealised P&L of
        futures and perpetuals against their ``avg_price``, in the settlement currency
        (linear: ``q (F - avg)``; inverse: ``q (F / avg - 1)`` coin, ``q`` in base units at
        the mark ``F``). Positions without ``avg_price`` are taken as settled to the mark (0).
    """

    account_ids: tuple[str, ...]
    resolved: ResolvedInstruments
    quantity: Any
    assets: tuple[str, ...] = ()
    balances: FloatArray | None = None
    unrealised: Any = None

    def __post_init__(self) -> None:
        """Default to no balances and no unrealised P&L."""
        if self.balances is None:
            object.__setattr__(self, "balances", np.zeros((len(self.account_ids), 0)))
        if self.unrealised is None:
            object.__setattr__(self, "unrealised", sparse.csr_array(self.quantity.shape))

    @classmethod
    def one_account(
        cls,
        account_id: str,
        resolved: ResolvedInstruments,
        quantity: Any,
        unrealised: Any,
        assets: tuple[str, ...],
        balances: Any,
    ) -> BookArrangement:
        """One account alone, as a one-row book (what a model margins on its own).

        Parameters
        ----------
        account_id
            The account.
        resolved
            Its instruments, ``n`` of them (already resolved; nothing is looked up again).
        quantity, unrealised
            Length ``n``: base-unit quantities and unrealised P&L (settlement currency).
        assets, balances
            Collateral assets and the account's balance of each.
        """
        n = len(resolved)
        index = (np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64))

        def row(values: Any) -> Any:
            return sparse.csr_array((np.asarray(values, dtype=np.float64), index), shape=(1, n))

        return cls(
            account_ids=(account_id,),
            resolved=resolved,
            quantity=row(quantity),
            assets=tuple(assets),
            balances=np.asarray(balances, dtype=np.float64).reshape(1, len(assets)),
            unrealised=row(unrealised),
        )

    @property
    def balance_matrix(self) -> FloatArray:
        """``balances`` as a float64 ``(n_accounts, n_assets)`` array (never ``None``)."""
        assert self.balances is not None
        return self.balances

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Unique instruments held, in order of first appearance (``resolved.instruments``)."""
        return self.resolved.instruments

    @property
    def settlement_currencies(self) -> tuple[str, ...]:
        """Settlement currency of each instrument (coin for inverse, quote for linear)."""
        return tuple(i.settlement_currency for i in self.instruments)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_accounts, n_instruments)``."""
        return (len(self.account_ids), len(self.instruments))


def arrange(portfolio: Portfolio, market: MarketSnapshot) -> BookArrangement:
    """Resolve each unique instrument once and build the sparse base-unit quantity matrix.

    Parameters
    ----------
    portfolio
        Accounts and positions; accounts without positions give empty rows.
    market
        The snapshot the instruments are resolved against (and quantities converted with).

    Returns
    -------
    BookArrangement
        See the class for shapes and units.

    Raises
    ------
    InputError, MarketDataError
        From resolving instruments or converting quantities, naming the field at fault.
    """
    instruments = portfolio.unique_instruments()
    resolved = resolve_instruments(instruments, market)
    column = {inst.symbol: j for j, inst in enumerate(instruments)}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    unrealised: list[float] = []
    for a, account in enumerate(portfolio.accounts):
        for position in account.positions:
            j = column[position.instrument.symbol]
            price = float(resolved.underlying_price[j])
            rows.append(a)
            cols.append(j)
            values.append(base_quantity(position, price))
            unrealised.append(unrealised_pnl(position, values[-1], price))
    shape = (len(portfolio.accounts), len(instruments))
    coo = sparse.coo_array(
        (
            np.asarray(values, dtype=np.float64),
            (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)),
        ),
        shape=shape,
    )
    quantity = sparse.csr_array(coo)  # sums duplicate (account, instrument) entries
    quantity.sum_duplicates()
    upnl = sparse.csr_array(
        (np.asarray(unrealised, dtype=np.float64), (coo.row, coo.col)), shape=shape
    )
    assets = tuple(sorted({asset for a in portfolio.accounts for asset in a.balances}))
    balances = np.zeros((len(portfolio.accounts), len(assets)))
    asset_column = {asset: k for k, asset in enumerate(assets)}
    for a, account in enumerate(portfolio.accounts):
        for asset, amount in account.balances.items():
            balances[a, asset_column[asset]] = amount
    return BookArrangement(
        account_ids=tuple(a.id for a in portfolio.accounts),
        resolved=resolved,
        quantity=quantity,
        assets=assets,
        balances=balances,
        unrealised=upnl,
    )
