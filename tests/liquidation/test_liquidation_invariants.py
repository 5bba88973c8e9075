"""Invariants of random liquidation episodes: money, triggers, margin, replay, paused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _liquidation_cases import book, config, dense, total_money
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmargin.book import BookArrangement
from pmargin.collateral import account_equity
from pmargin.liquidation import (
    AdlFill,
    BadDebt,
    FundDraw,
    LiquidationEngine,
    LiquidationFill,
    LiquidationOutcome,
    LiquidationTriggered,
    events_from_json,
    replay,
)
from pmargin.margin import get_model

INSTRUMENTS = {
    # symbol: (quantity scale in base units, typical entry price or None for options)
    "BTC_USDC-PERPETUAL": (3.0, 95_100.0),
    "BTC-PERPETUAL": (3.0, 95_200.0),
    "BTC-27DEC24": (2.0, 96_100.0),
    "ETH-PERPETUAL": (40.0, 3_405.0),
    "BTC-27DEC24-100000-C": (3.0, None),
    "BTC-27DEC24-90000-P": (3.0, None),
    "BTC_USDC-27DEC24-95000-P": (2.0, None),
    "ETH-27DEC24-3500-C": (20.0, None),
}
SYMBOLS = tuple(INSTRUMENTS)


def random_accounts(seed: int, n: int) -> list[dict[str, Any]]:
    """Accounts with a few positions each, entry prices up to 8% away, thin balances."""
    rng = np.random.default_rng(seed)
    accounts = []
    for a in range(n):
        positions = []
        for j in rng.choice(len(SYMBOLS), size=int(rng.integers(1, 4)), replace=False):
            symbol = SYMBOLS[int(j)]
            scale, entry = INSTRUMENTS[symbol]
            position: dict[str, Any] = {
                "instrument": symbol,
                "quantity": float(rng.normal(0.0, scale)) or scale,
                "unit": "base",
            }
            if entry is not None:
                position["avg_price"] = entry * float(1.0 + rng.normal(0.0, 0.04))
            positions.append(position)
        balances = {
            "USDC": float(rng.uniform(0.0, 30_000.0)),
            "BTC": float(rng.uniform(0.0, 0.3)),
            "ETH": float(rng.uniform(0.0, 3.0)),
        }
        accounts.append({"id": f"acct-{a}", "balances": balances, "positions": positions})
    return accounts


def _check_episode(
    model_name: str, b: BookArrangement, outcome: LiquidationOutcome, fund0: float, paused: set[str]
) -> None:
    model = get_model(model_name)
    before = model.compute(b)
    equity0 = account_equity(b).equity
    # Money: accounts + fund + liquidators + market counterparties - bad debt is unchanged.
    scale = float(np.abs(equity0).sum()) + fund0 + 1.0
    assert total_money(outcome.state) == pytest.approx(equity0.sum() + fund0, abs=1e-9 * scale)
    # No account is liquidated while healthy: every trigger is below MM (at the start, or
    # after an ADL fill it was the counterparty of), and every fill follows its trigger.
    triggered: set[str] = set()
    deleveraged: set[str] = set()
    for event in outcome.events:
        if isinstance(event, LiquidationTriggered):
            row = b.account_ids.index(event.account)
            assert event.equity < event.maintenance_margin
            assert equity0[row] < before.maintenance_margin[row] or event.account in deleveraged
            triggered.add(event.account)
        elif isinstance(event, LiquidationFill | FundDraw | BadDebt):
            assert event.account in triggered
        elif isinstance(event, AdlFill):
            assert event.account in triggered
            deleveraged.add(event.counterparty)
        if isinstance(event, LiquidationFill | AdlFill):
            underlying = event.instrument.split("-")[0].split("_")[0]
            assert underlying not in paused
    healthy = [
        a
        for r, a in enumerate(b.account_ids)
        if equity0[r] >= before.maintenance_margin[r] and a not in deleveraged
    ]
    assert not set(healthy) & triggered
    # Liquidation never raises margin: each partial step, and each liquidated account overall.
    for event in outcome.events:
        if isinstance(event, LiquidationFill) and event.reason == "partial":
            tol = 1e-9 * max(1.0, event.maintenance_margin_before)
            assert event.maintenance_margin_after <= event.maintenance_margin_before + tol
            assert event.initial_margin_after <= event.initial_margin_before + tol
    after = model.compute(outcome.book)
    for account in triggered - deleveraged:
        row = b.account_ids.index(account)
        tol = 1e-9 * max(1.0, before.maintenance_margin[row])
        assert after.maintenance_margin[row] <= before.maintenance_margin[row] + tol
    # Replay of the JSON events reaches the same state.
    state = replay(b, fund0, events_from_json(outcome.to_json()))
    for x, y in zip(dense(state.book)[:3], dense(outcome.book)[:3], strict=True):
        np.testing.assert_array_equal(x, y)
    assert dense(state.book)[3] == dense(outcome.book)[3]
    assert (state.fund_usd, state.liquidator_usd, state.market_usd, state.bad_debt_usd) == (
        outcome.state.fund_usd,
        outcome.state.liquidator_usd,
        outcome.state.market_usd,
        outcome.state.bad_debt_usd,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    fund=st.sampled_from([0.0, 2_000.0, 1_000_000.0]),
    k=st.sampled_from([0.0, 0.02, 0.2]),
    share=st.sampled_from([0.0, 0.5, 1.0]),
    target=st.sampled_from(["buffer", "im"]),
    fraction=st.sampled_from([0.25, 1.0]),
    paused=st.sampled_from([frozenset(), frozenset({"ETH"})]),
)
def test_random_episodes_standard(
    seed: int,
    fund: float,
    k: float,
    share: float,
    target: str,
    fraction: float,
    paused: frozenset[str],
) -> None:
    b = book(random_accounts(seed, 12))
    cfg = config(
        k=k,
        penalty_mode="dynamic",
        rate=0.005,
        fund_share=share,
        target=target,
        max_fraction=fraction,
        tolerance=1e-6,
    )
    outcome = LiquidationEngine(get_model("standard"), b, fund, config=cfg, paused=paused).run()
    _check_episode("standard", b, outcome, fund, set(paused))


@pytest.mark.parametrize("model", ["deribit", "okx"])
def test_random_episode_portfolio_models(model: str) -> None:
    b = book(random_accounts(7, 8))
    cfg = config(k=0.05, penalty_mode="dynamic", rate=0.005, fund_share=0.5, tolerance=1e-4)
    outcome = LiquidationEngine(get_model(model), b, 500.0, config=cfg).run()
    assert outcome.liquidated
    _check_episode(model, b, outcome, 500.0, set())
