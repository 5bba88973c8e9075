"""Contract arithmetic on the instrument: delta-one, futures-style, cash asset, notional.

Expected values are written as formulas of the contract terms (DESIGN.md: inverse contracts
settle in the coin, linear ones and spot in the quote; an inverse perpetual of 10 USD contracts
holds ``10 n / F`` coins at the price ``F``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind, QuantityUnit, Right, parse_symbol
from pmargin.market import market_from_dict
from pmargin.valuation import resolve_instruments

EXPIRY = datetime(2025, 3, 28, 8, tzinfo=UTC)


def _make(kind: Kind, settlement: str, quote: str = "USD") -> Instrument:
    option = kind is Kind.OPTION
    return Instrument(
        symbol=f"{kind.value}-{settlement}-{quote}",
        kind=kind,
        underlying="BTC",
        quote=quote,
        settlement=settlement,
        expiry=EXPIRY if kind in (Kind.FUTURE, Kind.OPTION) else None,
        strike=60_000.0 if option else None,
        right=Right.PUT if option else None,
    )


# kind, settlement, quote -> is_delta_one, is_futures_style, cash_asset
TABLE = [
    (Kind.SPOT, "linear", "USDT", True, False, "USDT"),
    (Kind.FUTURE, "linear", "USDC", True, True, "USDC"),
    (Kind.FUTURE, "inverse", "USD", True, True, "BTC"),
    (Kind.PERPETUAL, "linear", "USDT", True, True, "USDT"),
    (Kind.PERPETUAL, "inverse", "USD", True, True, "BTC"),
    (Kind.OPTION, "linear", "USDC", False, False, "USDC"),
    (Kind.OPTION, "inverse", "USD", False, False, "BTC"),
]


@pytest.mark.parametrize(
    ("kind", "settlement", "quote", "delta_one", "futures_style", "cash"), TABLE
)
def test_kind_properties_and_cash_asset(
    kind: Kind, settlement: str, quote: str, delta_one: bool, futures_style: bool, cash: str
) -> None:
    instrument = _make(kind, settlement, quote)
    assert instrument.is_delta_one is delta_one
    assert instrument.is_futures_style is futures_style
    assert instrument.cash_asset == cash
    # the rule the consumers wrote before (settlement currency; the quote for spot)
    before = instrument.quote if kind is Kind.SPOT else instrument.settlement_currency
    assert instrument.cash_asset == before
    # futures-style is exactly "delta-one and not spot"; options alone are not delta-one
    assert instrument.is_futures_style == (instrument.is_delta_one and kind is not Kind.SPOT)
    assert instrument.is_delta_one == (not instrument.is_option)


@pytest.mark.parametrize(
    ("symbol", "delta_one", "futures_style", "cash"),
    [
        ("BTC-PERPETUAL", True, True, "BTC"),
        ("ETH-27DEC24", True, True, "ETH"),
        ("BTC_USDC-PERPETUAL", True, True, "USDC"),
        ("BTC-27DEC24-60000-C", False, False, "BTC"),
        ("BTC_USDC", True, False, "USDC"),
    ],
)
def test_venue_symbols(symbol: str, delta_one: bool, futures_style: bool, cash: str) -> None:
    instrument = parse_symbol(symbol)
    assert (instrument.is_delta_one, instrument.is_futures_style) == (delta_one, futures_style)
    assert instrument.cash_asset == cash


def test_base_units_in_every_unit() -> None:
    # Deribit BTC-PERPETUAL: 10 USD contracts, native unit USD notional.
    perp = parse_symbol("BTC-PERPETUAL")
    price = 50_000.0
    assert perp.contract_size == 10.0
    assert perp.contract_currency == "USD"
    assert perp.base_units(-3.0, QuantityUnit.CONTRACTS, price) == -3.0 * 10.0 / price
    assert perp.base_units(25_000.0, QuantityUnit.QUOTE, price) == 25_000.0 / price
    assert perp.base_units(0.5, QuantityUnit.BASE, price) == 0.5
    # contracts counted in coins need no price
    option = _make(Kind.OPTION, "inverse")
    sized = Instrument(
        symbol="o",
        kind=Kind.OPTION,
        underlying="ETH",
        expiry=EXPIRY,
        strike=3_000.0,
        right=Right.CALL,
        contract_size=0.1,
    )
    assert sized.base_units(7.0, QuantityUnit.CONTRACTS, math.nan) == 7.0 * 0.1
    assert option.base_units(2.0, QuantityUnit.CONTRACTS, math.nan) == 2.0


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_base_units_needs_a_positive_price_where_it_converts(price: float) -> None:
    perp = parse_symbol("BTC-PERPETUAL")
    with pytest.raises(InputError, match="price of 'BTC-PERPETUAL'"):
        perp.base_units(100.0, QuantityUnit.QUOTE, price)


@given(
    base=st.floats(-1e6, 1e6),
    price=st.floats(1e-3, 1e7),
    quote_usd=st.floats(0.5, 1.5),
)
def test_usd_notional_is_absolute_base_times_usd_price(
    base: float, price: float, quote_usd: float
) -> None:
    linear = _make(Kind.PERPETUAL, "linear", "USDT")
    notional = linear.usd_notional(base, price, quote_usd)
    assert notional >= 0.0
    assert notional == abs(base) * price * quote_usd
    assert linear.usd_notional(-base, price, quote_usd) == notional
    assert linear.usd_notional(base, price) == abs(base) * price  # USD quote by default


@given(notional_usd=st.floats(1.0, 1e8), price=st.floats(100.0, 1e6))
def test_inverse_usd_notional_round_trips(notional_usd: float, price: float) -> None:
    # an inverse contract's USD notional, converted to coins at F and back, is itself
    perp = parse_symbol("BTC-PERPETUAL")
    base = perp.base_units(notional_usd, QuantityUnit.QUOTE, price)
    assert perp.usd_notional(base, price) == pytest.approx(notional_usd, rel=4e-16)


def test_usd_notional_agrees_with_the_resolved_arrays() -> None:
    # ResolvedInstruments.underlying_usd is the USD notional of one base unit: the mark (or
    # forward, or spot price) in the quote currency times the quote's USD price.
    market = market_from_dict(
        {
            "timestamp": "2024-11-27T08:00:00Z",
            "index": {"BTC": 95_000.0},
            "prices": {"USDC": 0.999},
            "marks": {
                "BTC-PERPETUAL": {"price": 95_200.0},
                "BTC_USDC-PERPETUAL": {"price": 95_100.0},
            },
        }
    )
    instruments = [parse_symbol(s) for s in ("BTC-PERPETUAL", "BTC_USDC-PERPETUAL", "BTC_USDC")]
    resolved = resolve_instruments(instruments, market)
    # a USDC perpetual's mark is in USDC (times its USD price 0.999); the spot pair BTC_USDC
    # is valued at the BTC index, in USDC then back to USD
    expected = [95_200.0, 95_100.0 * 0.999, 95_000.0]
    assert resolved.underlying_usd.tolist() == pytest.approx(expected, rel=1e-15)
    for j, instrument in enumerate(instruments):
        f, fx = float(resolved.underlying_price[j]), float(resolved.quote_usd[j])
        # a power of two scales exactly, so the products agree to the bit
        assert instrument.usd_notional(-2.0, f, fx) == 2.0 * float(resolved.underlying_usd[j])
