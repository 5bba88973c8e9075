"""Venue symbols: round trips, parsed fields, detection, cross-venue printing and errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from pmargin.errors import InputError, SymbolError
from pmargin.instruments import (
    VENUES,
    Instrument,
    Kind,
    QuantityUnit,
    Right,
    Settlement,
    detect_venue,
    format_symbol,
    instrument_from_spec,
    parse_symbol,
)

# Every listed form, with the venue it belongs to.
FORMS = [
    ("BTC-27DEC24-60000-C", "deribit"),
    ("BTC-5JUN20-6750-P", "deribit"),
    ("BTC-PERPETUAL", "deribit"),
    ("ETH-PERPETUAL", "deribit"),
    ("BTC-27DEC24", "deribit"),
    ("BTC_USDC-PERPETUAL", "deribit"),
    ("ETH_USDT-PERPETUAL", "deribit"),
    ("BTC_USDC-27DEC24", "deribit"),
    ("BTC_USDC-27DEC24-60000-C", "deribit"),
    ("XRP_USDC-27DEC24-0d625-C", "deribit"),
    ("XRP_USDC-30MAY26-1d15-P", "deribit"),
    ("SOL_USDC-27DEC24-150-P", "deribit"),
    ("MATIC_USDC-28JUN24-0d7-C", "deribit"),
    ("BTC_USDC", "deribit"),
    ("BTC-USD-241227-60000-C", "okx"),
    ("ETH-USD-241227-3500-P", "okx"),
    ("BTC-USD-SWAP", "okx"),
    ("1INCH-USD-SWAP", "okx"),
    ("BTC-USDT-SWAP", "okx"),
    ("BTC-USDT-241227", "okx"),
    ("BTC-USD-241227", "okx"),
    ("BTC-USDC-SWAP", "okx"),
    ("BTC-USDT", "okx"),
    ("BTC-241227-60000-C", "binance"),
    ("XRP-230331-0.365-P", "binance"),
    ("BTCUSDT", "binance"),
    ("1000PEPEUSDT", "binance"),
    ("1INCHUSDT", "binance"),
    ("BTCUSDC", "binance"),
    ("BTCUSD_PERP", "binance"),
    ("BTCUSD_241227", "binance"),
    ("BTCUSDT_241227", "binance"),
    ("BTC/USDT", "ccxt"),
    ("BTC/USDT:USDT", "ccxt"),
    ("BTC/USD:BTC", "ccxt"),
    ("BTC/USDT:USDT-241227", "ccxt"),
    ("BTC/USD:BTC-241227", "ccxt"),
    ("BTC/USD:BTC-241227-60000-C", "ccxt"),
    ("BTC/USDC:USDC-241227-60000-C", "ccxt"),
    ("XRP/USDC:USDC-241227-0.625-C", "ccxt"),
    ("1000PEPE/USDT:USDT", "ccxt"),
]

DEC27_2024 = datetime(2024, 12, 27, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("symbol", "venue"), FORMS)
def test_every_form_round_trips_and_is_detected(symbol: str, venue: str) -> None:
    instrument = parse_symbol(symbol)
    assert instrument.symbol == symbol
    assert instrument.venue == venue
    assert detect_venue(symbol) == venue
    assert format_symbol(instrument) == symbol
    assert format_symbol(instrument, venue) == symbol
    assert parse_symbol(symbol, venue) == instrument


# symbol -> kind, underlying, quote, settlement, expiry, strike, right, size, size ccy, unit
REPRESENTATIVES = {
    "BTC-27DEC24-60000-C": (
        Kind.OPTION, "BTC", "USD", Settlement.INVERSE, DEC27_2024, 60_000.0, Right.CALL,
        1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC-5JUN20-6750-P": (
        Kind.OPTION, "BTC", "USD", Settlement.INVERSE, datetime(2020, 6, 5, 8, tzinfo=UTC),
        6_750.0, Right.PUT, 1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC-PERPETUAL": (
        Kind.PERPETUAL, "BTC", "USD", Settlement.INVERSE, None, None, None,
        10.0, "USD", QuantityUnit.QUOTE,
    ),
    "ETH-PERPETUAL": (
        Kind.PERPETUAL, "ETH", "USD", Settlement.INVERSE, None, None, None,
        1.0, "USD", QuantityUnit.QUOTE,
    ),
    "BTC-27DEC24": (
        Kind.FUTURE, "BTC", "USD", Settlement.INVERSE, DEC27_2024, None, None,
        10.0, "USD", QuantityUnit.QUOTE,
    ),
    "BTC_USDC-PERPETUAL": (
        Kind.PERPETUAL, "BTC", "USDC", Settlement.LINEAR, None, None, None,
        0.001, "BTC", QuantityUnit.BASE,
    ),
    "XRP_USDC-27DEC24-0d625-C": (
        Kind.OPTION, "XRP", "USDC", Settlement.LINEAR, DEC27_2024, 0.625, Right.CALL,
        1000.0, "XRP", QuantityUnit.CONTRACTS,
    ),
    "SOL_USDC-27DEC24-150-P": (
        Kind.OPTION, "SOL", "USDC", Settlement.LINEAR, DEC27_2024, 150.0, Right.PUT,
        10.0, "SOL", QuantityUnit.CONTRACTS,
    ),
    "BTC_USDC": (
        Kind.SPOT, "BTC", "USDC", Settlement.LINEAR, None, None, None,
        1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC-USD-241227-60000-C": (
        Kind.OPTION, "BTC", "USD", Settlement.INVERSE, DEC27_2024, 60_000.0, Right.CALL,
        0.01, "BTC", QuantityUnit.CONTRACTS,
    ),
    "BTC-USD-SWAP": (
        Kind.PERPETUAL, "BTC", "USD", Settlement.INVERSE, None, None, None,
        100.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "BTC-USDT-SWAP": (
        Kind.PERPETUAL, "BTC", "USDT", Settlement.LINEAR, None, None, None,
        0.01, "BTC", QuantityUnit.CONTRACTS,
    ),
    "BTC-USDC-SWAP": (
        Kind.PERPETUAL, "BTC", "USDC", Settlement.LINEAR, None, None, None,
        0.0001, "BTC", QuantityUnit.CONTRACTS,
    ),
    "BTC-USDT-241227": (
        Kind.FUTURE, "BTC", "USDT", Settlement.LINEAR, DEC27_2024, None, None,
        0.01, "BTC", QuantityUnit.CONTRACTS,
    ),
    "BTC-USD-241227": (
        Kind.FUTURE, "BTC", "USD", Settlement.INVERSE, DEC27_2024, None, None,
        100.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "BTC-USDT": (
        Kind.SPOT, "BTC", "USDT", Settlement.LINEAR, None, None, None,
        1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC-241227-60000-C": (
        Kind.OPTION, "BTC", "USDT", Settlement.LINEAR, DEC27_2024, 60_000.0, Right.CALL,
        1.0, "BTC", QuantityUnit.CONTRACTS,
    ),
    "XRP-230331-0.365-P": (
        Kind.OPTION, "XRP", "USDT", Settlement.LINEAR, datetime(2023, 3, 31, 8, tzinfo=UTC),
        0.365, Right.PUT, 100.0, "XRP", QuantityUnit.CONTRACTS,
    ),
    "1000PEPEUSDT": (
        Kind.PERPETUAL, "1000PEPE", "USDT", Settlement.LINEAR, None, None, None,
        1.0, "1000PEPE", QuantityUnit.BASE,
    ),
    "BTCUSD_PERP": (
        Kind.PERPETUAL, "BTC", "USD", Settlement.INVERSE, None, None, None,
        100.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "ETHUSD_PERP": (
        Kind.PERPETUAL, "ETH", "USD", Settlement.INVERSE, None, None, None,
        10.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "BTCUSD_241227": (
        Kind.FUTURE, "BTC", "USD", Settlement.INVERSE, DEC27_2024, None, None,
        100.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "BTCUSDT_241227": (
        Kind.FUTURE, "BTC", "USDT", Settlement.LINEAR, DEC27_2024, None, None,
        1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC/USDT": (
        Kind.SPOT, "BTC", "USDT", Settlement.LINEAR, None, None, None,
        1.0, "BTC", QuantityUnit.BASE,
    ),
    "BTC/USD:BTC": (
        Kind.PERPETUAL, "BTC", "USD", Settlement.INVERSE, None, None, None,
        1.0, "USD", QuantityUnit.CONTRACTS,
    ),
    "BTC/USDT:USDT-241227": (
        Kind.FUTURE, "BTC", "USDT", Settlement.LINEAR, DEC27_2024, None, None,
        1.0, "BTC", QuantityUnit.CONTRACTS,
    ),
    "BTC/USD:BTC-241227-60000-C": (
        Kind.OPTION, "BTC", "USD", Settlement.INVERSE, DEC27_2024, 60_000.0, Right.CALL,
        1.0, "BTC", QuantityUnit.CONTRACTS,
    ),
    "XRP/USDC:USDC-241227-0.625-C": (
        Kind.OPTION, "XRP", "USDC", Settlement.LINEAR, DEC27_2024, 0.625, Right.CALL,
        1.0, "XRP", QuantityUnit.CONTRACTS,
    ),
}  # fmt: skip


@pytest.mark.parametrize(("symbol", "expected"), REPRESENTATIVES.items())
def test_parsed_fields(symbol: str, expected: tuple[object, ...]) -> None:
    kind, underlying, quote, settlement, expiry, strike, right, size, size_ccy, unit = expected
    instrument = parse_symbol(symbol)
    assert instrument.kind is kind
    assert instrument.underlying == underlying
    assert instrument.quote == quote
    assert instrument.settlement is settlement
    assert instrument.expiry == expiry
    assert instrument.strike == strike
    assert instrument.right is right
    assert instrument.contract_size == size
    assert instrument.contract_currency == size_ccy
    assert instrument.quantity_unit is unit
    if expiry is not None:
        assert instrument.expiry is not None
        assert instrument.expiry.tzinfo is not None
        assert instrument.expiry.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert instrument.settlement_currency == (
        underlying if settlement.value == "inverse" else quote
    )


def test_representatives_cover_every_venue_and_kind() -> None:
    seen = {(parse_symbol(s).venue, parse_symbol(s).kind) for s in REPRESENTATIVES}
    for venue in VENUES:
        kinds = {kind for v, kind in seen if v == venue}
        expected = set(Kind) - ({Kind.SPOT} if venue == "binance" else set())
        assert kinds == expected, venue


@pytest.mark.parametrize(
    ("symbol", "venue", "expected"),
    [
        ("BTC-27DEC24-60000-C", "ccxt", "BTC/USD:BTC-241227-60000-C"),
        ("BTC-27DEC24-60000-C", "okx", "BTC-USD-241227-60000-C"),
        ("BTC-USD-241227-60000-C", "deribit", "BTC-27DEC24-60000-C"),
        ("BTC-5JUN20-6750-P", "okx", "BTC-USD-200605-6750-P"),
        ("BTC-241227-60000-C", "ccxt", "BTC/USDT:USDT-241227-60000-C"),
        ("BTC_USDC-27DEC24-60000-C", "ccxt", "BTC/USDC:USDC-241227-60000-C"),
        ("XRP_USDC-27DEC24-0d625-C", "ccxt", "XRP/USDC:USDC-241227-0.625-C"),
        ("XRP/USDC:USDC-241227-0.625-C", "deribit", "XRP_USDC-27DEC24-0d625-C"),
        ("BTC/USDT:USDT-241227-0.5-P", "binance", "BTC-241227-0.5-P"),
        ("BTC-USD-SWAP", "deribit", "BTC-PERPETUAL"),
        ("BTC-USD-SWAP", "binance", "BTCUSD_PERP"),
        ("BTC-USD-SWAP", "ccxt", "BTC/USD:BTC"),
        ("BTC-USDT-SWAP", "binance", "BTCUSDT"),
        ("BTC-USDT-SWAP", "deribit", "BTC_USDT-PERPETUAL"),
        ("BTCUSDT", "okx", "BTC-USDT-SWAP"),
        ("BTCUSD_241227", "deribit", "BTC-27DEC24"),
        ("BTCUSD_241227", "okx", "BTC-USD-241227"),
        ("BTC-27DEC24", "ccxt", "BTC/USD:BTC-241227"),
        ("BTCUSDT_241227", "okx", "BTC-USDT-241227"),
        ("BTC/USDT", "okx", "BTC-USDT"),
        ("BTC/USDT", "deribit", "BTC_USDT"),
        ("BTC_USDC", "ccxt", "BTC/USDC"),
    ],
)
def test_cross_venue_printing(symbol: str, venue: str, expected: str) -> None:
    source = parse_symbol(symbol)
    assert format_symbol(source, venue) == expected
    target = parse_symbol(expected)
    assert target.venue == venue
    for field in ("kind", "underlying", "quote", "settlement", "expiry", "strike", "right"):
        assert getattr(target, field) == getattr(source, field), field


@pytest.mark.parametrize(
    ("symbol", "venue", "why"),
    [
        (
            "BTC-27DEC24-60000-C",
            "binance",
            "Binance options are linear, quoted and settled in USDT",
        ),
        ("BTC-241227-60000-C", "deribit", "linear options are quoted in USDC"),
        ("BTC-241227-60000-C", "okx", "OKX options are coin-margined"),
        ("BTC_USDC-27DEC24-60000-C", "binance", "settled in USDT"),
        ("BTC/USDT", "binance", "use ccxt BTC/USDT for spot"),
        ("BTC/EUR:EUR", "okx", "USDT or USDC"),
        ("BTC/EUR:BTC", "deribit", "inverse contracts are quoted in USD"),
        ("BTC/USDT:BTC", "okx", "coin-margined contracts are quoted in USD"),
        ("BTC/USDT:BTC-241227", "binance", "COIN-M contracts are quoted in USD"),
        ("BTC/EUR:EUR-241227", "binance", "USDⓈ-M contracts are quoted in USDT or USDC"),
    ],
)
def test_cross_venue_printing_refuses_contracts_the_venue_lacks(
    symbol: str, venue: str, why: str
) -> None:
    instrument = parse_symbol(symbol)
    with pytest.raises(SymbolError) as caught:
        format_symbol(instrument, venue)
    message = str(caught.value)
    assert repr(symbol) in message
    assert why in message


def test_format_rejects_expiry_not_at_0800_utc() -> None:
    instrument = Instrument(
        symbol="custom",
        kind=Kind.FUTURE,
        underlying="BTC",
        settlement=Settlement.INVERSE,
        expiry=datetime(2024, 12, 27, 9, 0, tzinfo=UTC),
        venue="deribit",
    )
    with pytest.raises(SymbolError, match="08:00 UTC"):
        format_symbol(instrument)


def test_format_explicit_spec_needs_a_venue_and_prints_where_possible() -> None:
    spec = {
        "symbol": "my-eth-call",
        "kind": "option",
        "underlying": "eth",
        "expiry": "2024-12-27",
        "strike": 3500,
        "right": "call",
        "settlement": "inverse",
    }
    instrument = instrument_from_spec(spec)
    with pytest.raises(InputError, match="venue"):
        format_symbol(instrument)
    assert format_symbol(instrument, "deribit") == "ETH-27DEC24-3500-C"
    assert format_symbol(instrument, "OKX") == "ETH-USD-241227-3500-C"


def test_format_refuses_currency_codes_the_syntax_cannot_carry() -> None:
    instrument = Instrument(symbol="x", kind=Kind.PERPETUAL, underlying="BTC-X", venue="okx")
    with pytest.raises(SymbolError, match="cannot be written in OKX form"):
        format_symbol(instrument, "okx")


def test_unknown_venue_argument() -> None:
    with pytest.raises(InputError, match=r"'kraken' is not one of deribit\|okx\|binance\|ccxt"):
        parse_symbol("BTC-PERPETUAL", "kraken")
    with pytest.raises(InputError, match="kraken"):
        format_symbol(parse_symbol("BTC-PERPETUAL"), "kraken")


def test_venue_argument_is_case_insensitive_and_enforces_that_venue() -> None:
    assert parse_symbol("BTC-PERPETUAL", "Deribit").venue == "deribit"
    with pytest.raises(SymbolError, match=r"invalid quote currency '27DEC24'.*OKX forms"):
        parse_symbol("BTC-27DEC24-60000-C", "okx")
    with pytest.raises(SymbolError, match="Binance forms"):
        parse_symbol("BTC/USDT", "binance")


def test_venues_constant() -> None:
    assert VENUES == ("deribit", "okx", "binance", "ccxt")


# symbol, fragments the message must contain (besides the symbol itself)
MALFORMED = [
    ("", ["is empty", "expected Deribit BTC-27DEC24-60000-C"]),
    ("FOO", ["is not a known venue symbol", "OKX BTC-USD-241227-60000-C"]),
    ("ETHBTC", ["is not a known venue symbol", "Binance"]),
    ("BTC PERPETUAL", ["whitespace"]),
    (" BTC-PERPETUAL", ["whitespace"]),
    ("btc-perpetual", ["letter case", "'BTC-PERPETUAL'"]),
    ("BTC-241227-60000-c", ["letter case", "'BTC-241227-60000-C'"]),
    ("BTC-27DCE24-60000-C", ["invalid month 'DCE' (expected JAN..DEC)", "Deribit forms"]),
    ("BTC-31FEB24", ["day 31 is not valid in FEB"]),
    ("BTC-30FEB24-60000-C", ["day 30 is not valid in FEB 2024", "1..29"]),
    ("BTC-29FEB23-60000-C", ["day 29 is not valid in FEB 2023", "1..28"]),
    ("BTC-05JUN20-6750-P", ["zero-padded day '05'", "5JUN20"]),
    ("BTC-27DEC2024", ["invalid date '27DEC2024'", "DMMMYY"]),
    ("BTC-27DEC24-0x5-C", ["strike '0x5' is not a number"]),
    ("BTC/USD:BTC-241227-1e5-C", ["strike '1e5' is not a number"]),
    ("BTC-27DEC24-0-C", ["strike '0' must be > 0"]),
    ("BTC-USD-241227-0.0-C", ["strike '0.0' must be > 0"]),
    ("BTC-27DEC24-060000-C", ["not written canonically", "'60000'"]),
    ("BTC-USD-241227-60000.0-C", ["not written canonically", "'60000'"]),
    ("XRP_USDC-27DEC24-0d6250-C", ["not written canonically", "'0d625'"]),
    ("BTC-27DEC24-60000.5-C", ["uses '.'", "0d625"]),
    ("BTC-27DEC24-60000-X", ["option right 'X'", "C or P"]),
    ("BTC-USD-241227--C", ["empty strike"]),
    ("-PERPETUAL", ["empty base currency"]),
    ("BTC-27DEC24-60000", ["3 dash-separated parts", "BTC-27DEC24-60000-C"]),
    ("BTC_EUR-PERPETUAL", ["quote 'EUR'", "USDC or USDT"]),
    ("BTC_USDT-27DEC24-60000-C", ["quote 'USDT'", "linear options are quoted in USDC"]),
    ("BTC-USD-241327", ["invalid month '13'", "01..12"]),
    ("BTC-USD-240230-60000-C", ["day 30 is not valid in FEB 2024"]),
    ("BTC-EUR-SWAP", ["quote 'EUR'", "USD (coin-margined), USDT or USDC"]),
    ("BTC-USDT-241227-60000-C", ["OKX options are coin-margined"]),
    ("BTC-USD-PERP", ["'PERP' where SWAP or a YYMMDD date was expected"]),
    ("BTC-USD-241227-60000-C-X", ["6 dash-separated parts", "OKX forms"]),
    ("BTC-241227-60000", ["3 dash-separated parts", "BASE-YYMMDD-STRIKE-C|P"]),
    ("BTCUSDT_PERP", ["only COIN-M", "BTCUSDT"]),
    ("BTCUSD", ["COIN-M pair without suffix", "BTCUSD_PERP"]),
    ("BTCUSD_2412", ["invalid date '2412'", "YYMMDD"]),
    ("USDT", ["empty base currency", "Binance forms"]),
    ("BTC/USDT:ETH", ["settle currency 'ETH'", "quote 'USDT' (linear)", "base 'BTC' (inverse)"]),
    ("BTC/USD:BTC-241227-60000", ["3 dash-separated parts after ':'"]),
    ("BTC/USD/BTC", ["expected one: BASE/QUOTE"]),
    ("BTC/BTC", ["base and quote both 'BTC'"]),
    ("SOL-USDT-SWAP", ["SOL/USDT", "contract size is not known", "[okx.linear_perpetual.sizes]"]),
    ("AVAX_USDC-27DEC24-30-C", ["AVAX/USDC", "[deribit.linear_option.sizes]"]),
]


@pytest.mark.parametrize(("symbol", "fragments"), MALFORMED)
def test_malformed_symbols_name_the_symbol_and_the_expectation(
    symbol: str, fragments: list[str]
) -> None:
    with pytest.raises(SymbolError) as caught:
        parse_symbol(symbol)
    error = caught.value
    assert error.symbol == symbol
    assert error.field == "symbol"
    message = str(error)
    assert message.startswith(f"symbol: {symbol!r} ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_enough_malformed_cases() -> None:
    assert len(MALFORMED) >= 20


def test_symbol_error_is_an_input_error() -> None:
    with pytest.raises(InputError):
        parse_symbol("NOT A SYMBOL")


def test_non_string_symbol() -> None:
    with pytest.raises(InputError, match="must be a string"):
        parse_symbol(42)  # type: ignore[arg-type]


def test_error_messages_name_every_venue_when_unknown() -> None:
    with pytest.raises(SymbolError) as caught:
        parse_symbol("BTC")
    message = str(caught.value)
    for name in ("Deribit", "OKX", "Binance", "ccxt"):
        assert re.search(rf"\b{name}\b", message), name
