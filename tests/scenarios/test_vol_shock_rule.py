"""Tenor-scaled vol shocks: range x (pivot / max(DTE, floor)) ** power, modes and floors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.errors import InputError
from pmargin.scenarios import VolShockMode, VolShockRule

_KINDS = ("down", "none", "up")
DERIBIT_BTC = {"range_up": 0.50, "range_down": 0.25, "short_power": 0.30, "long_power": 0.13}


def _expected_shock(size: float, days: float, floor: float = 1.0) -> float:
    """Deribit's published scaling, written out per case."""
    d = max(days, floor)
    power = 0.30 if d < 30.0 else 0.13
    return size * (30.0 / d) ** power


@pytest.mark.parametrize("days", [0.25, 1.0, 7.0, 29.9, 30.0, 30.1, 90.0, 365.0])
def test_scaled_shock_matches_the_formula(days: float) -> None:
    rule = VolShockRule(**DERIBIT_BTC)
    up = rule.scaled_shock([days], "up")
    down = rule.scaled_shock([days], "down")
    assert up[0] == pytest.approx(_expected_shock(0.50, days), rel=1e-14)
    assert down[0] == pytest.approx(_expected_shock(0.25, days), rel=1e-14)
    assert rule.scaled_shock([days], "none")[0] == 0.0


def test_short_and_long_powers_on_either_side_of_the_pivot() -> None:
    rule = VolShockRule(**DERIBIT_BTC)
    shocks = rule.scaled_shock(np.array([10.0, 30.0, 120.0]), "up")
    assert shocks[0] == pytest.approx(0.5 * 3.0**0.30, rel=1e-14)
    assert shocks[1] == pytest.approx(0.5, rel=1e-14)
    assert shocks[2] == pytest.approx(0.5 * 0.25**0.13, rel=1e-14)


def test_below_the_dte_floor_the_shock_stops_growing() -> None:
    rule = VolShockRule(**DERIBIT_BTC, dte_floor_days=2.0)
    shocks = rule.scaled_shock(np.array([0.0, 0.5, 2.0]), "up")
    np.testing.assert_allclose(shocks, 0.5 * 15.0**0.30, rtol=1e-14)


def test_custom_pivot() -> None:
    rule = VolShockRule(0.4, 0.2, pivot_days=7.0, short_power=0.5, long_power=0.0)
    shocks = rule.scaled_shock(np.array([1.75, 7.0, 70.0]), "up")
    np.testing.assert_allclose(shocks, [0.8, 0.4, 0.4], rtol=1e-14)


def test_nan_days_give_nan() -> None:
    rule = VolShockRule(**DERIBIT_BTC)
    assert np.isnan(rule.scaled_shock([np.nan], "up")[0])
    assert np.isnan(rule.scaled_shock([np.nan], "none")[0])


def test_relative_mode_60_vol_plus_45_percent_is_87() -> None:
    rule = VolShockRule(0.45, 0.30)
    assert rule.shock_vol(0.60, 30.0, "up") == pytest.approx(0.87, rel=1e-14)
    assert rule.shock_vol(0.60, 30.0, "down") == pytest.approx(0.42, rel=1e-14)
    assert rule.shock_vol(0.60, 30.0, "none") == pytest.approx(0.60, rel=1e-15)


def test_absolute_mode_adds_and_subtracts_vol_points() -> None:
    rule = VolShockRule(0.10, 0.05, mode="absolute")  # type: ignore[arg-type]
    assert rule.mode is VolShockMode.ABSOLUTE
    days = 10.0
    scale = 3.0**0.30
    assert rule.shock_vol(0.60, days, "up") == pytest.approx(0.60 + 0.10 * scale, rel=1e-14)
    assert rule.shock_vol(0.60, days, "down") == pytest.approx(0.60 - 0.05 * scale, rel=1e-14)


def test_floors() -> None:
    rule = VolShockRule(0.5, 0.9, min_vol_for_shock_up=0.5, min_vol=0.05)
    # up: 0.2 * 1.5 = 0.3 -> floored at 0.5
    up = rule.floor_vol(rule.shock_vol(0.2, 30.0, "up"), "up")
    assert up == pytest.approx(0.5)
    # down on a 1-day option: shock 0.9 * 30 ** 0.3 > 1, vol would go negative -> min_vol
    raw_down = rule.shock_vol(0.2, 1.0, "down")
    assert raw_down < 0.0
    assert rule.floor_vol(raw_down, "down") == 0.05
    # the up floor does not apply to other directions
    assert rule.floor_vol(0.3, "none") == 0.3
    assert rule.floor_for("up") == 0.5
    assert rule.floor_for("down") == 0.05
    # a min_vol above min_vol_for_shock_up wins in up scenarios too
    assert VolShockRule(0.5, 0.5, min_vol=0.1).floor_for("up") == 0.1


def test_floor_keeps_nan() -> None:
    rule = VolShockRule(0.5, 0.5)
    assert math.isnan(float(rule.floor_vol(np.nan, "down")))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"range_up": -0.1}, "range_up"),
        ({"range_down": float("nan")}, "range_down"),
        ({"mode": "percent"}, "mode"),
        ({"short_power": -1.0}, "short_power"),
        ({"long_power": "0.1"}, "long_power"),
        ({"pivot_days": 0.0}, "pivot_days"),
        ({"dte_floor_days": 0.0}, "dte_floor_days"),
        ({"dte_floor_days": -1.0}, "dte_floor_days"),
        ({"min_vol_for_shock_up": -0.1}, "min_vol_for_shock_up"),
        ({"min_vol": 0.0}, "min_vol"),
    ],
)
def test_rule_validation_names_the_field(kwargs: dict, field: str) -> None:
    args = {"range_up": 0.5, "range_down": 0.25, **kwargs}
    with pytest.raises(InputError) as info:
        VolShockRule(**args)
    assert info.value.field == field
    assert repr(kwargs[field]) in str(info.value)


def test_bad_days_and_kinds_are_rejected() -> None:
    rule = VolShockRule(0.5, 0.25)
    with pytest.raises(InputError, match="days"):
        rule.scaled_shock([-1.0], "up")
    with pytest.raises(InputError, match="vol_shock"):
        rule.scaled_shock([1.0], "sideways")


@given(
    vol=st.floats(0.05, 3.0),
    days=st.floats(0.0, 1000.0),
    range_up=st.floats(0.0, 2.0),
    range_down=st.floats(0.0, 2.0),
    mode=st.sampled_from(["relative", "absolute"]),
)
def test_floored_vols_are_ordered_down_none_up(
    vol: float, days: float, range_up: float, range_down: float, mode: str
) -> None:
    rule = VolShockRule(range_up, range_down, mode=mode, min_vol=0.01)  # type: ignore[arg-type]
    shocked = {k: float(rule.floor_vol(rule.shock_vol(vol, days, k), k)) for k in _KINDS}
    assert shocked["down"] <= shocked["none"] <= shocked["up"]
    assert shocked["down"] >= 0.01


def test_shock_is_non_increasing_in_days() -> None:
    rule = VolShockRule(**DERIBIT_BTC, dte_floor_days=0.5)
    shocks = rule.scaled_shock(np.linspace(0.0, 400.0, 4001), "up")
    assert np.all(np.diff(shocks) <= 1e-15)
