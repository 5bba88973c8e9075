"""Ranges of user stress shocks: the shipped ``shock_limits.toml``, validated on first use."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from pmargin._files import read_toml_file
from pmargin._params import ParamTable
from pmargin.errors import InputError

__all__ = ["ShockLimits", "shock_limits", "shock_limits_path"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class ShockLimits:
    """Accepted ranges of shocks (see ``shock_limits.toml``); moves are decimals.

    Attributes
    ----------
    spot_move_min, spot_move_max
        Relative spot move in ``(spot_move_min, spot_move_max]``.
    vol_relative_min, vol_relative_max
        Relative vol move in ``(vol_relative_min, vol_relative_max]``.
    vol_points_min, vol_points_max
        Absolute vol move (annualised decimal) in ``[vol_points_min, vol_points_max]``.
    n_scenarios_max
        Most Monte Carlo draws of a correlation stress.
    horizon_hours_max, lookback_days_max
        Longest horizon (hours) and estimation window (days) of a correlation stress.
    """

    spot_move_min: float
    spot_move_max: float
    vol_relative_min: float
    vol_relative_max: float
    vol_points_min: float
    vol_points_max: float
    n_scenarios_max: int
    horizon_hours_max: float
    lookback_days_max: float


def shock_limits_path() -> Path:
    """Path of the shipped file (``pmargin/stress/shock_limits.toml``)."""
    return Path(str(resources.files("pmargin.stress") / "shock_limits.toml"))


@cache
def shock_limits() -> ShockLimits:
    """Read and validate the shipped ``shock_limits.toml`` (once).

    Raises
    ------
    InputError
        A field missing, unknown or out of range, naming its dotted path.
    """
    file = shock_limits_path()
    top = ParamTable(read_toml_file(file, "shock limits"), file.name)
    top.reject_unknown(["schema_version", "source", "spot", "vol", "correlation"])
    version = top.integer("schema_version", low=1)
    if version != SCHEMA_VERSION:
        raise InputError(top.field("schema_version"), version, f"must be {SCHEMA_VERSION}")
    top.text("source", "")
    spot, vol, corr = top.table("spot"), top.table("vol"), top.table("correlation")
    spot.reject_unknown(["move_min", "move_max"])
    vol.reject_unknown(["relative_min", "relative_max", "points_min", "points_max"])
    corr.reject_unknown(["n_scenarios_max", "horizon_hours_max", "lookback_days_max"])
    return ShockLimits(
        spot_move_min=spot.number("move_min", low=-1.0, high=0.0),
        spot_move_max=spot.number("move_max", low=0.0, high=1e3, low_open=True),
        vol_relative_min=vol.number("relative_min", low=-1.0, high=0.0),
        vol_relative_max=vol.number("relative_max", low=0.0, high=1e3, low_open=True),
        vol_points_min=vol.number("points_min", low=-10.0, high=0.0),
        vol_points_max=vol.number("points_max", low=0.0, high=10.0, low_open=True),
        n_scenarios_max=corr.integer("n_scenarios_max", low=1),
        horizon_hours_max=corr.number("horizon_hours_max", low=0.0, low_open=True),
        lookback_days_max=corr.number("lookback_days_max", low=0.0, low_open=True),
    )
