"""The ``standard`` incremental path: one order changes one position's charge only."""

from __future__ import annotations

import pytest
from _standard_cases import account, book, market, shipped_model

from pmargin.book import BookArrangement


def _after(
    start: BookArrangement, symbol: str, quantity: float, changed: BookArrangement
) -> tuple[float, float]:
    """IM and MM (USD) of account 0 of ``start`` after ``quantity`` of ``symbol``."""
    model = shipped_model()
    holder = start if start.column(symbol) is not None else changed
    column = holder.column(symbol)
    assert column is not None
    incremental = model.incremental(start, model.compute(start))
    return incremental.margin_after(
        0, holder.resolved.take([column]), start.column(symbol), quantity
    )


def test_perpetual_order_reaches_deribits_published_350_btc_rate() -> None:
    # Deribit: 350 BTC of perpetual -> 2% + 350 x 0.005% = 3.75% = 13.125 BTC IM; MM 1% + ...
    start = book(account("a", ("BTC-PERPETUAL", 25.0)))
    changed = book(account("a", ("BTC-PERPETUAL", 350.0)))
    im, mm = _after(start, "BTC-PERPETUAL", 325.0, changed)
    btc = market().usd_price("BTC")
    assert im == pytest.approx(13.125 * btc, rel=1e-12)
    assert mm == pytest.approx(350.0 * (0.01 + 350.0 * 0.00005) * btc, rel=1e-12)


@pytest.mark.parametrize(
    ("symbol", "quantity"),
    [
        ("BTC-PERPETUAL", -12.0),  # flips the held perpetual short
        ("BTC-PERPETUAL", -5.0),  # closes it
        ("BTC-28MAR25-110000-C", -3.0),  # short call: held long 2 -> short 1
        ("BTC-28MAR25-90000-P", -2.0),  # a short put the account does not hold
        ("BTC_USDC-28MAR25-110000-C", -4.0),  # linear option, USDC unit the account lacks
        ("ETH-PERPETUAL", 40.0),  # an underlying the account lacks
        ("BTC_USDC-PERPETUAL", 3.0),  # linear perpetual
    ],
)
def test_order_equals_the_changed_book_margined(symbol: str, quantity: float) -> None:
    held = {"BTC-PERPETUAL": 5.0, "BTC-28MAR25-110000-C": 2.0, "BTC-28MAR25-120000-P": -1.0}
    start = book(account("a", *held.items()), account("b", ("BTC-28MAR25", 1.0)))
    after = dict(held)
    after[symbol] = after.get(symbol, 0.0) + quantity
    changed = book(account("a", *((s, q) for s, q in after.items() if q != 0.0)))
    full = shipped_model().compute(changed)
    im, mm = _after(start, symbol, quantity, changed)
    assert im == pytest.approx(float(full.initial_margin[0]), rel=1e-12, abs=1e-9)
    assert mm == pytest.approx(float(full.maintenance_margin[0]), rel=1e-12, abs=1e-9)
