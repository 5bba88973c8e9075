"""Hedges under real models, verified: exact where the core is the model, limits kept.

Small universes (2-3 instruments, coarse lots, a grid of a few lots per side) on the shipped
example market. For an exact model the whole-lot programme (every lot count) equals brute
force over the grid with the true model to 1e-9 relative, and the IM after the trades, from
the what-if, equals the core's and a from-scratch re-margin. Deterministic: no randomness.
"""

from __future__ import annotations

import numpy as np
import pytest
from _hedge_cases import ProblemOf

from pmargin.errors import InputError
from pmargin.margin import HEDGE_SOLVES
from pmargin.optimise import (
    HedgeLimits,
    HedgeProblem,
    HedgeProposal,
    delta_hedge,
    optimise_hedge,
    optimise_hedge_reference,
)

RTOL = 1e-9
PERP_PUT_FUTURE = ("BTC-PERPETUAL", "BTC-28NOV25-95000-P", "BTC-26DEC25")
GRID = HedgeLimits(max_size=6_000.0, window=None)
"""With COARSE lots: 3 lots of the perpetual and the future (20,000 USD each); options 6,000
native units allow any option lot the grid reaches (the grid bounds them)."""


def _check_verified(problem: HedgeProblem, proposal: HedgeProposal) -> None:
    """IM after from the what-if equals a from-scratch re-margin of the account after the trades."""
    from pmargin.health import Trade

    by = dict(zip(problem.universe.symbols, problem.universe.instruments, strict=True))
    legs = [Trade(by[t.instrument], t.base_quantity, t.price) for t in proposal.trades]
    again = problem.whatif.margin_after_reference(problem.row, legs)
    assert again.initial_margin == pytest.approx(proposal.im_after, rel=RTOL, abs=1e-9)
    assert again.equity == pytest.approx(proposal.equity_after, rel=RTOL)


@pytest.mark.parametrize("symbols", [PERP_PUT_FUTURE[:2], PERP_PUT_FUTURE])
def test_deribit_lp_equals_brute_force(problem_of: ProblemOf, symbols: tuple[str, ...]) -> None:
    """Deribit S:PM: the MILP's hedge is the brute-force optimum on the grid; IM verified."""
    problem = problem_of("deribit", symbols, GRID)
    grid = 3
    problem.max_lots = np.minimum(problem.max_lots, grid)
    proposal = optimise_hedge(problem)
    assert proposal.method == "exact"
    brute = optimise_hedge_reference(problem, grid)
    assert proposal.total_after == pytest.approx(brute.total_after, rel=RTOL)
    assert proposal.objective == pytest.approx(proposal.total_after, rel=RTOL)
    assert proposal.core_im == pytest.approx(proposal.im_after, rel=RTOL)
    assert proposal.im_after < proposal.im_before
    _check_verified(problem, proposal)


def test_deribit_lp_any_amount_objective_is_im_after(problem_of: ProblemOf) -> None:
    """Without lots the LP's objective is the model's IM after its trades plus their cost."""
    problem = problem_of("deribit", PERP_PUT_FUTURE, HedgeLimits(max_size=50_000.0, lots=False))
    proposal = optimise_hedge(problem)
    assert proposal.method == "exact"
    assert proposal.objective == pytest.approx(proposal.im_after + proposal.cost, rel=RTOL)
    assert proposal.bound == pytest.approx(proposal.objective, rel=RTOL)
    _check_verified(problem, proposal)


def test_limits_are_kept(problem_of: ProblemOf) -> None:
    """Lots, size per instrument, the delta band and the total cost hold after the trades."""
    limits = HedgeLimits(max_size=40_000.0, max_cost=150.0, delta_band=(-0.2, 0.2))
    symbols = ("BTC-PERPETUAL", "BTC-28NOV25-95000-P", "BTC-28NOV25-110000-C")
    problem = problem_of("deribit", symbols, limits)
    proposal = optimise_hedge(problem)
    u = problem.universe
    assert proposal.cost <= 150.0 * (1 + 1e-12)
    assert proposal.trades
    delta = problem.bands[0].delta_now
    for t in proposal.trades:
        i = u.symbols.index(t.instrument)
        lots = t.quantity / u.lot_native[i]
        assert lots == pytest.approx(round(lots), abs=1e-9)
        assert abs(t.quantity) <= 40_000.0 + 1e-9
        delta += float(u.delta[i]) * t.base_quantity
    assert -0.2 - 1e-9 <= delta <= 0.2 + 1e-9
    _check_verified(problem, proposal)


def test_target_utilisation_at_least_cost(problem_of: ProblemOf) -> None:
    """A reachable target is met at the brute-force least cost; an unreachable one is refused."""
    problem = problem_of("deribit", PERP_PUT_FUTURE[:2], GRID, target_util=0.15)
    grid = 3
    problem.max_lots = np.minimum(problem.max_lots, grid)
    proposal = optimise_hedge(problem)
    assert proposal.im_after <= 0.15 * proposal.equity_after * (1 + 1e-9)
    brute = optimise_hedge_reference(problem, grid)
    assert proposal.cost == pytest.approx(brute.cost, rel=RTOL, abs=1e-9)
    impossible = problem_of("deribit", PERP_PUT_FUTURE[:1], GRID, target_util=0.0001)
    with pytest.raises(InputError, match="cannot be reached") as error:
        optimise_hedge(impossible)
    assert error.value.field == "target_util"


def test_polish_model_is_verified_and_deterministic(problem_of: ProblemOf) -> None:
    """standard has no core: the search improves on no trade, and twice gives the same."""
    first = optimise_hedge(problem_of("standard", PERP_PUT_FUTURE, HedgeLimits(max_size=6_000.0)))
    again = optimise_hedge(problem_of("standard", PERP_PUT_FUTURE, HedgeLimits(max_size=6_000.0)))
    assert first.method == "polish"
    assert first == again
    assert first.total_after <= first.im_before
    delta = delta_hedge(problem_of("standard", PERP_PUT_FUTURE, HedgeLimits(max_size=6_000.0)))
    assert first.total_after <= delta.total_after * (1 + 1e-12)


@pytest.mark.parametrize("model", ["deribit", "deribit-cross", "standard"])
def test_solve_table_matches_the_optimiser(problem_of: ProblemOf, model: str) -> None:
    """margin.HEDGE_SOLVES says how each model is solved; the optimiser does that."""
    proposal = optimise_hedge(problem_of(model, PERP_PUT_FUTURE[:2], HedgeLimits(max_size=6_000.0)))
    assert proposal.method == HEDGE_SOLVES[model][0]
