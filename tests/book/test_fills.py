"""Fill accounting: cash, value and P&L of a fill against the mark, written as formulas.

Each row gives the trade (quantity ``q`` in base units, price ``p``, mark ``m``) and the
expected bookings as the rule's formulas: options and spot pay ``-q p`` and receive the mark
value ``q m``; futures and perpetuals book the P&L against the mark, ``q (m - p)`` linear and
``q (m / p - 1)`` coin inverse. Whatever the kind, the equity change is the trade's P&L
against the mark.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.book import fill, trade_pnl
from pmargin.instruments import parse_symbol

# symbol, q, p, m, (cash, value, pnl) as formulas, cash asset
CASES = [
    ("BTC_USDC-PERPETUAL", 2.0, 100.0, 105.0, (0.0, 0.0, 2.0 * (105.0 - 100.0)), "USDC"),
    ("BTC_USDC-PERPETUAL", -3.0, 110.0, 105.0, (0.0, 0.0, -3.0 * (105.0 - 110.0)), "USDC"),
    ("BTC-PERPETUAL", 1.5, 60_000.0, 63_000.0, (0.0, 0.0, 1.5 * (63_000.0 / 60_000.0 - 1)), "BTC"),
    ("BTC-27JUN25", -0.5, 64_000.0, 62_000.0, (0.0, 0.0, -0.5 * (62_000.0 / 64_000.0 - 1)), "BTC"),
    ("BTC-27JUN25-60000-C", 3.0, 0.05, 0.06, (-3.0 * 0.05, 3.0 * 0.06, 0.0), "BTC"),
    ("ETH_USDC-27JUN25-3000-P", -2.0, 150.0, 140.0, (2.0 * 150.0, -2.0 * 140.0, 0.0), "USDC"),
    ("ETH_USDC", 4.0, 3_000.0, 3_010.0, (-4.0 * 3_000.0, 4.0 * 3_010.0, 0.0), "USDC"),
]


@pytest.mark.parametrize(("symbol", "q", "price", "mark", "expected", "asset"), CASES)
def test_fill_table(
    symbol: str,
    q: float,
    price: float,
    mark: float,
    expected: tuple[float, float, float],
    asset: str,
) -> None:
    instrument = parse_symbol(symbol)
    booked = fill(instrument, q, price, mark)
    cash, value, pnl = expected
    assert booked.cash_asset == asset == instrument.cash_asset
    assert booked.futures_style == instrument.is_futures_style
    assert booked.cash == cash
    assert booked.value == value
    assert booked.pnl == pytest.approx(pnl, rel=1e-15, abs=0.0)
    # equity moves by the trade's P&L against the mark, in the cash asset
    assert booked.equity_change == pytest.approx(trade_pnl(instrument, q, mark, price), rel=1e-12)


@given(
    symbol=st.sampled_from([c[0] for c in CASES]),
    q=st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: abs(x) > 1e-9),
    mark=st.floats(1e-3, 1e6),
)
def test_a_fill_at_the_mark_changes_no_equity(symbol: str, q: float, mark: float) -> None:
    booked = fill(parse_symbol(symbol), q, mark, mark)
    # options and spot: -q m + q m is exactly 0; futures: q (m - m) and q (m / m - 1) are 0
    assert booked.equity_change == 0.0
