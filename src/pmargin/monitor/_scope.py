"""How far a price change of one underlying reaches in a model's margin (what to re-margin).

The model declares it (``model.capabilities.scope``, :class:`~pmargin.margin.Capabilities`):
``"underlying"`` when every risk unit holds one underlying's positions and the account's IM and
MM are the sum of its units in USD, so a price change of one underlying re-margins only that
underlying's units (``standard``, ``deribit``, ``deribit-cross``, ``okx``); ``"account"`` when
some unit or charge spans underlyings, so every update re-margins the whole book
(``derive-pmrm2``, ``tims``, ``pmargin-es``/``-var``/``-mc``). The monitor also checks, at
start, that an ``"underlying"`` model's per-underlying units add up to its whole-book totals,
and falls back to ``"account"`` when they do not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pmargin._typing import FloatArray
from pmargin.book import BookArrangement
from pmargin.margin import MarginModel, Scope

__all__ = ["Scope", "Totals", "margin_totals", "totals_plan", "unit_scope"]

Totals = Callable[[BookArrangement], tuple[FloatArray, FloatArray]]
"""A book -> its accounts' ``(initial_margin, maintenance_margin)``, USD, ``(n_accounts,)``."""


def unit_scope(model: MarginModel) -> Scope:
    """Scope of ``model``'s risk units, as the model declares it (``capabilities.scope``)."""
    return model.capabilities.scope


def margin_totals(model: MarginModel, book: BookArrangement) -> tuple[FloatArray, FloatArray]:
    """Return every account's IM and MM (USD) of ``book``: ``model.compute(book)``'s totals.

    A tick needs the totals only (not the attribution, the risk units' vectors or the result's
    assembly): a model that can give them alone has a ``margin_totals(book)`` method
    (``deribit``, ``okx``: the same bits as ``compute``, tested), used here; any other model is
    run in full.

    Returns
    -------
    tuple
        ``(initial_margin, maintenance_margin)``, each of shape ``(n_accounts,)``, USD.
    """
    totals: Callable[[BookArrangement], tuple[FloatArray, FloatArray]] | None = getattr(
        model, "margin_totals", None
    )
    if totals is not None:
        return totals(book)
    result = model.compute(book)
    return result.initial_margin, result.maintenance_margin


def totals_plan(model: MarginModel, book: BookArrangement) -> Totals:
    """Return a callable giving :func:`margin_totals` of books of ``book``'s structure.

    A monitor's block keeps its accounts and instruments and moves its prices: a model with a
    ``totals_plan(book)`` method (``deribit`` S:PM, ``okx``) keeps its per-book set-up
    (units, scenario grids, the compiled pass's layout) between ticks, with the same bits as
    its ``margin_totals``; for any other model the callable is :func:`margin_totals`.
    """
    plan: Callable[[BookArrangement], Totals] | None = getattr(model, "totals_plan", None)
    if plan is not None:
        return plan(book)
    return functools.partial(margin_totals, model)
