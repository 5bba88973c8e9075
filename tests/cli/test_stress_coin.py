"""Stress of a coin-settled account: measured in its coin as well as USD (the breach rule)."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from pmargin.book import Account, Portfolio, arrange
from pmargin.cli.main import app
from pmargin.engine import example_path, load_inputs
from pmargin.stress import StressShock, account_currencies, stress_test

MARKET = example_path("example_market.json")
PORTFOLIO = example_path("example_portfolio.json")
SHOCKS = [
    StressShock("down", spot_moves={"BTC": -0.3, "ETH": -0.3}),
    StressShock("up", spot_moves={"BTC": 0.3, "ETH": 0.3}),
]


def test_coin_settled_accounts_are_found() -> None:
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    report = stress_test(portfolio, market, SHOCKS)
    assert dict(zip(report.account_ids, report.currency, strict=True)) == {
        "btc-collar": "BTC",
        "btc-short-strangle": "BTC",
        "eth-calendar": "ETH",
        "usdc-linear": "USD",
    }


def test_loss_in_coin_is_the_coin_equity_change() -> None:
    """Written as the formula: equity / p - equity_after / (p (1 + m)); USD rows unchanged."""
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    report = stress_test(portfolio, market, SHOCKS)
    moves = np.array([[-0.3, 0.3]])
    for a, code in enumerate(report.currency):
        if code == "USD":
            np.testing.assert_array_equal(report.loss_in_currency[a], report.loss[a])
            continue
        p = market.usd_price(code)
        want = report.equity[a] / p - report.equity_after[a] / (p * (1.0 + moves[0]))
        np.testing.assert_allclose(report.loss_in_currency[a], want, rtol=1e-13)
        assert report.initial_margin_in_currency[a] == report.initial_margin[a] / p


def test_a_book_that_gains_coin_in_a_fall_is_no_breach() -> None:
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    report = stress_test(portfolio, market, SHOCKS)
    row = report.account_ids.index("eth-calendar")
    usd_rule = report.loss[row] > report.initial_margin[row]
    assert usd_rule[0]  # the USD rule flags the fall ...
    assert report.loss_in_currency[row, 0] < 0  # ... though the account gains ETH
    assert not report.margin_breach[row, 0]
    assert report.margin_breach[row, 1]  # and it loses ETH in the rally: a breach
    linear = report.account_ids.index("usdc-linear")
    np.testing.assert_array_equal(
        report.margin_breach[linear], report.loss[linear] > report.initial_margin[linear]
    )


def test_accounts_of_several_coins_stay_in_usd() -> None:
    market, portfolio = load_inputs(MARKET, PORTFOLIO)
    mixed = Account(
        "mixed",
        {"BTC": 1.0, "ETH": 10.0},
        portfolio.accounts[0].positions,
    )
    book = arrange(Portfolio((mixed,), portfolio.instruments), market)
    assert account_currencies(book) == ("USD",)


def test_stress_json_and_table_carry_the_coin() -> None:
    args = ["stress", "-p", str(PORTFOLIO), "-m", str(MARKET), "--shock", "BTC=+0.3,ETH=+0.3"]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "loss ccy" in table.output
    doc = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    rows = {r["id"]: r for r in doc["scenarios"][0]["accounts"]}
    assert rows["btc-collar"]["currency"] == "BTC"
    assert rows["btc-collar"]["margin_breach"] is True
    assert "currency" not in rows["usdc-linear"]
