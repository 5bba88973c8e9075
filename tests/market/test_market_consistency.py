"""Contradictory or misspelt market data is refused by name, never resolved silently.

* A mark keyed by a symbol that names no contract (misspelt, wrong letter case, or a spot pair
  whose marks are never read) is refused: it would otherwise be ignored and the instrument
  valued off the index.
* A forward that contradicts the mark of a same-expiry future (or a surface slice forward
  that contradicts the forward) by more than ``market.max_forward_future_gap`` of
  ``input_limits.toml`` is refused, naming both values.
* Every price is finite and inside ``numbers.min_price .. max_price``; a future or perpetual
  is never marked at 0.
"""

from __future__ import annotations

from typing import Any

import pytest
from _market_cases import MAR28, base

from pmargin._validation import input_limits
from pmargin.errors import InputError
from pmargin.instruments import Instrument
from pmargin.market import market_from_dict

TOLERANCE = input_limits().number("market", "max_forward_future_gap")


def _with(**sections: Any) -> dict[str, Any]:
    data = base()
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **value}
        else:
            data[name] = value
    return data


@pytest.mark.parametrize(
    ("symbol", "words"),
    [
        ("btc-perpetual", "did you mean 'BTC-PERPETUAL'?"),
        ("BTC-PERPETUL", "reads as the spot pair BTC/PERPETUL"),
        ("BTC-27DEC24-70000-X", "invalid option right 'X'"),
        ("NOT-A-SYMBOL", "is not a known instrument symbol"),
    ],
)
def test_marks_of_unknown_symbols_are_refused_by_name(symbol: str, words: str) -> None:
    data = _with(marks={symbol: {"price": 69000.0}})
    with pytest.raises(InputError) as err:
        market_from_dict(data, instruments={})
    assert err.value.field == f"marks.{symbol}"
    assert words in str(err.value)
    assert len(str(err.value)) < 300


def test_without_the_books_instruments_only_near_misses_are_refused() -> None:
    # An unparsable symbol may be an explicit contract the caller did not pass: kept.
    assert market_from_dict(_with(marks={"SPX-20250321-5700-P": {"price": 60.0}})).mark(
        "SPX-20250321-5700-P"
    )
    for symbol in ("btc-perpetual", "BTC-PERPETUL"):
        with pytest.raises(InputError, match=f"marks.{symbol}"):
            market_from_dict(_with(marks={symbol: {"price": 69000.0}}))


def test_explicit_instruments_name_marks_venue_parsing_cannot() -> None:
    spx = Instrument(
        symbol="SPX-20250321-5700-P",
        kind="option",  # type: ignore[arg-type]
        underlying="SPX",
        quote="USD",
        settlement="linear",  # type: ignore[arg-type]
        expiry=MAR28,
        strike=5700.0,
        right="put",  # type: ignore[arg-type]
    )
    data = _with(marks={spx.symbol: {"price": 60.0}}, index={"SPX": 5800.0})
    snapshot = market_from_dict(data, instruments={spx.symbol: spx})
    assert snapshot.mark(spx.symbol) is not None


@pytest.mark.parametrize("symbol", ["BTC-PERPETUAL", "BTC-27DEC24"])
def test_delta_one_marks_must_be_positive(symbol: str) -> None:
    with pytest.raises(InputError) as err:
        market_from_dict(_with(marks={symbol: {"price": 0.0}}, forwards={}))
    assert err.value.field == f"marks.{symbol}.price"


def test_a_forward_at_half_the_futures_mark_is_refused_naming_both() -> None:
    # The case: this forward priced a put at 0.967 BTC instead of 0.042.
    data = _with(marks={"BTC-27DEC24": {"price": 70000.0}}, forwards={"BTC": {"2024-12-27": 35000}})
    data["surfaces"] = {}
    with pytest.raises(InputError) as err:
        market_from_dict(data)
    message = str(err.value)
    assert err.value.field == "forwards.BTC.2024-12-27"
    assert "35000" in message
    assert "50.0% away from marks.BTC-27DEC24 = 70000 USD" in message
    assert "at most 0.05 allowed (market.max_forward_future_gap)" in message


@pytest.mark.parametrize(("factor", "refused"), [(0.99, False), (1.01, True)])
@pytest.mark.parametrize("side", [1.0, -1.0])
def test_the_gap_is_the_limit_file_value(factor: float, refused: bool, side: float) -> None:
    future = 70000.0
    forward = future * (1.0 + side * TOLERANCE * factor)
    data = _with(
        marks={"BTC-27DEC24": {"price": future}}, forwards={"BTC": {"2024-12-27": forward}}
    )
    data["surfaces"] = {}
    if refused:
        with pytest.raises(InputError, match=r"forwards\.BTC\.2024-12-27"):
            market_from_dict(data)
    else:
        assert market_from_dict(data).forward("BTC", "2024-12-27") == forward


def test_a_usdc_future_is_compared_in_usd() -> None:
    # 70000 USDC at 0.9998 USD is 69986 USD: a forward of 69986 agrees exactly.
    data = _with(
        marks={"BTC_USDC-27DEC24": {"price": 70000.0}},
        forwards={"BTC": {"2024-12-27": 70000.0 * 0.9998}},
    )
    data["surfaces"] = {}
    market_from_dict(data)
    data["forwards"] = {"BTC": {"2024-12-27": 70000.0 * 0.9998 * (1 + 2 * TOLERANCE)}}
    with pytest.raises(InputError, match=r"marks.BTC_USDC-27DEC24 = 69986 USD"):
        market_from_dict(data)


def test_a_surface_forward_contradicting_the_forward_is_refused() -> None:
    data = base()
    data["surfaces"]["BTC"][0]["forward"] = 69880.0 * (1 + 2 * TOLERANCE)
    with pytest.raises(InputError) as err:
        market_from_dict(data)
    message = str(err.value)
    assert "forwards.BTC.2024-12-27" in message
    assert "surfaces.BTC[expiry=2024-12-27].forward" in message


@pytest.mark.parametrize(
    ("section", "value"),
    [("index", 1e308), ("index", 1e-300), ("prices", 1e10), ("index", 10**400)],
)
def test_prices_outside_the_stated_range_are_refused(section: str, value: float) -> None:
    key = "BTC" if section == "index" else "USDC"
    data = _with(**{section: {key: value}})
    with pytest.raises(InputError) as err:
        market_from_dict(data)
    assert err.value.field == f"{section}.{key}"
    assert "must be a finite price in [1e-09, 1e+09]" in str(err.value)


@pytest.mark.parametrize(
    ("timestamp", "words"),
    [
        (1.7e15, "micro- or nanoseconds?"),
        (1.7e18, "micro- or nanoseconds?"),
        (10**40, "micro- or nanoseconds?"),
        (1.7e9, "epoch seconds?"),
        ("9999-12-31T00:00:00Z", "outside the years 1970 to 2199"),
        ("1969-12-31T00:00:00Z", "outside the years 1970 to 2199"),
    ],
)
def test_timestamps_out_of_range_are_one_line_errors(timestamp: object, words: str) -> None:
    with pytest.raises(InputError) as err:
        market_from_dict(_with(timestamp=timestamp))
    assert err.value.field == "timestamp"
    assert words in str(err.value)
