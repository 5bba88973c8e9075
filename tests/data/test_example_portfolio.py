"""The shipped example portfolio: format, and every position valuable from the example market."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest
from _example_files import deribit_dated, expiry_instant, load_example

ACCOUNT_KEYS = {"id", "balances", "positions"}
POSITION_KEYS = {"instrument", "quantity", "unit", "avg_price"}
UNITS = {"native", "base", "quote", "contracts"}


@pytest.fixture(scope="module")
def portfolio() -> dict[str, Any]:
    return load_example("example_portfolio.json")


@pytest.fixture(scope="module")
def market() -> dict[str, Any]:
    return load_example("example_market.json")


def _positions(portfolio: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for account in portfolio["accounts"] for p in account["positions"]]


def _specs(portfolio: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {spec["symbol"]: spec for spec in portfolio.get("instruments", [])}


def test_portfolio_has_the_documented_shape(portfolio: dict[str, Any]) -> None:
    assert set(portfolio) <= {"accounts", "instruments"}
    ids = [account["id"] for account in portfolio["accounts"]]
    assert len(ids) == len(set(ids)) >= 4
    for account in portfolio["accounts"]:
        assert set(account) == ACCOUNT_KEYS
        assert account["positions"]
        for asset, amount in account["balances"].items():
            assert asset.isupper()
            assert amount > 0.0
        for position in account["positions"]:
            assert set(position) <= POSITION_KEYS
            assert position["unit"] in UNITS
            assert isinstance(position["quantity"], float)
            assert position["quantity"] != 0.0


def test_books_cover_the_intended_kinds(portfolio: dict[str, Any]) -> None:
    symbols = {p["instrument"] for p in _positions(portfolio)}
    assert {"BTC-PERPETUAL", "BTC_USDC-PERPETUAL"} <= symbols
    assert any(s.startswith("BTC_USDC-") and s.endswith(("-C", "-P")) for s in symbols)
    assert any((d := deribit_dated(s)) and d["strike"] is None for s in symbols)  # dated future
    assert not _specs(portfolio), "explicit specs live in example_portfolio_us.json"


def test_inverse_perpetual_hedge_is_in_ten_usd_contracts(portfolio: dict[str, Any]) -> None:
    (hedge,) = [p for p in _positions(portfolio) if p["instrument"] == "BTC-PERPETUAL"]
    assert hedge["unit"] == "native"
    assert math.remainder(hedge["quantity"], 10.0) == 0.0


def test_every_option_has_a_surface_slice_and_forward_for_its_expiry(
    portfolio: dict[str, Any], market: dict[str, Any]
) -> None:
    specs = _specs(portfolio)
    n = 0
    for position in _positions(portfolio):
        symbol = position["instrument"]
        if symbol in specs:
            spec = specs[symbol]
            if spec["kind"] != "option":
                continue
            underlying, expiry = spec["underlying"], spec["expiry"]
        else:
            parsed = deribit_dated(symbol)
            if parsed is None or parsed["strike"] is None:
                continue
            underlying, expiry = parsed["underlying"], parsed["expiry"].isoformat()
        assert expiry in market["forwards"][underlying], symbol
        assert expiry in [s["expiry"] for s in market["surfaces"][underlying]], symbol
        assert underlying in market["index"], symbol
        n += 1
    assert n >= 8


def test_every_future_and_perpetual_has_a_mark(
    portfolio: dict[str, Any], market: dict[str, Any]
) -> None:
    for position in _positions(portfolio):
        symbol = position["instrument"]
        parsed = deribit_dated(symbol)
        if symbol.endswith("PERPETUAL") or (parsed is not None and parsed["strike"] is None):
            assert "price" in market["marks"][symbol], symbol


def test_explicit_spx_option_spec(market: dict[str, Any]) -> None:
    us = load_example("example_portfolio_us.json")
    (spec,) = us["instruments"]
    assert [p["instrument"] for a in us["accounts"] for p in a["positions"]] == [spec["symbol"]]
    assert spec["underlying"] == "SPX"
    assert spec["contract_size"] == 100.0
    assert spec["settlement"] == "linear"
    assert expiry_instant(spec["expiry"]).date() == date.fromisoformat(spec["expiry"])
    assert date.fromisoformat(spec["expiry"]).weekday() == 4  # a Friday (third of December)
    assert "SPX" in market["index"]


def test_portfolio_loads_with_the_book_loader(portfolio: dict[str, Any]) -> None:
    try:
        from pmargin.book import portfolio_from_dict
    except ImportError as exc:  # the venue symbol parser may not be there yet
        pytest.skip(f"portfolio loader unavailable: {exc}")
    loaded = portfolio_from_dict(portfolio)
    assert len(loaded.accounts) == len(portfolio["accounts"])
