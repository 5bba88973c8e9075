"""One risk-matrix scenario: a relative spot move, a vol shock direction and a weight."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pmargin.errors import InputError
from pmargin.scenarios._checks import as_enum, as_float

__all__ = ["RiskMatrixScenario", "VolShockKind"]


class VolShockKind(StrEnum):
    """Direction of a scenario's volatility shock (see :class:`~pmargin.scenarios.VolShockRule`)."""

    DOWN = "down"
    NONE = "none"
    UP = "up"


@dataclass(frozen=True, slots=True)
class RiskMatrixScenario:
    """One column of a risk matrix.

    Attributes
    ----------
    spot_move
        Relative move of the underlying price (decimal): ``-0.16`` is a 16% fall. The price
        (spot, forward, perpetual mark) is multiplied by ``1 + spot_move``; must be > -1.
    vol_shock
        ``"up"``, ``"down"`` or ``"none"`` (a :class:`VolShockKind`; strings are coerced). The
        size of the shock per option comes from the scenario set's ``VolShockRule``.
    weight
        Dampening factor in (0, 1] that multiplies the scenario's P&L (Deribit's extended-table
        dampener, Derive's ``dampeningFactor``); 1 for the standard grid.
    underlying
        ``None``: the scenario moves every underlying. A name (``"BTC"``): it moves only
        instruments on that underlying and leaves the others at their current price and vol.
    skew_rotation
        Additive vol change per unit of log-moneyness ``ln(K/F)`` (decimal vol per unit), applied
        on top of the level shock; 0 for none. ``0.1`` lifts a strike 10% above the forward by
        about 0.0095 vol.
    label
        Free text for reports (the grid builder writes e.g. ``"BTC -16% vol up"``).
    """

    spot_move: float
    vol_shock: VolShockKind = VolShockKind.NONE
    weight: float = 1.0
    underlying: str | None = None
    skew_rotation: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "spot_move", as_float(self.spot_move, "spot_move", low=-1.0, low_open=True))
        set_(self, "vol_shock", as_enum(VolShockKind, self.vol_shock, "vol_shock"))
        set_(self, "weight", as_float(self.weight, "weight", low=0.0, high=1.0, low_open=True))
        set_(self, "skew_rotation", as_float(self.skew_rotation, "skew_rotation"))
        if self.underlying is not None and (
            not isinstance(self.underlying, str) or not self.underlying.strip()
        ):
            raise InputError(
                "underlying", self.underlying, "must be None (all) or a name such as 'BTC'"
            )
        if not isinstance(self.label, str):
            raise InputError("label", self.label, "must be a string")

    @property
    def spot_multiplier(self) -> float:
        """Factor applied to the underlying price: ``1 + spot_move``."""
        return 1.0 + self.spot_move
