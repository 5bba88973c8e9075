"""Account equity and haircuts, expected values written as formulas over the test market."""

from __future__ import annotations

import dataclasses

import _books
import numpy as np
import pytest
from scipy import sparse

from pmargin.book import arrange, portfolio_from_dict
from pmargin.collateral import account_equity, balance_scenario_pnl, haircut_charge
from pmargin.errors import InputError
from pmargin.risk._kernel_reference import black76_value_reference

MARKET = _books.market()

# The test market (tests/risk/_books.py), by hand.
BTC, ETH, USDC = 95_000.0, 3_400.0, 0.999  # USD prices (coins at their index)
T = 30 / 365  # 27 Nov 2024 08:00 -> 27 Dec 2024 08:00
F_BTC = 96_000.0  # BTC forward of 27 Dec (USD); in USDC it is F_BTC / USDC
CALL = black76_value_reference(F_BTC, 100_000.0, T, 0.6, True, 0.01) / F_BTC  # coin per coin
PUT = black76_value_reference(F_BTC / USDC, 95_000.0, T, 0.62, False, 0.04)  # USDC per BTC

ACCOUNT = {
    "id": "a",
    "balances": {"BTC": 2.0, "USDC": 1_000.0, "ETH": -1.0},
    "positions": [
        {"instrument": "BTC-27DEC24-100000-C", "quantity": 3.0},  # coins
        {"instrument": "BTC_USDC-27DEC24-95000-P", "quantity": -2.0},
        {"instrument": "BTC-27DEC24", "quantity": 1.5, "unit": "base", "avg_price": 90_000.0},
        {"instrument": "BTC_USDC-PERPETUAL", "quantity": 0.5, "avg_price": 94_000.0},
        {"instrument": "BTC_USDC", "quantity": 0.25},
    ],
}


def _book(*accounts: dict[str, object]):
    return arrange(portfolio_from_dict({"accounts": list(accounts)}), MARKET)


def test_equity_is_balances_plus_option_values_plus_unrealised() -> None:
    equity = account_equity(_book(ACCOUNT, {"id": "none", "positions": []}))
    balances = 2.0 * BTC + 1_000.0 * USDC - 1.0 * ETH
    inverse_option = 3.0 * CALL * BTC  # q x mark in coin x coin price
    linear_option = -2.0 * PUT * USDC
    inverse_future = 1.5 * (96_100.0 / 90_000.0 - 1.0) * BTC  # q (F / avg - 1) coin
    linear_perp = 0.5 * (95_100.0 - 94_000.0) * USDC  # q (F - avg) USDC
    spot = 0.25 * (BTC / USDC) * USDC  # q x price in USDC
    positions = inverse_option + linear_option + inverse_future + linear_perp + spot
    np.testing.assert_allclose(equity.balances_usd, [balances, 0.0], rtol=1e-12)
    np.testing.assert_allclose(equity.positions_usd, [positions, 0.0], rtol=1e-9)
    np.testing.assert_allclose(equity.equity, [balances + positions, 0.0], rtol=1e-9)
    np.testing.assert_allclose(equity.asset_usd, [BTC, ETH, USDC], rtol=1e-15)  # sorted assets
    row = equity.position_value_usd.toarray()[0]
    np.testing.assert_allclose(
        row, [inverse_option, linear_option, inverse_future, linear_perp, spot], rtol=1e-9
    )
    # Per currency, in that currency: BTC coin, USDC, ETH.
    by = equity.by_currency
    assert by["BTC"][0] == pytest.approx(2.0 + 3.0 * CALL + 1.5 * (96_100.0 / 90_000.0 - 1.0))
    assert by["USDC"][0] == pytest.approx(
        1_000.0 - 2.0 * PUT + 0.5 * (95_100.0 - 94_000.0) + 0.25 * BTC / USDC
    )
    assert by["ETH"][0] == -1.0


def test_future_without_entry_price_is_settled_to_the_mark() -> None:
    account = {
        "id": "f",
        "balances": {"BTC": 1.0},
        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 10_000.0}],
    }
    equity = account_equity(_book(account))
    assert equity.equity[0] == pytest.approx(BTC)


def test_inverse_future_native_usd_quantity_uses_the_mark() -> None:
    # 10,000 USD of BTC-PERPETUAL is 10,000 / 95,200 BTC; entry 100,000 USD.
    account = {
        "id": "f",
        "positions": [
            {"instrument": "BTC-PERPETUAL", "quantity": 10_000.0, "avg_price": 100_000.0}
        ],
    }
    q = 10_000.0 / 95_200.0
    equity = account_equity(_book(account))
    assert equity.equity[0] == pytest.approx(q * (95_200.0 / 100_000.0 - 1.0) * BTC, rel=1e-12)


def test_haircut_charge_applies_to_positive_balances_only() -> None:
    book = _book(ACCOUNT, {"id": "none", "positions": []})
    charge = haircut_charge(book, {"BTC": 0.1, "USDC": 0.02}, default=0.05)
    expected = 2.0 * BTC * 0.1 + 1_000.0 * USDC * 0.02 + 0.0 * ETH  # ETH borrowed: no haircut
    np.testing.assert_allclose(charge, [expected, 0.0], rtol=1e-12)


def test_haircut_charge_default_and_no_balances() -> None:
    book = _book({"id": "b", "balances": {"ETH": 4.0}, "positions": []})
    assert haircut_charge(book, {}, default=0.25)[0] == pytest.approx(4.0 * ETH * 0.25)
    bare = _book({"id": "c", "positions": [{"instrument": "ETH-PERPETUAL", "quantity": 1.0}]})
    np.testing.assert_array_equal(haircut_charge(bare, {"ETH": 0.5}), [0.0])


def test_balance_scenario_pnl_is_balance_times_price_times_move() -> None:
    book = _book(ACCOUNT)
    mult = np.array([0.8, 1.0, 1.5])
    pnl = balance_scenario_pnl(book, "BTC", mult)
    np.testing.assert_allclose(pnl, [2.0 * BTC * (mult - 1.0)], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(balance_scenario_pnl(book, "SOL", mult), np.zeros((1, 3)))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_a_non_finite_equity_is_an_error_naming_the_account(bad: float) -> None:
    # The file loader refuses such inputs (an avg_price of 5e-324); a book built in code is
    # checked here too: an overflowed unrealised P&L is refused, not passed on as equity.
    book = _book({"id": "ok", "balances": {"BTC": 1.0}}, ACCOUNT)
    unrealised = sparse.lil_array(book.unrealised)
    unrealised[1, 2] = bad
    broken = dataclasses.replace(book, unrealised=sparse.csr_array(unrealised))
    with pytest.raises(InputError, match=r"account a: positions value: (inf|nan)"):
        account_equity(broken)
