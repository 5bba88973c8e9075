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
