"""DeribitModel on option books: options revalued, attribution adds up, X:PM collateral."""

from __future__ import annotations

import numpy as np
import pytest
from _deribit_cases import book, model_from, shipped

from pmargin.margin.deribit import DeribitModel
from pmargin.pricing import black76, black76_value

TS = "2024-11-27T08:00:00Z"
INDEX = {"BTC": 95_000.0, "ETH": 3_400.0}
FORWARDS = {"BTC": {"2024-12-27": 96_000.0}, "ETH": {"2024-12-27": 3_450.0}}
MARKS = {
    "BTC-PERPETUAL": {"price": 95_200.0},
    "BTC-27DEC24-60000-P": {"iv": 0.8},
    "BTC-27DEC24-100000-C": {"iv": 0.6},
    "BTC_USDC-27DEC24-95000-P": {"iv": 0.62},
    "ETH-27DEC24-3500-C": {"iv": 0.7},
}
EXTRA = {"forwards": FORWARDS, "prices": {"USDC": 1.0}}
T = 30 / 365  # 2024-11-27 08:00 -> 2024-12-27 08:00


def _model(**assumptions: str) -> DeribitModel:
    data = shipped()
    data["assumptions"].update(assumptions)
    return model_from(data)


def test_short_call_vector_is_black76_revaluation_in_coin() -> None:
    q = -2.0
    b, _ = book(TS, INDEX, MARKS, {"BTC-27DEC24-100000-C": q}, **EXTRA)
    (v,) = _model().risk_vectors(b)
    f, k, vol = 96_000.0, 100_000.0, 0.6
    # vol up at 30 DTE: 0.6 x (1 + 0.5 (30/30)^0.13) = 0.9 (above the 0.5 floor)
    up = vol * (1 + 0.5)
    down = vol * (1 - 0.25)
    v0 = float(black76_value(f, k, T, vol, True)) / f
    for cell, mult, sigma in [(0, 0.84, down), (1, 0.84, vol), (26, 1.16, up)]:
        expected = float(black76_value(f * mult, k, T, sigma, True)) / (f * mult) - v0
        assert v.instrument_pnl[0, cell] == pytest.approx(expected, rel=1e-9, abs=1e-14)
    # +500 % (extended, "distance"): the USD P&L at 6 F, times 0.16 / 5, in coin at 1.16 F.
    usd = float(black76_value(6 * f, k, T, up, True)) - v0 * 6 * f
    expected = usd * 0.16 / 5.0 / (1.16 * f)
    assert v.instrument_pnl[0, 34] == pytest.approx(expected, rel=1e-9)
    assert v.pre_aggregated[0, 34] == pytest.approx(q * v.instrument_pnl[0, 34])
    # "full" (the earlier reading): the whole coin P&L at +500 %.
    (full,) = _model(extended_weighting="full").risk_vectors(b)
    whole = float(black76_value(6 * f, k, T, up, True)) / (6 * f) - v0
    assert full.instrument_pnl[0, 34] == pytest.approx(whole, rel=1e-9)


def test_distance_weighting_puts_delta_one_legs_on_their_edge_value() -> None:
    # A perpetual revalued at every extended move lands on its +-16 % value: q (1 - 1/(1 +- pr)).
    b, _ = book(TS, INDEX, MARKS, {"BTC-PERPETUAL": 2.0}, **EXTRA)
    (v,) = _model().risk_vectors(b)
    low, high = 1 - 1 / 0.84, 1 - 1 / 1.16
    expected = [low, low, high, high, high, high, high, high]
    np.testing.assert_allclose(v.instrument_pnl[0, 27:], expected, rtol=1e-14)
    np.testing.assert_allclose(v.instrument_pnl[0, 27:], v.instrument_pnl[0, [0] * 2 + [26] * 6])


def test_distance_dampener_grows_with_the_move_in_coin_at_the_edge_price() -> None:
    # 100 short 60k puts: at -66 % the deductible is (0.66/0.16 - 1) x 100,000 USD, in coin at
    # the edge price 0.84 x index.
    q = -100.0
    b, _ = book(TS, INDEX, MARKS, {"BTC-27DEC24-60000-P": q}, **EXTRA)
    (v,) = _model().risk_vectors(b)
    pre = v.pre_aggregated[0, 27]
    deductible = (0.66 / 0.16 - 1.0) * 100_000.0 / (0.84 * INDEX["BTC"])
    assert pre < -deductible
    assert v.aggregated[0, 27] == pytest.approx(pre + deductible, rel=1e-12)
    # -33 %: (0.33/0.16 - 1) x 100,000 USD
    d33 = (0.33 / 0.16 - 1.0) * 100_000.0 / (0.84 * INDEX["BTC"])
    assert v.aggregated[0, 28] == pytest.approx(min(0.0, v.pre_aggregated[0, 28] + d33), abs=1e-12)


def test_dampener_subtracts_in_coin_at_the_usd_price() -> None:
    # 40 short 60k puts: the -66% extended cell loses far more than 100,000 USD.
    q = -40.0
    b, _ = book(TS, INDEX, MARKS, {"BTC-27DEC24-60000-P": q}, **EXTRA)
    model = _model(extended_weighting="full", extended_dampener_mode="subtract")
    (v,) = model.risk_vectors(b)
    dampener_coin = 100_000.0 / INDEX["BTC"]
    pre = v.pre_aggregated[0, 27]
    assert pre < -dampener_coin
    assert v.aggregated[0, 27] == pytest.approx(pre + dampener_coin, rel=1e-12)
    (t,) = _model(extended_weighting="full", extended_dampener_mode="threshold").risk_vectors(b)
    assert t.aggregated[0, 27] == pytest.approx(pre, rel=1e-12)
    unit = model.compute(b).risk_units[0]
    assert unit.scenario_labels[int(unit.worst[0])] == "BTC -66% vol up (extended)"
    assert float(unit.components["worst_case"][0]) == pytest.approx(-(pre + dampener_coin))


def test_linear_usdc_unit_is_separate_and_in_usdc() -> None:
    positions = {"BTC-27DEC24-100000-C": -1.0, "BTC_USDC-27DEC24-95000-P": 3.0}
    b, _ = book(TS, INDEX, MARKS, positions, **EXTRA)
    result = _model().compute(b)
    units = {(u.underlying, u.currency): u for u in result.risk_units}
    assert set(units) == {("BTC", "BTC"), ("BTC", "USDC")}
    usdc = units[("BTC", "USDC")]
    # roll shock on the expiry's net delta: |3 x put delta| x max(0.01, 0.1 x 30/365) x forward
    # 96,000 USDC ("abs_size": |3| x the same)
    delta = float(black76(96_000.0, 95_000.0, T, 0.62, False).delta)
    assert float(usdc.components["roll_shock"][0]) == pytest.approx(
        abs(3.0 * delta) * max(0.01, 0.1 * T) * 96_000.0, rel=1e-9
    )
    gross = _model(roll_shock_basis="abs_size").compute(b).risk_units[1]
    assert (gross.underlying, gross.currency) == ("BTC", "USDC")
    assert float(gross.components["roll_shock"][0]) == pytest.approx(
        3.0 * max(0.01, 0.1 * T) * 96_000.0, rel=1e-9
    )
    total = sum(float(u.initial_margin[0]) * u.usd_rate for u in result.risk_units)
    assert float(result.initial_margin[0]) == pytest.approx(total)


def test_batch_equals_accounts_alone_and_attribution_adds_up() -> None:
    from pmargin.book import arrange, portfolio_from_dict
    from pmargin.market import market_from_dict

    market = market_from_dict({"timestamp": TS, "index": INDEX, "marks": MARKS, **EXTRA})
    accounts = [
        {"BTC-PERPETUAL": 1.5, "BTC-27DEC24-100000-C": -2.0},
        {"ETH-27DEC24-3500-C": -10.0, "BTC-27DEC24-60000-P": 1.0},
        {},
        {"BTC_USDC-27DEC24-95000-P": -4.0, "BTC-PERPETUAL": -0.5},
    ]

    def portfolio(rows: list[dict[str, float]]) -> object:
        return portfolio_from_dict(
            {
                "accounts": [
                    {
                        "id": f"a{i}",
                        "positions": [
                            {"instrument": s, "quantity": q, "unit": "base"} for s, q in r.items()
                        ],
                    }
                    for i, r in enumerate(rows)
                ]
            }
        )

    model = _model()
    result = model.compute(arrange(portfolio(accounts), market))  # type: ignore[arg-type]
    for i, rows in enumerate(accounts):
        alone = model.compute(arrange(portfolio([rows]), market))  # type: ignore[arg-type]
        assert float(result.initial_margin[i]) == pytest.approx(float(alone.initial_margin[0]))
    np.testing.assert_allclose(
        result.im_contribution.sum(axis=1) + result.im_other, result.initial_margin, rtol=1e-12
    )
    np.testing.assert_allclose(result.maintenance_margin, 0.8 * result.initial_margin)
    assert float(result.initial_margin[2]) == 0.0


def test_cross_mode_collateral_moves_with_its_coin() -> None:
    model = _model().with_mode("cross")
    # 1 BTC balance alone: its USD value x (1 - haircut 0) moves -16% at worst.
    b, _ = book(TS, INDEX, MARKS, {}, balances={"BTC": 1.0, "USDC": 5_000.0}, **EXTRA)
    (unit,) = model.compute(b).risk_units
    assert (unit.underlying, unit.currency) == ("BTC", "USD")
    assert float(unit.components["worst_case"][0]) == pytest.approx(0.16 * 95_000.0)
    # Hedged by a short perpetual of the same size: the linear-equivalent USD P&L cancels,
    # leaving the perpetual's roll shock |q| x 0.01 x index.
    b, _ = book(TS, INDEX, MARKS, {"BTC-PERPETUAL": -1.0}, balances={"BTC": 1.0}, **EXTRA)
    (unit,) = model.compute(b).risk_units
    assert float(unit.components["worst_case"][0]) == pytest.approx(0.0, abs=1e-9)
    assert float(unit.components["roll_shock"][0]) == pytest.approx(0.01 * 95_000.0)


def test_cross_mode_offsets_profit_of_another_currency() -> None:
    # BTC-settled short call (loses when BTC rises) against a long USDC-settled... put: the
    # BTC currency has pnl_offset 0, so positive BTC cells never offset USDC losses.
    positions = {"BTC-27DEC24-100000-C": 1.0, "BTC_USDC-27DEC24-95000-P": 1.0}
    b, _ = book(TS, INDEX, MARKS, positions, **EXTRA)
    model = _model().with_mode("cross")
    (v,) = model.risk_vectors(b)
    cols = [i.symbol for i in b.instruments]
    call = v.instrument_pnl[cols.index("BTC-27DEC24-100000-C")]
    put = v.instrument_pnl[cols.index("BTC_USDC-27DEC24-95000-P")]
    usdc_offset, usdc_cap = 0.4, 1_000_000.0
    counted_put = np.where(put > 0, np.minimum(usdc_offset * put, usdc_cap), put)
    expected = np.minimum(call, 0.0) + counted_put
    np.testing.assert_allclose(v.aggregated[0, :27], expected[:27], rtol=1e-12, atol=1e-9)
