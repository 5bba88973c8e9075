"""A model's margin joined with equity, health and position Greeks: ``pmargin margin``.

:func:`margin_report` margins a whole book with one model; :meth:`MarginReport.to_dict` gives
the ``pmargin margin --json`` document of DESIGN.md. Amounts are USD unless a risk unit says
otherwise; position quantities are in base units (coins, shares) and Greeks are raw (delta in
units of underlying, gamma per USD, vega USD per 1.00 vol, theta USD per year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pmargin.book import BookArrangement, Portfolio, arrange
from pmargin.collateral import AccountEquity, account_equity
from pmargin.engine._cluster import Cluster, cluster_session, margin_shards
from pmargin.engine._move import moved_book
from pmargin.errors import PmarginError
from pmargin.health import AccountHealth, LiquidationDistance, assess, liquidation_distance
from pmargin.history import PriceHistory, load_price_history
from pmargin.margin import MarginResult, get_model
from pmargin.market import MarketSnapshot
from pmargin.valuation import Valuation

__all__ = ["MarginReport", "finite_or_none", "margin_report", "margin_reports"]


@dataclass(frozen=True, slots=True)
class MarginReport:
    """One model's margin of a book with the equity and health it implies."""

    book: BookArrangement
    result: MarginResult
    equity: AccountEquity
    health: AccountHealth
    valuation: Valuation
    liquidation: LiquidationDistance | None = None

    def account(self, row: int, *, scenarios: bool = False) -> dict[str, Any]:
        """Return the JSON object of one account (DESIGN.md output contract).

        ``scenarios=True`` adds each risk unit's scenario P&L vector.
        """
        h = self.health
        return {
            "id": self.result.account_ids[row],
            "currency": self.result.currency,
            "equity": float(h.equity[row]),
            "initial_margin": float(h.initial_margin[row]),
            "maintenance_margin": float(h.maintenance_margin[row]),
            "available": float(h.available[row]),
            "im_utilization": finite_or_none(h.im_utilization[row]),
            "mm_utilization": finite_or_none(h.mm_utilization[row]),
            "status": str(h.status[row]),
            "risk_units": [
                u.to_dict(row, scenarios=scenarios) for u in self.result.risk_units if u.holds[row]
            ],
            "positions": self._positions(row),
        } | ({} if self.liquidation is None else {"liquidation": self.liquidation.to_dict(row)})

    def to_dict(self, *, scenarios: bool = False) -> dict[str, Any]:
        """Return the ``pmargin margin --json`` document (``--scenarios``: with P&L vectors).

        ``notes`` (only when the model has any): one-line notes of the model, such as which
        reading of Deribit's unpublished parts it used.
        """
        document: dict[str, Any] = {
            "model": self.result.model,
            "timestamp": self.result.timestamp.isoformat(),
            "accounts": [
                self.account(a, scenarios=scenarios) for a in range(self.result.n_accounts)
            ],
        }
        if self.result.notes:
            document["notes"] = list(self.result.notes)
        return document

    def _positions(self, row: int) -> list[dict[str, Any]]:
        quantity = self.book.quantity
        start, end = quantity.indptr[row], quantity.indptr[row + 1]
        contribution = self.result.contributions(row)
        value = sparse.csr_array(self.equity.position_value_usd)
        v = self.valuation
        rows = []
        for j, q in zip(quantity.indices[start:end], quantity.data[start:end], strict=True):
            symbol = self.book.instruments[int(j)].symbol
            rows.append(
                {
                    "instrument": symbol,
                    "quantity": float(q),
                    "unit": "base",
                    "value": float(value[row, int(j)]),
                    "delta": float(q * v.delta[j]),
                    "gamma": float(q * v.gamma[j]),
                    "vega": float(q * v.vega[j]),
                    "theta": float(q * v.theta[j]),
                    "im_contribution": contribution.get(symbol, 0.0),
                }
            )
        return rows


def finite_or_none(x: float) -> float | None:
    """JSON has no infinity: utilisation with no positive equity is ``null``."""
    return float(x) if math.isfinite(x) else None


def margin_report(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    model: str = "deribit",
    params: str | Path | None = None,
    *,
    liquidation: bool = False,
    cluster: Cluster | str | None = None,
    move: str | None = None,
) -> MarginReport:
    """Margin every account of a portfolio with one model and assess its health.

    Parameters
    ----------
    portfolio
        Accounts and positions, or a book already arranged at ``market`` (a portfolio table
        arranged by :func:`pmargin.book.arrange_table`).
    market
        The snapshot (the book is arranged at it, :func:`pmargin.book.arrange`).
    model
        A registered model name (``pmargin.margin.MODELS``).
    params
        Optional TOML parameter file replacing the model's shipped one.
    liquidation
        Also find each account's distance to liquidation (:func:`pmargin.health.
        liquidation_distance`, vols held; the joint direction from the price history when it is
        there, else equal moves).
    cluster
        A :class:`~pmargin.engine._cluster.Cluster` or ``--cluster`` text (``local:N``,
        ``tcp://host:8786``): see :func:`margin_reports`.
    move
        Re-margin the book after a market move (``"BTC=-0.1,vol=+0.2"``,
        :func:`pmargin.engine._move.moved_book`); ``None``: at ``market``.
    """
    return margin_reports(
        portfolio, market, [model], params, liquidation=liquidation, cluster=cluster, move=move
    )[model]


def margin_reports(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    models: list[str],
    params: str | Path | None = None,
    *,
    liquidation: bool = False,
    cluster: Cluster | str | None = None,
    move: str | None = None,
) -> dict[str, MarginReport]:
    """:func:`margin_report` for several models over one arrangement of the book.

    ``cluster``: a :class:`~pmargin.engine._cluster.Cluster` or ``--cluster`` text
    (``local:N``, ``tcp://host:8786``): the models margin the book's account shards there
    (:func:`~pmargin.engine._cluster.margin_shards`; the same numbers bit for bit); equity,
    health and the distance to liquidation stay here. ``move``: as :func:`margin_report`.
    """
    book = portfolio if isinstance(portfolio, BookArrangement) else arrange(portfolio, market)
    if move is not None:
        book = moved_book(book, move)
    equity = account_equity(book)
    valuation = book.valuation
    reports: dict[str, MarginReport] = {}
    history = _history_or_none() if liquidation else None
    built = {name: get_model(name, params) for name in models}
    with cluster_session(cluster) as tasks:
        sharded = {} if tasks is None else margin_shards(tasks, book, built, vectors=False)
    for name in models:
        model = built[name]
        result = sharded[name] if name in sharded else model.compute(book)
        if isinstance(result, PmarginError):
            raise result
        health = assess(
            equity.equity,
            np.asarray(result.initial_margin, dtype=np.float64),
            np.asarray(result.maintenance_margin, dtype=np.float64),
            account_ids=book.account_ids,
        )
        distance = liquidation_distance(model, book, history=history) if liquidation else None
        reports[name] = MarginReport(book, result, equity, health, valuation, distance)
    return reports


def _history_or_none() -> PriceHistory | None:
    """Load the shared price history for the joint direction; None (equal moves) without it."""
    try:
        return load_price_history()
    except PmarginError:
        return None
