"""The array pieces of the Deribit risk matrix against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.margin import get_model
from pmargin.margin.deribit import (
    DampenerMode,
    DeltaShockMode,
    DeribitModel,
    aggregate_risk_vector,
    apply_extended_dampener,
    apply_pnl_offset,
    clamp_delta_one,
    delta_shock,
    deribit_scenarios,
    roll_shock_rate,
    worst_case,
)
from pmargin.scenarios import VolShockKind


def _params() -> DeribitModel:
    model = get_model("deribit")
    assert isinstance(model, DeribitModel)
    return model


def test_scenarios_order_and_labels() -> None:
    p = _params().params
    s = deribit_scenarios("BTC", p.pair("BTC"), p.general)
    assert len(s) == 27 + 8
    moves = [x.spot_move for x in s]
    # bucket k (0..8) holds cells 3k..3k+2 at move 0.16 * (k - 4) / 4
    for k in range(9):
        assert moves[3 * k : 3 * k + 3] == pytest.approx([0.16 * (k - 4) / 4] * 3)
        assert [x.vol_shock for x in s[3 * k : 3 * k + 3]] == [
            VolShockKind.DOWN,
            VolShockKind.NONE,
            VolShockKind.UP,
        ]
    assert moves[27:] == pytest.approx([-0.66, -0.33, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0])
    assert all(x.vol_shock is VolShockKind.UP for x in s[27:])
    assert s[0].label == "BTC -16% vol down"
    assert s[27].label == "BTC -66% vol up (extended)"


def test_clamp_delta_one_only_in_extended_and_only_delta_one() -> None:
    moves = np.array([-0.16, 0.0, 0.16, -0.66, 5.0])
    mult = np.tile(1.0 + moves, (2, 1))
    out = clamp_delta_one(mult, [True, False], 0.16, 3)
    np.testing.assert_array_equal(out[0], 1.0 + moves)  # option: untouched
    np.testing.assert_allclose(out[1], [0.84, 1.0, 1.16, 0.84, 1.16])
    np.testing.assert_array_equal(mult[1], 1.0 + moves)  # input not modified


def test_pnl_offset_scales_and_caps_profits_only() -> None:
    x = np.array([-2.0, 0.0, 1.0, 10.0])
    np.testing.assert_allclose(apply_pnl_offset(x, 0.6, 100.0), [-2.0, 0.0, 0.6 * 1.0, 0.6 * 10])
    np.testing.assert_allclose(apply_pnl_offset(x, 0.6, 3.0), [-2.0, 0.0, 0.6, 3.0])
    np.testing.assert_allclose(apply_pnl_offset(x, 0.0, 0.0), [-2.0, 0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # subtract: min(0, x + D) with D = 5
        (DampenerMode.SUBTRACT, [-12.0 + 5.0, 0.0, 0.0, 0.0]),
        # threshold: x where x < -D, else 0
        (DampenerMode.THRESHOLD, [-12.0, 0.0, 0.0, 0.0]),
    ],
)
def test_extended_dampener(mode: DampenerMode, expected: list[float]) -> None:
    x = np.array([-12.0, -4.0, 0.0, 3.0])
    np.testing.assert_allclose(apply_extended_dampener(x, 5.0, mode), expected)


def test_aggregate_offsets_everywhere_and_dampens_extended_only() -> None:
    pnl = np.array([[-8.0, 2.0, -1.0, 4.0]])
    out = aggregate_risk_vector(
        pnl, 2, pnl_offset=0.5, max_offsetable=10.0, dampener=3.0, mode=DampenerMode.SUBTRACT
    )
    # standard: [-8, 0.5 x 2]; extended: [min(0, -1 + 3), min(0, 0.5 x 4 + 3)]
    np.testing.assert_allclose(out, [[-8.0, 1.0, 0.0, 0.0]])


def test_roll_shock_rate_floor_and_linear_term() -> None:
    t = np.array([np.nan, 11 / 365, 0.5, 2.0])
    rate = roll_shock_rate(t, 0.01, 0.075)
    np.testing.assert_allclose(rate, [0.01, 0.01, 0.075 * 0.5, 0.075 * 2.0])


def test_worst_case_prefers_the_vol_none_cell_on_ties() -> None:
    kinds = (VolShockKind.DOWN, VolShockKind.NONE, VolShockKind.UP) * 2
    pnl = np.array(
        [
            [-3.0, -3.0, -3.0, 1.0, 1.0, 1.0],  # three-way tie -> the none cell
            [-1.0, -2.0, -5.0, 0.0, 0.0, 0.0],  # unique minimum
            [-5.0, -4.0, -5.0, 0.0, 0.0, 0.0],  # tie without none -> first
            [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # no loss
        ]
    )
    loss, index = worst_case(pnl, kinds)
    np.testing.assert_allclose(loss, [3.0, 5.0, 5.0, 0.0])
    np.testing.assert_array_equal(index, [1, 2, 0, -1])


def test_delta_shock_off_and_excess() -> None:
    d = np.array([0.0, 15e6, -25e6, 40e6])
    np.testing.assert_array_equal(delta_shock(d, 20e6, 0.1, DeltaShockMode.OFF), 0.0)
    np.testing.assert_allclose(
        delta_shock(d, 20e6, 0.1, DeltaShockMode.EXCESS), [0.0, 0.0, 0.1 * 5e6, 0.1 * 20e6]
    )
