"""OKX array pieces against hand values written as formulas."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.margin.okx import (
    basis_multipliers,
    minimum_charge_rates,
    progressive_scale,
    rate_shift_pnl,
    term_structure_charge,
    term_structure_weights,
)

BOUNDS = (10_000, 70_000, 170_000, 300_000, 470_000, 700_000)
MULTIPLIERS = (1, 2, 4, 6, 8, 10, 12)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (0.0, 0.0),
        (5_000.0, 5_000.0 * 1),
        (10_000.0, 10_000.0 * 1),
        (80_000.0, 10_000 * 1 + 60_000 * 2 + 10_000 * 4),
        (170_000.0, 10_000 * 1 + 60_000 * 2 + 100_000 * 4),
        (
            1_000_000.0,
            10_000 * 1
            + 60_000 * 2
            + 100_000 * 4
            + 130_000 * 6
            + 170_000 * 8
            + 230_000 * 10
            + 300_000 * 12,
        ),
    ],
)
def test_progressive_scale_tax_brackets(raw: float, expected: float) -> None:
    assert progressive_scale(raw, BOUNDS, MULTIPLIERS) == pytest.approx(expected)


def test_progressive_scale_vectorised_and_monotone() -> None:
    raw = np.linspace(0.0, 2e6, 101)
    scaled = progressive_scale(raw, BOUNDS, MULTIPLIERS)
    assert scaled.shape == raw.shape
    assert np.all(np.diff(scaled) > 0.0)
    assert np.all(scaled >= raw)


@pytest.mark.parametrize(
    ("raw", "bounds", "multipliers", "field"),
    [
        (-1.0, BOUNDS, MULTIPLIERS, "raw"),
        (1.0, (10.0, 5.0), (1, 2, 3), "bounds"),
        (1.0, (10.0, 20.0), (1, 2), "multipliers"),
    ],
)
def test_progressive_scale_rejects(
    raw: float, bounds: tuple[float, ...], multipliers: tuple[float, ...], field: str
) -> None:
    with pytest.raises(InputError) as err:
        progressive_scale(raw, bounds, multipliers)
    assert err.value.field == field


def test_basis_multipliers_annual_rate_times_years() -> None:
    time = np.array([0.25, np.nan, 2.0, 50.0])
    mult = basis_multipliers(time, 0.05)
    assert mult[0] == pytest.approx([1 + 0.05 * 0.25, 1 - 0.05 * 0.25])
    assert mult[1] == pytest.approx([1.0, 1.0])  # perpetual / spot: no basis move
    assert mult[2] == pytest.approx([1 + 0.05 * 2.0, 1 - 0.05 * 2.0])
    assert mult[3] == pytest.approx([1.99, 0.01])  # capped so the forward stays positive


def test_rate_shift_pnl() -> None:
    pnl = rate_shift_pnl([100.0, 0.0], [0.5, np.nan], 0.01)
    assert pnl[0] == pytest.approx([100 * (math.exp(-0.01 * 0.5) - 1), 100 * (math.exp(0.005) - 1)])
    assert pnl[1] == pytest.approx([0.0, 0.0])


def test_term_structure_charge_and_euler_weights() -> None:
    v = np.array([[100.0, -60.0], [100.0, 60.0], [0.0, 0.0], [-30.0, 10.0]])
    charge = term_structure_charge(v)
    assert charge == pytest.approx([160 - 40, 0.0, 0.0, 40 - 20])
    weights = term_structure_weights(v)
    assert (v * weights).sum(axis=1) == pytest.approx(charge)


def test_minimum_charge_rates() -> None:
    assert minimum_charge_rates([100_000.0, 3_000.0], [0.0005, 0.001]) == pytest.approx(
        [100_000 * 0.0005, 3_000 * 0.001]
    )


def test_basis_multipliers_undated_move() -> None:
    time = np.array([np.nan, np.nan, 0.5])
    mult = basis_multipliers(time, [0.05, 0.05, 0.05], [0.002, 0.0, 0.002])
    assert mult[0] == pytest.approx([1.002, 0.998])  # perpetual: its own move
    assert mult[1] == pytest.approx([1.0, 1.0])  # spot: none
    assert mult[2] == pytest.approx([1 + 0.05 * 0.5, 1 - 0.05 * 0.5])  # dated: annual x T


@pytest.mark.parametrize("n", [1, 7, 3692])
@pytest.mark.parametrize("n_scenarios", [1, 24, 27])
def test_row_matrix_is_zero_aligned_and_wide_enough(n: int, n_scenarios: int) -> None:
    from pmargin.margin._aligned import CACHE_LINE
    from pmargin.margin.okx._rows import ROW_EXTRAS, ROW_LANES, row_matrix

    matrix = row_matrix(n, n_scenarios)
    width = matrix.shape[1]
    assert matrix.shape[0] == n
    assert width % ROW_LANES == 0
    assert n_scenarios + 4 + ROW_EXTRAS <= width < n_scenarios + 4 + ROW_EXTRAS + ROW_LANES
    assert matrix.flags.c_contiguous
    assert matrix.ctypes.data % CACHE_LINE == 0
    assert not matrix.any()


def test_the_rate_shift_pnl_is_the_values_times_the_factors() -> None:
    from pmargin.margin.okx._components import rate_shift_factors

    value = np.array([0.0, 12.5, np.nan, 3_000.0])
    time = np.array([np.nan, 0.1, 0.5, 2.0])
    factor = rate_shift_factors(time, 0.01)
    expected = np.nan_to_num(value)[:, None] * factor
    np.testing.assert_array_equal(rate_shift_pnl(value, time, 0.01), expected)
    np.testing.assert_array_equal(factor[0], [0.0, 0.0])


def test_progressive_scale_checks_a_table_given_as_arrays_or_unhashable() -> None:
    raw = np.array([5_000.0, 80_000.0])
    bounds: Any = np.asarray(BOUNDS, dtype=float)
    same = progressive_scale(raw, bounds, list(MULTIPLIERS))
    np.testing.assert_array_equal(same, progressive_scale(raw, BOUNDS, MULTIPLIERS))
    unhashable: Any = [[1.0, 2.0]]
    with pytest.raises(InputError):
        progressive_scale(raw, unhashable, MULTIPLIERS)
    with pytest.raises(InputError):
        progressive_scale(raw, (2.0, 1.0), (1.0, 1.0, 1.0))
