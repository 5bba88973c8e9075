"""Several models side by side over one book: ``pmargin compare`` and the demo's table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from pmargin._typing import FloatArray
from pmargin.book import Account, BookArrangement, Portfolio, arrange
from pmargin.engine._cluster import Cluster, cluster_session, margin_shards
from pmargin.engine._margin import MarginReport, finite_or_none
from pmargin.errors import PmarginError
from pmargin.instruments import Instrument
from pmargin.margin import MarginModel, MarginResult, get_model
from pmargin.market import MarketSnapshot

__all__ = ["ModelComparison", "compare_margins", "supported_accounts"]


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
                    "initial_margin": {
                        n: finite_or_none(v[a]) for n, v in self.initial_margin.items()
                    },
                    "maintenance_margin": {
                        n: finite_or_none(v[a]) for n, v in self.maintenance_margin.items()
                    },
                    "errors": {n: e[account_id] for n, e in self.errors.items() if account_id in e},
                }
            )
        document: dict[str, Any] = {"accounts": rows}
        if self.notes:
            document["notes"] = {n: list(v) for n, v in self.notes.items()}
        return document


def compare_margins(
    portfolio: Portfolio,
    market: MarketSnapshot,
    models: list[str],
    *,
    cluster: Cluster | str | None = None,
) -> ModelComparison:
    """Margin every account under each model; accounts a model cannot margin get NaN.

    Each model margins the whole book at once; only where that fails on input a model cannot
    take (:class:`~pmargin.errors.PmarginError`: Derive's PMRM_2 and a coin-settled option, say)
    does it margin the accounts one by one, recording each failing account's reason.
    ``cluster`` (a :class:`~pmargin.engine._cluster.Cluster` or ``--cluster`` text): the book's
    account blocks, and the accounts one by one, are margined there (same numbers, bit for
    bit).
    """
    book = arrange(portfolio, market)
    n = len(book.account_ids)
    im: dict[str, FloatArray] = {}
    mm: dict[str, FloatArray] = {}
    errors: dict[str, dict[str, str]] = {}
    notes: dict[str, tuple[str, ...]] = {}
    built = {name: get_model(name) for name in models}
    with cluster_session(cluster) as tasks:
        sharded = {} if tasks is None else margin_shards(tasks, book, built, vectors=False)
        for name in models:
            model = built[name]
            errors[name] = {}
            result = sharded[name] if name in sharded else _compute_or_error(book, model)
            if isinstance(result, PmarginError):
                found: dict[str, None] = {}
                im[name], mm[name] = np.full(n, np.nan), np.full(n, np.nan)
                accounts = portfolio.accounts
                args = (portfolio.instruments, market, model)
                alone = (
                    [_margin_alone(a, *args) for a in accounts]
                    if tasks is None
                    else tasks.map(_margin_alone, accounts, *args)
                )
                for a, (account, single) in enumerate(zip(accounts, alone, strict=True)):
                    if isinstance(single, str):
                        errors[name][account.id] = single
                        continue
                    im[name][a], mm[name][a], account_notes = single
                    found.update(dict.fromkeys(account_notes))
                if found:
                    notes[name] = tuple(found)
                continue
            im[name], mm[name] = result.initial_margin, result.maintenance_margin
            if result.notes:
                notes[name] = result.notes
    return ModelComparison(book.account_ids, im, mm, errors, notes)


def _compute_or_error(book: BookArrangement, model: MarginModel) -> MarginResult | PmarginError:
    """``model.compute(book)``, or the :class:`PmarginError` it raised."""
    try:
        return model.compute(book)
    except PmarginError as exc:
        return exc


def _margin_alone(
    account: Account,
    instruments: Mapping[str, Instrument],
    market: MarketSnapshot,
    model: MarginModel,
) -> tuple[float, float, tuple[str, ...]] | str:
    """IM and MM (USD) and notes of one account margined alone, or the one-line reason not."""
    try:
        single = model.compute(arrange(Portfolio((account,), instruments), market))
    except PmarginError as exc:
        return " ".join(str(exc).split())
    return float(single.initial_margin[0]), float(single.maintenance_margin[0]), single.notes


@overload
def supported_accounts(portfolio: Portfolio, model: str) -> Portfolio: ...


@overload
def supported_accounts(portfolio: BookArrangement, model: str) -> BookArrangement: ...


def supported_accounts(
    portfolio: Portfolio | BookArrangement, model: str
) -> Portfolio | BookArrangement:
    """Keep the accounts with positions whose every instrument ``model`` can margin.

    What a model can margin is its declared scope (:attr:`pmargin.margin.MarginModel.
    capabilities`); the demo compares the linear models on the accounts Derive's PMRM_2 takes.
    An arranged book gives an arranged book (its rows kept in order).
    """
    capabilities = get_model(model).capabilities
    if isinstance(portfolio, BookArrangement):
        held = np.asarray(abs(portfolio.quantity).sum(axis=1)).reshape(-1) > 0.0
        keep = np.flatnonzero(capabilities.supported_accounts(portfolio) & held)
        return portfolio.take_accounts(keep)
    return Portfolio(
        tuple(
            a
            for a in portfolio.accounts
            if a.positions and all(capabilities.supports(p.instrument) for p in a.positions)
        )
    )
