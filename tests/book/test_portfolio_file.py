"""Portfolio file parsing (JSON, YAML, CSV) and quantity conversion to base units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmargin.book import Position, base_quantity, load_portfolio, portfolio_from_dict
from pmargin.errors import InputError
from pmargin.instruments import QuantityUnit, parse_symbol

SPX_SPEC = {
    "symbol": "SPX-20261218-6000-C",
    "kind": "option",
    "underlying": "SPX",
    "expiry": "2026-12-18T21:00:00Z",
    "strike": 6000,
    "right": "call",
    "settlement": "linear",
    "quote": "USD",
    "contract_size": 100,
}


def _doc() -> dict:
    return {
        "accounts": [
            {
                "id": "alice",
                "balances": {"btc": 2.5, "USDC": -1000},
                "positions": [
                    {"instrument": "BTC-PERPETUAL", "quantity": -50_000},
                    {"instrument": "BTC-27DEC24-60000-C", "quantity": -1.5, "avg_price": 0.05},
                    {"instrument": "SPX-20261218-6000-C", "quantity": 2},
                ],
            },
            {"id": "bob", "positions": [{"instrument": "ETH-PERPETUAL", "quantity": 10}]},
        ],
        "instruments": [SPX_SPEC],
    }


def test_accounts_positions_and_explicit_specs() -> None:
    book = portfolio_from_dict(_doc())
    alice, bob = book.accounts
    assert alice.id == "alice"
    assert dict(alice.balances) == {"BTC": 2.5, "USDC": -1000.0}
    assert [p.quantity for p in alice.positions] == [-50_000.0, -1.5, 2.0]
    assert alice.positions[1].avg_price == 0.05
    spx = alice.positions[2].instrument
    assert spx.contract_size == 100.0
    assert spx.quantity_unit is QuantityUnit.CONTRACTS
    assert bob.positions[0].instrument.underlying == "ETH"
    assert [i.symbol for i in book.unique_instruments()] == [
        "BTC-PERPETUAL",
        "BTC-27DEC24-60000-C",
        "SPX-20261218-6000-C",
        "ETH-PERPETUAL",
    ]


def test_single_account_without_wrapper() -> None:
    book = portfolio_from_dict(
        {"id": "solo", "positions": [{"instrument": "BTCUSDT", "quantity": 1}]}
    )
    assert [a.id for a in book.accounts] == ["solo"]


def test_json_yaml_and_csv_files_agree(tmp_path: Path) -> None:
    doc = {
        "accounts": [
            {
                "id": "a",
                "positions": [
                    {"instrument": "BTC-PERPETUAL", "quantity": 100, "unit": "quote"},
                    {"instrument": "BTC-27DEC24-60000-P", "quantity": -2, "avg_price": 0.01},
                ],
            }
        ]
    }
    (tmp_path / "p.json").write_text(json.dumps(doc))
    (tmp_path / "p.yaml").write_text(
        "accounts:\n  - id: a\n    positions:\n"
        "      - {instrument: BTC-PERPETUAL, quantity: 100, unit: quote}\n"
        "      - {instrument: BTC-27DEC24-60000-P, quantity: -2, avg_price: 0.01}\n"
    )
    (tmp_path / "p.csv").write_text(
        "account,instrument,quantity,unit,avg_price\n"
        "a,BTC-PERPETUAL,100,quote,\n"
        "a,BTC-27DEC24-60000-P,-2,,0.01\n"
    )
    books = [load_portfolio(tmp_path / name) for name in ("p.json", "p.yaml", "p.csv")]
    assert books[0] == books[1] == books[2]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "portfolio"),
        ({"accounts": []}, "accounts"),
        ({"accounts": [{"id": "a", "positions": [{"instrument": "NOPE", "quantity": 1}]}]}, "NOPE"),
        ({"accounts": [{"id": "a", "positions": [{"quantity": 1}]}]}, "positions[0].instrument"),
        (
            {"accounts": [{"id": "a", "positions": [{"instrument": "BTC-PERPETUAL"}]}]},
            "positions[0].quantity",
        ),
        (
            {
                "accounts": [
                    {"id": "a", "positions": [{"instrument": "BTC-PERPETUAL", "quantity": "nan"}]}
                ]
            },
            "positions[0].quantity",
        ),
        (
            {
                "accounts": [
                    {
                        "id": "a",
                        "positions": [
                            {"instrument": "BTC-PERPETUAL", "quantity": 1, "unit": "lots"}
                        ],
                    }
                ]
            },
            "unit",
        ),
        (
            {
                "accounts": [
                    {
                        "id": "a",
                        "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 1, "size": 3}],
                    }
                ]
            },
            "positions[0].size",
        ),
        ({"accounts": [{"id": "a", "balances": {"BTC": "x"}}]}, "balances.BTC"),
        ({"accounts": [{"id": "a"}, {"id": "a"}]}, "accounts[].id"),
        ({"accounts": [{"id": ""}]}, "accounts[0].id"),
        (
            {
                "accounts": [{"id": "a"}],
                "instruments": [{"symbol": "X", "kind": "option", "underlying": "SPX"}],
            },
            "expiry",
        ),
        ({"accounts": [{"id": "a"}], "extra": 1}, "portfolio.extra"),
    ],
)
def test_bad_portfolios_name_the_field(doc: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        portfolio_from_dict(doc)
    assert field in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_portfolio(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"accounts": [\n  {"id": "a",,}]}')
    with pytest.raises(InputError, match="line 2"):
        load_portfolio(bad)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("account,symbol\na,BTC-PERPETUAL\n")
    with pytest.raises(InputError, match="column 2: 'symbol' is not a known column"):
        load_portfolio(bad_csv)


def test_base_quantity_in_every_unit() -> None:
    perp = parse_symbol("BTC-PERPETUAL")  # Deribit: native unit USD, contract 10 USD
    option = parse_symbol("BTC-27DEC24-60000-C")  # Deribit: native unit coins
    price = 64_000.0
    assert base_quantity(Position(perp, -64_000.0), price) == pytest.approx(-1.0)
    assert base_quantity(Position(perp, 6_400.0, "contracts"), price) == pytest.approx(
        6_400.0 * perp.contract_size / price
    )
    assert base_quantity(Position(perp, 0.5, "base"), price) == 0.5
    assert base_quantity(Position(option, -2.0), price) == -2.0
    assert base_quantity(Position(option, 3.0, "contracts"), price) == pytest.approx(
        3.0 * option.contract_size
    )
    with pytest.raises(InputError, match="price"):
        base_quantity(Position(perp, 10.0), float("nan"))
