"""Deterministic joint shocks (spot moves and vol shocks per underlying) and their arrays.

A :class:`StressShock` moves named underlyings by relative amounts (``-0.3`` is a 30 % fall)
and shocks their options' implied vols, relatively (``+0.5``: 60 vol -> 90) or by absolute vol
points (``+0.10``: 60 vol -> 70). An underlying the shock does not name keeps its price and
vol. Collateral balances move with the asset of the same name (a ``BTC`` balance with the
``BTC`` move); a name no instrument has as underlying (``USDC=-0.05``) moves balances only.

A :class:`CorrelationShock` is a Monte Carlo scenario set whose correlation is blended toward
all-ones (:func:`pmargin.scenarios.blend_correlation`); the stress test reports its loss
quantile (see :mod:`pmargin.stress._stress_test`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from pmargin._typing import FloatArray
from pmargin._validation import as_enum, as_float
from pmargin.errors import InputError
from pmargin.scenarios import ScenarioArrays, VolShockMode
from pmargin.stress._limits import shock_limits
from pmargin.valuation import ResolvedInstruments

__all__ = [
    "ALL_UNDERLYINGS",
    "MIN_VOL",
    "CorrelationShock",
    "StressShock",
    "VolShock",
    "joint_arrays",
]

ALL_UNDERLYINGS = "*"
"""Key of a vol shock that applies to every underlying without its own."""

MIN_VOL = 0.01
"""Floor on every shocked implied vol (annualised decimal)."""


@dataclass(frozen=True, slots=True)
class VolShock:
    """An implied-vol shock.

    Attributes
    ----------
    value
        ``mode="relative"``: fraction of the vol (``0.5``: 60 vol -> 90), in (-1, 10];
        ``mode="absolute"``: annualised decimal vol added (``0.10`` = +10 vol points), in
        [-2, 5] (ranges from ``shock_limits.toml``).
    mode
        ``"relative"`` or ``"absolute"``.
    """

    value: float
    mode: VolShockMode = VolShockMode.RELATIVE

    def __post_init__(self) -> None:
        mode = as_enum(VolShockMode, self.mode, "vol.mode")
        relative = mode is VolShockMode.RELATIVE
        limits = shock_limits()
        if relative:
            low, high = limits.vol_relative_min, limits.vol_relative_max
        else:
            low, high = limits.vol_points_min, limits.vol_points_max
        object.__setattr__(self, "mode", mode)
        value = as_float(self.value, "vol", low=low, high=high, low_open=relative)
        object.__setattr__(self, "value", value)

    def apply(self, vol: FloatArray) -> FloatArray:
        """Shocked vols ``max(MIN_VOL, v (1 + value))`` or ``max(MIN_VOL, v + value)``."""
        if self.mode is VolShockMode.RELATIVE:
            shocked = vol * (1.0 + self.value)
        else:
            shocked = vol + self.value
        result: FloatArray = np.maximum(MIN_VOL, shocked)
        return result

    def describe(self) -> str:
        """``"+50%"`` (relative) or ``"+10.0 vol pts"`` (absolute)."""
        if self.mode is VolShockMode.RELATIVE:
            return f"{100.0 * self.value:+.1f}%"
        return f"{100.0 * self.value:+.1f} vol pts"

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "mode"}``."""
        return {"value": self.value, "mode": str(self.mode)}


def _name(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field_name, value, "must be a non-empty name")
    return value.strip()


def _code(value: object, field_name: str) -> str:
    code = _name(value, field_name).upper()
    if code != ALL_UNDERLYINGS and not code.replace("_", "").isalnum():
        raise InputError(field_name, value, "must be an asset code such as 'BTC'")
    return code


@dataclass(frozen=True, slots=True)
class StressShock:
    """One deterministic stress scenario: relative spot moves and vol shocks per underlying.

    Attributes
    ----------
    name
        Scenario name (shown in reports).
    spot_moves
        Underlying or asset -> relative move (decimal, in (-1, 10] from
        ``shock_limits.toml``): ``{"BTC": -0.3}``.
    vol_shocks
        Underlying -> :class:`VolShock`; the key ``"*"`` applies to every underlying without
        its own entry.
    description
        Free text (the window of a historical episode, the text the user typed).
    kind
        ``"user"`` or ``"historical"``.
    """

    name: str
    spot_moves: Mapping[str, float] = field(default_factory=dict)
    vol_shocks: Mapping[str, VolShock] = field(default_factory=dict)
    description: str = ""
    kind: str = "user"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "name", _name(self.name, "name"))
        moves: dict[str, float] = {}
        limits = shock_limits()
        for key, move in dict(self.spot_moves).items():
            code = _code(key, "spot_moves")
            if code == ALL_UNDERLYINGS:
                raise InputError("spot_moves", key, "must name an underlying such as 'BTC'")
            moves[code] = as_float(
                move,
                f"spot_moves.{code}",
                low=limits.spot_move_min,
                high=limits.spot_move_max,
                low_open=True,
            )
        vols: dict[str, VolShock] = {}
        for key, shock in dict(self.vol_shocks).items():
            code = _code(key, "vol_shocks")
            if not isinstance(shock, VolShock):
                raise InputError(f"vol_shocks.{code}", shock, "must be a VolShock")
            vols[code] = shock
        set_(self, "spot_moves", MappingProxyType(moves))
        set_(self, "vol_shocks", MappingProxyType(vols))

    def multiplier(self, name: str) -> float:
        """Price multiplier of ``name``: ``1 + move``, 1 when the shock does not move it."""
        return 1.0 + self.spot_moves.get(name.upper(), 0.0)

    def vol_shock(self, underlying: str) -> VolShock | None:
        """Return the vol shock of ``underlying`` (its own, else ``"*"``), or ``None``."""
        code = underlying.upper()
        return self.vol_shocks.get(code, self.vol_shocks.get(ALL_UNDERLYINGS))

    def moves(self, underlying: str) -> bool:
        """Whether the shock moves ``underlying``'s price or vol."""
        return underlying.upper() in self.spot_moves or self.vol_shock(underlying) is not None

    def to_dict(self) -> dict[str, Any]:
        """``{"spot_moves": {...}, "vol_shocks": {...}}`` (relative moves, decimals)."""
        return {
            "spot_moves": dict(self.spot_moves),
            "vol_shocks": {k: v.to_dict() for k, v in self.vol_shocks.items()},
        }

    def describe(self) -> str:
        """One line: ``BTC -30.0%, ETH -40.0%, vol +50.0%``."""
        parts = [f"{k} {100.0 * m:+.1f}%" for k, m in self.spot_moves.items()]
        for k, v in self.vol_shocks.items():
            parts.append(f"{'vol' if k == ALL_UNDERLYINGS else k + ' vol'} {v.describe()}")
        return ", ".join(parts) or "no move"


@dataclass(frozen=True, slots=True)
class CorrelationShock:
    """Monte Carlo moves with correlations stressed toward 1; reported as a loss quantile.

    The model (:meth:`pmargin.scenarios.MonteCarloModel.from_history`) is estimated on the
    daily closes known at the market timestamp: EWMA vols (daily decay 0.94) and the sample
    correlation of the last ``lookback_days``; its correlation is then blended toward all-ones
    by ``factor`` and ``n_scenarios`` moves over ``horizon_hours`` are drawn from ``seed``.

    Attributes
    ----------
    name
        Scenario name.
    factor
        Blend factor in [0, 1] (1: every pair perfectly correlated).
    level
        Quantile of the loss reported, in (0, 1) (0.99).
    horizon_hours
        Horizon of the moves in hours (> 0).
    n_scenarios
        Number of Monte Carlo draws (>= 1).
    seed
        Seed of ``numpy.random.default_rng``; the unstressed comparison uses the same draws.
    lookback_days
        Estimation window in days (> 0).
    vol_shocks
        Underlying (or ``"*"``) -> :class:`VolShock` applied in every draw.
    description
        Free text.
    """

    name: str
    factor: float
    level: float = 0.99
    horizon_hours: float = 24.0
    n_scenarios: int = 10_000
    seed: int = 7
    lookback_days: float = 365.0
    vol_shocks: Mapping[str, VolShock] = field(default_factory=dict)
    description: str = ""
    kind: str = "correlation"

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "name", _name(self.name, "name"))
        set_(self, "factor", as_float(self.factor, "corr", low=0.0, high=1.0))
        set_(
            self,
            "level",
            as_float(self.level, "q", low=0.0, high=1.0, low_open=True, high_open=True),
        )
        limits = shock_limits()
        horizon = as_float(
            self.horizon_hours, "horizon", low=0.0, high=limits.horizon_hours_max, low_open=True
        )
        lookback = as_float(
            self.lookback_days, "lookback", low=0.0, high=limits.lookback_days_max, low_open=True
        )
        set_(self, "horizon_hours", horizon)
        set_(self, "lookback_days", lookback)
        n, seed = self.n_scenarios, self.seed
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= limits.n_scenarios_max:
            raise InputError("n", n, f"must be an integer in [1, {limits.n_scenarios_max}]")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError("seed", seed, "must be an integer >= 0")
        vols = {_code(k, "vol_shocks"): v for k, v in dict(self.vol_shocks).items()}
        for code, shock in vols.items():
            if not isinstance(shock, VolShock):
                raise InputError(f"vol_shocks.{code}", shock, "must be a VolShock")
        set_(self, "vol_shocks", MappingProxyType(vols))

    def vol_shock(self, underlying: str) -> VolShock | None:
        """Return the vol shock of ``underlying`` (its own, else ``"*"``), or ``None``."""
        code = underlying.upper()
        return self.vol_shocks.get(code, self.vol_shocks.get(ALL_UNDERLYINGS))

    def to_dict(self) -> dict[str, Any]:
        """Parameters of the shock."""
        return {
            "correlation_factor": self.factor,
            "level": self.level,
            "horizon_hours": self.horizon_hours,
            "n_scenarios": self.n_scenarios,
            "seed": self.seed,
            "lookback_days": self.lookback_days,
            "vol_shocks": {k: v.to_dict() for k, v in self.vol_shocks.items()},
        }

    def describe(self) -> str:
        """One line: ``corr -> 1 by 0.9, 99% loss over 24h, 10000 draws``."""
        vols = ", ".join(
            f"{'vol' if k == ALL_UNDERLYINGS else k + ' vol'} {v.describe()}"
            for k, v in self.vol_shocks.items()
        )
        text = (
            f"corr -> 1 by {self.factor:g}, {100.0 * self.level:g}% loss over "
            f"{self.horizon_hours:g}h, {self.n_scenarios} draws"
        )
        return f"{text}, {vols}" if vols else text


def joint_arrays(
    resolved: ResolvedInstruments,
    multiplier: Mapping[str, FloatArray],
    vol_shocks: Sequence[StressShock | CorrelationShock],
    n_scenarios: int,
) -> ScenarioArrays:
    """Per-instrument shock arrays from per-underlying multipliers and per-column vol shocks.

    Parameters
    ----------
    resolved
        ``n_instruments`` resolved instruments.
    multiplier
        Underlying -> price multipliers, shape ``(n_scenarios,)``; an underlying not listed
        keeps multiplier 1.
    vol_shocks
        The shock owning each column (length ``n_scenarios``, or 1 for every column): an option
        on ``u`` gets ``shock.vol_shock(u).apply(vol)``, its current vol when that is ``None``.
    n_scenarios
        Number of columns.

    Returns
    -------
    ScenarioArrays
        ``spot_multiplier`` and ``vol`` of shape ``(n_instruments, n_scenarios)`` (vol NaN on
        non-options), ``weight`` all ones.
    """
    n = len(resolved)
    codes = np.array([i.underlying.upper() for i in resolved.instruments], dtype=object)
    mult = np.ones((n, n_scenarios))
    for code, row in multiplier.items():
        mult[codes == code] = np.asarray(row, dtype=np.float64)
    vol = np.full((n, n_scenarios), np.nan)
    opt = np.flatnonzero(resolved.is_option)
    vol[opt] = resolved.vol[opt][:, np.newaxis]
    columns: list[tuple[StressShock | CorrelationShock, FloatArray | slice]]
    if len(vol_shocks) == 1:
        columns = [(vol_shocks[0], slice(None))]
    else:
        columns = [(s, np.array([j])) for j, s in enumerate(vol_shocks)]
    for code in dict.fromkeys(codes[opt]):
        rows = opt[codes[opt] == code]
        for owner, cols in columns:
            shock = owner.vol_shock(str(code))
            if shock is not None:
                vol[rows, cols] = shock.apply(vol[rows, cols])
    return ScenarioArrays(spot_multiplier=mult, vol=vol, weight=np.ones(n_scenarios))
