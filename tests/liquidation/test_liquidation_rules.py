"""Liquidation rules with hand-computed numbers (expected values written as formulas)."""

from __future__ import annotations

import math

import pytest
from _liquidation_cases import (
    INDEX,
    PERP_MARK,
    USDC,
    book,
    config,
    perp_account,
    standard_perp_mm,
    total_money,
)

from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.liquidation import (
    AdlFill,
    BadDebt,
    FundDraw,
    LiquidationEngine,
    LiquidationFill,
    LiquidationFinished,
    LiquidationTriggered,
    adl_score,
    fill_price,
    impact,
    load_config,
    penalty_rate,
    split_penalty,
)
from pmargin.margin import get_model

STANDARD = get_model("standard")
Q = 4.0  # BTC long


def _fills(events: tuple[object, ...]) -> list[LiquidationFill]:
    return [e for e in events if isinstance(e, LiquidationFill)]


def _at_mm_balance(q: float) -> float:
    """USDC balance that puts a perp opened at the mark exactly at MM: MM / USDC price."""
    return standard_perp_mm(q) / USDC


# ---------------------------------------------------------------- trigger
def test_equity_at_mm_is_not_liquidated() -> None:
    usdc = _at_mm_balance(Q)
    b = book([perp_account("a", Q, usdc)])
    equity = float(account_equity(b).equity[0])
    mm = float(STANDARD.compute(b).maintenance_margin[0])
    while equity < mm:  # one ulp of rounding: nudge the balance up until equity >= MM
        usdc = math.nextafter(usdc, math.inf)
        b = book([perp_account("a", Q, usdc)])
        equity = float(account_equity(b).equity[0])
    assert equity == pytest.approx(mm, rel=1e-12)
    outcome = LiquidationEngine(STANDARD, b, config=config()).run()
    assert outcome.events == ()
    assert outcome.liquidated == ()


def test_equity_just_below_mm_is_liquidated() -> None:
    b = book([perp_account("a", Q, _at_mm_balance(Q) * (1.0 - 1e-9))])
    outcome = LiquidationEngine(STANDARD, b, config=config()).run()
    assert outcome.liquidated == ("a",)
    trigger = outcome.events[0]
    assert isinstance(trigger, LiquidationTriggered)
    assert trigger.equity < trigger.maintenance_margin
    assert trigger.maintenance_margin == pytest.approx(standard_perp_mm(Q), rel=1e-12)


# ---------------------------------------------------------------- partial size
@pytest.mark.parametrize(("rate", "buffer"), [(0.0, 0.15), (0.004, 0.15), (0.002, 0.0)])
def test_smallest_close_restores_the_buffer_for_one_perp(rate: float, buffer: float) -> None:
    # Long Q BTC_USDC-PERPETUAL opened at the mark, USDC balance B, no slippage, penalty
    # r x notional. Closing x leaves y = Q - x and
    #   equity(x) = E0 - r P x,   P = mark x USDC price (USD notional per BTC),
    #   MM(y) = y (0.01 + 0.00005 y) I,  I = index (standard.toml: linear perps at the index),
    # and the target equity(x) >= (1 + b) MM(y) is the quadratic A y^2 + B y - C <= 0 with
    #   A = (1 + b) 0.00005 I,  B = (1 + b) 0.01 I - r P,  C = E0 - r P Q;
    # the smallest close is x* = Q - y*, y* its positive root.
    usdc = 0.6 * _at_mm_balance(Q)
    e0 = usdc * USDC
    p = PERP_MARK * USDC
    a = (1 + buffer) * 0.00005 * INDEX
    b_ = (1 + buffer) * 0.01 * INDEX - rate * p
    c = e0 - rate * p * Q
    y = (-b_ + math.sqrt(b_ * b_ + 4 * a * c)) / (2 * a)
    expected = Q - y
    cfg = config(rate=rate, buffer=buffer)
    outcome = LiquidationEngine(STANDARD, book([perp_account("a", Q, usdc)]), config=cfg).run()
    (fill,) = _fills(outcome.events)
    assert -fill.quantity == pytest.approx(expected, rel=1e-9)
    assert fill.penalty_usd == pytest.approx(rate * expected * p, rel=1e-9)
    assert fill.equity_after == pytest.approx(
        (1 + buffer) * fill.maintenance_margin_after, rel=1e-8
    )
    assert fill.maintenance_margin_after == pytest.approx(standard_perp_mm(y), rel=1e-9)
    finished = outcome.events[-1]
    assert isinstance(finished, LiquidationFinished)
    assert finished.outcome == "restored"


def test_im_target_closes_down_to_initial_margin() -> None:
    # Standard IM of a BTC perp: |q| (0.02 + 0.00005 |q|) I; with no costs the smallest close
    # leaves y with y (0.02 + 0.00005 y) I = E0.
    usdc = 0.6 * _at_mm_balance(Q)
    e0 = usdc * USDC
    a, b_ = 0.00005 * INDEX, 0.02 * INDEX
    y = (-b_ + math.sqrt(b_ * b_ + 4 * a * e0)) / (2 * a)
    outcome = LiquidationEngine(
        STANDARD, book([perp_account("a", Q, usdc)]), config=config(target="im")
    ).run()
    (fill,) = _fills(outcome.events)
    assert -fill.quantity == pytest.approx(Q - y, rel=1e-9)
    assert fill.initial_margin_after == pytest.approx(e0, rel=1e-8)


def test_max_fraction_splits_the_close_into_steps() -> None:
    usdc = 0.2 * _at_mm_balance(Q)
    outcome = LiquidationEngine(
        STANDARD, book([perp_account("a", Q, usdc)]), config=config(max_fraction=0.25)
    ).run()
    fills = _fills(outcome.events)
    assert len(fills) >= 2
    assert all(-f.quantity <= 0.25 * Q * (1 + 1e-12) for f in fills)
    assert all(-f.quantity == pytest.approx(0.25 * Q) for f in fills[:-1])


# ---------------------------------------------------------------- slippage and penalty
def test_impact_and_fill_price_formulas() -> None:
    cfg = config(k=0.02, alpha=0.5).slippage
    assert impact(2_500_000.0, 10_000_000.0, cfg) == pytest.approx(0.02 * (0.25) ** 0.5)
    assert impact(0.0, 10_000_000.0, cfg) == 0.0
    assert impact(1e15, 1.0, cfg) == 0.5  # capped at max_impact
    assert fill_price(100.0, -2.0, 0.01) == pytest.approx(99.0)
    assert fill_price(100.0, 2.0, 0.01) == pytest.approx(101.0)


def test_fill_carries_slippage_at_the_impact_price() -> None:
    # A sale of x BTC at mark m fills at m (1 - k (x m USDC / depth)^alpha); the account loses
    # x (m - fill) USDC = x m impact USDC, which is the market counterparty's gain.
    k, alpha, depth = 0.05, 0.5, 10_000_000.0
    usdc = 0.2 * _at_mm_balance(Q)
    cfg = config(k=k, alpha=alpha, max_fraction=0.5)
    outcome = LiquidationEngine(STANDARD, book([perp_account("a", Q, usdc)]), config=cfg).run()
    fill = _fills(outcome.events)[0]
    x = -fill.quantity
    notional = x * PERP_MARK * USDC
    expected_impact = k * (notional / depth) ** alpha
    assert fill.notional_usd == pytest.approx(notional)
    assert fill.impact == pytest.approx(expected_impact)
    assert fill.fill_price == pytest.approx(PERP_MARK * (1 - expected_impact))
    assert fill.slippage_usd == pytest.approx(x * PERP_MARK * expected_impact * USDC)
    assert outcome.state.market_usd == pytest.approx(
        sum(f.slippage_usd for f in _fills(outcome.events))
    )


def test_dynamic_penalty_rate_grows_with_the_shortfall() -> None:
    cfg = config(penalty_mode="dynamic", rate=0.005).penalty  # slope 0.01, max 0.015
    assert penalty_rate(1000.0, 1000.0, cfg) == pytest.approx(0.005)
    assert penalty_rate(600.0, 1000.0, cfg) == pytest.approx(0.005 + 0.01 * 0.4)
    assert penalty_rate(-50.0, 1000.0, cfg) == pytest.approx(0.015)  # shortfall capped at 1
    assert penalty_rate(600.0, 1000.0, config(rate=0.005).penalty) == 0.005  # fixed


def test_penalty_split_between_fund_and_liquidator() -> None:
    assert split_penalty(100.0, config(fund_share=0.3).penalty) == pytest.approx((30.0, 70.0))
    rate, share, fund0 = 0.004, 0.3, 1_000.0
    usdc = 0.6 * _at_mm_balance(Q)
    cfg = config(rate=rate, fund_share=share)
    outcome = LiquidationEngine(
        STANDARD, book([perp_account("a", Q, usdc)]), fund0, config=cfg
    ).run()
    (fill,) = _fills(outcome.events)
    penalty = rate * fill.notional_usd
    assert fill.penalty_usd == pytest.approx(penalty)
    assert fill.penalty_fund_usd == pytest.approx(share * penalty)
    assert fill.penalty_liquidator_usd == pytest.approx((1 - share) * penalty)
    assert outcome.state.fund_usd == pytest.approx(fund0 + share * penalty)
    assert outcome.state.liquidator_usd == pytest.approx((1 - share) * penalty)


# ---------------------------------------------------------------- bankruptcy
def _bankrupt_long(usdc: float = 1_000.0) -> dict[str, object]:
    # Long 2 BTC opened at 100,000: unrealised 2 (95,100 - 100,000) = -9,800 USDC.
    return perp_account("bust", 2.0, usdc, avg_price=100_000.0)


def test_insurance_fund_covers_the_deficit() -> None:
    # Equity (1,000 - 9,800) x 0.999 USD < 0: closed on the market (no slippage, no penalty)
    # and the fund pays -equity.
    deficit = -(1_000.0 + 2.0 * (PERP_MARK - 100_000.0)) * USDC
    outcome = LiquidationEngine(
        STANDARD, book([_bankrupt_long()]), 50_000.0, config=config(rate=0.01)
    ).run()
    draws = [e for e in outcome.events if isinstance(e, FundDraw)]
    assert len(draws) == 1
    assert draws[0].amount_usd == pytest.approx(deficit)
    assert draws[0].fund_after == pytest.approx(50_000.0 - deficit)
    assert all(f.penalty_usd == 0.0 for f in _fills(outcome.events))  # bankrupt: no penalty
    assert outcome.state.fund_usd == pytest.approx(50_000.0 - deficit)
    assert not [e for e in outcome.events if isinstance(e, BadDebt)]
    assert account_equity(outcome.book).equity[0] == pytest.approx(0.0, abs=1e-9)


def test_fund_runs_dry_then_bad_debt_without_counterparties() -> None:
    deficit = -(1_000.0 + 2.0 * (PERP_MARK - 100_000.0)) * USDC
    outcome = LiquidationEngine(STANDARD, book([_bankrupt_long()]), 3_000.0, config=config()).run()
    (draw,) = [e for e in outcome.events if isinstance(e, FundDraw)]
    (bad,) = [e for e in outcome.events if isinstance(e, BadDebt)]
    assert draw.amount_usd == pytest.approx(3_000.0)
    assert bad.amount_usd == pytest.approx(deficit - 3_000.0)
    assert outcome.state.fund_usd == pytest.approx(0.0, abs=1e-9)
    assert outcome.state.bad_debt_usd == pytest.approx(deficit - 3_000.0)


# ---------------------------------------------------------------- ADL
SHORTS = [
    # id, quantity (BTC), USDC balance, entry price
    ("s-low-lev", -1.0, 200_000.0, 99_000.0),
    ("s-high-lev", -1.0, 5_000.0, 99_000.0),
    ("s-small-pnl", -1.0, 5_000.0, 95_500.0),
    ("s-losing", -1.0, 5_000.0, 94_000.0),
]


def _expected_score(q: float, usdc: float, entry: float) -> float:
    """PnL% x L (PnL% > 0) or PnL% / L, PnL% = U / (N - sign(q) U), L = N / equity (USD)."""
    u = q * (PERP_MARK - entry) * USDC
    n = abs(q) * PERP_MARK * USDC
    equity = (usdc + q * (PERP_MARK - entry)) * USDC
    pnl = u / (n - math.copysign(1.0, q) * u)
    lev = n / equity
    return pnl * lev if pnl > 0 else pnl / lev


def test_adl_ranks_profit_times_leverage_and_closes_at_the_bankruptcy_price() -> None:
    accounts = [_bankrupt_long(usdc=1_000.0)] + [perp_account(*s) for s in SHORTS]
    outcome = LiquidationEngine(STANDARD, book(accounts), 0.0, config=config()).run()
    adl = [e for e in outcome.events if isinstance(e, AdlFill)]
    expected_order = sorted(SHORTS, key=lambda s: -_expected_score(s[1], s[2], s[3]))
    assert [s[0] for s in expected_order][:2] == ["s-high-lev", "s-small-pnl"]
    # The bankrupt long (2 BTC) is matched against the two highest-ranked shorts.
    assert [e.counterparty for e in adl] == [s[0] for s in expected_order[:2]]
    for event, short in zip(adl, expected_order, strict=False):
        assert event.ranking == pytest.approx(_expected_score(short[1], short[2], short[3]))
    # Bankruptcy price: selling 2 BTC at p gains the whole deficit D (fund empty):
    # -2 (m - p) USDC = D  =>  p = m + D / (2 x USDC price).
    deficit = -(1_000.0 + 2.0 * (PERP_MARK - 100_000.0)) * USDC
    price = PERP_MARK + deficit / (2.0 * USDC)
    assert all(e.bankruptcy_price == pytest.approx(price) for e in adl)
    assert sum(e.transfer_usd for e in adl) == pytest.approx(deficit)
    for event in adl:
        loss = event.counterparty_equity_before - event.counterparty_equity_after
        assert loss == pytest.approx(event.transfer_usd)
    assert not [e for e in outcome.events if isinstance(e, BadDebt | FundDraw)]
    assert account_equity(outcome.book).equity[0] == pytest.approx(0.0, abs=1e-6)
    assert adl_score("pnl_x_leverage", -1.0, 100.0, 10.0, 50.0) == pytest.approx(
        10.0 / (100.0 + 10.0) * 2.0  # short: entry value = N + U
    )
    assert adl_score("okx", -1.0, 100.0, 10.0, 50.0) == pytest.approx(0.2 * 2.0)


def test_money_is_conserved_through_adl() -> None:
    accounts = [_bankrupt_long(usdc=1_000.0)] + [perp_account(*s) for s in SHORTS]
    b = book(accounts)
    engine = LiquidationEngine(STANDARD, b, 0.0, config=config(k=0.05))
    before = float(engine.equity.sum())
    outcome = engine.run()
    assert total_money(outcome.state) == pytest.approx(before, rel=1e-12, abs=1e-6)


# ---------------------------------------------------------------- paused underlyings
def test_paused_underlying_liquidates_nothing() -> None:
    b = book([perp_account("a", Q, 0.2 * _at_mm_balance(Q)), _bankrupt_long()])
    outcome = LiquidationEngine(STANDARD, b, 0.0, config=config(), paused={"BTC"}).run()
    assert not [e for e in outcome.events if isinstance(e, LiquidationFill | AdlFill)]
    assert not [e for e in outcome.events if isinstance(e, FundDraw | BadDebt)]
    finished = [e for e in outcome.events if isinstance(e, LiquidationFinished)]
    assert {e.outcome for e in finished} == {"paused"}
    assert (outcome.book.quantity != b.quantity).nnz == 0


# ---------------------------------------------------------------- configuration
def test_config_rejects_a_bad_field_by_name(tmp_path: object) -> None:
    from pathlib import Path

    text = (Path(load_config.__code__.co_filename).parent / "liquidation.toml").read_text()
    bad = Path(str(tmp_path)) / "bad.toml"
    bad.write_text(text.replace("max_fraction = 0.25", "max_fraction = 1.5"))
    with pytest.raises(InputError, match=r"bad.toml: steps.max_fraction"):
        load_config(bad)
    bad.write_text(text.replace('kind = "buffer"', 'kind = "bm"'))
    with pytest.raises(InputError, match=r"target.kind"):
        load_config(bad)
    bad.write_text(text + "\n[extra]\nx = 1\n")
    with pytest.raises(InputError, match=r"extra"):
        load_config(bad)


def test_shipped_config_defaults() -> None:
    cfg = load_config()
    assert cfg.target.kind == "buffer"
    assert cfg.target.buffer == 0.15
    assert cfg.target.required(100.0, 50.0) == pytest.approx(57.5)
    assert cfg.slippage.depth("perpetual", "BTC") == 200_000_000.0
    assert cfg.slippage.depth("perpetual", "SOL") == 20_000_000.0
    assert cfg.slippage.depth("option", "XRP") == 1_000_000.0
