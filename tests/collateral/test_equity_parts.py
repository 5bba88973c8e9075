"""Equity has one rule: its balances and positions parts are the functions account_equity sums.

The monitor revalues positions per underlying block and adds the balances once; the crash
replay's funding reads the parts. :func:`balances_usd` and :func:`positions_usd_reference`
agree with :func:`account_equity` bit for bit; the fast :func:`positions_usd` (two sparse
products) to rounding (rtol 1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.collateral import (
    account_equity,
    balances_usd,
    positions_usd,
    positions_usd_reference,
)
from pmargin.engine import example_path
from pmargin.market import load_market
from pmargin.valuation import value_instruments


@pytest.mark.parametrize("seed", [3, 11])
def test_the_parts_are_account_equity_exactly(seed: int) -> None:
    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 60, seed=seed), market)
    equity = account_equity(book)
    np.testing.assert_array_equal(positions_usd_reference(book), equity.positions_usd)
    np.testing.assert_array_equal(balances_usd(book), equity.balances_usd)
    np.testing.assert_array_equal(balances_usd(book) + positions_usd_reference(book), equity.equity)
    np.testing.assert_allclose(positions_usd(book), equity.positions_usd, rtol=1e-12, atol=1e-9)
    # the positions part recomputed position by position: quantity x mark per unit (options
    # and spot; futures and perpetuals hold no premium) plus unrealised P&L, in the cash
    # asset, times its USD price
    resolved = book.resolved
    mark = value_instruments(resolved).price
    quantity, unrealised = book.quantity.toarray(), book.unrealised.toarray()
    by_hand = np.zeros(book.shape[0])
    for a in range(book.shape[0]):
        for j, inst in enumerate(resolved.instruments):
            per_unit = 0.0 if inst.is_futures_style else float(mark[j])
            value = quantity[a, j] * per_unit + unrealised[a, j]
            by_hand[a] += value * market.usd_price(inst.cash_asset)
    np.testing.assert_allclose(positions_usd(book), by_hand, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("seed", [3, 11])
def test_kept_positions_follow_a_rebased_book(seed: int) -> None:
    """KeptPositionsUsd is positions_usd (rtol 1e-12) at market after market, whether the
    options' values moved (forwards, vols, time) or only the currencies' USD prices did."""
    from datetime import timedelta

    from pmargin.collateral import KeptPositionsUsd
    from pmargin.market import Mark

    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 60, seed=seed), market)
    kept = KeptPositionsUsd(book)
    rng = np.random.default_rng(seed)
    at = market
    for k in range(12):
        if k % 4 == 3:
            at = at.moved({"BTC": float(rng.uniform(-0.05, 0.05))})  # forwards move
        elif k % 4 == 2:
            at = at.with_updates(
                marks={"BTC-26DEC25-100000-C": Mark(iv=float(rng.uniform(0.3, 0.6)))}
            )
        else:  # the index and the futures marks alone
            move = float(rng.uniform(0.98, 1.02))
            at = at.with_updates(
                index={"BTC": at.index["BTC"] * move, "ETH": at.index["ETH"] / move},
                marks={
                    s: Mark(price=m.price * move)
                    for s, m in at.marks.items()
                    if m.price is not None and s.count("-") == 1
                },
            )
        rebased = book.rebased(at)
        np.testing.assert_allclose(kept(rebased), positions_usd(rebased), rtol=1e-12, atol=1e-9)
    rolled = book.rebased(at.replace(timestamp=at.timestamp + timedelta(hours=5)))
    np.testing.assert_allclose(kept(rolled), positions_usd(rolled), rtol=1e-12, atol=1e-9)
    assert kept._per_unit is not None  # the kept path ran (not the fallback)
    other = arrange(example_portfolio(market, 20, seed=seed + 1), market)  # not this book
    assert kept(other).tobytes() == positions_usd(other).tobytes()


def test_balances_at_another_market_are_the_rebased_books() -> None:
    """balances_usd(book, market): the balances of ``book.rebased(market)``, bit for bit."""
    market = load_market(example_path("example_market.json"))
    book = arrange(example_portfolio(market, 40, seed=7), market)
    moved = market.with_updates(index={"BTC": market.index["BTC"] * 1.05})
    at_moved = balances_usd(book, moved)
    assert at_moved.tobytes() == balances_usd(book.rebased(moved)).tobytes()
    assert balances_usd(book, market).tobytes() == balances_usd(book).tobytes()
    assert not np.array_equal(at_moved, balances_usd(book))  # BTC balances moved
