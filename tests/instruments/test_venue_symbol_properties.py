"""Property: any valid contract printed in a venue's form parses back to the same contract."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmargin.errors import SymbolError
from pmargin.instruments import (
    ContractSpecs,
    Instrument,
    Kind,
    Right,
    Settlement,
    detect_venue,
    format_symbol,
    load_contract_specs,
    parse_symbol,
)

DISPLAY = {"deribit": "Deribit", "okx": "OKX", "binance": "Binance", "ccxt": "ccxt"}
QUOTES = ("USD", "USDT", "USDC", "EUR", "BTC", "ETH")

# A specs file with a default size for every product, so random underlyings have a size.
_PRODUCTS = (
    "spot",
    "linear_perpetual",
    "inverse_perpetual",
    "linear_future",
    "inverse_future",
    "linear_option",
    "inverse_option",
)
_SPECS_TOML = "schema_version = 1\n" + "".join(
    f'[{venue}.{product}]\nquantity_unit = "contracts"\ncontract_currency = "base"\n'
    "contract_size = 2.5\n"
    for venue in ("deribit", "okx", "binance", "ccxt")
    for product in _PRODUCTS
)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> ContractSpecs:
    path: Path = tmp_path_factory.mktemp("specs") / "all_defaults.toml"
    path.write_text(_SPECS_TOML)
    return load_contract_specs(path)


underlyings = st.from_regex(r"[A-Z][A-Z0-9]{0,7}", fullmatch=True).filter(
    lambda code: code not in QUOTES and code not in {"PERP", "PERPETUAL", "SWAP"}
)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
strikes = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("10000000"), places=4, allow_nan=False
).map(lambda d: float(str(d)))
rights = st.sampled_from(list(Right))


@st.composite
def venue_contracts(draw: st.DrawFn) -> tuple[str, Instrument]:
    """A venue and an instrument that venue lists (kind, settlement and quote it supports)."""
    venue = draw(st.sampled_from(["deribit", "okx", "binance", "ccxt"]))
    kind = draw(st.sampled_from(list(Kind)))
    if venue == "binance" and kind is Kind.SPOT:
        kind = Kind.PERPETUAL  # Binance spot is not printed (same form as USDⓈ-M perpetuals)
    if kind is Kind.SPOT:
        settlement, quote = Settlement.LINEAR, draw(st.sampled_from(QUOTES))
    elif venue == "ccxt":
        settlement = draw(st.sampled_from(list(Settlement)))
        quote = draw(st.sampled_from(QUOTES))
    elif kind is Kind.OPTION:
        settlement, quote = {
            "deribit": draw(
                st.sampled_from([(Settlement.INVERSE, "USD"), (Settlement.LINEAR, "USDC")])
            ),
            "okx": (Settlement.INVERSE, "USD"),
            "binance": (Settlement.LINEAR, "USDT"),
        }[venue]
    else:
        settlement = draw(st.sampled_from(list(Settlement)))
        quote = (
            "USD" if settlement is Settlement.INVERSE else draw(st.sampled_from(["USDT", "USDC"]))
        )
    underlying = draw(underlyings.filter(lambda code: code != quote))
    dated = kind in (Kind.FUTURE, Kind.OPTION)
    expiry_day = draw(days) if dated else None
    instrument = Instrument(
        symbol="generated",
        kind=kind,
        underlying=underlying,
        quote=quote,
        settlement=settlement,
        expiry=(
            None
            if expiry_day is None
            else datetime(expiry_day.year, expiry_day.month, expiry_day.day, 8, tzinfo=UTC)
        ),
        strike=draw(strikes) if kind is Kind.OPTION else None,
        right=draw(rights) if kind is Kind.OPTION else None,
    )
    return venue, instrument


@settings(max_examples=400, deadline=None)
@given(case=venue_contracts())
def test_print_then_parse_round_trips(case: tuple[str, Instrument], specs: ContractSpecs) -> None:
    venue, instrument = case
    text = format_symbol(instrument, venue)
    assert detect_venue(text) == venue
    parsed = parse_symbol(text, specs=specs)
    assert parsed.venue == venue
    assert parsed.symbol == text
    for field in ("kind", "underlying", "quote", "settlement", "expiry", "strike", "right"):
        assert getattr(parsed, field) == getattr(instrument, field), (field, text)
    assert parsed.contract_size == 2.5
    assert format_symbol(parsed) == text
    assert parse_symbol(text, venue, specs=specs) == parsed


@settings(max_examples=200, deadline=None)
@given(case=venue_contracts(), other=st.sampled_from(["deribit", "okx", "binance", "ccxt"]))
def test_cross_venue_printing_keeps_the_contract_or_refuses(
    case: tuple[str, Instrument], other: str, specs: ContractSpecs
) -> None:
    venue, instrument = case
    source = parse_symbol(format_symbol(instrument, venue), specs=specs)
    try:
        text = format_symbol(source, other)
    except SymbolError as error:  # the other venue has no such contract
        refusal = str(error)
    else:
        refusal = ""
    if refusal:
        assert f"cannot be written in {DISPLAY[other]} form" in refusal
        return
    target = parse_symbol(text, specs=specs)
    assert target.venue == other
    for field in ("kind", "underlying", "quote", "settlement", "expiry", "strike", "right"):
        assert getattr(target, field) == getattr(source, field), (field, text)
