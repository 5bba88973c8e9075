"""Account equity and collateral haircuts, batched over every account of a book.

Equity is marked to market, without haircuts: balances at their USD prices (negative balances
are borrowings and subtract), plus the mark value of options and spot instruments held, plus
the unrealised P&L of futures and perpetuals against their entry price. Haircuts belong to the
margin methodology (Deribit X:PM, Derive, OKX each publish their own), so models call
:func:`haircut_charge` with their parameters and report it as part of the margin, never by
changing equity: ``equity - haircut < IM`` and ``equity < IM + haircut`` decide alike.

Equity is checked finite where it is computed: a NaN or infinite balance value, position value
or equity (an input far out of range: an entry price of 5e-324, an index of 1e308) is an
:class:`~pmargin.errors.InputError` naming the account, never a number passed on.

This module is the one home of the equity rule: :func:`balances_usd` and
:func:`positions_usd` are its two parts (the monitor revalues only the positions of the
underlyings a tick touches and adds the balances once), and :func:`account_equity` their sum
with the per-position and per-currency detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.errors import InputError
from pmargin.market import MarketSnapshot
from pmargin.valuation import columns_by

__all__ = [
    "AccountEquity",
    "KeptPositionsUsd",
    "account_equity",
    "balance_scenario_pnl",
    "balances_usd",
    "haircut_charge",
    "positions_usd",
    "positions_usd_reference",
]


@dataclass(frozen=True, slots=True)
class AccountEquity:
    """Mark-to-market equity of every account.

    Attributes
    ----------
    asset_usd
        Shape ``(n_assets,)``: USD price of each of ``book.assets`` (``(n_accounts,
        n_assets)`` in a book of moved rows: each row's own).
    balances_usd
        Shape ``(n_accounts,)``: USD value of the balances (borrowings negative).
    positions_usd
        Shape ``(n_accounts,)``: USD mark value of options and spot positions plus unrealised
        futures/perpetual P&L (long options positive, short options negative).
    position_value_usd
        ``scipy.sparse.csr_array`` ``(n_accounts, n_instruments)``: each position's part of
        ``positions_usd``.
    by_currency
        Currency -> shape ``(n_accounts,)``: equity held in that currency, in that currency
        (the balance of the currency plus positions settled in it), for models that margin
        each settlement currency apart.
    """

    asset_usd: FloatArray
    balances_usd: FloatArray
    positions_usd: FloatArray
    position_value_usd: object
    by_currency: Mapping[str, FloatArray]

    @property
    def equity(self) -> FloatArray:
        """Shape ``(n_accounts,)``: total equity in USD."""
        total: FloatArray = self.balances_usd + self.positions_usd
        return total


def account_equity(book: BookArrangement) -> AccountEquity:
    """Value every account's balances and positions at the book's market (no haircuts).

    Raises
    ------
    MarketDataError, InputError
        A balance in an asset the market cannot price (e.g. an unpriced stablecoin); an
        account whose balances, positions or equity value is NaN or infinite (naming it).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        equity = _account_equity(book, book.market)
        _check_finite(book, equity)
    return equity


def _check_finite(book: BookArrangement, equity: AccountEquity) -> None:
    """Raise naming the first account whose balances, positions or equity is not finite."""
    parts = (
        ("balances value", equity.balances_usd),
        ("positions value", equity.positions_usd),
        ("equity", equity.equity),
    )
    for name, values in parts:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            a = int(bad[0])
            raise InputError(
                f"account {book.account_ids[a]}: {name}",
                float(values[a]),
                "is not a finite number (USD): an input (balance, avg_price, index, mark) "
                "is out of range",
            )


def balances_usd(book: BookArrangement, market: MarketSnapshot | None = None) -> FloatArray:
    """USD value of every account's balances at the book's market, shape ``(n_accounts,)``.

    Borrowings (negative balances) count negative. ``market``: value them at that market
    instead (an ordinary book's balances at another market's USD prices: what the book
    rebased there gives, without rebasing it; a monitor's balances tick after tick). A book
    of moved rows values each row at its own prices either way.

    Raises
    ------
    MarketDataError
        A balance in an asset the market cannot price.
    """
    at = book.market if market is None else market
    value = _value_usd(book.balance_matrix, _asset_usd(book, at))
    return value


def positions_usd(book: BookArrangement) -> FloatArray:
    """USD mark value of every account's positions, shape ``(n_accounts,)``.

    Options and spot at their mark value, futures and perpetuals at their unrealised P&L, in
    the cash asset converted at its USD price (the book's resolved instruments carry the
    prices): the positions part of :func:`account_equity`, not checked finite. Two sparse
    products, ``quantity @ (value per unit x USD) + unrealised @ USD``: equal to
    :func:`positions_usd_reference` (the per-position matrix summed by row, bit for bit the
    part of :func:`account_equity`) to rounding (rtol 1e-12).
    """
    resolved = book.resolved
    if not len(resolved):
        return np.zeros(book.shape[0])
    settlement_usd = resolved.settlement_usd
    per_unit = np.where(resolved.terms.is_futures_style, 0.0, book.valuation.price)
    held: FloatArray = sparse.csr_array(book.quantity) @ (per_unit * settlement_usd)
    unrealised: FloatArray = sparse.csr_array(book.unrealised) @ settlement_usd
    return held + unrealised


class KeptPositionsUsd:
    """:func:`positions_usd` of one book rebased to market after market (a monitor's block).

    Built on a book; called with that book rebased (:meth:`~pmargin.book.BookArrangement.
    rebased`: the options' and spot quantities stay, only futures and perpetual entries and
    the unrealised P&L move), it returns ``positions_usd(rebased)`` to rounding (rtol 1e-12):
    each account's options and spot summed per settlement currency, in that currency (one
    sparse pass, kept while their values per unit are the same bits: a tick that leaves the
    forwards and vols alone only changes the currencies' USD prices), times the currencies'
    USD prices, plus the unrealised P&L at USD. The sums are regrouped, so the last bits
    differ from :func:`positions_usd`'s.

    Parameters
    ----------
    book
        The book (``(n_accounts, n_instruments)``) the later ones are rebased from.
    """

    def __init__(self, book: BookArrangement) -> None:
        terms = book.resolved.terms
        held = np.flatnonzero(~terms.is_futures_style)
        currencies, group = np.unique(terms.settlement_currency[held], return_inverse=True)
        quantity = sparse.csr_array(book.quantity)
        self._held = held
        """Shape ``(m,)``: the option and spot columns."""
        self._first = np.asarray(
            [held[group == c][0] for c in range(currencies.size)], dtype=np.int64
        )
        """A column of each settlement currency (its USD price)."""
        self._by_currency = [
            (np.flatnonzero(group == c), sparse.csr_array(quantity[:, held[group == c]]))
            for c in range(currencies.size)
        ]
        """Per currency: its positions among ``held`` and the quantities held in them."""
        self._entries = _where(quantity)
        self._held_arrays = (quantity.indices, quantity.indptr)
        """Kept alive, so no other matrix's arrays can come to live where they do."""
        self._per_unit: FloatArray | None = None
        self._sums = np.zeros((book.shape[0], currencies.size))

    def __call__(self, book: BookArrangement) -> FloatArray:
        """Return ``positions_usd(book)`` to rounding, shape ``(n_accounts,)``.

        ``book`` must be the book this was built on, rebased (the same stored entries); one
        whose quantity holds other index arrays (not the same memory) is valued by
        :func:`positions_usd`.
        """
        quantity = _csr(book.quantity)
        indices, indptr = self._held_arrays
        if not (quantity.indices is indices and quantity.indptr is indptr) and (
            _where(quantity) != self._entries
        ):  # the same arrays (a rebased book's), else the same memory, else not this book's
            return positions_usd(book)
        resolved = book.resolved
        per_unit = np.asarray(book.valuation.price)[self._held]
        last = self._per_unit
        if last is None or last.tobytes() != per_unit.tobytes():
            for c, (at, held) in enumerate(self._by_currency):
                self._sums[:, c] = held @ per_unit[at]
            self._per_unit = per_unit
        usd = resolved.settlement_usd
        value: FloatArray = self._sums @ usd[self._first]
        pnl: FloatArray = _csr(book.unrealised) @ usd
        return value + pnl


def _csr(matrix: Any) -> sparse.csr_array:
    """Return ``matrix`` as a ``csr_array`` (itself when it is one: no new object)."""
    return matrix if isinstance(matrix, sparse.csr_array) else sparse.csr_array(matrix)


def _where(quantity: sparse.csr_array) -> tuple[int, int, int, int]:
    """Where a CSR matrix's index arrays live (address and size of ``indices`` and ``indptr``).

    A rebased book shares them with the book it came from (never written in place).
    """
    indices, indptr = quantity.indices, quantity.indptr
    return (indices.ctypes.data, indices.size, indptr.ctypes.data, indptr.size)


def positions_usd_reference(book: BookArrangement) -> FloatArray:
    """:func:`positions_usd` as :func:`account_equity` sums it (the twin; bit for bit its part)."""
    return _row_sums(book.position_values_usd())


def _asset_usd(book: BookArrangement, market: MarketSnapshot) -> FloatArray:
    """Shape ``(n_assets,)``: USD price of each of ``book.assets``.

    In a book of moved rows (:meth:`~pmargin.book.BookArrangement.moved_rows`), shape
    ``(n_accounts, n_assets)``: each row's own prices (:meth:`~pmargin.book.BookArrangement.
    usd_price`).
    """
    if book.row_moves is not None:
        n = book.shape[0]
        columns = [np.broadcast_to(book.usd_price(a), (n,)) for a in book.assets]
        return np.stack(columns, axis=1) if columns else np.zeros((n, 0))
    return np.array([market.usd_price(a) for a in book.assets], dtype=np.float64)


def _value_usd(balances: FloatArray, asset_usd: FloatArray) -> FloatArray:
    """Shape ``(n_accounts,)``: ``balances`` valued at ``asset_usd`` (one row or per row)."""
    if asset_usd.ndim == 2:
        per_row: FloatArray = (balances * asset_usd).sum(axis=1)
        return per_row
    value: FloatArray = balances @ asset_usd
    return value


def _row_sums(matrix: sparse.csr_array) -> FloatArray:
    return np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()


def _account_equity(book: BookArrangement, market: MarketSnapshot) -> AccountEquity:
    asset_usd = _asset_usd(book, market)
    balances = book.balance_matrix
    settlement_value = book.position_values()
    position_value_usd = book.position_values_usd()
    by_currency: dict[str, FloatArray] = {
        asset: balances[:, k].copy() for k, asset in enumerate(book.assets)
    }
    for currency, columns in columns_by(book.resolved.terms.settlement_currency).items():
        held = np.asarray(settlement_value[:, columns].sum(axis=1)).ravel()
        by_currency[currency] = by_currency.get(currency, np.zeros(book.shape[0])) + held
    return AccountEquity(
        asset_usd=asset_usd,
        balances_usd=_value_usd(balances, asset_usd),
        positions_usd=_row_sums(position_value_usd),
        position_value_usd=position_value_usd,
        by_currency=by_currency,
    )


def haircut_charge(
    book: BookArrangement,
    haircuts: Mapping[str, float],
    default: float = 0.0,
) -> FloatArray:
    """USD value of the haircut on every account's positive balances.

    Parameters
    ----------
    book
        Accounts with ``assets`` and ``balances``, at the market pricing the assets.
    haircuts
        Asset -> haircut in [0, 1] (0.1 = the asset counts at 90% of its value).
    default
        Haircut of assets not in ``haircuts``.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts,)``: ``sum_assets max(balance, 0) * usd_price * haircut``; borrowed
        (negative) balances count at full value, so they get no haircut.
    """
    if not book.assets:
        return np.zeros(book.shape[0])
    asset_usd = _asset_usd(book, book.market)
    cut = np.array([haircuts.get(a, default) for a in book.assets], dtype=np.float64)
    charge = _value_usd(np.maximum(book.balance_matrix, 0.0), asset_usd * cut)
    return charge


def balance_scenario_pnl(
    book: BookArrangement,
    asset: str,
    spot_multiplier: FloatArray,
) -> FloatArray:
    """USD P&L of every account's balance of ``asset`` when its price is multiplied.

    Parameters
    ----------
    book
        Balances, at the market pricing them.
    asset
        The asset that moves (``"BTC"``); an asset no account holds gives zeros.
    spot_multiplier
        Shape ``(n_scenarios,)``: factor on the asset's USD price in each scenario.

    Returns
    -------
    FloatArray
        Shape ``(n_accounts, n_scenarios)``: ``balance * usd_price * (m - 1)``.
    """
    multiplier = np.asarray(spot_multiplier, dtype=np.float64)
    if asset not in book.assets:
        return np.zeros((book.shape[0], multiplier.size))
    balance = book.balance_matrix[:, book.assets.index(asset)]
    pnl: FloatArray = np.outer(balance * book.market.usd_price(asset), multiplier - 1.0)
    return pnl
