"""How each margin model's risk units map to underlyings (what an update must re-margin).

``"underlying"``: every risk unit holds the positions of one underlying (and, for X:PM, the
balance of that underlying's coin) and the account's IM and MM are the sum of its units in USD,
so a price change of one underlying re-margins only that underlying's units.
``"account"``: some unit or charge spans underlyings, so every update re-margins the whole
book.

==================  =========================================================  ============
model               risk unit                                                  scope
==================  =========================================================  ============
``standard``        (underlying, settlement currency), position by position    underlying
``deribit``         S:PM: (underlying, settlement currency), coin or USDC      underlying
``deribit-cross``   X:PM: underlying in USD, with that coin's balance          underlying
``okx``             underlying in USD                                          underlying
``derive-pmrm2``    per underlying plus an account unit ``"*"`` (collateral,   account
                    oracle contingency) over all of them
``tims``            class groups, offset within product groups that can span   account
                    underlyings
==================  =========================================================  ============

A model not listed (a user's own) is margined on the whole book. The monitor also checks, at
start, that an ``"underlying"`` model's per-underlying units add up to its whole-book totals,
and falls back to ``"account"`` when they do not.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["UNIT_SCOPE", "Scope", "unit_scope"]

Scope = Literal["underlying", "account"]

UNIT_SCOPE: dict[str, Scope] = {
    "standard": "underlying",
    "deribit": "underlying",
    "deribit-cross": "underlying",
    "okx": "underlying",
    "derive-pmrm2": "account",
    "tims": "account",
}
"""Model name -> how far a price change of one underlying reaches in its margin."""


def unit_scope(model_name: str) -> Scope:
    """Scope of ``model_name``'s units; ``"account"`` for a model not in :data:`UNIT_SCOPE`."""
    return UNIT_SCOPE.get(model_name, "account")
