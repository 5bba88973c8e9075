"""The ledger's fill booking (exact decimals) against formulas and the library's float P&L."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.book import Position, ledger_fill, unrealised_pnl
from pmargin.errors import InputError
from pmargin.instruments import Instrument, parse_symbol

PERP = parse_symbol("BTC-PERPETUAL")  # inverse, native USD
LINEAR = parse_symbol("BTC_USDC-PERPETUAL")  # linear, native BTC
CALL = parse_symbol("BTC-28NOV25-110000-C")  # inverse option, native BTC, price in BTC
D = Decimal


def test_linear_open_add_reduce_close_flip() -> None:
    opened = ledger_fill(LINEAR, D(0), None, D(2), D(100))
    assert (opened.cash, opened.quantity, opened.avg_price) == (D(0), D(2), D(100))
    added = ledger_fill(LINEAR, D(2), D(100), D(2), D(110))
    assert (added.cash, added.quantity, added.avg_price) == (D(0), D(4), D(105))
    reduced = ledger_fill(LINEAR, D(4), D(105), D(-1), D(120))
    assert (reduced.cash, reduced.quantity, reduced.avg_price) == (D(15), D(3), D(105))
    closed = ledger_fill(LINEAR, D(3), D(105), D(-3), D(100))
    assert (closed.cash, closed.quantity, closed.avg_price) == (D(-15), D(0), None)
    flipped = ledger_fill(LINEAR, D(3), D(105), D(-5), D(100))
    assert (flipped.cash, flipped.quantity, flipped.avg_price) == (D(-15), D(-2), D(100))
    assert flipped.cash_asset == "USDC"


def test_inverse_average_is_notional_over_coins() -> None:
    added = ledger_fill(PERP, D(10000), D(100000), D(10000), D(50000))
    # 20,000 USD bought for 0.1 + 0.2 BTC
    assert added.avg_price == D(20000) / (D("0.1") + D("0.2"))
    closed = ledger_fill(PERP, D(10000), D(100000), D(-10000), D(125000))
    assert closed.cash == D(10000) * (D(1) / D(100000) - D(1) / D(125000))
    assert closed.cash == D("0.02")
    assert closed.cash_asset == "BTC"


def test_option_pays_the_premium_in_full() -> None:
    bought = ledger_fill(CALL, D(0), None, D("1.5"), D("0.01"))
    assert (bought.cash, bought.quantity, bought.avg_price) == (D("-0.015"), D("1.5"), D("0.01"))
    sold = ledger_fill(CALL, D("1.5"), D("0.01"), D("-0.5"), D("0.02"))
    assert (sold.cash, sold.quantity, sold.avg_price) == (D("0.01"), D(1), D("0.01"))


@pytest.mark.parametrize("instrument", [PERP, LINEAR])
def test_realised_on_close_equals_the_library_unrealised(instrument: Instrument) -> None:
    # Reference: pmargin.book.unrealised_pnl (float) of the position at a mark equal to the
    # closing price is what closing there realises. Tolerance 1e-12 relative (float vs exact).
    rng = random.Random(12)
    for _ in range(50):
        held, avg = D(0), None
        for _ in range(rng.randint(1, 5)):
            q = D(rng.choice([-1, 1]) * rng.randint(1, 50) * 100)
            p = D(rng.randint(50_000, 150_000))
            if held + q == 0:
                continue
            booked = ledger_fill(instrument, held, avg, q, p)
            held, avg = booked.quantity, booked.avg_price
        if held == 0 or avg is None:
            continue
        price = D(rng.randint(50_000, 150_000))
        closed = ledger_fill(instrument, held, avg, -held, price)
        position = Position(instrument, float(held), avg_price=float(avg))
        base = instrument.base_units(float(held), instrument.quantity_unit, float(price))
        expected = unrealised_pnl(position, base, float(price))
        assert float(closed.cash) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_bad_fills() -> None:
    with pytest.raises(InputError, match="non-zero"):
        ledger_fill(PERP, D(0), None, D(0), D(100))
    with pytest.raises(InputError, match="> 0"):
        ledger_fill(PERP, D(0), None, D(10), D(0))
    with pytest.raises(InputError, match=">= 0"):
        ledger_fill(CALL, D(0), None, D(1), D(-1))


@st.composite
def _round_trips(draw: st.DrawFn) -> list[tuple[Decimal, Decimal]]:
    """Fills (native quantity, price) whose quantities sum to 0: the position ends flat."""
    sizes = draw(st.lists(st.integers(-50, 50).filter(bool), min_size=1, max_size=8))
    prices = draw(
        st.lists(st.integers(1_000, 200_000), min_size=len(sizes) + 1, max_size=len(sizes) + 1)
    )
    fills = [(D(q * 100), D(p)) for q, p in zip(sizes, prices, strict=False)]
    total = sum(q for q, _ in fills)
    if total != 0:
        fills.append((-total, D(prices[-1])))
    return fills


@given(_round_trips())
def test_a_round_trip_realises_the_cash_of_its_fills(fills: list[tuple[Decimal, Decimal]]) -> None:
    # Closed forms of a round trip that ends flat, whatever the path (adds, reductions, flips):
    # linear futures realise -sum(q p), inverse ones sum(q / p) coin (k = 1 for both here).
    # Linear is exact; inverse divides, so to Decimal's 28 digits.
    for instrument, expected in (
        (LINEAR, -sum(q * p for q, p in fills)),
        (PERP, sum(q / p for q, p in fills)),
    ):
        held, avg, realised = D(0), None, D(0)
        for q, p in fills:
            booked = ledger_fill(instrument, held, avg, q, p)
            held, avg, realised = booked.quantity, booked.avg_price, realised + booked.cash
        assert held == 0
        assert avg is None
        assert abs(realised - expected) <= D("1e-20") * max(D(1), abs(expected))
