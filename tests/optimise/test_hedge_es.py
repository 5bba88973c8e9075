"""pmargin-es (ES over the base, correlation-stressed and floor sets): exact by Rockafellar-Uryasev.

A synthetic history (seeded) keeps the test off the shared data folder. The programme's hedge
equals brute force over a lot grid with the true model; without lots the LP's objective is
the model's IM after the trades plus their cost (1e-9 relative); pmargin-var is polished.
The account holds no coin-settled future: reducing one at a price off the mark realises the
spread into a coin balance that moves with the scenarios, which the core leaves out (the
optimiser then polishes; docs/hedge.md).
"""

from __future__ import annotations

from typing import Any

import _books
import numpy as np
import pytest
from _hedge_cases import COARSE, ProblemOf

from _synthetic_history import synthetic_history
from pmargin.book import arrange, portfolio_from_dict
from pmargin.margin import get_model
from pmargin.margin.scenario_risk import ScenarioRiskModel
from pmargin.optimise import HedgeLimits, optimise_hedge, optimise_hedge_reference

RTOL = 1e-9
ACCOUNT = {
    "id": "carol",
    "balances": {"BTC": 1.0, "USDC": 20_000.0},
    "positions": [
        {"instrument": "BTC-27DEC24-90000-P", "quantity": -2.0},
        {"instrument": "BTC_USDC-PERPETUAL", "quantity": -0.3},
        {"instrument": "ETH-27DEC24-3500-C", "quantity": -4.0},
    ],
}
SYMBOLS = ("BTC-PERPETUAL", "BTC-27DEC24-90000-P", "ETH-PERPETUAL")


def _model(name: str, **changes: Any) -> ScenarioRiskModel:
    shipped = get_model(name)
    assert isinstance(shipped, ScenarioRiskModel)
    return shipped.with_params(lookback_days=365.0, carry=False, **changes).with_history(
        synthetic_history()
    )


BOOK = arrange(portfolio_from_dict({"accounts": [ACCOUNT]}), _books.market())


def test_es_lp_equals_brute_force(problem_of: ProblemOf) -> None:
    """Whole lots in [-2, 2] of three instruments: the MILP's hedge is the grid's best."""
    model = _model("pmargin-es")
    problem = problem_of(model, SYMBOLS, HedgeLimits(window=None), book=BOOK, account="carol")
    problem.max_lots = np.full(3, 2.0)
    proposal = optimise_hedge(problem)
    assert proposal.method == "exact"
    brute = optimise_hedge_reference(problem, 2)
    assert proposal.total_after == pytest.approx(brute.total_after, rel=RTOL)
    assert proposal.core_im == pytest.approx(proposal.im_after, rel=RTOL)
    assert proposal.objective == pytest.approx(proposal.total_after, rel=RTOL)


@pytest.mark.parametrize("apc", ["floor", "buffer", "none"])
def test_es_lp_objective_is_im_after(problem_of: ProblemOf, apc: str) -> None:
    """Any amount, each anti-procyclicality tool: the LP's objective is IM after + cost."""
    model = _model("pmargin-es", apc_method=apc)
    problem = problem_of(
        model, SYMBOLS, HedgeLimits(max_size=100_000.0, lots=False), book=BOOK, account="carol"
    )
    proposal = optimise_hedge(problem)
    assert proposal.method == "exact"
    assert proposal.objective == pytest.approx(proposal.im_after + proposal.cost, rel=RTOL)
    assert proposal.im_after < proposal.im_before


def test_var_is_polished(problem_of: ProblemOf) -> None:
    """pmargin-var: the ES core then the true model; no worse than no trade."""
    model = _model("pmargin-var")
    problem = problem_of(
        model, SYMBOLS, HedgeLimits(max_size=100_000.0), book=BOOK, account="carol", rules=COARSE
    )
    proposal = optimise_hedge(problem)
    assert proposal.method == "core+polish"
    assert proposal.total_after <= proposal.im_before * (1 + 1e-12)
