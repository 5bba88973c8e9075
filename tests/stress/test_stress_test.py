"""Stress losses by hand: one-position books, balances, vol shocks, flags at the boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import _books
import numpy as np
import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.history import PriceHistory
from pmargin.scenarios import VolShockMode
from pmargin.stress import (
    CorrelationShock,
    ScenarioInfo,
    StressReport,
    StressShock,
    VolShock,
    joint_arrays,
    parse_shock,
    stress_test,
)

MARKET = _books.MARKET_DATA
BTC, USDC = 95_000.0, 0.999  # index of BTC, USD price of USDC in the test market


def _portfolio(positions: list[dict], balances: dict | None = None):  # type: ignore[type-arg]
    account = {"id": "a", "positions": positions, "balances": balances or {}}
    return portfolio_from_dict({"accounts": [account]})


def _loss(
    positions: list[dict],  # type: ignore[type-arg]
    shock: str,
    balances: dict | None = None,  # type: ignore[type-arg]
    *,
    allow_unheld: bool = False,
) -> float:
    report = stress_test(
        _portfolio(positions, balances),
        _books.market(),
        [parse_shock(shock)],
        model="standard",
        allow_unheld=allow_unheld,
    )
    return float(report.loss[0, 0])


@pytest.mark.parametrize("move", [-0.3, -0.1, 0.2])
def test_inverse_perpetual_loss_by_hand(move: float) -> None:
    q = 2.0  # BTC, base units
    m = 1.0 + move
    coin_pnl = q * (1.0 - 1.0 / m)  # BTC
    expected = -coin_pnl * BTC * m  # converted at the coin's price after the move
    position = {"instrument": "BTC-PERPETUAL", "quantity": q, "unit": "base"}
    assert _loss([position], f"BTC={move}") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("move", [-0.3, 0.25])
def test_linear_perpetual_loss_by_hand(move: float) -> None:
    q, F = -1.5, 95_100.0  # BTC; the perpetual's mark in USDC
    expected = -q * F * move * USDC  # USDC P&L at the unshocked USDC price
    position = {"instrument": "BTC_USDC-PERPETUAL", "quantity": q, "unit": "base"}
    assert _loss([position], f"BTC={move}") == pytest.approx(expected, rel=1e-12)


def test_balances_move_with_their_coin_and_stablecoins_do_not() -> None:
    balances = {"BTC": 1.5, "ETH": -2.0, "USDC": 10_000.0}
    expected = -(1.5 * BTC * -0.2 + -2.0 * 3_400.0 * -0.4)
    assert _loss([], "BTC=-0.2,ETH=-0.4", balances) == pytest.approx(expected, rel=1e-12)
    assert _loss([], "ETH=-0.4", {"USDC": 1e6}, allow_unheld=True) == 0.0
    # Naming a stablecoin moves its balance (a depeg of collateral).
    assert _loss([], "USDC=-0.05", {"USDC": 1e6}) == pytest.approx(1e6 * USDC * 0.05)


def test_unnamed_underlying_is_unshocked_and_reported() -> None:
    positions = [{"instrument": "ETH-PERPETUAL", "quantity": 1.0, "unit": "base"}]
    report = stress_test(
        _portfolio(positions),
        _books.market(),
        [parse_shock("BTC=-0.5")],
        model="standard",
        allow_unheld=True,
    )
    assert report.loss[0, 0] == 0.0
    assert report.scenarios[0].unshocked == ("ETH",)


@pytest.mark.parametrize(
    ("shock", "target", "holds", "rest"),
    [
        ("BTX=-0.3", "BTX", "ETH, USDC", None),  # a typo
        ("DOGE=-0.5", "DOGE", "ETH, USDC", None),  # a coin the book does not hold
        ("ETH=-0.1,BTC.vol=+0.5", "BTC", "ETH", "ETH=-0.1"),  # vol of an underlying not held
        ("USDT=-0.05", "USDT", "ETH, USDC", None),  # no balance of it
    ],
)
def test_a_shock_on_what_the_book_does_not_hold_is_refused(
    shock: str, target: str, holds: str, rest: str | None
) -> None:
    positions = [{"instrument": "ETH-PERPETUAL", "quantity": 1.0, "unit": "base"}]
    balances = {"USDC": 1_000.0}
    with pytest.raises(InputError) as caught:
        _loss(positions, shock, balances)
    assert caught.value.field == f"scenario {shock}"
    assert caught.value.value == target
    assert f"(it holds {holds})" in caught.value.reason
    # Allowed, the unheld part moves nothing: the loss of the rest of the shock.
    expected = 0.0 if rest is None else _loss(positions, rest, balances)
    assert _loss(positions, shock, balances, allow_unheld=True) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("BTC=1e300", "in (-1, 10]"),
        ("BTC=+11", "in (-1, 10]"),
        ("BTC=-1", "in (-1, 10]"),
        ("vol=+1001%", "relative vol move in (-1, 10]"),
        ("vol=+501pt", "[-200pt, +500pt]"),
        ("corr=0.9,n=1000001", "[1, 1000000]"),
    ],
)
def test_shock_magnitudes_outside_the_stated_range_are_refused(text: str, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_shock(text)
    assert caught.value.field == "shock"
    assert reason in caught.value.reason


def test_the_range_bounds_themselves() -> None:
    assert parse_shock("BTC=+10").spot_moves["BTC"] == 10.0  # type: ignore[union-attr]
    assert parse_shock("vol=+500pt").vol_shocks["*"].value == 5.0
    assert parse_shock("vol=+10").vol_shocks["*"].value == 10.0


def test_vol_shocks_relative_absolute_and_per_underlying() -> None:
    book = arrange(
        _portfolio(
            [
                {"instrument": "BTC-27DEC24-100000-C", "quantity": 1.0},
                {"instrument": "ETH-27DEC24-3500-C", "quantity": 1.0},
            ]
        ),
        _books.market(),
    )
    shocks = [
        parse_shock("vol=+0.5"),
        parse_shock("vol=+10pt,ETH.vol=-0.5"),
        parse_shock("vol=-200pt"),
    ]
    arrays = joint_arrays(book.resolved, {}, shocks, 3)
    np.testing.assert_allclose(arrays.vol[0], [0.6 * 1.5, 0.6 + 0.10, 0.01])
    np.testing.assert_allclose(arrays.vol[1], [0.7 * 1.5, 0.7 * 0.5, 0.01])
    np.testing.assert_array_equal(arrays.spot_multiplier, 1.0)


def test_long_call_gains_from_a_vol_rise() -> None:
    position = {"instrument": "BTC-27DEC24-100000-C", "quantity": 1.0}
    assert _loss([position], "vol=+0.5") < 0.0
    assert _loss([position], "vol=-0.5") > 0.0
    assert _loss([position], "BTC=0") == 0.0


def _report(loss: float, im: float, equity: float) -> StressReport:
    return StressReport(
        model="m",
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        account_ids=("a",),
        scenarios=(ScenarioInfo("s", "user", "", {}, ()),),
        loss=np.array([[loss]]),
        base_loss=np.array([[np.nan]]),
        equity=np.array([equity]),
        initial_margin=np.array([im]),
        maintenance_margin=np.array([im / 2]),
    )


@pytest.mark.parametrize(
    ("loss", "breach", "default"),
    [
        (100.0, False, False),  # loss == IM: not a breach
        (np.nextafter(100.0, np.inf), True, False),
        (250.0, True, False),  # loss == equity: not a default
        (np.nextafter(250.0, np.inf), True, True),
        (-50.0, False, False),  # a gain
    ],
)
def test_flags_at_the_boundaries(loss: float, breach: bool, default: bool) -> None:
    report = _report(loss, im=100.0, equity=250.0)
    assert bool(report.margin_breach[0, 0]) is breach
    assert bool(report.default[0, 0]) is default
    assert report.equity_after[0, 0] == 250.0 - loss
    row = report.to_dict()["scenarios"][0]["accounts"][0]
    assert (row["margin_breach"], row["default"]) == (breach, default)
    assert "base_loss" not in row


def test_report_joins_equity_and_margin_of_the_model() -> None:
    from pmargin.engine import margin_report

    portfolio = _portfolio(
        [{"instrument": "BTC-PERPETUAL", "quantity": 3.0, "unit": "base"}], {"BTC": 1.0}
    )
    report = stress_test(portfolio, _books.market(), [parse_shock("BTC=-0.5")], model="standard")
    margin = margin_report(portfolio, _books.market(), "standard")
    assert report.initial_margin[0] == margin.result.initial_margin[0]
    assert report.equity[0] == margin.equity.equity[0]
    doc = report.to_dict()
    assert doc["model"] == "standard"
    keys = set(doc["scenarios"][0]["accounts"][0])
    assert keys >= {"id", "loss", "equity", "equity_after", "initial_margin", "margin_breach"}


def test_names_must_be_distinct_and_scenarios_given() -> None:
    portfolio = _portfolio([])
    with pytest.raises(InputError, match="named twice"):
        stress_test(portfolio, _books.market(), [parse_shock("BTC=-0.1")] * 2, model="standard")
    with pytest.raises(InputError, match="at least one"):
        stress_test(portfolio, _books.market(), [], model="standard")


def _history() -> PriceHistory:
    rng = np.random.default_rng(3)
    n = 500
    times = np.datetime64("2023-07-01T00:00:00", "s") + np.arange(n) * np.timedelta64(86_400, "s")
    z = rng.standard_normal((n, 2)) @ np.array([[1.0, 0.0], [0.2, 0.98]]).T * 0.03
    closes = np.exp(np.cumsum(z, axis=0)) * [40_000.0, 2_000.0]
    return PriceHistory(("BTC", "ETH"), times, closes)


def test_correlation_stress_raises_the_quantile_of_a_long_long_book() -> None:
    portfolio = _portfolio([], {"BTC": 1.0, "ETH": 30.0})
    shock = CorrelationShock("corr", 1.0, n_scenarios=4000, seed=11)
    report = stress_test(portfolio, _books.market(), [shock], model="standard", history=_history())
    stressed, base = report.loss[0, 0], report.base_loss[0, 0]
    assert stressed > base > 0.0
    row = report.to_dict()["scenarios"][0]
    np.testing.assert_allclose(row["shock"]["stressed_correlation"], 1.0)
    assert row["accounts"][0]["base_loss"] == base
    # A single-coin book: same distribution of its coin's move (the symmetric root of the
    # correlation mixes the same normal draws differently, so only up to sampling noise).
    alone = stress_test(
        _portfolio([], {"BTC": 1.0}), _books.market(), [shock], model="standard", history=_history()
    )
    assert alone.loss[0, 0] == pytest.approx(alone.base_loss[0, 0], rel=0.05)


def test_shock_objects_validate() -> None:
    with pytest.raises(InputError, match=r"spot_moves\.BTC"):
        StressShock("x", {"BTC": -1.0})
    with pytest.raises(InputError, match="vol"):
        VolShock(-1.0, VolShockMode.RELATIVE)
    assert VolShock(-1.0, "absolute").value == -1.0
