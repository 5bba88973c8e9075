"""A model's margin joined with equity, health and position Greeks: what the CLI reports.

:func:`margin_report` margins a whole book with one model; :meth:`MarginReport.to_dict` gives
the ``pmargin margin --json`` document of DESIGN.md. Amounts are USD unless a risk unit says
otherwise; position quantities are in base units (coins, shares) and Greeks are raw (delta in
units of underlying, gamma per USD, vega USD per 1.00 vol, theta USD per year).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from pmargin._typing import FloatArray
from pmargin.book import Portfolio
from pmargin.collateral import AccountEquity, account_equity
from pmargin.errors import PmarginError
from pmargin.health import AccountHealth, LiquidationDistance, assess, liquidation_distance
from pmargin.history import PriceHistory, load_price_history
from pmargin.margin import MarginResult, get_model
from pmargin.market import MarketSnapshot
from pmargin.risk import BookArrangement, arrange
from pmargin.valuation import Valuation, value_instruments

__all__ = ["MarginReport", "ModelComparison", "compare_margins", "margin_report", "margin_reports"]


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
            "im_utilization": _finite(h.im_utilization[row]),
            "mm_utilization": _finite(h.mm_utilization[row]),
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


def _finite(x: float) -> float | None:
    """JSON has no infinity: utilisation with no positive equity is ``null``."""
    return float(x) if math.isfinite(x) else None


def margin_report(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    model: str = "deribit",
    params: str | Path | None = None,
    *,
    liquidation: bool = False,
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
    liquidation
        Also find each account's distance to liquidation (:func:`pmargin.health.
        liquidation_distance`, vols held; the joint direction from the price history when it is
        there, else equal moves).
    """
    return margin_reports(portfolio, market, [model], params, liquidation=liquidation)[model]


def margin_reports(
    portfolio: Portfolio | BookArrangement,
    market: MarketSnapshot,
    models: list[str],
    params: str | Path | None = None,
    *,
    liquidation: bool = False,
) -> dict[str, MarginReport]:
    """:func:`margin_report` for several models over one arrangement of the book."""
    book = portfolio if isinstance(portfolio, BookArrangement) else arrange(portfolio, market)
    equity = account_equity(book, market)
    valuation = value_instruments(book.resolved)
    reports: dict[str, MarginReport] = {}
    history = _history_or_none() if liquidation else None
    for name in models:
        model = get_model(name, params)
        result = model.compute(book, market)
        health = assess(
            equity.equity,
            np.asarray(result.initial_margin, dtype=np.float64),
            np.asarray(result.maintenance_margin, dtype=np.float64),
            account_ids=book.account_ids,
        )
        distance = (
            liquidation_distance(book, market, model, history=history) if liquidation else None
        )
        reports[name] = MarginReport(book, result, equity, health, valuation, distance)
    return reports


def _history_or_none() -> PriceHistory | None:
    """Load the shared price history for the joint direction; None (equal moves) without it."""
    try:
        return load_price_history()
    except PmarginError:
        return None


@dataclass(frozen=True, slots=True)
class ModelComparison:
    """IM and MM of every account under several models, side by side (USD).

    Attributes
    ----------
    account_ids
        Row order.
    initial_margin, maintenance_margin
        Model -> shape ``(n_accounts,)``; NaN where the model cannot margin the account (a
        product it does not list, an underlying without parameters).
    errors
        Model -> account id -> the one-line reason, for the NaN entries.
    notes
        Model -> its one-line notes (:attr:`MarginResult.notes`; Deribit: the reading of its
        unpublished parts), only for models that have any.
    """

    account_ids: tuple[str, ...]
    initial_margin: dict[str, FloatArray]
    maintenance_margin: dict[str, FloatArray]
    errors: dict[str, dict[str, str]]
    notes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_reports(cls, reports: dict[str, MarginReport]) -> ModelComparison:
        """Build the comparison of reports computed over one book."""
        first = next(iter(reports.values())).result
        return cls(
            account_ids=first.account_ids,
            initial_margin={n: r.result.initial_margin for n, r in reports.items()},
            maintenance_margin={n: r.result.maintenance_margin for n, r in reports.items()},
            errors={n: {} for n in reports},
            notes={n: r.result.notes for n, r in reports.items() if r.result.notes},
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the ``pmargin compare --json`` document's ``accounts`` list."""
        rows = []
        for a, account_id in enumerate(self.account_ids):
            rows.append(
                {
                    "id": account_id,
                    "initial_margin": {n: _finite(v[a]) for n, v in self.initial_margin.items()},
                    "maintenance_margin": {
                        n: _finite(v[a]) for n, v in self.maintenance_margin.items()
                    },
                    "errors": {n: e[account_id] for n, e in self.errors.items() if account_id in e},
                }
            )
        document: dict[str, Any] = {"accounts": rows}
        if self.notes:
            document["notes"] = {n: list(v) for n, v in self.notes.items()}
        return document


def compare_margins(
    portfolio: Portfolio, market: MarketSnapshot, models: list[str]
) -> ModelComparison:
    """Margin every account under each model; accounts a model cannot margin get NaN.

    Each model margins the whole book at once; only where that fails on input a model cannot
    take (:class:`~pmargin.errors.PmarginError`: Derive's PMRM_2 and a coin-settled option, say)
    does it margin the accounts one by one, recording each failing account's reason.
    """
    book = arrange(portfolio, market)
    n = len(book.account_ids)
    im: dict[str, FloatArray] = {}
    mm: dict[str, FloatArray] = {}
    errors: dict[str, dict[str, str]] = {}
    notes: dict[str, tuple[str, ...]] = {}
    for name in models:
        model = get_model(name)
        errors[name] = {}
        try:
            result = model.compute(book, market)
        except PmarginError:
            found: dict[str, None] = {}
            im[name], mm[name] = np.full(n, np.nan), np.full(n, np.nan)
            for a, account in enumerate(portfolio.accounts):
                alone = Portfolio((account,), portfolio.instruments)
                try:
                    single = model.compute(arrange(alone, market), market)
                except PmarginError as exc:
                    errors[name][account.id] = " ".join(str(exc).split())
                    continue
                im[name][a] = single.initial_margin[0]
                mm[name][a] = single.maintenance_margin[0]
                found.update(dict.fromkeys(single.notes))
            if found:
                notes[name] = tuple(found)
            continue
        im[name], mm[name] = result.initial_margin, result.maintenance_margin
        if result.notes:
            notes[name] = result.notes
    return ModelComparison(book.account_ids, im, mm, errors, notes)
