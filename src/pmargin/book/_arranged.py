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

The arranged book offers its own operations: :meth:`BookArrangement.row` and
:meth:`~BookArrangement.column` (look-ups, one error text), :meth:`~BookArrangement.take_accounts`
(some accounts alone, with only the instruments they hold), :meth:`~BookArrangement.with_account`
(one account's positions or balances changed, the rest shared),
:meth:`~BookArrangement.take_columns` (every account, some instruments and assets),
:meth:`~BookArrangement.rebased` (the same positions at a new market),
:meth:`~BookArrangement.moved` (the same positions after relative price moves of underlyings)
and the cached :attr:`~BookArrangement.valuation`.

The book carries the market it is resolved at (:attr:`BookArrangement.market`): one source of
truth for prices, so a model margins ``compute(book)`` and equity is ``account_equity(book)``.
Every operation sets it: :func:`arrange`, :meth:`~BookArrangement.rebased` and
:meth:`~BookArrangement.moved` to the new market, the others to the book's own. A book cannot
be built without one: ``market=None`` (or anything but a
:class:`~pmargin.market.MarketSnapshot`) is an :class:`~pmargin.errors.InputError` naming
``market``, never a silent default.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray, IntArray
from pmargin.book._moved import moved_resolved
from pmargin.book._moved_rows import RowMoves, moved_rows
from pmargin.book._portfolio import Portfolio, base_quantity, unrealised_pnl
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.market import MarketSnapshot, check_moves, mark_kinds
from pmargin.pricing import base_units_at_price, delta_one_pnl
from pmargin.valuation import (
    ResolvedInstruments,
    Valuation,
    columns_by,
    resolve_instruments,
    value_instruments,
)

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
    market
        The snapshot ``resolved`` was resolved at (keyword-only, required): its timestamp is
        the valuation time and its prices value the balances. Models and equity read it here.
    row_moves
        ``None`` for an ordinary book. A book of moved rows (:meth:`moved_rows`): each row's
        and column's own multipliers of the market's prices; read them through
        :meth:`usd_price` and :meth:`index_usd`.

    Notes
    -----
    The book is immutable by convention: its arrays are never changed in place, so what is
    derived from them is computed once and kept in a private cache that equality, ``repr``
    and :func:`dataclasses.replace` ignore (a replaced book starts with an empty cache): the
    account and symbol look-ups and the :attr:`valuation`.
    """

    account_ids: tuple[str, ...]
    resolved: ResolvedInstruments
    quantity: Any
    assets: tuple[str, ...] = ()
    balances: FloatArray | None = None
    unrealised: Any = None
    market: MarketSnapshot = field(kw_only=True, repr=False, compare=False)
    row_moves: RowMoves | None = field(default=None, kw_only=True, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the market; default to no balances and no unrealised P&L.

        Raises
        ------
        InputError
            Field ``market``: not a :class:`~pmargin.market.MarketSnapshot` (``None`` included).
        """
        if not isinstance(self.market, MarketSnapshot):
            raise InputError(
                "market",
                type(self.market).__name__,
                "must be the MarketSnapshot the book's instruments are resolved at: an arranged "
                "book always carries its market",
            )
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
        market: MarketSnapshot,
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
        market
            The snapshot ``resolved`` is resolved at.
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
            market=market,
        )

    def row(self, account_id: str) -> int:
        """Return the row of ``account_id`` (``account_ids[row] == account_id``).

        Raises
        ------
        InputError
            Field ``account``: the account is not in the book.
        """
        rows = self._cache.get("rows")
        if rows is None:
            rows = {account: a for a, account in enumerate(self.account_ids)}
            self._cache["rows"] = rows
        try:
            return int(rows[account_id])
        except KeyError:
            raise InputError("account", account_id, "is not in the book") from None

    def column(self, symbol: str) -> int | None:
        """Return the column of the instrument ``symbol``, ``None`` if no account holds it."""
        columns = self._cache.get("columns")
        if columns is None:
            columns = {inst.symbol: j for j, inst in enumerate(self.instruments)}
            self._cache["columns"] = columns
        j = columns.get(symbol)
        return None if j is None else int(j)

    @property
    def valuation(self) -> Valuation:
        """Values and Greeks of every instrument (``value_instruments(resolved)``), computed once.

        Arrays of shape ``(n_instruments,)`` in book column order; units as
        :class:`~pmargin.valuation.Valuation`. Shared by every caller: read, never write (the
        arrays it owns are made read-only).
        """
        valuation = self._cache.get("valuation")
        if valuation is None:
            valuation = _frozen(value_instruments(self.resolved))
            self._cache["valuation"] = valuation
        assert isinstance(valuation, Valuation)
        return valuation

    def position_notional_usd(self) -> sparse.csr_array:
        """Each position's absolute USD notional, shape ``(n_accounts, n_instruments)``.

        ``|q| x underlying_price x quote_usd`` (:attr:`~pmargin.valuation.ResolvedInstruments.
        underlying_usd`; :meth:`pmargin.instruments.Instrument.usd_notional` per entry), on
        the book's stored pattern.
        """
        quantity = sparse.csr_array(self.quantity)
        usd = self.resolved.underlying_usd
        return sparse.csr_array(
            (np.abs(quantity.data) * usd[quantity.indices], quantity.indices, quantity.indptr),
            shape=quantity.shape,
        )

    def notional_usd(self) -> FloatArray:
        """Gross USD notional of each account, shape ``(n_accounts,)``, computed once.

        The row sums of :meth:`position_notional_usd` (long and short both count).
        """
        notional = self._cache.get("notional_usd")
        if notional is None:
            if len(self.resolved):
                notional = np.asarray(
                    abs(sparse.csr_array(self.quantity)) @ self.resolved.underlying_usd,
                    dtype=np.float64,
                )
            else:
                notional = np.zeros(self.shape[0])
            notional.setflags(write=False)
            self._cache["notional_usd"] = notional
        assert isinstance(notional, np.ndarray)
        return notional

    def position_values(self) -> sparse.csr_array:
        """Each position's mark value in its cash asset, shape ``(n_accounts, n_instruments)``.

        Options and spot at ``q x`` their mark price (:attr:`valuation`, premium currency),
        futures and perpetuals at their unrealised P&L (settlement currency). Computed once and
        kept: read, never write.
        """
        values = self._cache.get("position_values")
        if values is None:
            resolved = self.resolved
            per_unit = np.zeros(len(resolved))
            if len(resolved):
                per_unit = np.where(resolved.terms.is_futures_style, 0.0, self.valuation.price)
            quantity = sparse.csr_array(self.quantity)
            values = sparse.csr_array(quantity * per_unit[np.newaxis, :] + self.unrealised)
            self._cache["position_values"] = values
        return values

    def position_values_usd(self) -> sparse.csr_array:
        """Each position's mark value in USD, shape ``(n_accounts, n_instruments)``.

        :meth:`position_values` times its cash asset's USD price (``resolved.settlement_usd``):
        the positions part of account equity (:func:`pmargin.collateral.account_equity` sums
        its rows).
        """
        settlement_usd = self.resolved.settlement_usd
        return sparse.csr_array(self.position_values() * settlement_usd[np.newaxis, :])

    def take_accounts(self, rows: Sequence[int] | IntArray) -> BookArrangement:
        """Return the accounts of ``rows`` alone, with only the instruments they hold.

        Parameters
        ----------
        rows
            Row indices, shape ``(n_rows,)``; the new book's row ``k`` is ``rows[k]``.

        Returns
        -------
        BookArrangement
            Shape ``(n_rows, n_held)``: the columns holding a stored entry in any of ``rows``
            (book order, resolved instruments taken, not looked up again); every asset column
            kept, balances copied; the same market. A book of moved rows gives a book of
            moved rows (the rows' and columns' :attr:`row_moves` taken along).
        """
        index = np.asarray(rows, dtype=np.int64)
        held, quantity = take_rows(sparse.csr_array(self.quantity), index, None)
        _, unrealised = take_rows(sparse.csr_array(self.unrealised), index, held)
        return self._same_market(
            account_ids=tuple(map(self.account_ids.__getitem__, index.tolist())),
            resolved=self.resolved.take(held),
            quantity=quantity,
            assets=self.assets,
            balances=self.balance_matrix[index],
            unrealised=unrealised,
            row_moves=None if self.row_moves is None else self.row_moves.take(index, held),
        )

    def take_accounts_reference(self, rows: Sequence[int] | IntArray) -> BookArrangement:
        """:meth:`take_accounts` by scipy's fancy slicing (the slow, obvious twin; tests only)."""
        index = np.asarray(rows, dtype=np.int64)
        quantity = sparse.csr_array(self.quantity)[index]
        held = np.flatnonzero(np.diff(sparse.csc_array(quantity).indptr) > 0).astype(np.int64)
        return BookArrangement(
            account_ids=tuple(self.account_ids[int(r)] for r in index),
            resolved=self.resolved.take(held),
            quantity=sparse.csr_array(quantity[:, held]),
            assets=self.assets,
            balances=self.balance_matrix[index].copy(),
            unrealised=sparse.csr_array(sparse.csr_array(self.unrealised)[index][:, held]),
            market=self.market,
            row_moves=None if self.row_moves is None else self.row_moves.take(index, held),
        )

    def take_columns(
        self, columns: Sequence[int] | IntArray, assets: Sequence[str]
    ) -> BookArrangement:
        """Return every account with only the instruments ``columns`` and the assets ``assets``.

        Parameters
        ----------
        columns
            Column indices, shape ``(n_cols,)``; the new book's column ``k`` is ``columns[k]``
            (resolved instruments taken, not looked up again).
        assets
            The balance columns kept, each one of :attr:`assets` (in the order given).

        Returns
        -------
        BookArrangement
            Shape ``(n_accounts, n_cols)``, the same accounts and market; balances copied. A
            book of moved rows gives a book of moved rows (its columns' :attr:`row_moves`
            taken).

        Raises
        ------
        InputError
            Field ``asset``: an asset the book has no balance column for.
        """
        cols = np.asarray(columns, dtype=np.int64)
        where = {asset: k for k, asset in enumerate(self.assets)}
        missing = [a for a in assets if a not in where]
        if missing:
            raise InputError("asset", missing[0], f"is not in the book's assets {self.assets}")
        keep = [where[a] for a in assets]
        return self._same_market(
            account_ids=self.account_ids,
            resolved=self.resolved.take(cols),
            quantity=sparse.csr_array(sparse.csr_array(self.quantity)[:, cols]),
            assets=tuple(assets),
            balances=self.balance_matrix[:, keep].copy(),
            unrealised=sparse.csr_array(sparse.csr_array(self.unrealised)[:, cols]),
            row_moves=None if self.row_moves is None else self.row_moves.take(None, cols),
        )

    def _same_market(self, **fields: Any) -> BookArrangement:
        """Return a new book at this market, sharing what depends on the market alone."""
        book = BookArrangement(market=self.market, **fields)
        book._cache["market"] = self._market_cache()
        return book

    def _ordinary(self, operation: str) -> None:
        """Refuse ``operation`` on a book of moved rows (it would drop the rows' own prices).

        Raises
        ------
        InputError
            Field ``row_moves``: this book is a book of moved rows.
        """
        if self.row_moves is not None:
            raise InputError(
                "row_moves",
                operation,
                "is not defined on a book of moved rows (each row at its own prices: for "
                "margining, equity, take_accounts and take_columns only); apply it to the book "
                "the rows were moved from",
            )

    def _market_cache(self) -> dict[str, Any]:
        """Return what depends on the market alone: one dict shared by books derived here."""
        shared: dict[str, Any] = self._cache.setdefault("market", {})
        return shared

    def with_account(
        self,
        row: int,
        positions: Mapping[int, float] | None = None,
        unrealised: Mapping[int, float] | None = None,
        balances: Mapping[str, float] | None = None,
    ) -> BookArrangement:
        """Return the book with account ``row``'s positions and/or balances replaced.

        Parameters
        ----------
        row
            The account's row.
        positions
            Column -> quantity in base units: the account's whole row of positions (a column
            left out is not held; a stored 0 is kept as an entry). ``None`` keeps the row.
        unrealised
            Column -> unrealised P&L (settlement currency) of the new positions; a column left
            out has 0. Read only with ``positions``; ``None`` with positions means all 0.
        balances
            Asset -> balance (units of the asset): the account's whole balances; an asset not
            in the book becomes a new column (0 for every other account, assets kept sorted).
            ``None`` keeps the row.

        Returns
        -------
        BookArrangement
            Same accounts, instruments (resolved shared) and market; the other rows' values
            unchanged.

        Raises
        ------
        InputError
            Field ``row_moves``: a book of moved rows (:meth:`moved_rows`).
        """
        self._ordinary("with_account")
        book = self
        if positions is not None:
            upnl = {} if unrealised is None else unrealised
            columns = np.asarray(sorted(positions), dtype=np.int64)
            values = np.asarray([positions[int(j)] for j in columns], dtype=np.float64)
            u_values = np.asarray([upnl.get(int(j), 0.0) for j in columns], dtype=np.float64)
            book = book._same_market(
                account_ids=book.account_ids,
                resolved=book.resolved,
                quantity=_replace_row(book.quantity, row, columns, values),
                assets=book.assets,
                balances=book.balances,
                unrealised=_replace_row(book.unrealised, row, columns, u_values),
            )
        if balances is not None:
            assets = tuple(sorted(set(book.assets) | set(balances)))
            matrix = np.zeros((len(book.account_ids), len(assets)))
            for k, asset in enumerate(book.assets):
                matrix[:, assets.index(asset)] = book.balance_matrix[:, k]
            matrix[row] = 0.0
            for asset, amount in balances.items():
                matrix[row, assets.index(asset)] = amount
            book = book._same_market(
                account_ids=book.account_ids,
                resolved=book.resolved,
                quantity=book.quantity,
                assets=assets,
                balances=matrix,
                unrealised=book.unrealised,
            )
        return book

    def rebased(
        self,
        market: MarketSnapshot,
        resolved: ResolvedInstruments | None = None,
        *,
        valuation: Valuation | None = None,
        recycle: bool = False,
    ) -> BookArrangement:
        """Return the book at ``market``, positions held as the venue holds them.

        Only prices move (``F0 = self.resolved.underlying_price`` to ``F`` at ``market``):

        * options, spot, linear futures and perpetuals keep their base quantity ``q0``;
        * inverse (coin-settled) futures and perpetuals are USD-notional contracts: their base
          quantity becomes ``q0 F0 / F`` (:func:`~pmargin.pricing.base_units_at_price`);
        * futures and perpetual P&L accrues from this book: linear ``u0 + q0 (F - F0)`` in the
          quote currency, inverse ``u0 + q0 (1 - F0 / F)`` coin
          (:func:`~pmargin.pricing.delta_one_pnl`), ``u0`` this book's unrealised P&L.

        For positions given with ``avg_price`` (and inverse futures in their native USD units)
        this is what :func:`arrange` gives for the portfolio arranged afresh at ``market``.

        Parameters
        ----------
        market
            The new market.
        resolved
            The same instruments, in the same order, already resolved at ``market`` (a caller
            that holds them: nothing is looked up); ``None`` resolves them here.
        valuation
            ``value_instruments(resolved)`` when the caller holds it (a monitor values a
            block's instruments with its last tick's): kept as the new book's
            :attr:`valuation`; ``None`` values them on first use.
        recycle
            For a caller rebasing this book tick after tick (a monitor's block): the
            quantity data of the books rebased from this one is kept (two arrays at most) and
            the next book's is written into one that nothing references any more (the book it
            came with is gone, no view of it is held: its reference count says so), only at
            the futures entries, the rest being this book's already. The numbers are the
            same; a book still alive is never written.

        Returns
        -------
        BookArrangement
            Same accounts, columns, stored entries and balances, at ``market``; a new cache.

        Raises
        ------
        InputError
            Field ``row_moves``: a book of moved rows (:meth:`moved_rows`).
        """
        self._ordinary("rebased")
        if resolved is None:
            resolved = resolve_instruments(self.instruments, market)
        q0 = self.quantity
        if not isinstance(q0, sparse.csr_array):
            q0 = sparse.csr_array(q0)
        entries = self._futures_entries(q0)
        if entries is None:  # not canonical: duplicates or unsorted columns
            book = self.rebased_reference(market, resolved)
        else:
            scale, drift, columns = self._futures_factors(resolved, entries)
            at = entries[0]
            data = self._spare_data(q0) if recycle else None
            if data is None:
                data = q0.data.copy()
                data[at] *= scale[columns]  # scale is 1 off inverse futures: the same bits
            else:  # holds q0's data off the futures entries: only they are written
                data[at] = q0.data[at] * scale[columns]
            quantity = _csr_like(q0, data)
            moved = q0.data[at] * drift[columns]
            book = self._repriced(market, resolved, quantity, self._accrued(entries, moved))
        if valuation is not None:
            book._cache["valuation"] = _frozen(valuation)
        return book

    def rebased_reference(
        self, market: MarketSnapshot, resolved: ResolvedInstruments | None = None
    ) -> BookArrangement:
        """:meth:`rebased` over every stored entry (the twin; equal bit for bit).

        :meth:`rebased` touches only the futures and perpetual entries (found once per book)
        and shares the quantity's index arrays (a canonical CSR, never changed in place).
        """
        self._ordinary("rebased")
        if resolved is None:
            resolved = resolve_instruments(self.instruments, market)
        scale, drift = self._rebase_factors(resolved)
        q0 = sparse.csr_array(self.quantity)
        columns = q0.indices
        quantity = _with_data(q0, q0.data * scale[columns])
        unrealised = self.unrealised + _with_data(q0, q0.data * drift[columns])
        return self._repriced(market, resolved, quantity, unrealised)

    def _repriced(
        self, market: MarketSnapshot, resolved: ResolvedInstruments, quantity: Any, unrealised: Any
    ) -> BookArrangement:
        """Return these accounts and balances at ``market`` with the rebased entries."""
        return BookArrangement(
            account_ids=self.account_ids,
            resolved=resolved,
            quantity=quantity,
            assets=self.assets,
            balances=self.balances,
            unrealised=(
                unrealised
                if isinstance(unrealised, sparse.csr_array)
                else sparse.csr_array(unrealised)
            ),
            market=market,
        )

    def _rebase_factors(self, resolved: ResolvedInstruments) -> tuple[FloatArray, FloatArray]:
        """Per column, shape ``(n_instruments,)``: base-unit scale and futures P&L per unit."""
        f0 = self.resolved.underlying_price
        f = resolved.underlying_price
        futures = resolved.terms.is_futures_style
        scale = base_units_at_price(f, f0, futures & resolved.is_inverse)
        drift = np.where(futures, delta_one_pnl(f, f0, resolved.is_inverse), 0.0)
        return scale, drift

    def _futures_factors(
        self, resolved: ResolvedInstruments, entries: tuple[IntArray, IntArray, IntArray]
    ) -> tuple[FloatArray, FloatArray, IntArray]:
        """:meth:`_rebase_factors` on the futures and perpetual columns alone.

        Returns ``(scale, drift, at)``: shape ``(k,)`` over the ``k`` futures-style columns
        (the same numbers, element by element: the factors are elementwise) and, per entry
        of ``entries``, shape ``(m,)``, its column's place among them (cached per book).
        """
        found = self._cache.get("futures_columns")
        if found is None:
            futures = np.flatnonzero(self.resolved.terms.is_futures_style).astype(np.int64)
            found = (futures, np.searchsorted(futures, entries[2]).astype(np.int64))
            self._cache["futures_columns"] = found
        futures, at = found
        f0 = self.resolved.underlying_price[futures]
        f = resolved.underlying_price[futures]
        inverse = resolved.is_inverse[futures]
        return base_units_at_price(f, f0, inverse), delta_one_pnl(f, f0, inverse), at

    def _accrued(self, entries: tuple[IntArray, IntArray, IntArray], moved: FloatArray) -> Any:
        """Return ``unrealised`` plus ``moved`` on the futures ``entries``, as CSR.

        scipy's sum of the two matrices (``self.unrealised + moved`` as a matrix: each entry
        ``u + m``, ``u`` or ``0 + m``, zeros dropped) without building either: their union
        pattern and where each one's entries fall in it are found once per book (cached).
        """
        plan = self._cache.get("accrual")
        if plan is None:
            unrealised = sparse.csr_array(self.unrealised)
            canonical = unrealised.has_canonical_format
            plan = () if not canonical else _accrual(unrealised, entries)
            self._cache["accrual"] = plan
        if not plan:  # duplicates in unrealised: scipy's own sum
            _, rows, columns = entries
            moved_matrix = sparse.csr_array((moved, (rows, columns)), shape=self.quantity.shape)
            return self.unrealised + moved_matrix
        u_data, rows, indices, indptr, at_u, at_m, union = plan
        data = np.zeros(indices.size)
        data[at_u] = u_data
        data[at_m] += moved
        keep = data != 0.0
        if keep.all():  # the union pattern, kept: no new index arrays, no checks
            return _csr_like(union, data)
        # scipy drops the zeros of a sum: the pattern without them is kept while they stay
        pattern = keep.tobytes()
        last = self._cache.get("accrual_kept")
        if last is not None and last[0] == pattern:
            return _csr_like(last[1], data[keep])
        indptr = np.zeros(indptr.size, dtype=indptr.dtype)
        np.cumsum(np.bincount(rows[keep], minlength=indptr.size - 1), out=indptr[1:])
        kept = sparse.csr_array((data[keep], indices[keep], indptr), shape=self.quantity.shape)
        self._cache["accrual_kept"] = (pattern, kept)
        return kept

    def _spare_data(self, q0: Any) -> FloatArray | None:
        """Return a kept quantity data array nothing else references, else a new kept copy.

        ``None`` when two are kept and both are in use (the caller copies). A kept array
        holds ``q0.data`` except at the futures entries (only those are ever written).
        """
        kept: list[FloatArray] = self._cache.setdefault("spare_data", [])
        for k in range(len(kept)):
            if sys.getrefcount(kept[k]) == _ONLY_KEPT:  # the list's reference alone
                return kept[k]
        if len(kept) < _SPARES:
            kept.append(q0.data.copy())
            return kept[-1]
        return None

    def _futures_entries(self, q0: Any) -> tuple[IntArray, IntArray, IntArray] | None:
        """Return the stored entries of ``q0`` (the quantity) in futures and perpetual columns.

        ``(at, rows, columns)``, int64 of shape ``(k,)``: positions in ``q0.data``, their rows
        and columns; ``None`` when ``q0`` is not in canonical CSR form. Computed once per book
        (cached).
        """
        if "futures_entries" in self._cache:
            cached: tuple[IntArray, IntArray, IntArray] | None = self._cache["futures_entries"]
            return cached
        found = None
        if q0.has_canonical_format:
            columns = q0.indices.astype(np.int64)
            at = np.flatnonzero(self.resolved.terms.is_futures_style[columns]).astype(np.int64)
            rows = np.repeat(np.arange(q0.shape[0], dtype=np.int64), np.diff(q0.indptr))
            found = (at, rows[at], columns[at])
        self._cache["futures_entries"] = found
        return found

    def moved(self, moves: Mapping[str, float], vol_beta: float = 0.0) -> BookArrangement:
        """Return the book after relative moves of its underlyings' prices.

        Every USD price of underlying ``u`` (index, ``prices[u]``, forwards, futures and
        perpetual marks, surface forwards) is multiplied by ``1 + moves[u]``
        (:meth:`~pmargin.market.MarketSnapshot.moved`); options keep their vol per strike, times
        ``(1 + m) ** -vol_beta``; positions follow :meth:`rebased` (inverse futures keep their
        USD notional, futures and perpetual P&L into ``unrealised``) and balances are valued at
        the moved market. Equal to :func:`arrange` of the portfolio at the moved market (for
        positions with ``avg_price``), without looking anything up.

        Parameters
        ----------
        moves
            Underlying -> relative move, each finite and ``> -1``; an underlying left out does
            not move. All zero: this book is returned.
        vol_beta
            Vol response to the move (0: sticky strike).

        Returns
        -------
        BookArrangement
            Same accounts, columns, stored entries and balances, at the moved market.

        Raises
        ------
        InputError
            Field ``moves.<underlying>``: a move not finite or ``<= -1``; field ``row_moves``:
            a book of moved rows (:meth:`moved_rows`).
        """
        self._ordinary("moved")
        checked = check_moves(moves)
        if not any(checked.values()):
            return self
        shared = self._market_cache()
        kinds = shared.get("mark_kinds")
        if kinds is None:
            kinds = mark_kinds(self.market)
            shared["mark_kinds"] = kinds
        resolved = self.resolved
        option_vols = {
            i.symbol: (i.underlying, float(v))
            for i, v in zip(self.instruments, resolved.vol.tolist(), strict=True)
            if i.is_option and math.isfinite(v) and v > 0.0
        }
        market = self.market.moved(checked, vol_beta, option_vols, kinds)
        return self.rebased(market, moved_resolved(resolved, checked, vol_beta))

    def moved_rows(
        self,
        rows: Sequence[int] | IntArray,
        names: Sequence[str],
        moves: FloatArray,
        vol_beta: float = 0.0,
    ) -> BookArrangement:
        """Return rows ``rows``, row ``k`` after its own moves ``moves[k]`` of ``names``.

        One book in which every row sits at its own prices (:func:`~pmargin.book.moved_rows`,
        shapes there): what a model declaring ``Capabilities(row_prices=True)`` margins in one
        computation. Its :attr:`row_moves` is set; it is for margining and equity,
        :meth:`take_accounts` and :meth:`take_columns` (which carry the rows' moves); the other
        operations raise on it.

        Raises
        ------
        InputError
            Field ``row_moves``: this book is itself a book of moved rows; field ``moves``:
            see :func:`~pmargin.book.moved_rows`.
        """
        self._ordinary("moved_rows")
        return moved_rows(self, rows, names, moves, vol_beta)

    def with_row_moves(self, row_moves: RowMoves) -> BookArrangement:
        """Return this book with its rows' and columns' own price multipliers set."""
        return replace(self, row_moves=row_moves)

    def usd_price(self, asset: str) -> float | FloatArray:
        """USD price of ``asset`` at this book's prices.

        Returns
        -------
        float or FloatArray
            The market's price (a float); in a book of moved rows (:attr:`row_moves`) whose
            moves include ``asset``, shape ``(n_accounts,)``: each row's own price.

        Raises
        ------
        MarketDataError
            The market cannot price ``asset``.
        """
        price = self.market.usd_price(asset)
        scale = None if self.row_moves is None else self.row_moves.row_multiplier(asset)
        return price if scale is None else price * scale

    def index_usd(self, columns: Sequence[int] | IntArray) -> FloatArray:
        """Shape ``(len(columns),)``: USD index of each column's underlying at the column's prices.

        Raises
        ------
        MarketDataError
            The market has no index for one of the underlyings.
        """
        index = np.asarray(columns, dtype=np.int64).reshape(-1)
        names = self.resolved.terms.underlying[index]
        out = np.zeros(index.size)
        for name, at in columns_by(names).items():
            out[at] = self.market.index_price(name)
            scale = None if self.row_moves is None else self.row_moves.column_multiplier(name)
            if scale is not None:
                out[at] *= scale[index[at]]
        return out

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
        return tuple(self.resolved.terms.settlement_currency.tolist())

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_accounts, n_instruments)``."""
        return (len(self.account_ids), len(self.instruments))


def _accrual(
    unrealised: sparse.csr_array, entries: tuple[IntArray, IntArray, IntArray]
) -> tuple[FloatArray, IntArray, IntArray, IntArray, IntArray, IntArray, Any]:
    """Return the union of ``unrealised``'s stored entries and the futures ``entries``.

    ``unrealised`` in canonical form. Returns ``(data, rows, indices, indptr, at_u, at_m,
    union)``: its values, the union's rows, CSR columns and row pointers (int32 where they
    fit, as scipy makes them), the union positions of ``unrealised``'s entries and of
    ``entries``, and the union pattern as a CSR array (zeros: :func:`_csr_like`'s template).
    """
    n_rows, n_columns = unrealised.shape
    u_rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(unrealised.indptr))
    u_keys = u_rows * n_columns + unrealised.indices.astype(np.int64)
    _, m_rows, m_columns = entries
    m_keys = m_rows * n_columns + m_columns
    keys = np.union1d(u_keys, m_keys)
    index_dtype = np.int32 if max(keys.size, n_columns) < 2**31 else np.int64
    indptr = np.zeros(n_rows + 1, dtype=index_dtype)
    rows = keys // n_columns
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    indices = (keys % n_columns).astype(index_dtype)
    at_u = np.searchsorted(keys, u_keys)
    at_m = np.searchsorted(keys, m_keys)
    union = sparse.csr_array((np.zeros(keys.size), indices, indptr), shape=unrealised.shape)
    return unrealised.data, rows, union.indices, union.indptr, at_u, at_m, union


_CSR_ATTRIBUTES = frozenset(
    {"data", "indices", "indptr", "_shape", "maxprint", "_has_canonical_format",
     "_has_sorted_indices"}
)  # fmt: skip
"""scipy's ``csr_array`` instance attributes that :func:`_csr_like` knows how to copy."""

_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))


def _csr_like(template: Any, data: FloatArray) -> Any:
    """Return a ``csr_array`` of ``template``'s structure holding ``data`` (float64, its size).

    ``sparse.csr_array((data, template.indices, template.indptr), shape=template.shape)``
    without scipy's checks of a structure already checked (~35 us a call at 120,000 entries):
    the same index arrays (shared, never written in place; the constructor keeps their
    memory too), shape and format flags. A template scipy made (its index arrays of one
    dtype, int32 or int64, which the constructor keeps) whose attributes are the known ones;
    any other is built by that constructor (:func:`_csr_like_reference`).
    """
    known = vars(template) if type(template) is sparse.csr_array else {}
    if (
        not _CSR_ATTRIBUTES.issuperset(known)
        or not {"data", "indices", "indptr", "_shape"}.issubset(known)
        or template.indices.dtype != template.indptr.dtype
        or template.indices.dtype not in _INDEX_DTYPES
        or data.dtype != np.float64
        or data.shape != template.data.shape
    ):
        return _csr_like_reference(template, data)
    matrix = sparse.csr_array.__new__(sparse.csr_array)
    vars(matrix).update(known)
    matrix.data = data
    return matrix


def _csr_like_reference(template: Any, data: FloatArray) -> Any:
    """:func:`_csr_like` by scipy's constructor (the twin: equal arrays, checked)."""
    return sparse.csr_array((data, template.indices, template.indptr), shape=template.shape)


_SPARES = 2
"""Quantity data arrays a recycling book keeps (the book in force and the one before)."""

_ONLY_KEPT = 2
"""``sys.getrefcount`` of a kept array referenced by its list alone (the list, the call)."""


def _frozen(valuation: Valuation) -> Valuation:
    """Return ``valuation`` with the arrays it owns made read-only (a book shares it)."""
    for name in ("price", "price_usd", "delta", "gamma", "vega", "theta", "delta_coin"):
        array = getattr(valuation, name)
        if array.base is None:  # its own array (not a view of the resolved inputs)
            array.setflags(write=False)
    return valuation


def take_rows(
    matrix: Any, rows: IntArray, cols: IntArray | None
) -> tuple[IntArray, sparse.csr_array]:
    """Rows ``rows`` of a CSR ``matrix`` restricted to sorted columns ``cols``, renumbered.

    ``cols=None`` takes every column any of the rows stores (sorted). Equal to
    ``matrix[rows][:, cols]`` without scipy's slicing machinery (column indices sorted within
    each row).

    Returns
    -------
    tuple
        ``(cols, csr)``: int64 ``(n_cols,)`` and a csr array of shape ``(n_rows, n_cols)``.
    """
    start, stop = matrix.indptr[rows], matrix.indptr[rows + 1]
    counts = stop - start
    picked = np.repeat(start - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    indices, data = matrix.indices[picked], matrix.data[picked]
    owner = np.repeat(np.arange(rows.size), counts)
    if cols is None:
        cols = np.unique(indices).astype(np.int64)
    where = np.full(matrix.shape[1], -1, dtype=np.int64)
    where[cols] = np.arange(cols.size)
    local = where[indices]
    keep = local >= 0
    owner, local, data = owner[keep], local[keep], data[keep]
    order = np.lexsort((local, owner))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=rows.size))])
    taken = sparse.csr_array((data[order], local[order], indptr), shape=(rows.size, cols.size))
    return cols, taken


def _with_data(template: Any, data: FloatArray) -> Any:
    """Return a csr array with ``template``'s structure and ``data`` (same length as its data)."""
    return sparse.csr_array(
        (data, template.indices.copy(), template.indptr.copy()), shape=template.shape
    )


def _replace_row(matrix: Any, row: int, columns: IntArray, values: FloatArray) -> Any:
    """``matrix`` (CSR, ``(n_rows, n_cols)``) with row ``row`` holding ``values`` at ``columns``."""
    csr = sparse.csr_array(matrix)
    start, end = int(csr.indptr[row]), int(csr.indptr[row + 1])
    indptr = csr.indptr.astype(np.int64)
    indptr[row + 1 :] += columns.size - (end - start)
    return sparse.csr_array(
        (
            np.concatenate([csr.data[:start], values, csr.data[end:]]),
            np.concatenate([csr.indices[:start], columns, csr.indices[end:]]).astype(np.int64),
            indptr,
        ),
        shape=csr.shape,
    )


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
        market=market,
    )
