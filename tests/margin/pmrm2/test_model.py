"""``DerivePmrm2Model``: PMRM_2 on a general book, against the one-portfolio engine.

The requirement of a unit is ``MtM + cash - balance`` of Derive's IM and MM balances; the
tests compare it with the engine (:func:`compute_pmrm2`) on a peer case mapped to a book, on
hand-built books (checking ``equity >= IM`` <=> ``IM_balance >= 0``) and on the example book,
and check batching, attribution, unsupported instruments and empty accounts.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import sparse

from pmargin.book import BookArrangement, Portfolio, arrange, example_portfolio, portfolio_from_dict
from pmargin.collateral import account_equity
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind, Right, Settlement
from pmargin.margin import MarginResult, ParamTable, get_model, load_parameter_file
from pmargin.margin.pmrm2 import (
    BookSettings,
    CollateralParameters,
    DerivePmrm2Model,
    compute_pmrm2,
    default_parameters,
    parameters_from_case,
    portfolio_from_case,
    read_case,
)
from pmargin.margin.pmrm2._model import COMPONENTS
from pmargin.margin.pmrm2._stages import FORWARD_LABEL
from pmargin.market import MarketSnapshot, load_market
from pmargin.timeutil import SECONDS_PER_YEAR
from pmargin.valuation import ResolvedInstruments

REPO = Path(__file__).resolve().parents[3]
CASES = Path(
    os.environ.get("PMARGIN_DERIVE_CASES", REPO.parent / "shared" / "testvectors" / "derive-pmrm2")
)
MARKET = load_market(REPO / "src" / "pmargin" / "data" / "example_market.json")
MODEL = get_model("derive-pmrm2")
assert isinstance(MODEL, DerivePmrm2Model)
RTOL = 1e-9


def _book(accounts: list[dict[str, Any]], market: MarketSnapshot = MARKET) -> BookArrangement:
    return arrange(portfolio_from_dict({"accounts": accounts}), market)


def _pos(symbol: str, quantity: float, avg: float | None = None) -> dict[str, Any]:
    position: dict[str, Any] = {"instrument": symbol, "quantity": quantity, "unit": "base"}
    if avg is not None:
        position["avg_price"] = avg
    return position


MIXED = {
    "id": "mixed",
    "balances": {"ETH": 20.0, "USDC": 25_000.0},
    "positions": [
        _pos("ETH_USDC-28NOV25-3600-C", -40.0),
        _pos("ETH_USDC-28NOV25-3600-P", 15.0),
        _pos("ETH_USDC-28NOV25-3200-P", -25.0),
        _pos("ETH_USDC-26DEC25-3400-C", 30.0),
        _pos("ETH_USDC-PERPETUAL", 12.0, avg=3300.0),
        _pos("BTC_USDC-26DEC25-100000-P", -2.0),
    ],
}


def _requirements(result: Any) -> tuple[float, float]:
    """(IM, MM) requirement of a one-portfolio engine result: ``MtM + cash - balance``."""
    return (
        result.mark_to_market - result.initial_margin,
        result.mark_to_market - result.maintenance_margin,
    )


def _unit(result: MarginResult, underlying: str) -> Any:
    return next(u for u in result.risk_units if u.underlying == underlying)


# ----------------------------------------------------------------------------- peer case


def _case_book(case: dict[str, Any]) -> tuple[BookArrangement, MarketSnapshot, Any]:
    """A one-account book and market holding a peer case's portfolio, with its parameters."""
    portfolio = portfolio_from_case(case)
    exp, opt, coll = portfolio.expiries, portfolio.options, portfolio.collaterals
    market = MarketSnapshot(
        timestamp="2025-01-01T00:00:00Z",
        index={"ETH": portfolio.spot},
        # collateral prices in cash units (the engine divides by the stable price); USDC at 1
        prices={
            "USDC": 1.0,
            **{n: p / portfolio.stable_price for n, p in zip(coll.names, coll.price, strict=True)},
        },
    )
    instruments = [Instrument("ETH_USDC-PERPETUAL", Kind.PERPETUAL, "ETH", "USDC")]
    for i in range(opt.size):
        e = int(opt.expiry_index[i])
        instruments.append(
            Instrument(
                f"ETH_USDC-{e}-{opt.strike[i]:g}-{'C' if opt.is_call[i] else 'P'}",
                Kind.OPTION,
                "ETH",
                "USDC",
                Settlement.LINEAR,
                market.timestamp + timedelta(seconds=float(exp.seconds_to_expiry[e])),
                float(opt.strike[i]),
                Right.CALL if opt.is_call[i] else Right.PUT,
            )
        )
    n = len(instruments)
    e = opt.expiry_index
    nan = np.full(1, np.nan)
    resolved = ResolvedInstruments(
        instruments=tuple(instruments),
        is_option=np.r_[False, np.ones(opt.size, dtype=bool)],
        is_call=np.r_[False, opt.is_call],
        is_inverse=np.zeros(n, dtype=bool),
        underlying_price=np.r_[portfolio.perp_price, exp.forward[e]],
        strike=np.r_[nan, opt.strike],
        time=np.r_[nan, exp.seconds_to_expiry[e] / SECONDS_PER_YEAR],
        vol=np.r_[nan, opt.vol],
        rate=np.r_[0.0, exp.rate[e]],
        quote_usd=np.ones(n),
        settlement_usd=np.ones(n),
        vol_source=("",) * n,
    )
    quantity = sparse.csr_array(np.r_[portfolio.perp_position, opt.amount][None, :])
    unrealised = np.zeros((1, n))
    unrealised[0, 0] = portfolio.perp_unrealised_pnl + portfolio.perp_unrealised_funding
    book = BookArrangement(
        account_ids=("case",),
        resolved=resolved,
        quantity=quantity,
        assets=(*coll.names, "USDC"),
        balances=np.r_[coll.amount, portfolio.cash][None, :],
        unrealised=sparse.csr_array(unrealised),
        market=market,
    )
    params = replace(
        parameters_from_case(case),
        collaterals={
            name: CollateralParameters(float(mm), float(im), bool(rc))
            for name, mm, im, rc in zip(
                coll.names, coll.mm_haircut, coll.im_haircut, coll.risk_cancelling, strict=True
            )
        },
    )
    return book, market, params


@pytest.mark.skipif(not CASES.is_dir(), reason=f"Derive PMRM_2 cases not found at {CASES}")
def test_peer_case_book_requirement_is_the_case_result_as_a_requirement() -> None:
    # case 64: 7 expiries, 60 options, a short perp with unrealised P&L, DAI collateral with
    # haircuts; feeds above the confidence threshold and the stable price above the peg
    # threshold, as the general-book mapping assumes
    case = read_case(CASES / "test_64_general_random_4.json")
    book, _, params = _case_book(case)
    model = DerivePmrm2Model(params)
    result = model.compute(book)
    stored = case["Result"]
    engine = compute_pmrm2(portfolio_from_case(case), params)
    # PortfolioMTM includes Cash (0 here); the requirement is MtM + cash - balance
    im_req = stored["PortfolioMTM"] - stored["IM"]
    mm_req = stored["PortfolioMTM"] - stored["MM"]
    assert result.initial_margin[0] == pytest.approx(im_req, rel=1e-9)
    assert result.maintenance_margin[0] == pytest.approx(mm_req, rel=1e-9)
    assert (im_req, mm_req) == pytest.approx(_requirements(engine), rel=1e-12)
    eth = _unit(result, "ETH")
    assert eth.components["worst_loss"][0] == pytest.approx(-engine.worst_loss, rel=1e-9)
    assert eth.components["mark_to_market"][0] + 0.0 == pytest.approx(
        engine.mark_to_market - engine.collateral_value.sum(), rel=1e-9
    )  # DAI (not risk-cancelling) sits in the account-level unit
    np.testing.assert_allclose(eth.pnl[0, :-1], engine.scenario_pnl, rtol=1e-9, atol=1e-6)
    assert eth.pnl[0, -1] == pytest.approx(engine.forward_contingency, rel=1e-9)
    assert eth.worst[0] == engine.worst_scenario
    collateral = _unit(result, "*")
    assert collateral.initial_margin[0] == pytest.approx(
        engine.mm_collateral_haircut + engine.im_collateral_haircut, rel=1e-12
    )
    total = result.im_contribution.sum(axis=1) + result.im_other
    assert total[0] == pytest.approx(result.initial_margin[0], rel=1e-9)


# ----------------------------------------------------------------------------- sign convention


def test_equity_covers_the_requirement_exactly_when_the_balance_is_non_negative() -> None:
    # options in two expiries, a perp with an entry price, ETH and USDC balances: pmargin's
    # equity equals Derive's MtM + cash, so equity - IM is Derive's IM balance
    for cash in (-60_000.0, -20_000.0, 0.0, 25_000.0, 100_000.0):
        account = {**MIXED, "balances": {"ETH": 20.0, "USDC": cash}}
        book = _book([account])
        result = MODEL.compute(book)
        equity = account_equity(book).equity[0]
        im_bal = mm_bal = mtm = 0.0
        for underlying in ("ETH", "BTC"):
            engine = MODEL.engine_result(book, "mixed", underlying)
            im_bal += engine.initial_margin
            mm_bal += engine.maintenance_margin
            mtm += engine.mark_to_market
        # each market's engine MtM holds the account's cash: count it once
        mtm -= cash
        im_bal -= cash
        mm_bal -= cash
        assert equity == pytest.approx(mtm, rel=1e-12)
        assert equity - result.initial_margin[0] == pytest.approx(im_bal, rel=1e-9, abs=1e-6)
        assert equity - result.maintenance_margin[0] == pytest.approx(mm_bal, rel=1e-9, abs=1e-6)
        assert (equity >= result.initial_margin[0]) == (im_bal >= 0.0)
        assert (equity >= result.maintenance_margin[0]) == (mm_bal >= 0.0)


def test_requirement_is_minus_worst_times_factor_plus_contingencies() -> None:
    result = MODEL.compute(_book([MIXED]))
    for unit in result.risk_units:
        c = {k: v[0] for k, v in unit.components.items()}
        im = (
            c["im_scenario_margin"]
            + c["peg_loss"]
            + c["mm_perp_contingency"]
            + c["im_perp_contingency"]
            + c["mm_option_contingency"]
            + c["im_option_contingency"]
            + c["mm_collateral_haircut"]
            + c["im_collateral_haircut"]
            + c["oracle_contingency"]
        )
        mm = (
            c["mm_scenario_margin"]
            + c["mm_perp_contingency"]
            + c["mm_option_contingency"]
            + c["mm_collateral_haircut"]
        )
        assert unit.initial_margin[0] == pytest.approx(im, rel=1e-12)
        assert unit.maintenance_margin[0] == pytest.approx(mm, rel=1e-12)
        assert unit.initial_margin[0] >= unit.maintenance_margin[0] >= 0.0
        assert set(unit.components) == set(COMPONENTS)
        assert unit.scenario_labels[-1] == FORWARD_LABEL
        worst = unit.worst[0]
        assert c["worst_loss"] == pytest.approx(-unit.pnl[0, worst], rel=1e-12)


# ----------------------------------------------------------------------------- general books


def _supported(portfolio: Portfolio) -> Portfolio:
    def ok(i: Instrument) -> bool:
        return not i.is_inverse and i.kind in (Kind.OPTION, Kind.PERPETUAL)

    return Portfolio(
        tuple(
            replace(a, positions=tuple(p for p in a.positions if ok(p.instrument)))
            for a in portfolio.accounts
        )
    )


EXAMPLE = arrange(_supported(example_portfolio(MARKET, 300, seed=3, linear_share=1.0)), MARKET)


def test_model_matches_the_engine_account_by_account_on_the_example_book() -> None:
    # both run the same stages (_stages.py), the model over accounts, the engine over one
    # portfolio's expiries: the scenario P&L is the same bits (options are summed in the same
    # order); requirements differ by the rounding of the engine's collateral value
    # (amount x (price x stable) / stable) only, a few ulps
    result = MODEL.compute(EXAMPLE)
    checked = 0
    for unit in result.risk_units:
        for a in np.flatnonzero(unit.holds)[:60]:
            engine = MODEL.engine_result(EXAMPLE, EXAMPLE.account_ids[a], unit.underlying)
            im, mm = engine.requirements
            assert unit.initial_margin[a] == pytest.approx(im, rel=1e-14, abs=1e-9)
            assert unit.maintenance_margin[a] == pytest.approx(mm, rel=1e-14, abs=1e-9)
            np.testing.assert_array_equal(unit.pnl[a, :-1], engine.scenario_pnl)
            assert unit.pnl[a, -1] == pytest.approx(engine.forward_contingency, rel=1e-14)
            n_s = engine.scenario_pnl.size  # the model's forward contingency column
            binding = n_s if engine.worst_scenario < 0 else engine.worst_scenario
            assert unit.worst[a] == (binding if engine.worst_loss < 0.0 else -1)
            checked += 1
    assert checked >= 100


def test_contributions_and_other_add_up_to_initial_margin() -> None:
    # with haircuts and an oracle charge too, so that every piece is attributed
    params = replace(
        MODEL.params,
        collaterals={
            "ETH": CollateralParameters(0.02, 0.01, True),
            "BTC": CollateralParameters(0.03, 0.01, False),
        },
    )
    model = DerivePmrm2Model(params, BookSettings(feed_confidence=0.4))
    extra = {**MIXED, "id": "with-btc", "balances": {"ETH": 5.0, "BTC": 1.5, "USDC": 1e4}}
    accounts = [
        MIXED,
        extra,
        {
            "id": "perps",
            "positions": [_pos("ETH_USDC-PERPETUAL", -3.0), _pos("BTC_USDC-PERPETUAL", 0.5)],
        },
    ]
    for book in (_book(accounts), EXAMPLE):
        for m in (model, MODEL):
            result = m.compute(book)
            total = np.asarray(result.im_contribution.sum(axis=1)).ravel() + result.im_other
            np.testing.assert_allclose(total, result.initial_margin, rtol=1e-9, atol=1e-6)
    # the example book has accounts whose forward contingency binds: attributed too
    result = MODEL.compute(EXAMPLE)
    n_s = len(MODEL.params.scenarios)
    assert any(np.any(u.worst == n_s) for u in result.risk_units if u.underlying != "*")


def test_contribution_of_a_lone_short_call_is_its_scenario_loss_and_charges() -> None:
    book = _book([{"id": "a", "positions": [_pos("ETH_USDC-28NOV25-3600-C", -10.0)]}])
    result = MODEL.compute(book)
    assert result.contributions(0) == {
        "ETH_USDC-28NOV25-3600-C": pytest.approx(result.initial_margin[0], rel=1e-12)
    }
    assert result.im_other[0] == pytest.approx(0.0, abs=1e-9)


def test_accounts_margined_together_equal_each_margined_alone() -> None:
    other = {
        "id": "other",
        "balances": {"ETH": 3.0, "BTC": 0.2, "USDC": 5_000.0},
        "positions": [
            _pos("ETH_USDC-28NOV25-3600-C", 10.0),
            _pos("ETH_USDC-12DEC25-3000-P", -8.0),
            _pos("BTC_USDC-PERPETUAL", -0.3, avg=100_000.0),
        ],
    }
    both = MODEL.compute(_book([MIXED, other]))
    for row, account in enumerate((MIXED, other)):
        alone = MODEL.compute(_book([account]))
        assert both.initial_margin[row] == pytest.approx(alone.initial_margin[0], rel=1e-12)
        assert both.maintenance_margin[row] == pytest.approx(alone.maintenance_margin[0], rel=1e-12)
        assert both.im_other[row] == pytest.approx(alone.im_other[0], rel=1e-12, abs=1e-9)
        got = both.contributions(row)
        want = alone.contributions(0)
        assert got.keys() == want.keys()
        for symbol, value in want.items():
            assert got[symbol] == pytest.approx(value, rel=1e-12, abs=1e-9)
        for unit in alone.risk_units:
            joint = _unit(both, unit.underlying)
            for name, value in unit.components.items():
                assert joint.components[name][row] == pytest.approx(value[0], rel=1e-12, abs=1e-9)


def test_empty_and_cash_only_accounts_need_no_margin() -> None:
    book = _book([{"id": "empty"}, {"id": "cash", "balances": {"USDC": 1_000.0}}, MIXED])
    result = MODEL.compute(book)
    np.testing.assert_array_equal(result.initial_margin[:2], 0.0)
    np.testing.assert_array_equal(result.maintenance_margin[:2], 0.0)
    np.testing.assert_array_equal(result.im_other[:2], 0.0)
    assert result.im_contribution[[0, 1], :].nnz == 0
    for unit in result.risk_units:
        assert not unit.holds[:2].any()
        np.testing.assert_array_equal(unit.worst[:2], -1)
    nothing = MODEL.compute(_book([{"id": "empty"}]))
    assert nothing.initial_margin.tolist() == [0.0]
    assert nothing.risk_units == ()


def test_coin_balance_alone_is_margined_by_its_spot_scenarios() -> None:
    book = _book([{"id": "eth", "balances": {"ETH": 10.0}}])
    result = MODEL.compute(book)
    eth = _unit(result, "ETH")
    value = 10.0 * MARKET.index_price("ETH")
    moves = [(s.spot_shock - 1.0) * s.dampening for s in MODEL.params.scenarios]
    assert eth.components["worst_loss"][0] == pytest.approx(-min(moves) * value, rel=1e-12)
    assert result.im_other[0] == pytest.approx(result.initial_margin[0], rel=1e-12)


# ----------------------------------------------------------------------------- errors, params


@pytest.mark.parametrize(
    "symbol", ["ETH-PERPETUAL", "BTC-26DEC25", "BTC-26DEC25-115000-C", "BTC_USDC"]
)
def test_unsupported_instruments_are_named(symbol: str) -> None:
    book = _book([{"id": "a", "positions": [_pos(symbol, 1.0), _pos("ETH_USDC-PERPETUAL", 1.0)]}])
    with pytest.raises(InputError, match=r"USDC-settled \(linear\) options and perpetuals") as info:
        MODEL.compute(book)
    assert symbol in str(info.value)


def test_balance_without_parameters_or_index_is_an_error() -> None:
    market = MARKET.replace(prices={"USDC": 1.0, "WEETH": 3500.0})
    book = _book([{"id": "a", "balances": {"WEETH": 1.0}}], market)
    with pytest.raises(InputError, match=r"add a \[collaterals.WEETH\] table"):
        MODEL.compute(book)


def test_listed_collateral_can_cancel_another_underlyings_risk() -> None:
    data = dict(load_parameter_file("derive-pmrm2").data)
    data["collaterals"] = {
        **data["collaterals"],
        "WEETH": {
            "mm_haircut": 0.02,
            "im_haircut": 0.01,
            "risk_cancelling": True,
            "underlying": "ETH",
        },
    }
    model = DerivePmrm2Model.from_params(ParamTable(data, "custom.toml"))
    market = MARKET.replace(prices={"USDC": 1.0, "WEETH": 3500.0})
    account = {
        "id": "a",
        "balances": {"WEETH": 2.0},
        "positions": [_pos("ETH_USDC-28NOV25-3600-C", -2.0)],
    }
    book = _book([account], market)
    result = model.compute(book)
    assert [u.underlying for u in result.risk_units] == ["ETH"]
    eth = result.risk_units[0]
    assert eth.components["mm_collateral_haircut"][0] == pytest.approx(0.02 * 7000.0)
    engine = model.engine_result(book, "a", "ETH")
    assert result.initial_margin[0] == pytest.approx(_requirements(engine)[0], rel=1e-9)


def test_usdc_below_the_peg_threshold_raises_the_im_factor() -> None:
    market = MARKET.replace(prices={"USDC": 0.95, "USDT": 1.0})
    book = _book([MIXED], market)
    result = MODEL.compute(book)
    other = MODEL.params.other_contingency
    eth = _unit(result, "ETH")
    extra = (other.peg_loss_threshold - 0.95) * other.peg_loss_factor
    assert eth.components["peg_loss"][0] == pytest.approx(
        eth.components["worst_loss"][0] * extra, rel=1e-12
    )
    engine = MODEL.engine_result(book, "mixed", "ETH")
    assert eth.initial_margin[0] == pytest.approx(_requirements(engine)[0], rel=1e-9)


def test_book_table_is_read_and_checked() -> None:
    table = load_parameter_file("derive-pmrm2")
    model = DerivePmrm2Model.from_params(table)
    assert model.settings == BookSettings()
    assert model.params == default_parameters()
    bad = ParamTable({**table.data, "book": {"feed_confidence": 1.5}}, "x.toml")
    with pytest.raises(InputError, match=r"x.toml: book.feed_confidence"):
        DerivePmrm2Model.from_params(bad)
    typo = ParamTable({**table.data, "book": {"cash": ["USDC"]}}, "x.toml")
    with pytest.raises(InputError, match="is not a known field"):
        DerivePmrm2Model.from_params(typo)
