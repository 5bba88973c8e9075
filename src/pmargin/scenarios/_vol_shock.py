"""Tenor-scaled implied-volatility shocks (the vol axis of a risk matrix).

Deribit publishes the parameters ``volatility_range_up``/``_down``,
``short_term_vega_power``/``long_term_vega_power`` and ``min_volatility_for_shock_up``; the
scaling form below is the one quoted for its portfolio margin model (and the one Derive's
``PMRMLib_2`` implements on chain)::

    shock(d) = range * (pivot_days / max(d, dte_floor_days)) ** power
    power    = short_power if d < pivot_days else long_power

with ``d`` the option's days to expiry. Short-dated options get larger shocks. At
``d = pivot_days`` both powers give ``shock = range``, so the choice of power there does not
matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from pmargin._typing import ArrayLike, FloatArray
from pmargin.errors import InputError
from pmargin.scenarios._checks import as_enum, as_float
from pmargin.scenarios._scenario import VolShockKind

__all__ = ["VolShockMode", "VolShockRule"]


class VolShockMode(StrEnum):
    """How a scaled shock moves a vol: as a fraction of it or in absolute vol points."""

    RELATIVE = "relative"
    ABSOLUTE = "absolute"


@dataclass(frozen=True, slots=True)
class VolShockRule:
    """Size of the up and down vol shocks as a function of days to expiry (DTE).

    All vols and shocks are annualised decimals (0.60 = 60 vol). Defaults are Deribit's powers
    (0.30 / 0.13) and a 30-day pivot.

    Attributes
    ----------
    range_up, range_down
        Shock sizes at the pivot (>= 0). ``mode="relative"``: 0.45 means +45% of the vol (60
        vol -> 87); ``mode="absolute"``: 0.10 means +10 vol points.
    mode
        ``"relative"``: ``vol * (1 + shock)`` up and ``vol * (1 - shock)`` down;
        ``"absolute"``: ``vol + shock`` up and ``vol - shock`` down.
    short_power, long_power
        Exponents (>= 0) of ``pivot / DTE`` for DTE below / at or above the pivot.
    pivot_days
        DTE (> 0) at which the shock equals the range (30).
    dte_floor_days
        Smallest DTE (> 0) used in the scaling, so options about to expire get a finite shock
        (Derive's ``dteFloor``, 1 day by default).
    min_vol_for_shock_up
        Floor (>= 0) on the vol of "up" scenarios (Deribit ``min_volatility_for_shock_up``,
        Derive ``minVolUpShock``); 0 leaves only ``min_vol``.
    min_vol
        Floor (> 0) on every shocked vol, so "down" shocks never reach zero or below.
    """

    range_up: float
    range_down: float
    mode: VolShockMode = VolShockMode.RELATIVE
    short_power: float = 0.30
    long_power: float = 0.13
    pivot_days: float = 30.0
    dte_floor_days: float = 1.0
    min_vol_for_shock_up: float = 0.0
    min_vol: float = 0.01

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "range_up", as_float(self.range_up, "range_up", low=0.0))
        set_(self, "range_down", as_float(self.range_down, "range_down", low=0.0))
        set_(self, "mode", as_enum(VolShockMode, self.mode, "mode"))
        set_(self, "short_power", as_float(self.short_power, "short_power", low=0.0))
        set_(self, "long_power", as_float(self.long_power, "long_power", low=0.0))
        set_(self, "pivot_days", as_float(self.pivot_days, "pivot_days", low=0.0, low_open=True))
        set_(
            self,
            "dte_floor_days",
            as_float(self.dte_floor_days, "dte_floor_days", low=0.0, low_open=True),
        )
        set_(
            self,
            "min_vol_for_shock_up",
            as_float(self.min_vol_for_shock_up, "min_vol_for_shock_up", low=0.0),
        )
        set_(self, "min_vol", as_float(self.min_vol, "min_vol", low=0.0, low_open=True))

    def scaled_shock(self, days: ArrayLike, kind: VolShockKind | str) -> FloatArray:
        """Shock size for options with ``days`` to expiry.

        Parameters
        ----------
        days
            Days to expiry, any shape (float64); NaN gives NaN.
        kind
            ``"up"`` uses ``range_up``, ``"down"`` ``range_down``, ``"none"`` gives zeros.

        Returns
        -------
        FloatArray
            ``range * (pivot / max(days, floor)) ** power``, same shape as ``days``: a relative
            fraction or absolute vol points according to ``mode``.
        """
        kind = as_enum(VolShockKind, kind, "vol_shock")
        d = np.asarray(days, dtype=np.float64)
        if np.any(d < 0.0):
            raise InputError("days", float(np.min(d)), "days to expiry must be >= 0")
        effective = np.maximum(d, self.dte_floor_days)
        power = np.where(effective < self.pivot_days, self.short_power, self.long_power)
        if kind is VolShockKind.NONE:
            return np.where(np.isnan(d), np.nan, 0.0)
        size = self.range_up if kind is VolShockKind.UP else self.range_down
        result: FloatArray = size * (self.pivot_days / effective) ** power
        return result

    def shock_vol(self, vol: ArrayLike, days: ArrayLike, kind: VolShockKind | str) -> FloatArray:
        """Apply the level shock (no floors) to ``vol``.

        Parameters
        ----------
        vol
            Annualised vols (decimal), any shape.
        days
            Days to expiry, broadcastable with ``vol``.
        kind
            ``"up"``, ``"down"`` or ``"none"``.

        Returns
        -------
        FloatArray
            Shocked vols, the broadcast shape; may be <= 0 for large "down" shocks, which
            :meth:`floor_vol` corrects.
        """
        return self.apply_term(vol, self.shock_term(days, kind))

    def shock_term(self, days: ArrayLike, kind: VolShockKind | str) -> FloatArray:
        """Return what :meth:`shock_vol` combines with the vol (the same for any vol at ``days``).

        Parameters
        ----------
        days
            Days to expiry, any shape (float64).
        kind
            ``"up"``, ``"down"`` or ``"none"``.

        Returns
        -------
        FloatArray
            The shape of ``days``: ``1 + sign x shock`` (``mode="relative"``, a factor) or
            ``sign x shock`` (``"absolute"``, vol points), ``sign`` -1 for ``"down"``.
        """
        kind = as_enum(VolShockKind, kind, "vol_shock")
        shock = self.scaled_shock(days, kind)
        sign = -1.0 if kind is VolShockKind.DOWN else 1.0
        term: FloatArray = (
            (1.0 + sign * shock) if self.mode is VolShockMode.RELATIVE else (sign * shock)
        )
        return term

    def apply_term(
        self, vol: ArrayLike, term: FloatArray, out: FloatArray | None = None
    ) -> FloatArray:
        """Shocked vols from a :meth:`shock_term`: ``vol x term`` or ``vol + term`` (by mode).

        Parameters
        ----------
        vol
            Annualised vols (decimal), broadcastable with ``term``.
        term
            From :meth:`shock_term`.
        out
            Optional float64 array of the broadcast shape written into (and returned).

        Returns
        -------
        FloatArray
            :meth:`shock_vol`'s result, the same bits.
        """
        v = np.asarray(vol, dtype=np.float64)
        if self.mode is VolShockMode.RELATIVE:
            result: FloatArray = np.multiply(v, term, out=out)
        else:
            result = np.add(v, term, out=out)
        return result

    def floor_vol(self, vol: ArrayLike, kind: VolShockKind | str) -> FloatArray:
        """Floor shocked vols: at ``min_vol``, and at ``min_vol_for_shock_up`` for "up".

        NaN stays NaN (non-options).
        """
        kind = as_enum(VolShockKind, kind, "vol_shock")
        return np.maximum(np.asarray(vol, dtype=np.float64), self.floor_for(kind))

    def floor_for(self, kind: VolShockKind | str) -> float:
        """Return the vol floor (decimal) of a scenario with this shock direction."""
        kind = as_enum(VolShockKind, kind, "vol_shock")
        if kind is VolShockKind.UP:
            return max(self.min_vol, self.min_vol_for_shock_up)
        return self.min_vol
