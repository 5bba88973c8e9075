"""The PMRM_2 stage functions on hand-built inputs, expected values written as formulas."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pmargin.margin.pmrm2 import Scenario, VolShockDirection, default_parameters
from pmargin.margin.pmrm2._stages import (
    FORWARD_LABEL,
    ScenarioArrays,
    ScenarioKind,
    contingencies,
    expiry_pnl,
    im_loss_factor,
    requirements,
    worst_loss,
)

PARAMS = default_parameters()
UP, NONE, LINEAR = VolShockDirection.UP, VolShockDirection.NONE, VolShockDirection.LINEAR
# regular down, tail down (dampened), skew: in tie-break order regular, tail, skew
THREE = replace(
    PARAMS,
    scenarios=(
        Scenario(0.5, NONE, 0.3),  # tail
        Scenario(0.9, UP, 1.0),  # regular
        Scenario(1.0, LINEAR, 1.0),  # skew
    ),
)


def test_scenario_arrays_are_built_once_and_read_only() -> None:
    scen = ScenarioArrays.of(THREE)
    assert scen is ScenarioArrays.of(replace(THREE))
    assert scen.kinds == (ScenarioKind.TAIL, ScenarioKind.REGULAR, ScenarioKind.SKEW)
    assert scen.order.tolist() == [1, 0, 2]
    assert scen.labels[-1] == FORWARD_LABEL
    np.testing.assert_array_equal(scen.move, [(0.5 - 1) * 0.3, 0.9 - 1, 0.0])
    with pytest.raises(ValueError, match="read-only"):
        scen.shocks[0] = 2.0


def test_expiry_pnl_discounts_by_sign_dampens_and_makes_skew_a_loss() -> None:
    scen = ScenarioArrays.of(THREE)
    # shocked values (tail, regular, skew), then spot 1, basis up, basis down
    values = np.array([[120.0, -40.0, 130.0, 100.0, 90.0, 95.0]])
    pos, neg, factor = 0.9, 1.1, 0.25
    out = expiry_pnl(values, pos, neg, factor, scen)
    want = [(120.0 * pos - 100.0) * 0.3, (-40.0 * neg - 100.0) * 1.0, -abs(130.0 * pos - 100.0)]
    np.testing.assert_allclose(out.pnl[0], want, rtol=1e-15)
    np.testing.assert_array_equal(out.sign[0], [1.0, 1.0, -1.0])
    assert out.mtm[0] == 100.0
    assert out.forward_contingency[0] == pytest.approx(min(90.0 - 100.0, 95.0 - 100.0) * factor)
    assert out.side[0] == scen.size + 1  # basis up loses more
    flat = expiry_pnl(np.array([[0.0, 0.0, 0.0, 5.0, 5.0, 6.0]]), pos, neg, factor, scen)
    assert flat.forward_contingency[0] == 0.0
    assert flat.side[0] == -1


@pytest.mark.parametrize(
    ("pnl", "forward", "worst", "binding"),
    [
        ([-5.0, -5.0, -5.0], -1.0, -5.0, 1),  # a tie goes to the regular scenario first
        ([-5.0, -2.0, -5.0], -1.0, -5.0, 0),  # then tail before skew
        ([-5.0, -2.0, -6.0], -1.0, -6.0, 2),
        ([-5.0, -2.0, -6.0], -6.0, -6.0, 2),  # the forward contingency must be strictly worse
        ([-5.0, -2.0, -6.0], -7.0, -7.0, 3),
    ],
)
def test_worst_loss_tie_break(pnl: list[float], forward: float, worst: float, binding: int) -> None:
    scen = ScenarioArrays.of(THREE)
    got, index = worst_loss(np.array([pnl]), np.array([forward]), scen.order)
    assert (got[0], index[0]) == (worst, binding)


def test_requirements_are_loss_times_factor_plus_charges() -> None:
    other = PARAMS.other_contingency
    charges = contingencies(1_000.0, 2_000.0, 30.0, 10.0, 5.0, other)
    mm_charges = 1_000.0 * other.mm_perp_percent + 2_000.0 * other.mm_option_percent + 30.0
    im_charges = 1_000.0 * other.im_perp_percent + 2_000.0 * other.im_option_percent + 10.0 + 5.0
    im, mm = requirements(-400.0, 1.3, 1.0, charges)
    assert im == pytest.approx(400.0 * 1.3 + mm_charges + im_charges, rel=1e-15)
    assert mm == pytest.approx(400.0 + mm_charges, rel=1e-15)


@pytest.mark.parametrize("stable", [1.0, 0.999, 0.97, 0.9])
def test_im_loss_factor_rises_below_the_peg_threshold(stable: float) -> None:
    other = PARAMS.other_contingency
    extra = max(other.peg_loss_threshold - stable, 0.0) * other.peg_loss_factor
    assert im_loss_factor(PARAMS, stable) == pytest.approx(PARAMS.margin.im_factor + extra)
