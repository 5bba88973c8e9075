"""The one-row tail of the scenario-risk what-if path equals the batch tail.

``smallest`` (block minima, then only the candidates sorted) equals its twin
``smallest_reference`` (the whole row sorted) exactly, ties and short rows included; the
measure from a row's smallest values equals ``tail_measure`` of the row (1e-12 relative: the
same values summed in another order), for VaR and ES with either boundary rule. The
incremental path's answers against the rebuilt account are in
``tests/health/test_whatif_commit.py`` (every registered model).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pmargin.margin.scenario_risk._tail import (
    smallest,
    smallest_reference,
    tail_count,
    tail_measure,
    tail_measure_of_smallest,
)

SIZES = (1, 7, 8, 9, 40, 365, 730, 1000)
LEVELS = (0.5, 0.9, 0.96, 0.975, 0.99)


def _rows(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    normal = rng.normal(0.0, 1e4, n)
    ties = np.round(rng.normal(0.0, 2.0, n))  # few distinct values: many ties
    constant = np.full(n, -3.5)
    return [normal, ties, constant, np.sort(normal), np.sort(normal)[::-1].copy()]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("level", LEVELS)
def test_smallest_equals_the_sorted_row(n: int, level: float) -> None:
    k = tail_count(n, level)
    for row in _rows(n, seed=n):
        fast = smallest(row, k)
        assert fast.shape == (k,)
        np.testing.assert_array_equal(fast, smallest_reference(row, k))


def test_tail_count_is_the_ceiling_with_the_level_tolerance() -> None:
    assert tail_count(730, 0.96) == math.ceil(0.04 * 730)
    assert tail_count(100, 0.99) == 1  # 0.01 x 100 = 1.0000000000000009: snapped
    assert tail_count(3, 0.999) == 1


@pytest.mark.parametrize("n", [40, 365, 730])
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("measure", "boundary"), [("es", "whole"), ("es", "split"), ("var", "whole")]
)
def test_the_measure_from_the_smallest_values_is_the_rows_measure(
    n: int, level: float, measure: str, boundary: str
) -> None:
    weights = np.full(n, 1.0 / n)
    for row in _rows(n, seed=2 * n):
        k = tail_count(n, level)
        fast = tail_measure_of_smallest(smallest(row, k), n, level, measure, boundary)
        batch = tail_measure(row[np.newaxis, :], level, weights, measure, boundary)[0]
        assert float(fast) == pytest.approx(float(batch), rel=1e-12, abs=1e-12)


def test_the_batch_es_is_still_the_mean_of_the_tail() -> None:
    """Same bits as before the shared stage: ``-partition(...)[:, :k].mean(axis=1)``."""
    rng = np.random.default_rng(1)
    pnl = rng.normal(0.0, 1e3, (50, 730))
    k = tail_count(730, 0.96)
    expected = -np.partition(pnl, k - 1, axis=1)[:, :k].mean(axis=1)
    got = tail_measure(pnl, 0.96, np.full(730, 1.0), "es")
    np.testing.assert_array_equal(got, expected)
