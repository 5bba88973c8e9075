"""TIMS array pieces against hand values written as formulas."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.margin.tims import (
    offset_factors,
    offset_pnl,
    per_contract_minimum,
    valuation_points,
)


def test_points_plus_minus_15() -> None:
    points = valuation_points(0.15, 0.15)
    expected = [-15, -12, -9, -6, -3, 3, 6, 9, 12, 15]
    assert points * 100 == pytest.approx(expected)


def test_points_high_cap_index() -> None:
    points = valuation_points(0.08, 0.06)
    down = [-0.08 * k / 5 for k in (5, 4, 3, 2, 1)]
    up = [0.06 * k / 5 for k in (1, 2, 3, 4, 5)]
    assert points == pytest.approx(down + up)
    assert 0.0 not in points
    assert points[0] == pytest.approx(-0.08)
    assert points[-1] == pytest.approx(0.06)


def test_points_broad_index() -> None:
    assert valuation_points(0.10, 0.10) * 100 == pytest.approx(
        [-10, -8, -6, -4, -2, 2, 4, 6, 8, 10]
    )


@pytest.mark.parametrize(
    ("down", "up", "per_side", "field"),
    [(0.0, 0.1, 5, "down"), (1.0, 0.1, 5, "down"), (0.1, 0.0, 5, "up"), (0.1, 0.1, 0, "per_side")],
)
def test_points_reject(down: float, up: float, per_side: int, field: str) -> None:
    with pytest.raises(InputError) as err:
        valuation_points(down, up, per_side)
    assert err.value.field == field


def test_per_contract_minimum() -> None:
    contracts = np.array([3.0, -2.0, 0.0])
    assert per_contract_minimum(contracts, 100.0, 0.375) == pytest.approx(
        [0.375 * 100 * 3, 0.375 * 100 * 2, 0.0]
    )
    assert per_contract_minimum(1.0, 100.0, 0.375) == pytest.approx(37.50)


def test_offset_pnl_losses_full_gains_at_offset() -> None:
    # two class groups, one account, two points
    pnl = np.array([[[-100.0, 50.0]], [[80.0, -30.0]]])
    assert offset_pnl(pnl, 0.9)[0] == pytest.approx([-100 + 0.9 * 80, 0.9 * 50 - 30])
    assert offset_pnl(pnl, 0.0)[0] == pytest.approx([-100, -30])
    assert offset_factors(pnl, 0.75)[:, 0, 0] == pytest.approx([1.0, 0.75])
