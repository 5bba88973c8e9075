"""contract_specs.toml: packaged data, sources, lookups and validation of user files."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from pmargin.errors import InputError, SymbolError
from pmargin.instruments import (
    VENUES,
    Kind,
    QuantityUnit,
    Settlement,
    load_contract_specs,
    parse_symbol,
)

PACKAGED_TEXT = files("pmargin.instruments").joinpath("contract_specs.toml").read_text("utf-8")


def test_packaged_specs_cover_every_venue_and_are_cached() -> None:
    specs = load_contract_specs()
    assert specs is load_contract_specs()
    assert set(VENUES) <= set(specs.venues)
    for venue in VENUES:
        assert "linear_perpetual" in specs.venues[venue]


def test_every_value_says_whether_it_is_confirmed_or_assumed() -> None:
    value_line = re.compile(r'^\s*("[A-Z0-9/]+"|[A-Z0-9]+|contract_size|quantity_unit)\s*=')
    checked = 0
    for number, line in enumerate(PACKAGED_TEXT.splitlines(), 1):
        if not value_line.match(line):
            continue
        checked += 1
        assert "#" in line, f"line {number} has no source comment: {line!r}"
        comment = line.split("#", 1)[1]
        cites = ("http", "same source", "source above", "schema above")
        confirmed = "confirmed" in comment and any(cite in comment for cite in cites)
        assumed = "assumed" in comment
        by_convention = "pmargin default" in comment or "by definition" in comment
        spot_amount = "spot amounts" in comment
        assert confirmed or assumed or by_convention or spot_amount, f"line {number}: {line!r}"
    assert checked > 40


def test_documented_sizes_from_venue_pages() -> None:
    # Values as the venues' own pages state them (URLs in contract_specs.toml).
    specs = load_contract_specs()
    cases = [
        ("deribit", Kind.PERPETUAL, Settlement.INVERSE, "BTC", "USD", 10.0, "quote", "quote"),
        ("deribit", Kind.OPTION, Settlement.INVERSE, "ETH", "USD", 1.0, "base", "base"),
        ("deribit", Kind.OPTION, Settlement.LINEAR, "MATIC", "USDC", 1000.0, "base", "contracts"),
        ("okx", Kind.PERPETUAL, Settlement.INVERSE, "BTC", "USD", 100.0, "quote", "contracts"),
        ("okx", Kind.PERPETUAL, Settlement.LINEAR, "ETH", "USDC", 0.001, "base", "contracts"),
        ("okx", Kind.OPTION, Settlement.INVERSE, "ETH", "USD", 0.1, "base", "contracts"),
        ("binance", Kind.OPTION, Settlement.LINEAR, "DOGE", "USDT", 1000.0, "base", "contracts"),
        ("binance", Kind.FUTURE, Settlement.INVERSE, "ETH", "USD", 10.0, "quote", "contracts"),
        ("binance", Kind.FUTURE, Settlement.LINEAR, "ETH", "USDT", 1.0, "base", "base"),
        ("ccxt", Kind.FUTURE, Settlement.INVERSE, "ETH", "USD", 1.0, "quote", "contracts"),
    ]
    for venue, kind, settlement, base, quote, size, currency, unit in cases:
        terms = specs.terms(venue, kind, settlement, base, quote)
        assert terms.contract_size == size, (venue, kind, base)
        assert terms.contract_currency == currency
        assert terms.quantity_unit is QuantityUnit(unit)


def _write(tmp_path: Path, text: str, name: str = "specs.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = """
schema_version = 1
[okx.linear_perpetual]
quantity_unit = "contracts"
contract_currency = "base"
[okx.linear_perpetual.sizes]
SOL = 1.0
"SOL/USDC" = 0.5
"""


def test_user_file_pair_size_wins_over_underlying_size(tmp_path: Path) -> None:
    specs = load_contract_specs(_write(tmp_path, GOOD))
    assert parse_symbol("SOL-USDT-SWAP", specs=specs).contract_size == 1.0
    assert parse_symbol("SOL-USDC-SWAP", specs=specs).contract_size == 0.5
    with pytest.raises(SymbolError, match=r"okx linear perpetual contract size is not known"):
        parse_symbol("ADA-USDT-SWAP", specs=specs)
    with pytest.raises(SymbolError, match=r"has no \[okx.spot\] table"):
        parse_symbol("SOL-USDT", specs=specs)


@pytest.mark.parametrize(
    ("text", "field_fragment", "reason_fragment"),
    [
        ("[okx.spot]\n", "schema_version", "must be 1"),
        ("schema_version = 2\n", "schema_version", "must be 1"),
        ("schema_version = 1\nokx = 3\n", ":okx", "table of products"),
        ("schema_version = 1\n[okx.swap]\n", "okx.swap", "is not a product"),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "coins"\ncontract_currency = "base"\n'
            "contract_size = 1\n",
            "okx.spot.quantity_unit",
            "base|quote|contracts",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "usd"\n'
            "contract_size = 1\n",
            "okx.spot.contract_currency",
            "base or quote",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n'
            "contract_size = -1\n",
            "okx.spot.contract_size",
            "> 0",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n'
            "contract_size = nan\n",
            "okx.spot.contract_size",
            "finite",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n'
            "contract_size = true\n",
            "okx.spot.contract_size",
            "number",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n'
            "contract_size = 1\nsize = 2\n",
            "okx.spot.size",
            "is not a key",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n',
            "okx.spot",
            "needs a contract_size",
        ),
        (
            'schema_version = 1\n[okx.spot]\nquantity_unit = "base"\ncontract_currency = "base"\n'
            "[okx.spot.sizes]\nbtc = 1\n",
            "okx.spot.sizes",
            "upper-case currency code",
        ),
        ("schema_version = 1\n[okx\n", "contract_specs", "not valid TOML"),
    ],
)
def test_invalid_user_files_name_the_table_and_key(
    tmp_path: Path, text: str, field_fragment: str, reason_fragment: str
) -> None:
    with pytest.raises(InputError) as caught:
        load_contract_specs(_write(tmp_path, text))
    assert field_fragment in caught.value.field
    assert reason_fragment in caught.value.reason


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be read"):
        load_contract_specs(tmp_path / "absent.toml")
