"""The linear programme against its formula: HiGHS's optimum is the core's, on any core.

Random cores (worst-loss cells, absolute terms, ES sets) over 2-3 candidates: the whole-lot
MILP equals brute force over the lot grid exactly (1e-9 relative), the LP's objective equals
the core evaluated at its solution, and the core's ES is :func:`pmargin.risk.expected_shortfall`.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pmargin.optimise import AbsTerm, LinearCore, MaxTerm, TailSet, TailTerm, solve_hedge, tail_mean
from pmargin.risk import expected_shortfall

RTOL = 1e-9


def _core(rng: np.random.Generator, n: int, tail: bool) -> LinearCore:
    cells = 7
    max_terms = (MaxTerm(1.3, rng.normal(0, 5, cells), rng.normal(0, 3, (n, cells))),)
    abs_terms = (AbsTerm(0.7, float(rng.normal(0, 2)), rng.normal(0, 1, n)),)
    tail_terms: tuple[TailTerm, ...] = ()
    if tail:
        sets = tuple(
            TailSet(rng.normal(0, 4, s), rng.normal(0, 2, (n, s)), np.full(s, 1 / s), mass)
            for s, mass in ((40, 3 / 40), (25, 2 / 25))
        )
        tail_terms = (TailTerm(1.1, sets),)
    return LinearCore(n, 2.5, max_terms, abs_terms, tail_terms)


@pytest.mark.parametrize(
    ("seed", "n", "tail"), [(1, 2, False), (2, 3, False), (3, 2, True), (4, 3, True)]
)
def test_milp_equals_brute_force(seed: int, n: int, tail: bool) -> None:
    """Whole lots in [-3, 3]: HiGHS's optimum is the grid's best, to 1e-9 relative."""
    rng = np.random.default_rng(seed)
    core = _core(rng, n, tail)
    lot = rng.uniform(0.5, 2.0, n)
    buy, sell = rng.uniform(0, 0.5, n), rng.uniform(0, 0.5, n)
    grid = 3
    solution = solve_hedge(core, lot, buy, sell, np.full(n, float(grid)), integer=True, window=None)

    def total(lots: tuple[int, ...]) -> float:
        x = np.asarray(lots, dtype=np.float64) * lot
        return core.evaluate(x) + float(np.maximum(x, 0) @ buy + np.maximum(-x, 0) @ sell)

    best = min(total(t) for t in itertools.product(range(-grid, grid + 1), repeat=n))
    found = total(tuple(int(v) for v in np.round(solution.quantity / lot)))
    assert found == pytest.approx(best, rel=RTOL)
    assert solution.objective == pytest.approx(best, rel=RTOL)
    assert solution.bound <= solution.objective


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_lp_objective_is_the_core_at_its_solution(seed: int) -> None:
    """Any amount: the LP's optimum equals the core's IM plus cost at the LP's trades."""
    rng = np.random.default_rng(seed)
    core = _core(rng, 3, tail=True)
    lot = np.ones(3)
    buy = sell = np.full(3, 0.05)
    solution = solve_hedge(core, lot, buy, sell, np.full(3, 10.0), integer=False)
    x = solution.quantity
    value = core.evaluate(x) + 0.05 * float(np.abs(x).sum())
    assert solution.objective == pytest.approx(value, rel=RTOL)
    assert solution.bound == solution.objective
    start = core.evaluate(np.zeros(3))
    assert solution.objective <= start * (1 + RTOL)


@pytest.mark.parametrize("boundary", ["whole", "split"])
def test_tail_mean_is_expected_shortfall(boundary: str) -> None:
    """The core's ES of equally weighted scenarios is pmargin.risk's, both boundaries."""
    rng = np.random.default_rng(11)
    for n, level in ((730, 0.96), (1000, 0.99), (37, 0.9)):
        pnl = rng.standard_t(3, n)
        k = int(np.ceil((1 - level) * n - 1e-9 * n))
        mass = k / n
        if boundary == "split":
            mass = (k - 1 + float(np.clip((1 - level) * n - (k - 1), 0, 1))) / n
        got = tail_mean(-pnl, np.full(n, 1 / n), mass)
        want = float(expected_shortfall(pnl, level, None, boundary))  # type: ignore[arg-type]
        assert got == pytest.approx(want, rel=1e-12)
