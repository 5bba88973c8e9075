"""Position sizes, USD values and Greeks per account (engine.position_risk)."""

from __future__ import annotations

import pytest

from pmargin.book import portfolio_from_dict
from pmargin.engine import position_risk
from pmargin.market import market_from_dict

MARKET = {
    "timestamp": "2024-11-27T08:00:00Z",
    "index": {"BTC": 95_000.0},
    "prices": {"USDC": 0.999},
    "forwards": {"BTC": {"2024-12-27": 96_000.0}},
    "marks": {
        "BTC-PERPETUAL": {"price": 95_200.0},
        "BTC_USDC-PERPETUAL": {"price": 95_100.0},
        "BTC-27DEC24-100000-C": {"iv": 0.6},
    },
}


def test_positions_scale_per_unit_greeks_and_value_futures_pnl() -> None:
    book = portfolio_from_dict(
        {
            "id": "a",
            "positions": [
                {"instrument": "BTC-PERPETUAL", "quantity": -47_600, "avg_price": 90_000},
                {"instrument": "BTC_USDC-PERPETUAL", "quantity": 2, "avg_price": 94_000},
                {"instrument": "BTC-27DEC24-100000-C", "quantity": -3},
            ],
        }
    )
    inverse, linear, option = position_risk(book, market_from_dict(MARKET))
    # Deribit BTC-PERPETUAL: quantity in USD; base = USD / mark price.
    assert inverse.base_quantity == pytest.approx(-47_600 / 95_200.0, rel=1e-14)
    assert inverse.delta == pytest.approx(-0.5, rel=1e-14)
    # Inverse P&L in coin: N (1/entry - 1/mark) with N = -47,600 USD; valued at the BTC index.
    coin_pnl = -47_600 * (1 / 90_000.0 - 1 / 95_200.0)
    assert inverse.value_usd == pytest.approx(coin_pnl * 95_000.0, rel=1e-12)
    assert inverse.notional_usd == pytest.approx(47_600.0, rel=1e-14)
    # Linear USDC perpetual: q (mark - entry) in USDC, converted at the USDC price.
    assert linear.value_usd == pytest.approx(2 * (95_100.0 - 94_000.0) * 0.999, rel=1e-12)
    assert linear.notional_usd == pytest.approx(2 * 95_100.0 * 0.999, rel=1e-12)
    # Options: mark value and Greeks are the per-unit figures times the base quantity.
    q = option.quote
    assert option.value_usd == pytest.approx(-3 * q.price_usd, rel=1e-14)
    for greek in ("delta", "gamma", "vega", "theta"):
        assert getattr(option, greek) == pytest.approx(-3 * getattr(q, greek), rel=1e-14)


def test_future_without_avg_price_has_zero_value() -> None:
    book = portfolio_from_dict(
        {"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1_000}]}
    )
    (row,) = position_risk(book, market_from_dict(MARKET))
    assert row.value_usd == 0.0
    assert row.delta == pytest.approx(1_000 / 95_200.0, rel=1e-14)
