"""The P&L profile against the index at dates: the moved book equals the portfolio rebuilt.

:func:`pnl_profile` moves and rolls the arranged book; :func:`pnl_profile_reference`
rebuilds each point from the portfolio (expired legs replaced by the cash they settle for,
from closed forms). Both on the example book (inverse and linear options, inverse and linear
perpetuals, an inverse future) at now, between expiries and on each expiry.
"""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pytest

from pmargin.book import arrange, portfolio_from_dict
from pmargin.collateral import account_equity, expiry_dates, pnl_profile, pnl_profile_reference
from pmargin.engine import example_path
from pmargin.errors import InputError
from pmargin.market import market_from_dict


def _example():
    portfolio = portfolio_from_dict(json.loads(example_path("example_portfolio.json").read_text()))
    market = market_from_dict(
        json.loads(example_path("example_market.json").read_text()), portfolio.instruments
    )
    return portfolio, market


PORTFOLIO, MARKET = _example()
MOVES = np.array([-0.6, -0.25, -0.05, 0.0, 0.07, 0.3, 1.0])


@pytest.mark.parametrize("underlying", ["BTC", "ETH"])
def test_profile_equals_the_rebuilt_portfolio(underlying: str) -> None:
    expiries = expiry_dates(PORTFOLIO.unique_instruments(), MARKET)
    between = [e - timedelta(days=3) for e in expiries]
    dates = [MARKET.timestamp, *sorted(between + expiries)]
    fast = pnl_profile(arrange(PORTFOLIO, MARKET), underlying, MOVES, dates)
    slow = pnl_profile_reference(PORTFOLIO, MARKET, underlying, MOVES, dates)
    assert fast.shape == (len(dates), MOVES.size, len(PORTFOLIO.accounts))
    # Two paths to the same sums of a few terms of up to 1e6 USD: rounding only.
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-6)


def test_now_at_no_move_is_zero_and_a_coin_balance_moves_with_its_index() -> None:
    book = arrange(PORTFOLIO, MARKET)
    profile = pnl_profile(book, "BTC", [0.0, 0.1], [MARKET.timestamp])
    assert np.all(profile[0, 0] == 0.0)
    # eth-calendar holds nothing in BTC: a BTC move leaves it where it is.
    eth = PORTFOLIO.accounts.index(next(a for a in PORTFOLIO.accounts if a.id == "eth-calendar"))
    assert profile[0, 1, eth] == 0.0
    assert account_equity(book).equity.shape == (len(PORTFOLIO.accounts),)


def test_after_every_expiry_options_pay_their_intrinsic_value() -> None:
    # btc-collar: 10 BTC, short 10 calls at 115k, long 10 puts at 90k, both 26 Dec 2025.
    collar = portfolio_from_dict(
        next(
            a
            for a in json.loads(example_path("example_portfolio.json").read_text())["accounts"]
            if a["id"] == "btc-collar"
        )
    )
    book = arrange(collar, MARKET)
    late = max(expiry_dates(collar.unique_instruments(), MARKET)) + timedelta(days=1)
    index = MARKET.index_price("BTC")
    moves = np.array([-0.3, 0.0, 0.3])
    profile = pnl_profile(book, "BTC", moves, [late])[0, :, 0]
    spot = index * (1.0 + moves)
    equity = 10.0 * spot + 10.0 * np.maximum(90_000.0 - spot, 0.0)
    equity -= 10.0 * np.maximum(spot - 115_000.0, 0.0)
    np.testing.assert_allclose(profile, equity - account_equity(book).equity[0], rtol=1e-12)


def test_bad_moves_and_naive_dates_are_refused() -> None:
    book = arrange(PORTFOLIO, MARKET)
    with pytest.raises(InputError, match="moves"):
        pnl_profile(book, "BTC", [-1.0], [MARKET.timestamp])
    with pytest.raises(InputError, match=r"dates\.0"):
        pnl_profile(book, "BTC", [0.0], [MARKET.timestamp.replace(tzinfo=None)])


def test_an_account_with_eight_expiries_equals_the_rebuilt_portfolio() -> None:
    # Weekly to yearly BTC options, inverse futures both sides, both perpetuals, an ETH leg
    # and three coin balances: every date's live legs rolled then moved in one book, the
    # expired ones settled per move.
    legs = [
        ("BTC-21NOV25-100000-C", -2.0),
        ("BTC-28NOV25-95000-P", 3.0),
        ("BTC-5DEC25-100000-C", 1.0),
        ("BTC-26DEC25-115000-C", -4.0),
        ("BTC-30JAN26-100000-P", 2.0),
        ("BTC-27MAR26-120000-C", 1.0),
        ("BTC-26JUN26-80000-P", -1.0),
        ("BTC-25SEP26-100000-C", 1.0),
        ("BTC-26DEC25", 50000.0),
        ("BTC-27MAR26", -30000.0),
        ("BTC-PERPETUAL", 20000.0),
        ("BTC_USDC-PERPETUAL", 0.5),
        ("ETH-26DEC25-3500-C", 5.0),
    ]
    document = {
        "accounts": [
            {
                "id": "wide",
                "balances": {"BTC": 5.0, "USDC": 20000.0, "ETH": 10.0},
                "positions": [{"instrument": s, "quantity": q} for s, q in legs],
            }
        ]
    }
    wide = portfolio_from_dict(document)
    market = market_from_dict(
        json.loads(example_path("example_market.json").read_text()), wide.instruments
    )
    dates = [market.timestamp, *expiry_dates(wide.unique_instruments(), market)]
    assert len(dates) == 9
    moves = np.array([-0.5, -0.1, 0.0, 0.2, 0.6])
    fast = pnl_profile(arrange(wide, market), "BTC", moves, dates)
    slow = pnl_profile_reference(wide, market, "BTC", moves, dates)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-6)
