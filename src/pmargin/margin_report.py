"""A model's margin joined with equity, health and position Greeks: what the CLI reports.

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

from pmargin.book import Portfolio
from pmargin.collateral import AccountEquity, account_equity
from pmargin.health import AccountHealth, assess
from pmargin.margin import MarginResult, get_model
from pmargin.market import MarketSnapshot
from pmargin.risk import BookArrangement, arrange
from pmargin.valuation import Valuation, value_instruments

__all__ = ["MarginReport", "margin_report", "margin_reports"]


@dataclass(frozen=True, slots=True)
class MarginReport:
    """One model's margin of a book with the equity and health it implies."""

    book: BookArrangement
    result: MarginResult
    equity: AccountEquity
    health: AccountHealth
    valuation: Valuation

    def account(self, row: int) -> dict[str, Any]:
        """Return the JSON object of one account (DESIGN.md output contract)."""
        h = self.health
        return {
            "id": self.result.account_ids[row],
            "currency": self.result.currency,
            "equity": float(h.equity[row]),
            "initial_margin": float(h.initial_margin[row]),
            "maintenance_margin": float(h.maintenance_margin[row]),
            "available": float(h.available[row]),
            "im_utilization": _finite(h.im_utilization[row]),
            "mm_utilization": _finite(h.mm_utilization[row]),
            "status": str(h.status[row]),
            "risk_units": [u.to_dict(row) for u in self.result.risk_units if u.holds[row]],
            "positions": self._positions(row),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin margin --json`` document."""
        return {
            "model": self.result.model,
            "timestamp": self.result.timestamp.isoformat(),
            "accounts": [self.account(a) for a in range(self.result.n_accounts)],
        }

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


def _finite(x: float) -> float | None:
    """JSON has no infinity: utilisation with no positive equity is ``null``."""
    return float(x) if math.isfinite(x) else None


def margin_report(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    model: str = "deribit",
    params: str | Path | None = None,
) -> MarginReport:
    """Margin every account of a portfolio with one model and assess its health.

    Parameters
    ----------
    portfolio
        Accounts and positions, or a book already arranged against ``market``.
    market
        The snapshot.
    model
        A registered model name (``pmargin.margin.MODELS``).
    params
        Optional TOML parameter file replacing the model's shipped one.
    """
    return margin_reports(portfolio, market, [model], params)[model]


def margin_reports(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    models: list[str],
    params: str | Path | None = None,
) -> dict[str, MarginReport]:
    """:func:`margin_report` for several models over one arrangement of the book."""
    book = portfolio if isinstance(portfolio, BookArrangement) else arrange(portfolio, market)
    equity = account_equity(book, market)
    valuation = value_instruments(book.resolved)
    reports: dict[str, MarginReport] = {}
    for name in models:
        result = get_model(name, params).compute(book, market)
        health = assess(
            equity.equity,
            np.asarray(result.initial_margin, dtype=np.float64),
            np.asarray(result.maintenance_margin, dtype=np.float64),
        )
        reports[name] = MarginReport(book, result, equity, health, valuation)
    return reports
