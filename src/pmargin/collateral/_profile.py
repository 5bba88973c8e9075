"""An account's P&L against one underlying's index, at several dates: the P&L profile.

The picture a position builder draws: for each date and each level of the index of one
underlying, the change of each account's equity (:func:`~pmargin.collateral.account_equity`,
USD) from now. A level is a relative move ``m`` of the index (the book moved with
:meth:`~pmargin.book.BookArrangement.moved`: every USD price of the underlying times
``1 + m``, options sticky strike, inverse futures keeping their USD notional). A later date
rolls the moved market forward in time (:meth:`~pmargin.market.MarketSnapshot.replace` with
the new timestamp, options keeping today's implied vol per strike), so options lose their
time value; a leg that has expired by the date is settled at the moved index:

* an option pays its intrinsic value ``max(w (S - K), 0)`` per base unit in its quote
  currency (``w`` +1 call, -1 put; ``S`` the index in the quote currency), divided by ``S``
  for a coin-settled (inverse) option, in its cash asset;
* a future settles at the index: its P&L at the moved market plus ``q x``
  :func:`~pmargin.pricing.delta_one_pnl` ``(S, F)`` from its price ``F`` there.

:func:`pnl_profile` computes every level at once: the arranged book at every move is one book
of moved rows (:meth:`~pmargin.book.BookArrangement.moved_rows`, each account at each move);
per later date the legs still live are rolled to the date and then moved the same way, and
the expired ones settle at each move's index, so a date costs one pass of the pricing kernel
over all levels. :func:`pnl_profile_reference` is its slow,
obvious twin: for each point it rebuilds the portfolio with the expired legs replaced by the
cash they settle for (closed forms from the positions' entry prices) and arranges it afresh
at the moved, rolled market.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.book import BookArrangement, Portfolio, Position, arrange, base_quantity
from pmargin.collateral._equity import account_equity
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.market import MarketSnapshot
from pmargin.pricing import delta_one_pnl

__all__ = ["expiry_dates", "pnl_profile", "pnl_profile_reference"]


def _checked(
    market: MarketSnapshot, underlying: str, moves: ArrayLike, dates: Sequence[datetime]
) -> tuple[str, FloatArray]:
    code = underlying.upper()
    market.index_price(code)  # raises for an underlying the market does not price
    grid = np.asarray(moves, dtype=np.float64).reshape(-1)
    if grid.size == 0 or not np.all(np.isfinite(grid)) or np.any(grid <= -1.0):
        raise InputError("moves", moves, "must be finite relative moves greater than -1")
    for k, when in enumerate(dates):
        if when.tzinfo is None:
            raise InputError(f"dates.{k}", when, "must be timezone-aware (UTC)")
    return code, grid


def expiry_dates(instruments: Sequence[Instrument], market: MarketSnapshot) -> list[datetime]:
    """Return the distinct expiries after the market's timestamp, in order (the profile's dates).

    Parameters
    ----------
    instruments
        The instruments held (options and futures carry an expiry).
    market
        The snapshot whose timestamp is "now".
    """
    found = {i.expiry for i in instruments if i.expiry is not None}
    return sorted(e for e in found if e > market.timestamp)


def _option_vols(book: BookArrangement) -> dict[str, tuple[str, float]]:
    """Symbol -> (underlying, implied vol) of the book's options (kept per strike)."""
    return {
        inst.symbol: (inst.underlying, float(v))
        for inst, v in zip(book.instruments, book.resolved.vol.tolist(), strict=True)
        if inst.is_option and np.isfinite(v) and v > 0.0
    }


def _pinned(book: BookArrangement) -> MarketSnapshot:
    """Return the book's market with its options' vols put as ``iv`` marks (kept per strike).

    What a later date is rolled from (``.replace(timestamp=when)``): the options keep today's
    implied vol per strike, so they lose time value only.
    """
    still = {inst.underlying: 0.0 for inst in book.instruments}
    return book.market.moved(still, 0.0, _option_vols(book)) if still else book.market


def _settled_usd(book: BookArrangement, columns: IntArray) -> FloatArray:
    """Shape ``(n_rows,)``: USD the legs ``columns`` settle for at each column's index.

    Column by column at the column's own prices (``book`` may be a book of moved rows, whose
    columns carry their multipliers): an option's intrinsic value per base unit (divided by
    the index for a coin-settled one) times its cash asset's USD price; a future's value
    there plus :func:`~pmargin.pricing.delta_one_pnl` from its forward to the index.
    """
    total = np.zeros(book.shape[0])
    if columns.size == 0:
        return total
    res = book.resolved
    index_quote = book.index_usd(columns) / res.quote_usd[columns]
    cash_usd = res.settlement_usd[columns]
    option = res.is_option[columns]
    sign = np.where(res.is_call[columns], 1.0, -1.0)
    strike = np.where(option, res.strike[columns], 0.0)
    payoff = np.maximum(sign * (index_quote - strike), 0.0)
    payoff = np.where(res.is_inverse[columns], payoff / index_quote, payoff)
    forward = res.underlying_price[columns]
    pnl = delta_one_pnl(index_quote, forward, res.is_inverse[columns])
    per_unit = np.where(option, payoff, pnl) * cash_usd
    quantity = sparse.csr_array(book.quantity)[:, columns]
    total += np.asarray(quantity @ per_unit, dtype=np.float64)
    futures = columns[~option]
    if futures.size:
        values = sparse.csr_array(book.position_values_usd())[:, futures]
        total += np.asarray(values.sum(axis=1), dtype=np.float64).reshape(-1)
    return total


def _expired(book: BookArrangement, when: datetime) -> BoolArray:
    """Shape ``(n_instruments,)``: the book's columns whose instrument has expired by ``when``."""
    return np.array(
        [inst.expiry is not None and inst.expiry <= when for inst in book.instruments],
        dtype=bool,
    )


def _equity_at(
    book: BookArrangement,
    moved: BookArrangement,
    pinned: MarketSnapshot,
    code: str,
    grid: FloatArray,
    when: datetime,
) -> FloatArray:
    """Shape ``(n_moves * n_accounts,)``: equity (USD) at ``when`` at every move, move-major.

    ``moved`` is ``book`` at every move (:meth:`~pmargin.book.BookArrangement.moved_rows`,
    row ``k`` the account ``k % n_accounts`` at move ``grid[k // n_accounts]``). At a later
    date the live legs are rolled to it first (``pinned``, :func:`_pinned`, at ``when``) and
    then moved, in one book of moved rows; the expired ones settle at each move's index
    (:func:`_settled_usd`).
    """
    if when <= book.market.timestamp:
        return account_equity(moved).equity
    live = np.flatnonzero(~_expired(book, when))
    kept = book.take_columns(live, book.assets)
    at_date = kept.rebased(pinned.replace(timestamp=when)) if live.size else kept
    rows, at_moves = _move_rows(len(book.account_ids), grid)
    equity: FloatArray = account_equity(at_date.moved_rows(rows, [code], at_moves)).equity
    return equity + _settled_usd(moved, np.flatnonzero(_expired(moved, when)))


def _move_rows(n_accounts: int, grid: FloatArray) -> tuple[IntArray, FloatArray]:
    """Rows and moves of the book at every move: shapes ``(n,)`` and ``(n, 1)``, move-major."""
    rows = np.tile(np.arange(n_accounts, dtype=np.int64), grid.size)
    return rows, np.repeat(grid, n_accounts)[:, np.newaxis]


def pnl_profile(
    book: BookArrangement, underlying: str, moves: ArrayLike, dates: Sequence[datetime]
) -> FloatArray:
    """Change of every account's equity from now over index moves of one underlying, per date.

    Every level at once: one book of moved rows (each account at each move,
    :meth:`~pmargin.book.BookArrangement.moved_rows`) per date, valued in one pass of the
    pricing kernel.

    Parameters
    ----------
    book
        The arranged book at the market of "now".
    underlying
        The underlying whose index moves (``"BTC"``).
    moves
        Relative moves of its index, shape ``(n_moves,)``, each finite and ``> -1``.
    dates
        Aware UTC datetimes, shape ``(n_dates,)``; one not after the market's timestamp is
        "now" (no time passes), a later one rolls the market (module docstring).

    Returns
    -------
    FloatArray
        Shape ``(n_dates, n_moves, n_accounts)``: equity at the date and level minus equity
        now, USD.

    Raises
    ------
    InputError
        Field ``moves`` or ``dates.N``; a market that cannot price the underlying.
    """
    code, grid = _checked(book.market, underlying, moves, dates)
    n = len(book.account_ids)
    now = account_equity(book).equity
    rows, at_moves = _move_rows(n, grid)
    moved = book.moved_rows(rows, [code], at_moves)
    pinned = _pinned(book) if any(when > book.market.timestamp for when in dates) else None
    out = np.empty((len(dates), grid.size, n))
    for d, when in enumerate(dates):
        equity = _equity_at(book, moved, pinned or book.market, code, grid, when)
        out[d] = equity.reshape(grid.size, n) - now
    return out


def _settlement_cash(position: Position, index_quote: float, entry: float) -> tuple[str, float]:
    """Cash asset and amount an expired position settles for at ``index_quote`` (closed forms).

    Options pay their intrinsic value; futures the P&L from their entry price: ``avg_price``
    when given, else ``entry`` (the price at "now", from which an arranged book counts the
    P&L of a position without one): ``q (S - a)`` quote (linear), ``n (1/a - 1/S)`` coin for
    an inverse one of USD notional ``n``.
    """
    inst = position.instrument
    q = base_quantity(position, index_quote)
    if inst.is_option:
        assert inst.strike is not None
        sign = 1.0 if inst.is_call else -1.0
        payoff = max(sign * (index_quote - inst.strike), 0.0)
        return inst.cash_asset, q * (payoff / index_quote if inst.is_inverse else payoff)
    a = entry if position.avg_price is None else position.avg_price
    if inst.is_inverse:
        notional = q * index_quote
        return inst.cash_asset, notional * (1.0 / a - 1.0 / index_quote)
    return inst.cash_asset, q * (index_quote - a)


def _with_entries(portfolio: Portfolio, entries: dict[Instrument, float]) -> Portfolio:
    """Futures without ``avg_price`` given the price of "now" as one (P&L counted from now)."""
    accounts = []
    for account in portfolio.accounts:
        positions = tuple(
            replace(p, avg_price=entries[p.instrument])
            if p.instrument.is_futures_style and p.avg_price is None
            else p
            for p in account.positions
        )
        accounts.append(replace(account, positions=positions))
    return Portfolio(tuple(accounts), portfolio.instruments)


def pnl_profile_reference(
    portfolio: Portfolio,
    market: MarketSnapshot,
    underlying: str,
    moves: ArrayLike,
    dates: Sequence[datetime],
) -> FloatArray:
    """:func:`pnl_profile` point by point, from the portfolio (the twin; tests only).

    Each point arranges the portfolio afresh at the moved market (implied vols of the options
    found at ``market`` and kept per strike), rolled to the date, with every leg expired by
    then removed and the cash it settles for (:func:`_settlement_cash`, from the positions'
    entry prices: futures need ``avg_price``) added to the account's balances.

    Returns
    -------
    FloatArray
        Shape ``(n_dates, n_moves, n_accounts)``, USD.
    """
    code, grid = _checked(market, underlying, moves, dates)
    start = arrange(portfolio, market)
    vols = _option_vols(start)
    entries = dict(zip(start.instruments, start.resolved.underlying_price.tolist(), strict=True))
    portfolio = _with_entries(portfolio, entries)
    now = account_equity(start).equity
    out = np.empty((len(dates), grid.size, len(portfolio.accounts)))
    for i, move in enumerate(grid.tolist()):
        moved = market.moved({code: move}, 0.0, vols)
        for d, when in enumerate(dates):
            if when <= market.timestamp:
                out[d, i] = account_equity(arrange(portfolio, moved)).equity - now
                continue
            accounts = []
            for account in portfolio.accounts:
                balances = dict(account.balances)
                kept = []
                for position in account.positions:
                    inst = position.instrument
                    if inst.expiry is None or inst.expiry > when:
                        kept.append(position)
                        continue
                    spot = moved.index_price(inst.underlying) / moved.usd_price(inst.quote)
                    asset, cash = _settlement_cash(position, spot, entries[inst])
                    balances[asset] = balances.get(asset, 0.0) + cash
                accounts.append(replace(account, balances=balances, positions=tuple(kept)))
            live = Portfolio(tuple(accounts), portfolio.instruments)
            rolled = moved.moved(
                {p.instrument.underlying: 0.0 for a in accounts for p in a.positions}, 0.0, vols
            ).replace(timestamp=when)
            out[d, i] = account_equity(arrange(live, rolled)).equity - now
    return out
