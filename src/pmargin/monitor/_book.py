"""The monitored book at a new market: rebased quantities and P&L, and the full recompute.

The monitor arranges the book once, at its start market; afterwards positions are held fixed
as the venue holds them and only prices move:

* options, spot, linear futures and perpetuals: the base quantity is fixed;
* inverse (coin-settled) futures and perpetuals are USD-notional contracts, so their base
  quantity is ``q0 * F0 / F`` at the mark ``F`` (``F0`` the mark at the start);
* futures and perpetual P&L accrues from the start: linear ``u0 + q0 (F - F0)`` in the quote
  currency, inverse ``u0 + q0 (1 - F0 / F)`` coin, ``u0`` the unrealised P&L at the start
  (against ``avg_price``; 0 for positions without one, taken as settled to the start mark).

For positions given with ``avg_price`` (and inverse futures in their native USD units) this is
exactly what :func:`pmargin.book.arrange` gives when the portfolio is arranged afresh at the
new market. :func:`rebase_book` applies it to any block of columns, so the monitor's cached
blocks and :func:`full_recompute` of the whole book share one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray
from pmargin.book import BookArrangement
from pmargin.collateral import account_equity
from pmargin.health import STATUS_ORDER, assess, status_codes
from pmargin.margin import MarginModel, MarginResult
from pmargin.market import MarketSnapshot
from pmargin.pricing import base_units_at_price, delta_one_pnl
from pmargin.valuation import ResolvedInstruments, resolve_instruments

__all__ = [
    "STATUS_ORDER",
    "FullState",
    "full_recompute",
    "rebase_book",
    "status_codes",
    "sub_book",
]


def _futures_style(resolved: ResolvedInstruments) -> BoolArray:
    """Futures and perpetuals (:attr:`Instrument.is_futures_style`): shape ``(n,)``."""
    return np.array([i.is_futures_style for i in resolved.instruments], dtype=bool)


def _with_data(template: Any, data: FloatArray) -> Any:
    """Return a csr array with ``template``'s structure and ``data`` (same length as its data)."""
    return sparse.csr_array(
        (data, template.indices.copy(), template.indptr.copy()), shape=template.shape
    )


def sub_book(book: BookArrangement, columns: Any, assets: tuple[str, ...]) -> BookArrangement:
    """Return the book restricted to ``columns`` (book order) and the balances of ``assets``.

    Parameters
    ----------
    book
        The whole book.
    columns
        Int64 array of column indices, shape ``(n_cols,)``.
    assets
        The balance columns kept (a subset of ``book.assets``).
    """
    cols = np.asarray(columns, dtype=np.int64)
    keep = [book.assets.index(a) for a in assets]
    return BookArrangement(
        account_ids=book.account_ids,
        resolved=book.resolved.take(cols),
        quantity=sparse.csr_array(book.quantity[:, cols]),
        assets=tuple(assets),
        balances=book.balance_matrix[:, keep].copy(),
        unrealised=sparse.csr_array(book.unrealised[:, cols]),
    )


def rebase_book(start: BookArrangement, resolved: ResolvedInstruments) -> BookArrangement:
    """``start`` (arranged at the start market) with its instruments resolved anew.

    Parameters
    ----------
    start
        The book (or a block of its columns) as arranged at the start market: base quantities
        ``q0``, unrealised P&L ``u0``, start prices ``F0 = start.resolved.underlying_price``.
    resolved
        The same instruments, in the same order, resolved at the new market (``F``).

    Returns
    -------
    BookArrangement
        Quantities and unrealised P&L per the module docstring; balances unchanged.
    """
    f0 = start.resolved.underlying_price
    f = resolved.underlying_price
    futures = _futures_style(resolved)
    scale = base_units_at_price(f, f0, futures & resolved.is_inverse)
    drift = np.where(futures, delta_one_pnl(f, f0, resolved.is_inverse), 0.0)
    q0 = sparse.csr_array(start.quantity)
    columns = q0.indices
    quantity = _with_data(q0, q0.data * scale[columns])
    unrealised = sparse.csr_array(start.unrealised + _with_data(q0, q0.data * drift[columns]))
    return BookArrangement(
        account_ids=start.account_ids,
        resolved=resolved,
        quantity=quantity,
        assets=start.assets,
        balances=start.balances,
        unrealised=unrealised,
    )


@dataclass(frozen=True, slots=True)
class FullState:
    """Every account's health recomputed from scratch (the monitor's reference).

    Attributes
    ----------
    book
        The rebased book (:func:`rebase_book`) at ``market``.
    margin
        ``model.compute(book, market)``.
    equity, initial_margin, maintenance_margin
        Shape ``(n_accounts,)``, USD.
    status
        Shape ``(n_accounts,)``: :class:`~pmargin.health.HealthStatus` values (object array).
    """

    book: BookArrangement
    margin: MarginResult
    equity: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    status: Any


def full_recompute(start: BookArrangement, model: MarginModel, market: MarketSnapshot) -> FullState:
    """Resolve every instrument, rebase the book, value equity and margin it all at ``market``.

    Parameters
    ----------
    start
        The book as arranged at the monitor's start market.
    model
        Any margin model.
    market
        The market to value at.

    Raises
    ------
    InputError, MarketDataError
        From resolution or the model, naming the field at fault.
    """
    book = rebase_book(start, resolve_instruments(start.instruments, market))
    equity = account_equity(book, market).equity
    margin = model.compute(book, market)
    health = assess(equity, margin.initial_margin, margin.maintenance_margin)
    return FullState(
        book=book,
        margin=margin,
        equity=equity,
        initial_margin=margin.initial_margin,
        maintenance_margin=margin.maintenance_margin,
        status=health.status,
    )
