"""The health requirements: which margin an account's equity must cover, for what.

One enum names the three requirements and one function gives the equity each asks for, so the
status rule, the pre-trade acceptance, the liquidation trigger and the liquidation target all
read the same numbers (Mango's ``HealthType``: one switch decides which weights apply):

=====================  ===============================  =========================================
requirement            equity required (USD)            read by
=====================  ===============================  =========================================
``INITIAL``            ``IM``                           status ``reduce_only``, pre-trade accept
``MAINTENANCE``        ``MM``                           status ``liquidation``, liquidation start
``LIQUIDATION_END``    ``factor x IM`` or ``factor x``  where liquidation stops (its target)
                       ``MM`` (:class:`LiquidationEnd`)
=====================  ===============================  =========================================

An account *covers* a requirement when ``equity >= required_equity(...)``; equity exactly at
the requirement covers it. The liquidation end's margin and factor are data: the liquidation
engine reads them from its parameter file (``liquidation.toml``, ``[target]``: a buffer above
MM, ``factor = 1 + buffer``, or back to IM, ``factor = 1``) and passes them here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from pmargin._typing import FloatArray
from pmargin.errors import InputError

__all__ = ["LiquidationEnd", "Requirement", "required_equity"]


class Requirement(StrEnum):
    """Which margin an account's equity is held against.

    ``initial``: to open risk (IM). ``maintenance``: to keep positions open (MM).
    ``liquidation_end``: where a liquidation stops (a :class:`LiquidationEnd` rule).
    """

    INITIAL = "initial"
    MAINTENANCE = "maintenance"
    LIQUIDATION_END = "liquidation_end"


@dataclass(frozen=True, slots=True)
class LiquidationEnd:
    """Where liquidation stops: ``factor x`` the margin of ``basis``.

    Attributes
    ----------
    basis
        :attr:`Requirement.INITIAL` (back above IM) or :attr:`Requirement.MAINTENANCE` (a
        buffer above MM).
    factor
        Finite multiplier >= 1 on that margin (``1 + buffer``; 1.15 is Derive's buffer margin).

    Raises
    ------
    InputError
        A basis other than initial or maintenance, or a factor below 1 or not finite.
    """

    basis: Requirement
    factor: float

    def __post_init__(self) -> None:
        if self.basis not in (Requirement.INITIAL, Requirement.MAINTENANCE):
            raise InputError(
                "liquidation end basis", str(self.basis), "must be initial|maintenance"
            )
        if not math.isfinite(self.factor) or self.factor < 1.0:
            raise InputError("liquidation end factor", self.factor, "must be a finite number >= 1")


Margin = TypeVar("Margin", float, FloatArray)
"""A scalar (one account) or an array of shape ``(n_accounts,)`` (every account)."""


def required_equity(
    requirement: Requirement,
    initial_margin: Margin,
    maintenance_margin: Margin,
    end: LiquidationEnd | None = None,
) -> Margin:
    """Equity (USD) an account must hold to cover ``requirement``.

    Parameters
    ----------
    requirement
        Which requirement.
    initial_margin, maintenance_margin
        USD, >= 0: floats for one account or arrays of shape ``(n_accounts,)``.
    end
        The liquidation end rule; needed for (and only read by)
        :attr:`Requirement.LIQUIDATION_END`.

    Returns
    -------
    float or FloatArray
        ``IM`` (initial), ``MM`` (maintenance), ``end.factor x`` the margin of ``end.basis``
        (liquidation end); same shape as the margins.

    Raises
    ------
    InputError
        :attr:`Requirement.LIQUIDATION_END` without ``end``.
    """
    if requirement is Requirement.INITIAL:
        return initial_margin
    if requirement is Requirement.MAINTENANCE:
        return maintenance_margin
    if end is None:
        raise InputError("end", None, "is required for the liquidation_end requirement")
    basis = required_equity(end.basis, initial_margin, maintenance_margin)
    required: Margin = basis * end.factor
    return required
