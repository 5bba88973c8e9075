"""Hedging agents in the crash replay: deterministic, money conserved, no agent = no change.

Synthetic perpetual books on a synthetic path (``tests/simulate/_simulate_cases.py``; no shared
data). Under ``standard`` a perpetual's IM is ``|q| (rate + |q| rate_per_unit) F``: accounts
funded at 0.85 utilisation are above the shipped trigger (0.8) and the agent halves their
utilisation by reducing the perpetual.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.optimise import HedgingAgent, load_agent_policy
from pmargin.simulate import (
    AGENT_SUMMARY,
    CascadeConfig,
    CascadeRun,
    FundedBook,
    ImpactModel,
    run_cascade,
    run_cascade_reference,
    select_agents,
)
from simulate._simulate_cases import F0, funded, path, perp, random_perps

STANDARD = get_model("standard")
POLICY = load_agent_policy()
DOWN = [F0, 99_000.0, 97_000.0, 95_000.0, 93_000.0, 92_000.0]
CRASH = [F0, 98_000.0, 95_000.0, 90_000.0, 86_000.0, 80_000.0, 76_000.0, 72_000.0, 75_000.0]
TIMING = ("seconds", "monitor_latency_mean_s", "monitor_latency_max_s")


def _at_utilisation(sizes: list[float], utilisation: float) -> FundedBook:
    """Long perpetual accounts whose cash makes ``IM / equity = utilisation`` at the start."""
    probe = funded([perp(f"a{i}", q, 1e9) for i, q in enumerate(sizes)])
    im = probe.initial_margin
    return funded([perp(f"a{i}", q, float(im[i]) / utilisation) for i, q in enumerate(sizes)])


def _summary(run: CascadeRun) -> dict[str, Any]:
    return {k: v for k, v in run.summary().items() if k not in TIMING}


def _run(book: FundedBook, prices: list[float], agents: Any, *, impact: bool = False) -> CascadeRun:
    config = CascadeConfig(agents=agents, impact=ImpactModel(enabled=impact))
    return run_cascade(STANDARD, book, path(prices), config)


def test_select_agents_is_an_exact_seeded_share() -> None:
    ids = [f"a{i}" for i in range(101)]
    half = select_agents(ids, 0.5, 7)
    assert len(half) == 50
    assert half <= set(ids)
    assert select_agents(ids, 0.5, 7) == half
    assert select_agents(ids, 0.5, 8) != half
    assert select_agents(ids, 0.0, 7) == frozenset()
    assert select_agents(ids, 1.0, 7) == frozenset(ids)
    with pytest.raises(InputError, match="agents"):
        select_agents(ids, 1.5, 7)


def test_agents_restore_the_target_and_avoid_the_liquidations() -> None:
    book = _at_utilisation([2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 0.85)
    without = _run(book, DOWN, None).summary()
    agents = HedgingAgent(POLICY, book.book.account_ids)
    run = _run(book, DOWN, agents)
    with_agents = run.summary()
    assert without["liquidated_accounts"] == 6
    assert without["bad_debt_usd"] > 0
    assert with_agents["liquidated_accounts"] == 0
    assert with_agents["bad_debt_usd"] == 0
    assert with_agents["agent_hedges"] >= 6
    assert with_agents["agent_targets_missed"] == 0
    # spread paid: 0.5 bp of the mark on the perpetual reduced (hedge.toml)
    assert 0 < with_agents["hedge_cost_usd"] < 1e-4 * float(book.notional.sum())
    # right after the first hedge (step 0) each account is at or below the target
    first = run.steps[0]
    assert first.initial_margin_usd <= POLICY.target_utilisation * first.equity_usd * (1 + 1e-9)


@pytest.mark.parametrize("impact", [False, True])
def test_agent_runs_are_deterministic_and_conserve_money(impact: bool) -> None:
    accounts = random_perps(24, 5, longs_only=False)
    book = funded(accounts)
    ids = select_agents(book.book.account_ids, 0.5, 7)
    runs = [_run(book, CRASH, HedgingAgent(POLICY, ids), impact=impact) for _ in range(2)]
    assert _summary(runs[0]) == _summary(runs[1])
    np.testing.assert_array_equal(runs[0].equity_path, runs[1].equity_path)
    notional = float(book.notional.sum())
    for run in runs:
        assert abs(run.conservation_error_usd) <= 1e-9 * notional


def test_no_agent_leaves_the_replay_unchanged() -> None:
    book = funded(random_perps(16, 9, longs_only=True))
    plain = _run(book, CRASH, None, impact=True)
    idle = _run(book, CRASH, HedgingAgent(POLICY, []), impact=True)
    assert _summary(plain) == _summary(idle)
    assert all(plain.summary()[k] == 0 for k in AGENT_SUMMARY.values())


def test_reference_replay_with_agents_equals_the_fast_one() -> None:
    book = _at_utilisation([2.0, 4.0, 6.0], 0.9)

    def config() -> CascadeConfig:
        return CascadeConfig(agents=HedgingAgent(POLICY, book.book.account_ids))

    fast = run_cascade(STANDARD, book, path(CRASH), config())
    slow = run_cascade_reference(STANDARD, book, path(CRASH), config())
    assert fast.summary()["agent_hedges"] > 0
    a, b = _summary(fast), _summary(slow)
    for key, value in a.items():
        if isinstance(value, float):
            assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-6), key
        else:
            assert b[key] == value, key
