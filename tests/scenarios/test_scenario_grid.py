"""The risk-matrix grid builder: Deribit's 27-scenario table, tails, per-underlying blocks."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.scenarios import RiskMatrixScenario, VolShockKind, risk_matrix_grid


def test_deribit_standard_grid_has_27_scenarios_in_bucket_then_vol_order() -> None:
    grid = risk_matrix_grid(0.16, 4)
    assert len(grid) == 27
    moves = np.array([s.spot_move for s in grid])
    expected_moves = np.repeat(np.arange(-4, 5) * 0.04, 3)
    np.testing.assert_allclose(moves, expected_moves, rtol=0, atol=1e-15)
    assert moves[0] == -0.16
    assert moves[-1] == 0.16
    assert moves[12] == 0.0
    kinds = [s.vol_shock for s in grid]
    assert kinds == [VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP] * 9
    assert all(s.weight == 1.0 and s.underlying is None for s in grid)
    assert all(s.skew_rotation == 0.0 for s in grid)


def test_vol_order_is_down_none_up_whatever_the_input_order() -> None:
    grid = risk_matrix_grid(0.1, 1, ("up", "down"))
    assert [(s.spot_move, s.vol_shock.value) for s in grid] == [
        (-0.1, "down"),
        (-0.1, "up"),
        (0.0, "down"),
        (0.0, "up"),
        (0.1, "down"),
        (0.1, "up"),
    ]


def test_spot_multiplier_is_one_plus_move() -> None:
    grid = risk_matrix_grid(0.16, 4)
    assert grid[0].spot_multiplier == pytest.approx(0.84, abs=1e-15)
    assert grid[-1].spot_multiplier == pytest.approx(1.16, abs=1e-15)


def test_extended_moves_follow_the_standard_grid_with_their_weight() -> None:
    tails = (-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0)
    grid = risk_matrix_grid(
        0.16, 4, extended_moves=tails, extended_weight=0.25, extended_vol_scenarios=("up",)
    )
    assert len(grid) == 27 + 8
    extended = grid[27:]
    assert [s.spot_move for s in extended] == list(tails)
    assert all(s.weight == 0.25 and s.vol_shock is VolShockKind.UP for s in extended)
    assert all(s.weight == 1.0 for s in grid[:27])


def test_extended_default_vol_is_none() -> None:
    grid = risk_matrix_grid(0.2, 2, ("none",), extended_moves=(-0.5,))
    assert len(grid) == 6
    assert grid[-1].vol_shock is VolShockKind.NONE
    assert grid[-1].weight == 1.0


def test_per_underlying_blocks() -> None:
    grid = risk_matrix_grid(0.1, 2, extended_moves=(0.5,), underlyings=["BTC", "ETH"])
    per_block = 5 * 3 + 1
    assert len(grid) == 2 * per_block
    assert {s.underlying for s in grid[:per_block]} == {"BTC"}
    assert {s.underlying for s in grid[per_block:]} == {"ETH"}
    assert grid[per_block - 1].spot_move == 0.5
    assert grid[0].label.startswith("BTC")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"price_range": -0.1}, "price_range"),
        ({"price_range": 0.0}, "price_range"),
        ({"price_range": 1.0}, "price_range"),
        ({"price_range": float("nan")}, "price_range"),
        ({"buckets_per_side": 0}, "buckets_per_side"),
        ({"buckets_per_side": 2.5}, "buckets_per_side"),
        ({"vol_scenarios": ("up", "sideways")}, "vol_scenarios[1]"),
        ({"vol_scenarios": ()}, "vol_scenarios"),
        ({"vol_scenarios": ("up", "up")}, "vol_scenarios"),
        ({"vol_scenarios": "up"}, "vol_scenarios"),
        ({"extended_moves": (0.5, -1.0)}, "extended_moves[1]"),
        ({"extended_weight": 0.0}, "extended_weight"),
        ({"extended_weight": 1.5}, "extended_weight"),
        ({"underlyings": "BTC"}, "underlyings"),
        ({"underlyings": ["BTC", ""]}, "underlyings[1]"),
        ({"underlyings": []}, "underlyings"),
    ],
)
def test_grid_validation_names_the_field(kwargs: dict, field: str) -> None:
    args = {"price_range": 0.16, "buckets_per_side": 4, **kwargs}
    with pytest.raises(InputError) as info:
        risk_matrix_grid(**args)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"spot_move": -1.0}, "spot_move"),
        ({"spot_move": "0.1"}, "spot_move"),
        ({"spot_move": 0.1, "vol_shock": "sideways"}, "vol_shock"),
        ({"spot_move": 0.1, "weight": 0.0}, "weight"),
        ({"spot_move": 0.1, "weight": 1.01}, "weight"),
        ({"spot_move": 0.1, "underlying": ""}, "underlying"),
        ({"spot_move": 0.1, "skew_rotation": float("inf")}, "skew_rotation"),
    ],
)
def test_scenario_validation_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as info:
        RiskMatrixScenario(**kwargs)
    assert info.value.field == field


def test_scenario_coerces_vol_kind_strings() -> None:
    scenario = RiskMatrixScenario(-0.05, "UP")  # type: ignore[arg-type]
    assert scenario.vol_shock is VolShockKind.UP


def test_labels_show_the_move_in_percent() -> None:
    grid = risk_matrix_grid(0.18, 4, ("up",))
    assert grid[0].label == "all -18% vol up"
    assert grid[1].label == "all -13.5% vol up"
