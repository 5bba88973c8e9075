"""ScenarioSet.apply: shocked spot multipliers and vols per instrument x scenario.

And ScenarioSet.kept_vols: apply's vols at any prices, scenario-major in kept buffers (bits).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from pmargin.engine import instruments_for
from pmargin.errors import InputError
from pmargin.market import market_from_dict
from pmargin.scenarios import (
    RiskMatrixScenario,
    ScenarioSet,
    VolShockKind,
    VolShockMode,
    VolShockRule,
    risk_matrix_grid,
)
from pmargin.valuation import ResolvedInstruments, resolve_instruments

SYMBOLS = [
    "BTC-28NOV24-95000-C",  # 1 day
    "BTC-6DEC24-90000-P",  # 9 days
    "BTC-27DEC24-100000-C",  # 30 days
    "BTC-28MAR25-120000-C",  # 121 days
    "ETH-27DEC24-3000-P",  # 30 days
    "BTC-PERPETUAL",
    "ETH-27DEC24",
]
DAYS = [1.0, 9.0, 30.0, 121.0, 30.0]
VOLS = [0.50, 0.55, 0.60, 0.65, 0.70]
FORWARDS = [95_100.0, 95_400.0, 96_000.0, 98_000.0, 3_520.0]
STRIKES = [95_000.0, 90_000.0, 100_000.0, 120_000.0, 3_000.0]
IS_BTC = np.array([True, True, True, True, False, True, False])


@pytest.fixture(scope="module")
def resolved() -> ResolvedInstruments:
    market = market_from_dict(
        {
            "timestamp": "2024-11-27T08:00:00Z",
            "index": {"BTC": 95_000.0, "ETH": 3_500.0},
            "forwards": {
                "BTC": {
                    "2024-11-28": FORWARDS[0],
                    "2024-12-06": FORWARDS[1],
                    "2024-12-27": FORWARDS[2],
                    "2025-03-28": FORWARDS[3],
                },
                "ETH": {"2024-12-27": FORWARDS[4]},
            },
            "marks": {
                **{s: {"iv": v} for s, v in zip(SYMBOLS[:5], VOLS, strict=True)},
                "BTC-PERPETUAL": {"price": 95_200.0},
            },
        }
    )
    return resolve_instruments(instruments_for(SYMBOLS), market)


def _shock(size: float, days: float, floor: float = 1.0) -> float:
    d = max(days, floor)
    return size * (30.0 / d) ** (0.30 if d < 30.0 else 0.13)


def test_inputs_are_what_the_tests_assume(resolved: ResolvedInstruments) -> None:
    np.testing.assert_allclose(resolved.time[:5] * 365.0, DAYS, rtol=1e-12)
    np.testing.assert_allclose(resolved.vol[:5], VOLS)


def test_deribit_grid_shapes_and_values(resolved: ResolvedInstruments) -> None:
    rule = VolShockRule(0.50, 0.25, min_vol_for_shock_up=0.5)
    scenario_set = ScenarioSet(risk_matrix_grid(0.16, 4), rule)
    assert scenario_set.n_scenarios == 27
    arrays = scenario_set.apply(resolved)
    assert arrays.spot_multiplier.shape == (7, 27)
    assert arrays.vol.shape == (7, 27)
    assert arrays.weight.shape == (27,)
    for a in (arrays.spot_multiplier, arrays.vol, arrays.weight):
        assert a.dtype == np.float64
    np.testing.assert_array_equal(arrays.weight, 1.0)
    expected_mult = 1.0 + np.repeat(np.arange(-4, 5) * 0.04, 3)
    np.testing.assert_allclose(arrays.spot_multiplier, np.tile(expected_mult, (7, 1)), atol=1e-15)
    assert np.all(np.isnan(arrays.vol[5:]))
    assert not np.any(np.isnan(arrays.vol[:5]))
    for i in range(5):
        up = max(0.5, VOLS[i] * (1.0 + _shock(0.50, DAYS[i])))
        down = max(0.01, VOLS[i] * (1.0 - _shock(0.25, DAYS[i])))
        np.testing.assert_allclose(arrays.vol[i, 2::3], up, rtol=1e-13)
        np.testing.assert_allclose(arrays.vol[i, 0::3], down, rtol=1e-13)
        np.testing.assert_allclose(arrays.vol[i, 1::3], VOLS[i], rtol=1e-15)


def test_up_floor_binds_for_low_vol_long_dated(resolved: ResolvedInstruments) -> None:
    rule = VolShockRule(0.05, 0.05, min_vol_for_shock_up=0.80)
    arrays = ScenarioSet((RiskMatrixScenario(0.0, VolShockKind.UP),), rule).apply(resolved)
    # 0.65 * (1 + 0.05 * (30/121) ** 0.13) < 0.80 -> floor
    assert arrays.vol[3, 0] == 0.80


def test_absolute_mode(resolved: ResolvedInstruments) -> None:
    rule = VolShockRule(0.10, 0.20, mode="absolute")  # type: ignore[arg-type]
    scenarios = (RiskMatrixScenario(0.0, "up"), RiskMatrixScenario(0.0, "down"))  # type: ignore[arg-type]
    arrays = ScenarioSet(scenarios, rule).apply(resolved)
    for i in range(5):
        assert arrays.vol[i, 0] == pytest.approx(VOLS[i] + _shock(0.10, DAYS[i]), rel=1e-13)
        assert arrays.vol[i, 1] == pytest.approx(
            max(0.01, VOLS[i] - _shock(0.20, DAYS[i])), rel=1e-13
        )


def test_skew_rotation_adds_slope_times_log_moneyness(resolved: ResolvedInstruments) -> None:
    rule = VolShockRule(0.45, 0.30)
    scenarios = (
        RiskMatrixScenario(-0.1, "none", skew_rotation=0.2),  # type: ignore[arg-type]
        RiskMatrixScenario(-0.1, "up", skew_rotation=-0.5),  # type: ignore[arg-type]
        RiskMatrixScenario(-0.1, "none", skew_rotation=-10.0),  # type: ignore[arg-type]
    )
    arrays = ScenarioSet(scenarios, rule).apply(resolved)
    for i in range(5):
        k = math.log(STRIKES[i] / FORWARDS[i])
        assert arrays.vol[i, 0] == pytest.approx(VOLS[i] + 0.2 * k, rel=1e-13)
        up = VOLS[i] * (1.0 + _shock(0.45, DAYS[i])) - 0.5 * k
        assert arrays.vol[i, 1] == pytest.approx(up, rel=1e-13)
    # a steep rotation drives the 120k call (k > 0) below zero -> min_vol floor
    assert math.log(120_000 / 98_000) * -10.0 + 0.65 < 0.0
    assert arrays.vol[3, 2] == 0.01


def test_btc_only_scenarios_leave_eth_unmoved(resolved: ResolvedInstruments) -> None:
    rule = VolShockRule(0.5, 0.25)
    scenarios = risk_matrix_grid(0.2, 1, ("up",), underlyings=["BTC", "ETH"])
    arrays = ScenarioSet(scenarios, rule).apply(resolved)
    assert arrays.spot_multiplier.shape == (7, 6)
    moves = np.array([0.8, 1.0, 1.2])
    np.testing.assert_allclose(arrays.spot_multiplier[IS_BTC, :3], np.tile(moves, (5, 1)))
    np.testing.assert_array_equal(arrays.spot_multiplier[~IS_BTC, :3], 1.0)
    np.testing.assert_array_equal(arrays.spot_multiplier[IS_BTC, 3:], 1.0)
    np.testing.assert_allclose(arrays.spot_multiplier[~IS_BTC, 3:], np.tile(moves, (2, 1)))
    # ETH option keeps its mark vol under BTC scenarios, and is shocked under its own
    np.testing.assert_array_equal(arrays.vol[4, :3], VOLS[4])
    np.testing.assert_allclose(arrays.vol[4, 3:], VOLS[4] * 1.5, rtol=1e-14)
    # BTC 30-day option: shocked under BTC scenarios, untouched under ETH ones
    np.testing.assert_allclose(arrays.vol[2, :3], VOLS[2] * 1.5, rtol=1e-14)
    np.testing.assert_array_equal(arrays.vol[2, 3:], VOLS[2])


def test_weights_come_from_the_scenarios(resolved: ResolvedInstruments) -> None:
    grid = risk_matrix_grid(0.16, 4, extended_moves=(-0.66, 1.0), extended_weight=0.3)
    arrays = ScenarioSet(grid, VolShockRule(0.5, 0.25)).apply(resolved)
    np.testing.assert_array_equal(arrays.weight, [1.0] * 27 + [0.3, 0.3])
    np.testing.assert_allclose(arrays.spot_multiplier[:, 27], 0.34)
    np.testing.assert_allclose(arrays.spot_multiplier[:, 28], 2.0)


def test_no_options_and_no_instruments(resolved: ResolvedInstruments) -> None:
    only_linear = resolve_instruments(
        list(resolved.instruments[5:]),
        market_from_dict(
            {
                "timestamp": "2024-11-27T08:00:00Z",
                "index": {"BTC": 95_000.0, "ETH": 3_500.0},
                "forwards": {"ETH": {"2024-12-27": 3_520.0}},
            }
        ),
    )
    scenario_set = ScenarioSet(risk_matrix_grid(0.1, 1), VolShockRule(0.5, 0.25))
    arrays = scenario_set.apply(only_linear)
    assert arrays.vol.shape == (2, 9)
    assert np.all(np.isnan(arrays.vol))


def test_scenario_set_validation() -> None:
    rule = VolShockRule(0.5, 0.25)
    with pytest.raises(InputError) as info:
        ScenarioSet((), rule)
    assert info.value.field == "scenarios"
    with pytest.raises(InputError) as info:
        ScenarioSet((RiskMatrixScenario(0.1), 0.2), rule)  # type: ignore[arg-type]
    assert info.value.field == "scenarios[1]"
    with pytest.raises(InputError) as info:
        ScenarioSet((RiskMatrixScenario(0.1),), {"range_up": 0.5})  # type: ignore[arg-type]
    assert info.value.field == "vol_rule"


def test_labels_and_list_input_is_stored_as_tuple() -> None:
    scenario_set = ScenarioSet(list(risk_matrix_grid(0.1, 1, ("none",))), VolShockRule(0.5, 0.5))  # type: ignore[arg-type]
    assert isinstance(scenario_set.scenarios, tuple)
    assert scenario_set.labels == ("all -10% vol none", "all +0% vol none", "all +10% vol none")


def test_a_grid_is_a_scenario_source_with_equal_probability_weights() -> None:
    from pmargin.scenarios import ScenarioSet as Grid
    from pmargin.scenarios import ScenarioSource, VolShockRule, risk_matrix_grid

    grid = Grid(risk_matrix_grid(0.16, 4), VolShockRule(0.5, 0.25))
    assert isinstance(grid, ScenarioSource)
    np.testing.assert_array_equal(grid.weights, np.full(27, 1.0 / 27))


def test_restricted_to_the_only_underlying_held_equals_unrestricted(
    resolved: ResolvedInstruments,
) -> None:
    """Scenarios restricted to the one underlying every instrument has move every instrument.

    ``apply`` then skips the mask (a risk-matrix block of one underlying); the arrays equal the
    unrestricted grid's bit for bit, and restricted grids on a mixed book still mask.
    """
    rule = VolShockRule(0.5, 0.25)
    btc = resolved.take(np.flatnonzero(IS_BTC))
    only_btc = ScenarioSet(risk_matrix_grid(0.16, 2, underlyings=["BTC"]), rule).apply(btc)
    every = ScenarioSet(risk_matrix_grid(0.16, 2), rule).apply(btc)
    np.testing.assert_array_equal(only_btc.spot_multiplier, every.spot_multiplier)
    np.testing.assert_array_equal(only_btc.vol, every.vol)
    mixed = ScenarioSet(risk_matrix_grid(0.16, 2, underlyings=["BTC"]), rule).apply(resolved)
    np.testing.assert_array_equal(mixed.spot_multiplier[~IS_BTC], 1.0)
    np.testing.assert_array_equal(mixed.spot_multiplier[IS_BTC], every.spot_multiplier)
    np.testing.assert_array_equal(mixed.vol[IS_BTC], every.vol)


# -- kept_vols ---------------------------------------------------------------------------

SKEWED = (
    RiskMatrixScenario(-0.1, VolShockKind.NONE, skew_rotation=0.2),
    RiskMatrixScenario(0.1, VolShockKind.UP, skew_rotation=-0.5),
    RiskMatrixScenario(0.0, VolShockKind.DOWN, skew_rotation=-10.0),
)
SETS = {
    "grid": ScenarioSet(risk_matrix_grid(0.16, 2), VolShockRule(0.5, 0.25)),
    "restricted": ScenarioSet(
        risk_matrix_grid(0.16, 2, underlyings=["BTC"]) + SKEWED, VolShockRule(0.5, 0.25)
    ),
    "absolute": ScenarioSet(
        SKEWED, VolShockRule(0.1, 0.2, mode=VolShockMode.ABSOLUTE, min_vol_for_shock_up=0.4)
    ),
    "vol only": ScenarioSet(
        tuple(RiskMatrixScenario(0.0, k) for k in VolShockKind), VolShockRule(0.45, 0.3)
    ),
}


def _moved(resolved: ResolvedInstruments, rng: np.random.Generator) -> ResolvedInstruments:
    """The same instruments at other prices and vols (a tick)."""
    n = len(resolved)
    return replace(
        resolved,
        underlying_price=resolved.underlying_price * rng.uniform(0.8, 1.2, n),
        vol=resolved.vol * rng.uniform(0.5, 1.5, n),
    )


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("options_only", [False, True])
def test_kept_vols_are_apply_s_bit_for_bit(
    resolved: ResolvedInstruments,
    name: str,
    options_only: bool,
) -> None:
    """Each call gives ``apply(resolved).vol.T`` at the call's prices: the same bits."""
    scenario_set = SETS[name]
    book = resolved.take(np.flatnonzero(resolved.is_option)) if options_only else resolved
    kept = scenario_set.kept_vols(book)
    rng = np.random.default_rng(11)
    for moved in [book] + [_moved(book, rng) for _ in range(3)]:
        vol = kept(moved)
        assert vol.shape == (scenario_set.n_scenarios, len(book))
        np.testing.assert_array_equal(vol, scenario_set.apply(moved).vol.T, strict=True)


def test_non_option_rows_stay_nan(resolved: ResolvedInstruments) -> None:
    vol = SETS["restricted"].kept_vols(resolved)(resolved)
    assert np.isnan(vol[:, ~resolved.is_option]).all()
    assert np.isfinite(vol[:, resolved.is_option]).all()
    assert IS_BTC.size == len(resolved)


@pytest.mark.parametrize("mode", list(VolShockMode))
def test_shock_term_then_apply_term_is_shock_vol(mode: VolShockMode) -> None:
    rule = VolShockRule(0.4, 0.3, mode=mode)
    days = np.array([0.5, 1.0, 9.0, 30.0, 121.0, np.nan])
    vol = np.array([0.5, 0.6, 0.7, 0.8, 0.9, np.nan])
    for kind in VolShockKind:
        expected = rule.shock_vol(vol, days, kind)
        np.testing.assert_array_equal(rule.apply_term(vol, rule.shock_term(days, kind)), expected)
        out = np.empty(6)
        assert rule.apply_term(vol, rule.shock_term(days, kind), out=out) is out
        np.testing.assert_array_equal(out, expected)
