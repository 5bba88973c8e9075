"""Fill prices of a pre-trade check: possible (what the contract can be worth) and near the mark.

Expected bounds are written as formulas over the test market (tests/risk/_books.py): a call is
worth at most the forward F (linear) or 1 coin per coin (inverse), a put at most K (linear)
or K / F coin per coin (inverse); bands are read from the shipped fill_price_bounds.toml.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import _books
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from pmargin.book import arrange, portfolio_from_dict
from pmargin.cli.main import app
from pmargin.errors import InputError
from pmargin.instruments import Kind, Right, parse_symbol
from pmargin.margin import get_model
from pmargin.pretrade import (
    FillPriceBounds,
    Order,
    PreTradeChecker,
    load_price_bounds,
    price_bounds_path,
)
from pmargin.valuation import resolve_instruments, value_instruments

MARKET = _books.market()
SHIPPED = tomllib.loads(price_bounds_path().read_text())
BOUNDS = load_price_bounds()
ACCOUNT = {
    "id": "a",
    "balances": {"BTC": 1.0, "USDC": 100_000.0, "ETH": 10.0},
    "positions": [{"instrument": "BTC-PERPETUAL", "quantity": 10_000.0}],
}
CHECKER = PreTradeChecker(
    get_model("standard"), arrange(portfolio_from_dict({"accounts": [ACCOUNT]}), MARKET)
)
SYMBOLS = _books.UNIVERSE


def _forward_and_mark(symbol: str) -> tuple[float, float]:
    resolved = resolve_instruments([parse_symbol(symbol)], MARKET)
    return float(resolved.underlying_price[0]), float(value_instruments(resolved).price[0])


def _expected(symbol: str) -> tuple[float, float, float]:
    """(most, band low, band high) from the formulas and the shipped file."""
    inst = parse_symbol(symbol)
    forward, mark = _forward_and_mark(symbol)
    if inst.kind is not Kind.OPTION:
        width = SHIPPED["delta_one"]["band_mark"] * mark
        return float("inf"), mark - width, mark + width
    strike = float(inst.strike or 0.0)
    unit = 1.0 if inst.is_inverse else forward
    put_most = strike / forward if inst.is_inverse else strike
    most = unit if inst.right is Right.CALL else put_most
    width = SHIPPED["option"]["band_underlying"] * unit + SHIPPED["option"]["band_mark"] * mark
    return most, mark - width, mark + width


def test_shipped_file_is_what_the_docs_state() -> None:
    stated = FillPriceBounds(
        option_band_underlying=0.01, option_band_mark=0.5, delta_one_band_mark=0.1
    )
    assert stated == BOUNDS


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bounds_follow_the_formulas(symbol: str) -> None:
    inst = parse_symbol(symbol)
    forward, mark = _forward_and_mark(symbol)
    most, low, high = _expected(symbol)
    assert BOUNDS.most(inst, forward)[0] == pytest.approx(most, rel=1e-15)
    assert BOUNDS.band(inst, forward, mark) == pytest.approx((low, high), rel=1e-15)
    assert mark <= most  # the mark itself is always a possible price


def _check(symbol: str, price: float) -> None:
    CHECKER.check("a", Order(parse_symbol(symbol), 1.0, "base", price))


@given(st.sampled_from(SYMBOLS), st.floats(1.0 + 1e-9, 1e12))
def test_impossible_or_far_prices_are_refused(symbol: str, factor: float) -> None:
    most, low, high = _expected(symbol)
    ceiling = min(most, high)
    for price in (ceiling * factor, low / factor - 1e-12 * abs(low)):
        if price < 0.0:
            continue  # negative prices are refused by Order itself
        if price in (ceiling, low):
            continue
        with pytest.raises(InputError) as caught:
            _check(symbol, price)
        assert caught.value.field == "order.price"
        assert symbol in caught.value.reason


@given(st.sampled_from(SYMBOLS), st.floats(0.0, 1.0))
def test_prices_inside_the_band_are_accepted(symbol: str, where: float) -> None:
    most, low, high = _expected(symbol)
    low, high = max(low, 0.0), min(high, most)
    price = low + where * (high - low)
    if parse_symbol(symbol).kind is not Kind.OPTION and price <= 0.0:
        return
    _check(symbol, price)  # does not raise


def test_zero_price_of_a_delta_one_contract_is_refused() -> None:
    with pytest.raises(InputError, match="must be > 0"):
        _check("BTC_USDC-PERPETUAL", 0.0)


def test_bad_bounds_files_are_refused_naming_the_field(tmp_path: Path) -> None:
    text = price_bounds_path().read_text()
    cases = {
        "unknown": (text + "\n[extra]\nx = 1\n", "extra"),
        "range": (text.replace("band_mark = 0.1", "band_mark = 1.5"), "delta_one.band_mark"),
        "missing": (text.replace("band_underlying = 0.01", ""), "option.band_underlying"),
    }
    for name, (body, field) in cases.items():
        path = tmp_path / f"{name}.toml"
        path.write_text(body)
        with pytest.raises(InputError) as caught:
            load_price_bounds(path)
        assert field in caught.value.field


def _cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    book = {
        "accounts": [
            {
                "id": "liq",
                "balances": {"BTC": 0.01},
                "positions": [{"instrument": "BTC-PERPETUAL", "quantity": -500_000.0}],
            }
        ]
    }
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book))
    market = tmp_path / "market.json"
    market.write_text(json.dumps(_books.MARKET_DATA))
    base = ["check-order", "-p", str(path), "-m", str(market), "-a", "liq", "-q", "-1"]
    result = CliRunner().invoke(app, [*base, *args])
    return result.exit_code, result.output


def test_issue_fills_are_refused_on_one_line(tmp_path: Path) -> None:
    # Selling 1 BTC call at 1,500 BTC per BTC, or the USDC perpetual at 1e9 (issue 9).
    code, out = _cli(tmp_path, "-i", "BTC-27DEC24-100000-C", "--price", "1500")
    assert code == 2
    assert out.strip() == (
        "pmargin: error: --price: 1500.0 is impossible for BTC-27DEC24-100000-C: "
        "an inverse call is worth at most 1 coin per coin"
    )
    code, out = _cli(tmp_path, "-i", "BTC_USDC-PERPETUAL", "--price", "1e9")
    assert code == 2
    assert out.startswith("pmargin: error: --price: 1000000000.0 is outside the band")
    assert out.count("\n") == 1


def test_price_bounds_option_replaces_the_bands(tmp_path: Path) -> None:
    _, mark = _forward_and_mark("BTC_USDC-PERPETUAL")
    price = f"{1.3 * mark:.2f}"
    code, out = _cli(tmp_path, "-i", "BTC_USDC-PERPETUAL", "--price", price)
    assert code == 2
    assert "outside the band" in out
    wide = tmp_path / "wide.toml"
    wide.write_text(price_bounds_path().read_text().replace("band_mark = 0.1", "band_mark = 0.5"))
    code, out = _cli(
        tmp_path, "-i", "BTC_USDC-PERPETUAL", "--price", price, "--price-bounds", str(wide)
    )
    assert code == 0, out
