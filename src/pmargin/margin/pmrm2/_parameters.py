"""Parameters of Derive's PMRM_2 model: named groups, each validated with bounds on load.

The groups and their bounds follow Derive's ``IPMRMLib_2`` setters (derivexyz/v2-core). Every
number is a decimal (0.3 for 30 %) unless its name carries a unit. A group is built from a
mapping (a TOML table or a case file's ``Parameters``) by its ``from_mapping`` class method,
which raises :class:`~pmargin.errors.InputError` naming the dotted field on a missing or
out-of-range value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pmargin._files import read_toml_file
from pmargin.errors import InputError

__all__ = [
    "BasisContingencyParameters",
    "CollateralParameters",
    "MarginParameters",
    "OtherContingencyParameters",
    "Pmrm2Parameters",
    "Scenario",
    "SkewShockParameters",
    "VolShockDirection",
    "VolShockParameters",
    "default_parameters",
    "load_parameters",
]

SECONDS_PER_DAY = 86_400.0
"""Seconds in one day; PMRM_2 counts time to expiry in seconds."""


def _number(table: Mapping[str, Any], key: str, where: str, low: float, high: float) -> float:
    """Read ``table[key]`` as a finite float in ``[low, high]``, else raise naming the field."""
    name = f"{where}.{key}" if where else key
    if key not in table:
        raise InputError(name, None, "is missing")
    value = table[key]
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(name, value, "must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(name, value, "must be a number")
    number = float(value)
    if not math.isfinite(number) or number < low or number > high:
        raise InputError(name, value, f"must be a finite number in [{low:g}, {high:g}]")
    return number


def _table(mapping: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    """Read a sub-table, raising when it is missing or not a table."""
    name = f"{where}.{key}" if where else key
    value = mapping.get(key)
    if not isinstance(value, Mapping):
        raise InputError(name, value, "must be a table of parameters")
    return value


class VolShockDirection(StrEnum):
    """How a scenario moves the vols: uniformly (up, down, none) or by skew (linear, abs)."""

    UP = "up"
    DOWN = "down"
    NONE = "none"
    LINEAR = "linear"
    ABS = "abs"

    @property
    def is_skew(self) -> bool:
        """True for the skew scenarios (linear, abs), which rotate the wings of the smile."""
        return self in (VolShockDirection.LINEAR, VolShockDirection.ABS)

    @property
    def code(self) -> int:
        """Derive's report code: 1 up, -1 down, 0 none (skew directions have none)."""
        return {VolShockDirection.UP: 1, VolShockDirection.DOWN: -1}.get(self, 0)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario: a spot multiplier, a vol direction and a dampening factor.

    Attributes
    ----------
    spot_shock
        Spot multiplier (1.09 for +9 %), > 0.
    vol_shock
        Vol direction, see :class:`VolShockDirection`.
    dampening
        Factor on the scenario's P&L (tail scenarios are dampened), >= 0.
    """

    spot_shock: float
    vol_shock: VolShockDirection
    dampening: float

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], where: str) -> Scenario:
        """Build from ``{spot_shock, vol_shock, dampening}`` or Derive's case-file keys."""
        if "SpotShock" in table:
            keys = ("SpotShock", "VolShockDirection", "DampeningFactor")
        else:
            keys = ("spot_shock", "vol_shock", "dampening")
        shock = _number(table, keys[0], where, 1e-9, 100.0)
        raw = table.get(keys[1])
        try:
            direction = VolShockDirection(str(raw).lower())
        except ValueError:
            choices = "|".join(d.value for d in VolShockDirection)
            raise InputError(f"{where}.{keys[1]}", raw, f"is not one of {choices}") from None
        damp = _number(table, keys[2], where, 0.0, 1e6)
        return cls(shock, direction, damp)

    @property
    def label(self) -> str:
        """Short name, e.g. ``"+9% up"``, ``"linear"``."""
        if self.vol_shock.is_skew and self.spot_shock == 1.0:
            return self.vol_shock.value
        return f"{self.spot_shock - 1.0:+.4g} {self.vol_shock.value}"


@dataclass(frozen=True, slots=True)
class VolShockParameters:
    """Uniform vol shock per expiry: ``(30 d / max(T, floor)) ** power`` scales the ranges.

    Attributes
    ----------
    vol_range_up, vol_range_down
        Relative vol move at 30 days to expiry (0.5 for vol x 1.5), in [0, 10].
    short_term_power, long_term_power
        Exponent for expiries at most / beyond 30 days, in [0, 10].
    dte_floor_days
        Floor on time to expiry in the scaling, days, in [0, 400].
    min_vol_up_shock
        Lowest vol used in the up scenarios, decimal, in [0, 20].
    """

    vol_range_up: float
    vol_range_down: float
    short_term_power: float
    long_term_power: float
    dte_floor_days: float
    min_vol_up_shock: float

    @classmethod
    def from_mapping(cls, t: Mapping[str, Any], where: str = "vol_shock") -> VolShockParameters:
        """Build from a table with this class's field names, validating each bound."""
        return cls(
            _number(t, "vol_range_up", where, 0.0, 10.0),
            _number(t, "vol_range_down", where, 0.0, 10.0),
            _number(t, "short_term_power", where, 0.0, 10.0),
            _number(t, "long_term_power", where, 0.0, 10.0),
            _number(t, "dte_floor_days", where, 0.0, 400.0),
            _number(t, "min_vol_up_shock", where, 0.0, 20.0),
        )


@dataclass(frozen=True, slots=True)
class MarginParameters:
    """Loss factors and the static discount of shocked expiry values.

    Attributes
    ----------
    im_factor, mm_factor
        Multipliers of the worst scenario loss, in [0.5, 10].
    short_rate_mult_scale, short_rate_add_scale
        Rate shock of negative expiry values: ``r * mult + add``, each in [0, 10].
    long_rate_mult_scale, long_rate_add_scale
        Rate shock of positive expiry values, each in [0, 10].
    short_base_static_discount, long_base_static_discount
        Base factors of the static discount (negative / positive values), in [0, 4].
    """

    im_factor: float
    mm_factor: float
    short_rate_mult_scale: float
    long_rate_mult_scale: float
    short_rate_add_scale: float
    long_rate_add_scale: float
    short_base_static_discount: float
    long_base_static_discount: float

    @classmethod
    def from_mapping(cls, t: Mapping[str, Any], where: str = "margin") -> MarginParameters:
        """Build from a table with this class's field names, validating each bound."""
        return cls(
            _number(t, "im_factor", where, 0.5, 10.0),
            _number(t, "mm_factor", where, 0.5, 10.0),
            _number(t, "short_rate_mult_scale", where, 0.0, 10.0),
            _number(t, "long_rate_mult_scale", where, 0.0, 10.0),
            _number(t, "short_rate_add_scale", where, 0.0, 10.0),
            _number(t, "long_rate_add_scale", where, 0.0, 10.0),
            _number(t, "short_base_static_discount", where, 0.0, 4.0),
            _number(t, "long_base_static_discount", where, 0.0, 4.0),
        )


@dataclass(frozen=True, slots=True)
class BasisContingencyParameters:
    """Forward (basis) contingency: spot moved up and down with vols unchanged.

    Attributes
    ----------
    scenario_spot_up
        Up spot multiplier, in (1, 3).
    scenario_spot_down
        Down spot multiplier, in (0, 1).
    add_factor, mult_factor
        Factor on the worst loss: ``add + mult * T`` (T in years), each in [0, 20].
    """

    scenario_spot_up: float
    scenario_spot_down: float
    add_factor: float
    mult_factor: float

    @classmethod
    def from_mapping(
        cls, t: Mapping[str, Any], where: str = "basis_contingency"
    ) -> BasisContingencyParameters:
        """Build from a table with this class's field names, validating each bound."""
        up = _number(t, "scenario_spot_up", where, 1.0, 3.0)
        down = _number(t, "scenario_spot_down", where, 0.0, 1.0)
        if up in (1.0, 3.0):
            raise InputError(f"{where}.scenario_spot_up", up, "must be in the open range (1, 3)")
        if down in (0.0, 1.0):
            raise InputError(
                f"{where}.scenario_spot_down", down, "must be in the open range (0, 1)"
            )
        return cls(
            up,
            down,
            _number(t, "add_factor", where, 0.0, 20.0),
            _number(t, "mult_factor", where, 0.0, 20.0),
        )


@dataclass(frozen=True, slots=True)
class OtherContingencyParameters:
    """Stablecoin peg loss, oracle confidence and per-notional contingencies.

    Attributes
    ----------
    peg_loss_threshold
        Stable price under which the IM factor grows, in [0, 100].
    peg_loss_factor
        Growth of the IM factor per unit of peg loss, in [0, 10].
    conf_threshold
        Feed confidence under which the IM charges ``(1 - conf) * conf_margin * notional``,
        in [0, 1].
    conf_margin
        Scale of that charge, in [0, 20].
    mm_perp_percent, im_perp_percent
        Charge per |perp notional| (MM, and IM on top of MM), in [0, 3].
    mm_option_percent, im_option_percent
        Charge per naked short option notional (MM, and IM on top of MM), in [0, 2].
    """

    peg_loss_threshold: float
    peg_loss_factor: float
    conf_threshold: float
    conf_margin: float
    mm_perp_percent: float
    im_perp_percent: float
    mm_option_percent: float
    im_option_percent: float

    @classmethod
    def from_mapping(
        cls, t: Mapping[str, Any], where: str = "other_contingency"
    ) -> OtherContingencyParameters:
        """Build from a table with this class's field names, validating each bound."""
        return cls(
            _number(t, "peg_loss_threshold", where, 0.0, 100.0),
            _number(t, "peg_loss_factor", where, 0.0, 10.0),
            _number(t, "conf_threshold", where, 0.0, 1.0),
            _number(t, "conf_margin", where, 0.0, 20.0),
            _number(t, "mm_perp_percent", where, 0.0, 3.0),
            _number(t, "im_perp_percent", where, 0.0, 3.0),
            _number(t, "mm_option_percent", where, 0.0, 2.0),
            _number(t, "im_option_percent", where, 0.0, 2.0),
        )


@dataclass(frozen=True, slots=True)
class SkewShockParameters:
    """Skew scenarios: wing vol multiplier ``1 + clamp(k * cap / k*, +-cap)``.

    Attributes
    ----------
    linear_base_cap, abs_base_cap
        Cap at T = 0 of the linear / abs multipliers, in [0, 10].
    linear_c_base, abs_c_base
        Slope of the cap in sqrt(T years): ``cap = c_base * sqrt(T) + base_cap``, in [-10, 10].
    min_k_star
        Floor of k*, in [0, 10].
    width_scale
        ``k* = sqrt(T) * width_scale * (vol_param_static + sqrt(T) * vol_param_scale)``,
        in [0, 10].
    vol_param_static
        In [0, 10].
    vol_param_scale
        In [-20, 20].
    """

    linear_base_cap: float
    abs_base_cap: float
    linear_c_base: float
    abs_c_base: float
    min_k_star: float
    width_scale: float
    vol_param_static: float
    vol_param_scale: float

    @classmethod
    def from_mapping(cls, t: Mapping[str, Any], where: str = "skew_shock") -> SkewShockParameters:
        """Build from a table with this class's field names, validating each bound."""
        return cls(
            _number(t, "linear_base_cap", where, 0.0, 10.0),
            _number(t, "abs_base_cap", where, 0.0, 10.0),
            _number(t, "linear_c_base", where, -10.0, 10.0),
            _number(t, "abs_c_base", where, -10.0, 10.0),
            _number(t, "min_k_star", where, 0.0, 10.0),
            _number(t, "width_scale", where, 0.0, 10.0),
            _number(t, "vol_param_static", where, 0.0, 10.0),
            _number(t, "vol_param_scale", where, -20.0, 20.0),
        )


@dataclass(frozen=True, slots=True)
class CollateralParameters:
    """How one collateral asset counts: haircuts and whether it cancels spot risk.

    Attributes
    ----------
    mm_haircut, im_haircut
        Share of the value charged to MM, and to IM on top of MM, in [0, 1].
    risk_cancelling
        True when the asset moves with the underlying (the coin itself, its LSTs/LRTs): its
        value is then shocked with spot in every scenario.
    """

    mm_haircut: float
    im_haircut: float
    risk_cancelling: bool = False

    @classmethod
    def from_mapping(cls, t: Mapping[str, Any], where: str) -> CollateralParameters:
        """Build from ``{mm_haircut, im_haircut, risk_cancelling}``."""
        flag = t.get("risk_cancelling", False)
        if not isinstance(flag, bool):
            raise InputError(f"{where}.risk_cancelling", flag, "must be true or false")
        return cls(
            _number(t, "mm_haircut", where, 0.0, 1.0),
            _number(t, "im_haircut", where, 0.0, 1.0),
            flag,
        )


@dataclass(frozen=True, slots=True)
class Pmrm2Parameters:
    """Every parameter of one PMRM_2 market.

    Attributes
    ----------
    scenarios
        The scenario list, in order (regular, tail, then at most one linear and one abs skew).
    vol_shock, margin, basis_contingency, other_contingency, skew_shock
        The parameter groups.
    collaterals
        Asset name -> haircuts (used when a general book is mapped to PMRM_2 arrays).
    regular_max_spot_move
        Reporting split only: a non-skew scenario with ``|spot_shock - 1|`` at most this is
        "regular", beyond it "tail". It changes no margin number.
    """

    scenarios: tuple[Scenario, ...]
    vol_shock: VolShockParameters
    margin: MarginParameters
    basis_contingency: BasisContingencyParameters
    other_contingency: OtherContingencyParameters
    skew_shock: SkewShockParameters
    collaterals: Mapping[str, CollateralParameters] = field(default_factory=dict)
    regular_max_spot_move: float = 0.25

    def __post_init__(self) -> None:
        check_scenarios(self.scenarios)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], where: str = "") -> Pmrm2Parameters:
        """Build from a table with the groups ``vol_shock``, ``margin``, ... (TOML layout)."""
        raw = table.get("scenarios")
        name = f"{where}.scenarios" if where else "scenarios"
        if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
            raise InputError(name, raw, "must be a non-empty list of scenario tables")
        scenarios = tuple(
            Scenario.from_mapping(_as_table(s, f"{name}[{i}]"), f"{name}[{i}]")
            for i, s in enumerate(raw)
        )
        prefix = f"{where}." if where else ""
        collats = table.get("collaterals", {})
        if not isinstance(collats, Mapping):
            raise InputError(f"{prefix}collaterals", collats, "must be a table of assets")
        split = table.get("reporting", {})
        split_t = _as_table(split, f"{prefix}reporting")
        return cls(
            scenarios=scenarios,
            vol_shock=VolShockParameters.from_mapping(
                _table(table, "vol_shock", where), f"{prefix}vol_shock"
            ),
            margin=MarginParameters.from_mapping(_table(table, "margin", where), f"{prefix}margin"),
            basis_contingency=BasisContingencyParameters.from_mapping(
                _table(table, "basis_contingency", where), f"{prefix}basis_contingency"
            ),
            other_contingency=OtherContingencyParameters.from_mapping(
                _table(table, "other_contingency", where), f"{prefix}other_contingency"
            ),
            skew_shock=SkewShockParameters.from_mapping(
                _table(table, "skew_shock", where), f"{prefix}skew_shock"
            ),
            collaterals={
                str(asset): CollateralParameters.from_mapping(
                    _as_table(v, f"{prefix}collaterals.{asset}"), f"{prefix}collaterals.{asset}"
                )
                for asset, v in collats.items()
            },
            regular_max_spot_move=(
                _number(split_t, "regular_max_spot_move", f"{prefix}reporting", 0.0, 10.0)
                if "regular_max_spot_move" in split_t
                else 0.25
            ),
        )


def _as_table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(where, value, "must be a table")
    return value


def check_scenarios(scenarios: Sequence[Scenario]) -> None:
    """Check the scenario list as Derive's ``setScenarios`` does.

    At most 40 scenarios, at least one, at most one linear and one abs skew scenario.

    Raises
    ------
    InputError
        Naming ``scenarios`` and what is wrong.
    """
    if not 1 <= len(scenarios) <= 40:
        raise InputError("scenarios", len(scenarios), "must hold between 1 and 40 scenarios")
    for direction in (VolShockDirection.LINEAR, VolShockDirection.ABS):
        count = sum(s.vol_shock is direction for s in scenarios)
        if count > 1:
            raise InputError("scenarios", count, f"has more than one {direction.value} scenario")


def load_parameters(path: str | Path) -> Pmrm2Parameters:
    """Read a PMRM_2 parameter file (TOML).

    Parameters
    ----------
    path
        The TOML file, laid out as ``methodologies/derive-pmrm2.toml``.

    Returns
    -------
    Pmrm2Parameters
        The validated parameters.

    Raises
    ------
    InputError
        When the file is unreadable, or a field is missing or out of range (named
        ``<file name>: <dotted field>``).
    """
    file = Path(path)
    table = read_toml_file(file, "PMRM_2 parameters")
    try:
        return Pmrm2Parameters.from_mapping(table)
    except InputError as exc:
        raise InputError(f"{file.name}: {exc.field}", exc.value, exc.reason) from None


DEFAULT_FILE = Path(__file__).resolve().parent.parent / "methodologies" / "derive-pmrm2.toml"
"""The shipped mainnet parameters (``margin/methodologies/derive-pmrm2.toml``)."""


def default_parameters() -> Pmrm2Parameters:
    """Load Derive's mainnet parameters from the shipped TOML file."""
    return load_parameters(DEFAULT_FILE)
