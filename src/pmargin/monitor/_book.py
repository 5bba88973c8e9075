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
new market. The rule is the arranged book's own (:meth:`pmargin.book.BookArrangement.rebased`);
it applies to any block of columns, so the monitor's cached blocks and the whole book that
:func:`full_recompute` margins share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.health import STATUS_ORDER, margin_book, status_codes
from pmargin.margin import MarginModel, MarginResult

__all__ = [
    "STATUS_ORDER",
    "FullState",
    "full_recompute",
    "status_codes",
]


@dataclass(frozen=True, slots=True)
class FullState:
    """Every account's health recomputed from scratch (the monitor's reference).

    Attributes
    ----------
    book
        The rebased book (:meth:`~pmargin.book.BookArrangement.rebased`) at ``market``.
    margin
        ``model.compute(book)``.
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


def full_recompute(model: MarginModel, book: BookArrangement) -> FullState:
    """Value equity and margin every account of ``book`` from scratch, at its market.

    The monitor's reference: ``book`` is its start book rebased to the market in force
    (``start.rebased(market)``: every instrument resolved again).

    Parameters
    ----------
    model
        Any margin model.
    book
        The rebased book (:meth:`~pmargin.book.BookArrangement.rebased`).

    Raises
    ------
    InputError, MarketDataError
        From the model, naming the field at fault.
    """
    whole = margin_book(model, book)
    margin = whole.result
    return FullState(
        book=book,
        margin=margin,
        equity=whole.equity,
        initial_margin=margin.initial_margin,
        maintenance_margin=margin.maintenance_margin,
        status=whole.health().status,
    )
