"""The facade of the real-time monitor for documents (the service's market ticks).

The service holds accounts and the market as documents; these functions start a
:class:`pmargin.monitor.Monitor` over them, move it to a new book after fills (the feed state,
breakers included, carries over), turn a feed tick into a :class:`~pmargin.monitor.
MarketUpdate` and give the market in force back as a market-file document. No maths here.

A server keeps its accounts parsed across requests in a :class:`KeptBook`: a fill, deposit or
withdrawal re-parses only the accounts it changed (:meth:`KeptBook.put`), and
:func:`monitor_of_kept` / :func:`monitor_with_kept` start or move the monitor over the kept
accounts: the same book as parsing every stored account again (:func:`start_monitor`,
:func:`monitor_rebooked`, the twins), without reading or parsing the others.
:func:`monitor_with_accounts` arranges only the changed accounts and puts their rows in the
monitor's book (:meth:`~pmargin.book.BookArrangement.with_account`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pmargin._typing import FloatArray
from pmargin.book import Account, Portfolio, arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.market import market_from_dict, market_to_dict
from pmargin.monitor import BreakerConfig, MarketUpdate, MarkTick, Monitor

__all__ = [
    "BookStatusChange",
    "KeptBook",
    "MarginFigures",
    "book_status_changes",
    "changed_figures",
    "changed_figures_reference",
    "margin_figures",
    "market_document_of",
    "monitor_of_kept",
    "monitor_rebooked",
    "monitor_with_accounts",
    "monitor_with_kept",
    "start_monitor",
    "tick_update",
]


def start_monitor(
    portfolio: Mapping[str, Any],
    market: Mapping[str, Any],
    model: str,
    breakers: BreakerConfig | None = None,
) -> Monitor:
    """Start a monitor of a portfolio document at a market document with the named model.

    ``breakers``: the circuit-breaker limits (``None``: the shipped ``circuit_breakers.toml``).

    Raises
    ------
    InputError
        A bad document, an unknown model.
    """
    return _started(portfolio_from_dict(portfolio), market, model, breakers)


def _started(
    book: Portfolio, market: Mapping[str, Any], model: str, breakers: BreakerConfig | None
) -> Monitor:
    snapshot = market_from_dict(market, book.instruments)
    return Monitor(get_model(model), arrange(book, snapshot), breakers=breakers)


def monitor_rebooked(monitor: Monitor, portfolio: Mapping[str, Any]) -> Monitor:
    """Return ``monitor`` over a new portfolio document at its market (breaker state kept)."""
    book = portfolio_from_dict(portfolio)
    return monitor.with_book(arrange(book, monitor.market))


class KeptBook:
    """A server's accounts, parsed once and kept by id across requests.

    The service reads every stored account once (at start-up), then only the accounts a
    request changed; :meth:`portfolio` is every kept account in id order, the order of the
    store's whole-book read, so the arranged book (columns by first appearance) is the one the
    whole read gives.

    Parameters
    ----------
    documents
        Account documents in the portfolio-file form (``{"id", "balances", "positions"}``).

    Raises
    ------
    InputError
        A bad document (field path as :func:`pmargin.book.portfolio_from_dict` names it).
    """

    def __init__(self, documents: Iterable[Mapping[str, Any]] = ()) -> None:
        self._accounts: dict[str, Account] = {}
        self._portfolio: Portfolio | None = None
        self.put(documents)

    def put(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Parse ``documents`` (accounts new or changed) and keep them in place of the old."""
        given = list(documents)
        if not given:
            return
        for account in portfolio_from_dict({"accounts": given}).accounts:
            self._accounts[account.id] = account
        self._portfolio = None

    def __len__(self) -> int:
        """Return how many accounts are kept."""
        return len(self._accounts)

    def portfolio(self, account_ids: Iterable[str] | None = None) -> Portfolio:
        """Return every kept account in id order, or those of ``account_ids`` (in that order).

        An unknown id is a ``KeyError`` (the caller asks for accounts it put).
        """
        if account_ids is not None:
            return _portfolio_of(tuple(self._accounts[a] for a in account_ids))
        if self._portfolio is None:
            self._portfolio = _portfolio_of(
                tuple(self._accounts[a] for a in sorted(self._accounts))
            )
        return self._portfolio


def _portfolio_of(accounts: tuple[Account, ...]) -> Portfolio:
    held = {p.instrument.symbol: p.instrument for a in accounts for p in a.positions}
    return Portfolio(accounts=accounts, instruments=held)


def monitor_of_kept(
    book: KeptBook, market: Mapping[str, Any], model: str, breakers: BreakerConfig | None = None
) -> Monitor:
    """:func:`start_monitor` of the kept accounts (the same monitor as their documents')."""
    return _started(book.portfolio(), market, model, breakers)


def monitor_with_kept(monitor: Monitor, book: KeptBook) -> Monitor:
    """:func:`monitor_rebooked` to the kept accounts (the same monitor as their documents')."""
    return monitor.with_book(arrange(book.portfolio(), monitor.market))


FEW_CHANGED = 200
"""Most changed accounts :func:`monitor_with_accounts` puts in the book one by one; beyond,
the whole book is arranged again (each row put copies the book's arrays)."""


def monitor_with_accounts(monitor: Monitor, book: KeptBook, changed: Collection[str]) -> Monitor:
    """:func:`monitor_with_kept` when only the accounts ``changed`` differ from the monitor's.

    The changed accounts are arranged alone at the market of the monitor's book
    (:attr:`Monitor.book`), their rows put in its place
    (:meth:`~pmargin.book.BookArrangement.with_account`: the other rows shared, not
    converted again) and the monitor moved to it (``with_book`` rebases it to the market in
    force: what arranging afresh there gives, to rounding). An account or an instrument new to
    the monitor's book, or more than :data:`FEW_CHANGED` accounts, arrange every kept account
    (:func:`monitor_with_kept`).
    """
    start = monitor.book
    rows = {a: r for r, a in enumerate(start.account_ids)}
    ids = sorted(changed)
    if not ids or len(ids) > FEW_CHANGED or any(a not in rows for a in ids):
        return monitor_with_kept(monitor, book)
    portfolio = book.portfolio(ids)
    columns = [start.column(i.symbol) for i in portfolio.unique_instruments()]
    if any(j is None for j in columns):
        return monitor_with_kept(monitor, book)
    alone = arrange(portfolio, start.market)
    to_start = np.asarray(columns, dtype=np.int64)
    quantity, unrealised = alone.quantity, alone.unrealised
    for k, account in enumerate(portfolio.accounts):
        where = slice(quantity.indptr[k], quantity.indptr[k + 1])
        held = to_start[quantity.indices[where]].tolist()
        pnl = unrealised[[k]].tocoo()
        start = start.with_account(
            rows[account.id],
            positions=dict(zip(held, quantity.data[where].tolist(), strict=True)),
            unrealised=dict(zip(to_start[pnl.col].tolist(), pnl.data.tolist(), strict=True)),
            balances=dict(account.balances),
        )
    return monitor.with_book(start)


@dataclass(frozen=True, slots=True)
class BookStatusChange:
    """An account's status changed by a change of the book (not of the market).

    Attributes
    ----------
    monitor
        The monitor after the change.
    account_id, old
        The account and its status before.
    """

    monitor: Monitor
    account_id: str
    old: str

    def to_dict(self) -> dict[str, Any]:
        """Return the event as :class:`pmargin.monitor.StatusChange` writes it, ``cause: book``."""
        snapshot = self.monitor.snapshot(self.account_id)
        return {
            "event": "status_change",
            "cause": "book",
            "timestamp": self.monitor.now.isoformat(),
            "account": self.account_id,
            "old": self.old,
            "new": self.monitor.status_of(self.account_id).value,
            "equity": snapshot.equity,
            "initial_margin": snapshot.initial_margin,
            "maintenance_margin": snapshot.maintenance_margin,
            "paused_underlyings": sorted(self.monitor.paused_underlyings),
        }


def book_status_changes(before: Monitor, after: Monitor) -> list[BookStatusChange]:
    """Return the accounts whose status differs between two monitors of one market.

    An account new in ``after`` counts as healthy before (an empty account is).
    """
    old = {a: s.value for a, s in zip(before.account_ids, before.status, strict=True)}
    return [
        BookStatusChange(after, a, old.get(a, "healthy"))
        for a, s in zip(after.account_ids, after.status, strict=True)
        if s.value != old.get(a, "healthy")
    ]


def market_document_of(monitor: Monitor) -> dict[str, Any]:
    """Return the monitor's market in force in the market-file form."""
    return market_to_dict(monitor.market)


def tick_update(tick: Mapping[str, Any]) -> MarketUpdate:
    """Turn one feed tick into a market update.

    Parameters
    ----------
    tick
        ``{"underlying", "index" and/or "vol_shift", "timestamp"}`` (USD index price; a shift
        of the underlying's at-the-money vol, decimal, as :class:`~pmargin.monitor.
        MarketUpdate`'s ``vol_shift``) or ``{"instrument", "mark" | "iv", "timestamp"}`` (a
        mark price in the instrument's price currency, or an implied vol, decimal).

    Raises
    ------
    InputError
        Neither or both of underlying and instrument, a missing price (field ``tick``).
    """
    timestamp: Any = tick.get("timestamp")  # checked by MarketUpdate (field update.timestamp)
    code = tick.get("underlying")
    if code is not None and (tick.get("index") is not None or tick.get("vol_shift") is not None):
        index = {} if tick.get("index") is None else {code: tick["index"]}
        shift = {} if tick.get("vol_shift") is None else {code: tick["vol_shift"]}
        return MarketUpdate(timestamp, index=index, vol_shift=shift)
    if tick.get("instrument") is not None:
        symbol = str(tick["instrument"])
        if tick.get("mark") is not None:
            return MarketUpdate(timestamp, marks={symbol: MarkTick(price=tick["mark"])})
        if tick.get("iv") is not None:
            return MarketUpdate(timestamp, marks={symbol: MarkTick(iv=tick["iv"])})
    raise InputError(
        "tick",
        dict(tick),
        "needs underlying with index or vol_shift, or instrument with mark or iv",
    )


@dataclass(frozen=True, slots=True)
class MarginFigures:
    """Every account's equity, IM and MM at one moment of a monitor.

    Attributes
    ----------
    account_ids
        Row order.
    values
        Shape ``(3, n_accounts)``: equity, IM, MM (USD).
    """

    account_ids: tuple[str, ...]
    values: FloatArray


def margin_figures(monitor: Monitor) -> MarginFigures:
    """Return the monitor's figures now (copies)."""
    values = np.stack([monitor.equity, monitor.initial_margin, monitor.maintenance_margin])
    return MarginFigures(monitor.account_ids, values)


def changed_figures(before: MarginFigures, monitor: Monitor) -> dict[str, list[Any]]:
    """Return ``{account: [equity, IM, MM, status]}`` of the accounts whose figures changed.

    An account absent from ``before`` counts as changed. Figures in USD, status its value.
    """
    after = margin_figures(monitor)
    ids = after.account_ids
    if before.account_ids == ids:
        old = before.values
    else:
        row = {a: j for j, a in enumerate(before.account_ids)}
        old = np.full_like(after.values, np.nan)
        for i, a in enumerate(ids):
            if a in row:
                old[:, i] = before.values[:, row[a]]
    changed = np.flatnonzero((old != after.values).any(axis=0))
    if changed.size == 0:
        return {}
    status = monitor.status
    equity, im, mm = after.values[:, changed].tolist()
    return {
        ids[i]: [e, a, m, status[i].value]
        for i, e, a, m in zip(changed.tolist(), equity, im, mm, strict=True)
    }


def changed_figures_reference(before: MarginFigures, monitor: Monitor) -> dict[str, list[Any]]:
    """:func:`changed_figures` account by account (the twin: equal)."""
    old = {
        a: tuple(float(x) for x in before.values[:, j]) for j, a in enumerate(before.account_ids)
    }
    found: dict[str, list[Any]] = {}
    for account in monitor.account_ids:
        m = monitor.snapshot(account)
        now = (m.equity, m.initial_margin, m.maintenance_margin)
        if old.get(account) != now:
            found[account] = [*now, monitor.status_of(account).value]
    return found
