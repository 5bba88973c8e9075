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

from pmargin.margin import MarginModel, Scope

__all__ = ["Scope", "unit_scope"]


def unit_scope(model: MarginModel) -> Scope:
    """Scope of ``model``'s risk units, as the model declares it (``capabilities.scope``)."""
    return model.capabilities.scope
