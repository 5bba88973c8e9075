"""Cascade rules and invariants on synthetic perpetual books (no shared data needed)."""

from dataclasses import replace

import numpy as np
import pytest
from _simulate_cases import F0, funded, path, perp, random_perps
from scipy.optimize import brentq

from pmargin.liquidation import (
    LiquidationFill,
    LiquidationTriggered,
    TargetConfig,
    load_config,
)
from pmargin.margin import get_model
from pmargin.simulate import CascadeConfig, ImpactModel, run_cascade, run_cascade_reference

STANDARD = get_model("standard")
RATE, RATE_PER_UNIT = 0.01, 0.00005  # standard.toml futures.BTC mm_rate, mm_rate_per_unit
CRASH = [F0, 98_000.0, 95_000.0, 90_000.0, 86_000.0, 80_000.0, 76_000.0, 72_000.0, 75_000.0,
         70_000.0, 66_000.0, 68_000.0, 65_000.0]  # fmt: skip


def hand_config(penalty: float, fund: float) -> CascadeConfig:
    base = load_config()
    liquidation = replace(
        base,
        target=TargetConfig(kind="buffer", buffer=0.15),
        steps=replace(base.steps, max_fraction=1.0, size_tolerance=1e-10),
        slippage=replace(base.slippage, k=0.0),
        penalty=replace(base.penalty, mode="fixed", base_rate=penalty, fund_share=1.0),
    )
    return CascadeConfig(impact=ImpactModel(enabled=False), liquidation=liquidation, fund_usd=fund)


def test_long_perp_is_liquidated_at_the_first_step_below_mm():
    # 10 BTC long at 100,000 with 50,000 USDC (20x). Equity E(F) = 50,000 + 10 (F - 100,000);
    # standard MM(F) = 10 (0.01 + 10 x 0.00005) F = 0.105 F: below MM for F < 950,000 / 9.895.
    q, cash, penalty, fund = 10.0, 50_000.0, 0.005, 1_000.0
    liquidation_price = (q * F0 - cash) / (q - q * (RATE + q * RATE_PER_UNIT))
    prices = [F0, 99_000.0, 97_000.0, 95_500.0, 94_000.0]
    assert prices[2] > liquidation_price > prices[3]
    run = run_cascade(STANDARD, funded([perp("long", q, cash)]), path(prices),
                      hand_config(penalty, fund))  # fmt: skip
    assert [s.rounds for s in run.steps] == [0, 0, 0, 1, run.steps[4].rounds]
    first = run.rounds[0]
    assert (first.step, first.round, first.triggered, first.fills) == (3, 1, 1, 1)
    f = prices[3]
    equity = cash + q * (f - F0)  # 5,000
    mm = q * (RATE + q * RATE_PER_UNIT) * f
    trigger = next(e for e in run.events if isinstance(e, LiquidationTriggered))
    assert trigger.equity == pytest.approx(equity, rel=1e-9)
    assert trigger.maintenance_margin == pytest.approx(mm, rel=1e-9)

    # smallest x with E - penalty x F >= 1.15 MM(q - x), no slippage
    def gap(x: float) -> float:
        left = q - x
        return equity - penalty * x * f - 1.15 * left * (RATE + left * RATE_PER_UNIT) * f

    x = brentq(gap, 0.0, q, xtol=1e-12)
    fill = next(e for e in run.events if isinstance(e, LiquidationFill))
    assert fill.quantity == pytest.approx(-x, rel=1e-6)
    assert fill.fill_price == f
    assert fill.penalty_usd == pytest.approx(penalty * x * f, rel=1e-6)
    assert fill.penalty_fund_usd == fill.penalty_usd
    assert run.steps[3].fund_usd == pytest.approx(fund + penalty * x * f, rel=1e-9)
    assert run.steps[3].equity_usd == pytest.approx(equity - penalty * x * f, rel=1e-9)
    assert run.summary()["bad_debt_usd"] == 0.0
    assert abs(run.conservation_error_usd) < 1e-6


def _runs(accounts, impact, **kwargs):
    book = funded(accounts)
    return run_cascade(STANDARD, book, path(CRASH), CascadeConfig(impact=impact, **kwargs))


def _same(a, b):
    np.testing.assert_array_equal(a.equity_path, b.equity_path)
    np.testing.assert_array_equal(a.status_path, b.status_path)
    np.testing.assert_array_equal(a.index_path, b.index_path)
    assert [s.fund_usd for s in a.steps] == [s.fund_usd for s in b.steps]
    assert a.counts == b.counts
    assert a.positions_closed == b.positions_closed


def test_zero_impact_adds_nothing():
    accounts = random_perps(40, seed=1, longs_only=False)
    off = _runs(accounts, ImpactModel(enabled=False))
    zero = _runs(accounts, ImpactModel(scale=0.0))
    assert off.counts["fills"] > 0
    _same(off, zero)
    assert zero.summary()["cascade_rounds"] == 0


def test_replay_is_deterministic():
    accounts = random_perps(40, seed=2, longs_only=False)
    impact = ImpactModel(depth_oi_fraction=0.005)
    a, b = _runs(accounts, impact), _runs(accounts, impact)
    _same(a, b)
    assert [r.move for r in a.rounds] == [r.move for r in b.rounds]


def test_impact_never_makes_a_healthy_account_healthier():
    # Long-only book: liquidation flow is all sales, so impact only lowers prices.
    accounts = random_perps(40, seed=3, longs_only=True, low=1.1)
    off = _runs(accounts, ImpactModel(enabled=False))
    on = _runs(accounts, ImpactModel(depth_oi_fraction=0.005))
    assert on.summary()["cascade_rounds"] > 0
    assert np.all(on.index_path <= off.index_path)
    assert on.summary()["amplification"]["BTC"] > 1.0
    ids = off.funded.book.account_ids
    healthy = np.array([i not in off.liquidated for i in ids])
    assert healthy.any()
    tol = 1e-9 * np.abs(off.equity_path).max()
    assert np.all(on.equity_path[:, healthy] <= off.equity_path[:, healthy] + tol)
    assert np.all(on.status_path[:, healthy] >= off.status_path[:, healthy])
    assert len(on.liquidated) >= len(off.liquidated)


@pytest.mark.parametrize("seed", [4, 5])
@pytest.mark.parametrize("depth", [None, 0.003])
def test_money_is_conserved_over_the_episode(seed, depth):
    accounts = random_perps(30, seed=seed, longs_only=False)
    impact = ImpactModel(enabled=False) if depth is None else ImpactModel(depth_oi_fraction=depth)
    run = _runs(accounts, impact, fund_usd=20_000.0)
    scale = float(run.funded.notional.sum())
    assert run.counts["fills"] > 0
    assert abs(run.conservation_error_usd) <= 1e-9 * scale
    # the liquidation state's own accounting, round by round, adds up to the totals
    assert sum(r.bad_debt_usd for r in run.rounds) == pytest.approx(run.counts["bad_debt_usd"])
    assert run.final.fund_usd == pytest.approx(
        20_000.0 + run.counts["penalty_fund_usd"] - run.counts["fund_draw_usd"], abs=1e-6
    )


def test_paused_underlying_liquidates_nothing():
    # A 40 % one-step fall trips the index-jump breaker (25 % per step): no fill that step.
    accounts = random_perps(20, seed=6, longs_only=True)
    run = run_cascade(STANDARD, funded(accounts), path([F0, 99_000.0, 60_000.0, 60_500.0]),
                      CascadeConfig(impact=ImpactModel(enabled=False)))  # fmt: skip
    assert run.steps[2].paused == ("BTC",)
    assert all(r.fills == 0 for r in run.rounds if "BTC" in r.paused)


@pytest.mark.parametrize("model", ["standard", "deribit"])
def test_replay_equals_its_reference_twin(model):
    # The fast replay (the monitor's state, the engine on the what-if path) and the reference
    # (full recompute each round, every liquidation margin rebuilt from scratch) give the same
    # records: event kinds, accounts and positions closed exactly, money and paths to 1e-9 of
    # the notional (the two sum the same terms in different orders).
    accounts = random_perps(40, seed=2, longs_only=False)
    book = funded(accounts, model)
    config = CascadeConfig(impact=ImpactModel(depth_oi_fraction=0.005), fund_usd=20_000.0)
    fast = run_cascade(get_model(model), book, path(CRASH), config)
    slow = run_cascade_reference(get_model(model), book, path(CRASH), config)
    scale = float(book.notional.sum())
    assert fast.counts["fills"] > 0
    assert fast.summary()["cascade_rounds"] > 0
    assert [type(e) for e in fast.events] == [type(e) for e in slow.events]
    assert fast.liquidated == slow.liquidated
    assert fast.positions_closed == slow.positions_closed
    for key, value in fast.counts.items():
        assert value == pytest.approx(slow.counts[key], rel=1e-9, abs=1e-9 * scale), key
    np.testing.assert_allclose(fast.equity_path, slow.equity_path, rtol=0, atol=1e-9 * scale)
    # statuses equal except of accounts settled to zero equity (+-1e-12 USD either way)
    settled = np.abs(slow.equity_path) <= 1e-9 * scale
    np.testing.assert_array_equal(fast.status_path[~settled], slow.status_path[~settled])
    np.testing.assert_allclose(fast.index_path, slow.index_path, rtol=1e-12)
