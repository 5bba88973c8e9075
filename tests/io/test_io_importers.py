"""Venue importers on saved replies (fixtures written from each API's reply shapes).

Each importer: positions (symbols, explicit units, signs, average prices), balances, replies
in any order, and every refusal naming the venue, the reply and the field. Then the round
trip: imported book -> margin under every registered model.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pmargin.book import portfolio_from_dict
from pmargin.engine import EXAMPLE_MARKET, example_path, margin_report
from pmargin.errors import InputError, PmarginError
from pmargin.io import IMPORT_VENUES, Reply, bybit_symbol, import_document, read_replies
from pmargin.margin import MODELS
from pmargin.market import load_market
from shared_paths import shared_data_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOOD = {
    "deribit": ["get_positions.json", "get_account_summary_btc.json", "get_account_summaries.json"],
    "okx": ["positions.json", "balance.json", "instruments.json"],
    "bybit": [
        "position_linear.json",
        "position_option.json",
        "position_inverse.json",
        "wallet_balance.json",
    ],
    "binance": [
        "position_risk.json",
        "balance.json",
        "options_position.json",
        "options_account.json",
    ],
    "ccxt": ["fetch_positions.json", "fetch_balance.json"],
}


def _load(venue: str, name: str) -> Any:
    return json.loads((FIXTURES / venue / name).read_text())


def _document(venue: str, names: list[str] | None = None) -> dict[str, Any]:
    files = [FIXTURES / venue / n for n in (names or GOOD[venue])]
    return import_document(venue, read_replies(venue, files))


def _positions(document: dict[str, Any]) -> dict[str, tuple[float, str, float | None]]:
    return {
        p["instrument"]: (p["quantity"], p["unit"], p.get("avg_price"))
        for p in document["accounts"][0]["positions"]
    }


def test_deribit_positions_units_and_prices() -> None:
    held = _positions(_document("deribit"))
    assert held == {
        "BTC-PERPETUAL": (-20000.0, "quote", 98000.0),  # inverse: size is USD face
        "BTC-26DEC25": (5000.0, "quote", 99500.0),
        "BTC-26DEC25-110000-C": (-1.5, "base", 0.031),  # options: coins, price in coin
        "BTC_USDC-PERPETUAL": (0.25, "base", 100500.0),  # linear: coins
    }  # the zero-size BTC-28NOV25-95000-P is left out


def test_deribit_balance_is_the_cash_that_gives_the_summary_equity() -> None:
    positions = _load("deribit", "get_positions.json")["result"]
    btc = _load("deribit", "get_account_summary_btc.json")["result"]
    usdc = _load("deribit", "get_account_summaries.json")["result"]["summaries"][0]
    balances = _document("deribit")["accounts"][0]["balances"]

    def d(x: float) -> Decimal:
        return Decimal(repr(x))

    option_value = sum(
        d(p["size"]) * d(p["mark_price"])
        for p in positions
        if p["instrument_name"] == "BTC-26DEC25-110000-C"
    )
    futures_pnl = sum(
        d(p["total_profit_loss"])
        for p in positions
        if p["instrument_name"] in ("BTC-PERPETUAL", "BTC-26DEC25")
    )
    assert balances["BTC"] == float(d(btc["equity"]) - option_value - futures_pnl)
    assert balances["USDC"] == usdc["equity"] - 287.5  # the USDC perpetual's P&L since entry


def test_deribit_equity_at_the_reply_marks_is_the_summary_equity() -> None:
    """pmargin's own equity (cash + options at mark + futures P&L from avg) at the marks."""
    document = _document("deribit", ["get_positions.json", "get_account_summary_btc.json"])
    portfolio = portfolio_from_dict(document)
    positions = {p["instrument_name"]: p for p in _load("deribit", "get_positions.json")["result"]}
    equity = document["accounts"][0]["balances"]["BTC"]
    for position in portfolio.accounts[0].positions:
        reply = positions[position.instrument.symbol]
        mark = reply["mark_price"]
        if position.instrument.is_option:
            equity += position.quantity * mark
        elif position.instrument.settlement_currency == "BTC":
            base = position.quantity / mark  # USD face / USD per BTC
            equity += base * (mark / position.avg_price - 1.0)  # coin P&L against avg
    summary = _load("deribit", "get_account_summary_btc.json")["result"]
    assert equity == pytest.approx(summary["equity"], abs=1e-8)  # fixtures: P&L to 1e-8 BTC


def test_okx_contracts_times_face_value() -> None:
    held = _positions(_document("okx"))
    assert held == {
        "BTC-USD-SWAP": (-3000.0, "quote", 99800.0),  # -30 contracts x 100 USD
        "BTC-USD-251226-110000-C": (-0.5, "base", 0.03),  # -50 x 0.01 BTC
        "ETH-USDT-SWAP": (1.2, "base", 3300.0),  # long 12 x ctVal 0.1 ETH (instruments reply)
        "BTC-USDT-251226": (-0.03, "base", 102500.0),  # short 3 x 0.01 BTC (pmargin's size)
    }
    assert _document("okx")["accounts"][0]["balances"] == {"BTC": 1.5, "USDT": 5000.0}


def test_okx_instruments_reply_gives_a_face_pmargin_lacks() -> None:
    positions = {
        "code": "0",
        "msg": "",
        "data": [{"instType": "SWAP", "instId": "SOL-USDT-SWAP", "pos": "-7", "avgPx": "150"}],
    }
    with pytest.raises(
        InputError, match=r"okx reply 'reply 1' data\[0\]\.instId.*public/instruments"
    ):
        import_document("okx", [positions])
    instruments = _load("okx", "instruments.json")
    document = import_document("okx", [positions, instruments])
    (spec,) = document["instruments"]
    assert spec["symbol"] == "SOL-USDT-SWAP"
    assert (spec["contract_size"], spec["contract_currency"], spec["settlement"]) == (
        1.0,
        "SOL",
        "linear",
    )
    assert _positions(document) == {"SOL-USDT-SWAP": (-7.0, "base", 150.0)}
    portfolio_from_dict(document)  # the spec is a valid portfolio instrument


def test_okx_face_from_the_instruments_reply_wins() -> None:
    positions = _load("okx", "positions.json")
    instruments = copy.deepcopy(_load("okx", "instruments.json"))
    instruments["data"][0]["ctVal"] = "0.01"  # ETH-USDT-SWAP
    held = _positions(import_document("okx", [instruments, positions]))
    assert held["ETH-USDT-SWAP"][0] == 0.12


def test_bybit_symbols_and_signs() -> None:
    held = _positions(_document("bybit"))
    assert held == {
        "BTC/USDT:USDT": (-0.4, "base", 100900.0),
        "ETH/USDC:USDC": (2.0, "base", 3350.0),  # ETHPERP: the USDC perpetual
        "BTC/USDC:USDC-251226": (0.1, "base", 101000.0),
        "BTC/USDC:USDC-251226-110000-C": (0.5, "base", 2900.0),
        "ETH/USDT:USDT-251226-3000-P": (-3.0, "base", 110.0),
        "BTC/USD:BTC": (15000.0, "quote", 97000.0),  # inverse: USD face
        "BTC/USD:BTC-251226": (-5000.0, "quote", 103000.0),  # Z25: last Friday of Dec 2025
    }
    assert _document("bybit")["accounts"][0]["balances"] == {
        "BTC": 0.3,
        "USDC": 20000.0,
        "USDT": 15000.0,
    }


@pytest.mark.parametrize(
    ("symbol", "category", "expected"),
    [
        ("BTCUSDT", "linear", "BTC/USDT:USDT"),
        ("1000PEPEUSDT", "linear", "1000PEPE/USDT:USDT"),
        ("BTCUSDT-27MAR26", "linear", "BTC/USDT:USDT-260327"),
        ("SOL-3JAN25", "linear", "SOL/USDC:USDC-250103"),
        ("ETHUSDH26", "inverse", "ETH/USD:ETH-260327"),
        ("XRP-5JUN25-0.5-P", "option", "XRP/USDC:USDC-250605-0.5-P"),
    ],
)
def test_bybit_symbol_forms(symbol: str, category: str, expected: str) -> None:
    assert bybit_symbol(symbol, category) == expected


def test_binance_futures_and_options() -> None:
    document = _document("binance")
    assert _positions(document) == {
        "BTCUSDT": (-0.25, "base", 100500.0),  # positionAmt: coins
        "BTCUSDT_251226": (0.1, "base", 102000.0),
        "BTC-251226-110000-C": (-0.5, "contracts", 1500.0),  # side SHORT
        "ETH-251226-3000-P": (2.0, "contracts", 120.0),
    }
    # futures wallet 12000.5 + options wallet 3000 (one pmargin account); BNB 0 left out
    assert document["accounts"][0]["balances"] == {"USDT": 15000.5}


def test_ccxt_contracts_times_contract_size() -> None:
    document = _document("ccxt")
    assert _positions(document) == {
        "BTC/USDT:USDT": (-0.25, "base", 100500.0),  # 250 x 0.001
        "BTC/USD:BTC-251226-110000-C": (-1.5, "base", 0.031),
        "BTC/USD:BTC": (20000.0, "quote", 98000.0),  # 2000 x 10 USD
    }
    assert document["accounts"][0]["balances"] == {"BTC": 1.3, "USDT": 12000.0}


@pytest.mark.parametrize("venue", IMPORT_VENUES)
def test_replies_in_any_order_give_the_same_book(venue: str) -> None:
    forward = _document(venue)
    backward = _document(venue, list(reversed(GOOD[venue])))
    assert backward["accounts"][0]["balances"] == forward["accounts"][0]["balances"]
    key = sorted(json.dumps(p, sort_keys=True) for p in forward["accounts"][0]["positions"])
    assert (
        sorted(json.dumps(p, sort_keys=True) for p in backward["accounts"][0]["positions"]) == key
    )


# ccxt raises exceptions: a saved ccxt structure is never an error reply.
@pytest.mark.parametrize("venue", [v for v in IMPORT_VENUES if v != "ccxt"])
def test_error_replies_are_refused_with_the_venue_message(venue: str) -> None:
    with pytest.raises(InputError, match=rf"^{venue} reply '.*error\.json'.*error reply"):
        _document(venue, ["error.json"])


@pytest.mark.parametrize(
    ("venue", "data", "field"),
    [
        (
            "deribit",
            {"jsonrpc": "2.0", "id": 1, "result": {"trades": []}},
            "deribit reply 'reply 1'",
        ),
        ("deribit", {"jsonrpc": "2.0", "id": 1}, "deribit reply 'reply 1' result"),
        (
            "deribit",
            {"jsonrpc": "2.0", "result": [{"instrument_name": "BTC-PERPETUAL", "kind": "future"}]},
            r"deribit reply 'reply 1' result\[0\]\.size",
        ),
        (
            "deribit",
            {
                "result": [{"instrument_name": "BTC-PERP", "size": 1, "kind": "future"}],
                "jsonrpc": "2.0",
            },
            r"deribit reply 'reply 1' result\[0\]\.instrument_name",
        ),
        ("okx", {"code": "0", "msg": "", "data": [{"foo": 1}]}, "okx reply 'reply 1'"),
        ("okx", [{"instId": "BTC-USD-SWAP"}], "okx reply 'reply 1'"),
        (
            "okx",
            {"code": "0", "data": [{"instType": "MARGIN", "instId": "BTC-USDT", "pos": "1"}]},
            r"okx reply 'reply 1' data\[0\]\.instType",
        ),
        (
            "okx",
            {"code": "0", "data": [{"instType": "SWAP", "instId": "BTC-USD-SWAP", "pos": "x1"}]},
            r"okx reply 'reply 1' data\[0\]\.pos",
        ),
        (
            "okx",
            {"code": "0", "data": [{"details": "x"}]},
            r"okx reply 'reply 1' data\[0\]\.details",
        ),
        ("bybit", {"retCode": 0, "result": {"list": [{"x": 1}]}}, "bybit reply 'reply 1'"),
        (
            "bybit",
            {"retCode": 0, "result": {"list": [{"coin": [{"coin": "BTC"}]}]}},
            r"bybit reply 'reply 1' result\.list\[0\]\.coin\[0\]\.walletBalance",
        ),
        (
            "bybit",
            {
                "retCode": 0,
                "result": {
                    "category": "linear",
                    "list": [{"symbol": "BTCUSDT", "size": "1", "side": "Long"}],
                },
            },
            r"bybit reply 'reply 1' result\.list\[0\]\.side",
        ),
        (
            "bybit",
            {
                "retCode": 0,
                "result": {
                    "category": "spot",
                    "list": [{"symbol": "BTCUSDT", "size": "1", "side": "Buy"}],
                },
            },
            r"bybit reply 'reply 1' result\.list\[0\]\.symbol",
        ),
        ("binance", [{"symbol": "BTCUSDT"}], "binance reply 'reply 1'"),
        ("binance", "positions", "binance reply 'reply 1'"),
        (
            "binance",
            [{"symbol": "BTC-251226-110000-C", "quantity": "1", "side": "BUY"}],
            r"binance reply 'reply 1' \[0\]\.side",
        ),
        ("ccxt", {"free": {}}, "ccxt reply 'reply 1'"),
        (
            "ccxt",
            [{"symbol": "BTC/USDT:USDT", "contracts": 1, "side": "long"}],
            r"ccxt reply 'reply 1' \[0\]\.contractSize",
        ),
        (
            "ccxt",
            [{"symbol": "BTC/USDT:USDT", "contracts": True, "side": "long", "contractSize": 1}],
            r"ccxt reply 'reply 1' \[0\]\.contracts",
        ),
    ],
)
def test_unrecognised_replies_are_refused_naming_venue_and_field(
    venue: str, data: Any, field: str
) -> None:
    with pytest.raises(InputError) as caught:
        import_document(venue, [data])
    assert caught.value.field.startswith(f"{venue} reply")
    assert re.match(field, caught.value.field), caught.value.field


def test_a_balance_given_twice_is_refused() -> None:
    summary = _load("deribit", "get_account_summary_btc.json")
    with pytest.raises(
        InputError, match="repeats the balance of BTC already given by deribit reply 'reply 1'"
    ):
        import_document("deribit", [summary, summary])


def test_unknown_venue_and_replies_of_another_venue() -> None:
    with pytest.raises(InputError, match="is not one of deribit"):
        import_document("kraken", [{}])
    with pytest.raises(InputError, match="is not a okx reply"):
        import_document("okx", [Reply("deribit", "x", {})])
    with pytest.raises(InputError, match="at least one"):
        import_document("okx", [])


def test_a_folder_stands_for_its_replies(tmp_path: Path) -> None:
    for name in GOOD["ccxt"]:
        (tmp_path / name).write_text((FIXTURES / "ccxt" / name).read_text())
    (tmp_path / "notes.txt").write_text("not a reply")
    replies = read_replies("ccxt", [tmp_path])
    assert [Path(r.name).name for r in replies] == sorted(GOOD["ccxt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"is a folder with no \.json or \.yaml file"):
        read_replies("ccxt", [tmp_path / "empty"])


def test_account_id() -> None:
    files = [FIXTURES / "ccxt" / n for n in GOOD["ccxt"]]
    assert import_document("ccxt", read_replies("ccxt", files))["accounts"][0]["id"] == "ccxt"
    named = import_document("ccxt", read_replies("ccxt", files), account="desk-7")
    assert named["accounts"][0]["id"] == "desk-7"


def _needs_history(model: str) -> bool:
    return model.startswith("pmargin-")


@pytest.mark.parametrize("venue", IMPORT_VENUES)
def test_imported_books_margin_under_every_model(venue: str) -> None:
    """Every registered model margins the imported book or refuses it by name (its scope)."""
    portfolio = portfolio_from_dict(_document(venue))
    market = load_market(example_path(EXAMPLE_MARKET), portfolio.instruments)
    ran, refused = [], {}
    for model in MODELS:
        if _needs_history(model) and not shared_data_dir().is_dir():
            continue
        try:
            report = margin_report(portfolio, market, model)
        except PmarginError as err:
            refused[model] = str(err)
            continue
        assert report.result.initial_margin[0] > 0
        assert report.health.equity[0] > 0
        ran.append(model)
    assert {"standard", "okx", "tims"} <= set(ran)
    # the models' documented scopes: Derive lists USDC-settled contracts only; Deribit's
    # parameters have no USDT collateral table
    scope = ("Derive's PMRM_2", "has no Deribit parameters")
    assert {m: r for m, r in refused.items() if not any(s in r for s in scope)} == {}
