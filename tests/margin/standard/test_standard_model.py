"""The standard model on small books: hand-computed margins written as formulas."""

from __future__ import annotations

import numpy as np
import pytest
from _standard_cases import (
    FORWARD_BTC,
    INDEX_BTC,
    INDEX_ETH,
    UNIVERSE,
    USDC,
    account,
    book,
    margin,
    shipped_model,
)

from pmargin.margin import MarginModel, MarginResult, RiskUnitMargin, get_model
from pmargin.margin.standard import FUTURES, SHORT_OPTIONS, StandardModel
from pmargin.valuation import value_instruments

RTOL = 1e-9


def _unit(result: MarginResult, underlying: str, currency: str) -> RiskUnitMargin:
    (unit,) = [u for u in result.risk_units if (u.underlying, u.currency) == (underlying, currency)]
    return unit


def _mark(symbol: str) -> float:
    """The valuation layer's mark of one instrument (coin per coin for inverse options)."""
    arranged = book(account("x", (symbol, 1.0)))
    return float(value_instruments(arranged.resolved).price[0])


def test_registry_builds_the_standard_model() -> None:
    model = get_model("standard")
    assert isinstance(model, StandardModel)
    assert isinstance(model, MarginModel)
    assert model.name == "standard"


def test_inverse_marks_round_trip() -> None:
    # The option marks below are the market's coin prices, recovered through implied vol.
    assert _mark("BTC-28MAR25-110000-C") == pytest.approx(0.02, rel=1e-9)
    assert _mark("BTC-28MAR25-120000-P") == pytest.approx(0.22, rel=1e-9)


def test_short_call_ten_percent_out_of_the_money() -> None:
    # Strike 110,000 over a forward of 100,000: OTM = (110,000 - 100,000) / 100,000 = 0.10.
    result = margin(account("a", ("BTC-28MAR25-110000-C", -3.0)))
    mark = 0.02
    otm = (110_000 - FORWARD_BTC) / FORWARD_BTC
    im_coin = 3.0 * (max(0.15 - otm, 0.10) + mark)
    mm_coin = 3.0 * (0.075 + mark)
    unit = _unit(result, "BTC", "BTC")
    assert unit.usd_rate == INDEX_BTC
    np.testing.assert_allclose(unit.initial_margin, [im_coin], rtol=RTOL)
    np.testing.assert_allclose(unit.maintenance_margin, [mm_coin], rtol=RTOL)
    np.testing.assert_allclose(unit.components[SHORT_OPTIONS], [im_coin], rtol=RTOL)
    np.testing.assert_allclose(unit.components[FUTURES], [0.0])
    np.testing.assert_allclose(result.initial_margin, [im_coin * INDEX_BTC], rtol=RTOL)
    np.testing.assert_allclose(result.maintenance_margin, [mm_coin * INDEX_BTC], rtol=RTOL)
    assert unit.scenario_labels == ()
    assert unit.worst.tolist() == [-1]


def test_short_puts_out_of_and_in_the_money() -> None:
    result = margin(
        account("otm", ("BTC-28MAR25-90000-P", -1.0)),
        account("itm", ("BTC-28MAR25-120000-P", -1.0)),
    )
    unit = _unit(result, "BTC", "BTC")
    otm_put = (FORWARD_BTC - 90_000) / FORWARD_BTC  # 0.10 out of the money
    mark_otm, mark_itm = 0.015, 0.22
    im = [
        max(max(0.15 - otm_put, 0.10) + mark_otm, max(0.075, 0.075 * mark_otm) + mark_otm),
        max(max(0.15 - 0.0, 0.10) + mark_itm, max(0.075, 0.075 * mark_itm) + mark_itm),
    ]
    mm = [max(0.075, 0.075 * mark_otm) + mark_otm, max(0.075, 0.075 * mark_itm) + mark_itm]
    np.testing.assert_allclose(unit.initial_margin, im, rtol=RTOL)
    np.testing.assert_allclose(unit.maintenance_margin, mm, rtol=RTOL)


def test_linear_option_scales_by_the_underlying_in_usdc() -> None:
    result = margin(account("a", ("BTC_USDC-28MAR25-110000-C", -2.0)))
    forward_usdc = FORWARD_BTC / USDC
    otm = (110_000 - forward_usdc) / forward_usdc
    mark = 2_000.0
    im = 2.0 * (max(0.15 - otm, 0.10) * forward_usdc + mark)
    mm = 2.0 * (0.075 * forward_usdc + mark)
    unit = _unit(result, "BTC", "USDC")
    assert unit.usd_rate == USDC
    np.testing.assert_allclose(unit.initial_margin, [im], rtol=RTOL)
    np.testing.assert_allclose(unit.maintenance_margin, [mm], rtol=RTOL)
    np.testing.assert_allclose(result.initial_margin, [im * USDC], rtol=RTOL)


@pytest.mark.parametrize("size", [25.0, 350.0, -25.0])
def test_inverse_perpetual_at_deribits_published_sizes(size: float) -> None:
    # Deribit's examples: 25 BTC -> 2% + 25 x 0.005% = 2.125% = 0.53125 BTC;
    # 350 BTC -> 3.75% = 13.125 BTC. MM 1% + size x 0.005%. Shorts are charged alike.
    result = margin(account("a", ("BTC-PERPETUAL", size)))
    n = abs(size)
    unit = _unit(result, "BTC", "BTC")
    np.testing.assert_allclose(unit.initial_margin, [n * (0.02 + n * 0.00005)], rtol=RTOL)
    np.testing.assert_allclose(unit.maintenance_margin, [n * (0.01 + n * 0.00005)], rtol=RTOL)
    np.testing.assert_allclose(unit.components[FUTURES], unit.initial_margin, rtol=RTOL)
    if size == 25.0:
        np.testing.assert_allclose(unit.initial_margin, [0.53125], rtol=RTOL)
    if size == 350.0:
        np.testing.assert_allclose(unit.initial_margin, [13.125], rtol=RTOL)


def test_native_usd_quantity_is_margined_on_its_base_size() -> None:
    # 2,462,500 USD of BTC-PERPETUAL at a mark of 98,500 is 25 BTC.
    arranged = book(
        {"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 2_462_500}]}
    )
    result = shipped_model().compute(arranged)
    np.testing.assert_allclose(
        result.risk_units[0].initial_margin, [25 * (0.02 + 25 * 0.00005)], rtol=RTOL
    )


def test_eth_dated_future_and_linear_perpetual_at_the_index() -> None:
    result = margin(account("a", ("ETH-PERPETUAL", -1_000.0), ("BTC_USDC-PERPETUAL", 25.0)))
    eth = _unit(result, "ETH", "ETH")
    np.testing.assert_allclose(eth.initial_margin, [1_000 * (0.02 + 1_000 * 0.000004)], rtol=RTOL)
    np.testing.assert_allclose(eth.maintenance_margin, [1_000 * (0.01 + 1_000 * 0.000004)])
    usdc = _unit(result, "BTC", "USDC")
    # Linear: the coin margin (0.53125 BTC) times the BTC index in USDC.
    np.testing.assert_allclose(usdc.initial_margin, [0.53125 * INDEX_BTC / USDC], rtol=RTOL)
    expected_usd = 1_000 * (0.02 + 1_000 * 0.000004) * INDEX_ETH + 0.53125 * INDEX_BTC
    np.testing.assert_allclose(result.initial_margin, [expected_usd], rtol=RTOL)


def test_long_options_spot_and_balances_need_no_margin() -> None:
    result = margin(
        account(
            "a",
            ("BTC-28MAR25-110000-C", 5.0),
            ("BTC_USDC-28MAR25-90000-P", 3.0),
            ("BTC_USDC", -2.0),
            BTC=1.0,
            USDC=50_000.0,
        )
    )
    np.testing.assert_array_equal(result.initial_margin, [0.0])
    np.testing.assert_array_equal(result.maintenance_margin, [0.0])
    assert result.im_contribution.sum() == 0.0
    assert all(unit.holds.tolist() == [True] for unit in result.risk_units)


def test_mixed_account_is_the_sum_of_its_positions() -> None:
    positions = (
        ("BTC-PERPETUAL", 10.0),
        ("BTC-28MAR25", -4.0),
        ("BTC-28MAR25-110000-C", -2.0),
        ("BTC-28MAR25-90000-P", 1.0),
        ("BTC_USDC-28MAR25-90000-P", -1.5),
        ("ETH-28MAR25-4400-C", -20.0),
    )
    result = margin(account("mixed", *positions))
    alone = [float(margin(account("one", p)).initial_margin[0]) for p in positions]
    np.testing.assert_allclose(result.initial_margin, [sum(alone)], rtol=RTOL)
    # By hand, in coin / USDC per position, converted to USD:
    btc = (
        10 * (0.02 + 10 * 0.00005) + 4 * (0.02 + 4 * 0.00005) + 2 * (max(0.15 - 0.10, 0.10) + 0.02)
    )
    eth_mark = _mark("ETH-28MAR25-4400-C")
    eth = 20 * (max(0.15 - 0.10, 0.10) + eth_mark)
    forward_usdc = FORWARD_BTC / USDC
    otm_put = (forward_usdc - 90_000) / forward_usdc
    usdc = 1.5 * (max(0.15 - otm_put, 0.10) * forward_usdc + 1_500.0)
    expected = btc * INDEX_BTC + eth * INDEX_ETH + usdc * USDC
    np.testing.assert_allclose(result.initial_margin, [expected], rtol=RTOL)
    contributions = result.contributions(0)
    assert contributions["BTC-28MAR25-90000-P"] == 0.0
    np.testing.assert_allclose(sum(contributions.values()), expected, rtol=RTOL)
    np.testing.assert_allclose(contributions["ETH-28MAR25-4400-C"], eth * INDEX_ETH, rtol=RTOL)


def test_duplicate_positions_are_netted_per_instrument() -> None:
    # Deribit's size is the account's net position in the instrument: 15 - 5 = 10 BTC.
    result = margin(account("a", ("BTC-PERPETUAL", 15.0), ("BTC-PERPETUAL", -5.0)))
    np.testing.assert_allclose(
        result.risk_units[0].initial_margin, [10 * (0.02 + 10 * 0.00005)], rtol=RTOL
    )


def _random_accounts(rng: np.random.Generator, n: int) -> list[dict[str, object]]:
    accounts = []
    for a in range(n):
        held = rng.choice(len(UNIVERSE), size=int(rng.integers(0, 7)), replace=True)
        positions = [(UNIVERSE[int(j)], float(rng.normal(0.0, 20.0))) for j in held]
        accounts.append(account(f"acct-{a}", *positions))
    return accounts


def test_batch_contributions_nonnegative_and_add_up() -> None:
    rng = np.random.default_rng(7)
    accounts = _random_accounts(rng, 40)
    result = margin(*accounts)
    assert result.n_accounts == 40
    assert np.all(result.initial_margin >= 0.0)
    assert np.all(result.maintenance_margin >= 0.0)
    assert np.all(result.maintenance_margin <= result.initial_margin + 1e-9)
    assert np.all(result.im_contribution.data >= 0.0)
    np.testing.assert_allclose(
        result.im_contribution.sum(axis=1), result.initial_margin, rtol=1e-12, atol=1e-9
    )
    np.testing.assert_array_equal(result.im_other, np.zeros(40))
    for unit in result.risk_units:
        parts = unit.components[FUTURES] + unit.components[SHORT_OPTIONS]
        np.testing.assert_allclose(parts, unit.initial_margin, rtol=1e-12, atol=1e-12)
        assert np.all(unit.maintenance_margin <= unit.initial_margin + 1e-12)
    # The batch equals each account margined alone.
    for row in rng.choice(40, size=8, replace=False).tolist():
        alone = margin(accounts[row])
        np.testing.assert_allclose(
            result.initial_margin[row], alone.initial_margin[0], rtol=1e-12, atol=1e-9
        )
        np.testing.assert_allclose(
            result.maintenance_margin[row], alone.maintenance_margin[0], rtol=1e-12, atol=1e-9
        )


@pytest.mark.parametrize(
    "symbol",
    [
        "BTC-28MAR25-110000-C",
        "BTC-28MAR25-120000-P",
        "BTC_USDC-28MAR25-90000-P",
        "ETH-28MAR25-4400-C",
    ],
)
def test_option_margin_is_homogeneous_in_size(symbol: str) -> None:
    result = margin(account("x1", (symbol, -1.7)), account("x2", (symbol, -3.4)))
    np.testing.assert_allclose(result.initial_margin[1], 2 * result.initial_margin[0], rtol=1e-12)
    np.testing.assert_allclose(
        result.maintenance_margin[1], 2 * result.maintenance_margin[0], rtol=1e-12
    )
    assert result.initial_margin[0] > 0.0


def test_empty_accounts_and_empty_book() -> None:
    result = margin(account("empty"), account("also-empty", BTC=2.0))
    np.testing.assert_array_equal(result.initial_margin, [0.0, 0.0])
    assert result.risk_units == ()
    assert result.im_contribution.shape == (2, 0)


def test_to_dict_reports_components_and_no_worst_scenario() -> None:
    result = margin(account("a", ("BTC-PERPETUAL", 25.0), ("BTC-28MAR25-110000-C", -1.0)))
    out = result.risk_units[0].to_dict(0)
    assert out["worst_scenario"] is None
    assert set(out["components"]) == {FUTURES, SHORT_OPTIONS}
    assert out["components"][FUTURES] == pytest.approx(0.53125, rel=RTOL)
    assert out["components"][SHORT_OPTIONS] == pytest.approx(0.10 + 0.02, rel=RTOL)
