"""Forward resolution order: explicit forward, futures mark, surface forward, index carry."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from _market_cases import DEC27, MAR28, NOV29, NOW, base, years

import pmargin.instruments
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument
from pmargin.market import MarketSnapshot, market_from_dict
from pmargin.market import _futures as futures_module

INVERSE_DEC = Instrument(
    symbol="BTC-27DEC24",
    kind="future",  # type: ignore[arg-type]
    underlying="BTC",
    quote="USD",
    settlement="inverse",  # type: ignore[arg-type]
    expiry=DEC27,
    contract_size=10.0,
)
USDC_DEC = Instrument(
    symbol="BTC_USDC-27DEC24",
    kind="future",  # type: ignore[arg-type]
    underlying="BTC",
    quote="USDC",
    expiry=DEC27,
)
USDT_DEC = Instrument(
    symbol="BTCUSDT_241227",
    kind="future",  # type: ignore[arg-type]
    underlying="BTC",
    quote="USDT",
    expiry=DEC27,
)
PERP = Instrument(symbol="BTC-PERPETUAL", kind="perpetual", underlying="BTC")  # type: ignore[arg-type]
CONTRACTS = {i.symbol: i for i in (INVERSE_DEC, USDC_DEC, USDT_DEC, PERP)}


def market(
    *, forwards: bool = True, marks: dict[str, Any] | None = None, **changes: Any
) -> MarketSnapshot:
    data = base()
    if not forwards:
        del data["forwards"]
    data["marks"].update(marks or {})
    data.update(changes)
    return market_from_dict(data, instruments=CONTRACTS)


def carry(index: float, t: float) -> float:
    return index * math.exp((0.05 - 0.01) * t)


def test_rule_1_explicit_forward_wins_over_everything() -> None:
    snap = market(marks={"BTC-27DEC24": {"price": 70500.0}})
    assert snap.forward("BTC", DEC27) == 69880.0


def test_rule_2_usd_future_mark_when_no_explicit_forward() -> None:
    snap = market(forwards=False, marks={"BTC-27DEC24": {"price": 70500.0}})
    assert snap.forward("BTC", DEC27) == 70500.0


def test_rule_2_usdc_future_converted_with_the_usdc_price() -> None:
    snap = market(forwards=False, marks={"BTC_USDC-27DEC24": {"price": 70600.0}})
    assert snap.forward("BTC", DEC27) == pytest.approx(70600.0 * 0.9998, rel=1e-15)


def test_rule_2_usdt_future_converted_with_the_usdt_price() -> None:
    snap = market(forwards=False, marks={"BTCUSDT_241227": {"price": 70400.0}})
    assert snap.forward("BTC", DEC27) == pytest.approx(70400.0 * 1.0003, rel=1e-15)


def test_rule_2_prefers_the_usd_quoted_future() -> None:
    marks = {"BTC_USDC-27DEC24": {"price": 70600.0}, "BTC-27DEC24": {"price": 70500.0}}
    assert market(forwards=False, marks=marks).forward("BTC", DEC27) == 70500.0


def test_rule_2_stablecoin_without_price_is_an_error_naming_it() -> None:
    data = base()
    del data["forwards"]
    data["prices"] = {}
    data["marks"]["BTC_USDC-27DEC24"] = {"price": 70600.0}
    snap = market_from_dict(data, instruments=CONTRACTS)
    with pytest.raises(MarketDataError, match=r"prices\.USDC"):
        snap.forward("BTC", DEC27)


def test_rule_2_ignores_perpetuals_and_other_expiries() -> None:
    snap = market(forwards=False, marks={"BTC-PERPETUAL": {"price": 1.0}})
    assert snap.forward("BTC", DEC27) == 69900.0  # the surface slice's forward (rule 3)


def test_rule_3_surface_slice_forward() -> None:
    data = base()
    del data["forwards"]
    data["surfaces"]["BTC"][0]["forward"] = 69950.0
    snap = market_from_dict(data)
    assert snap.forward("BTC", DEC27) == 69950.0
    assert snap.forward("BTC", MAR28) == 71000.0


def test_rule_4_index_carry_when_nothing_else() -> None:
    snap = market(forwards=False)
    # NOV29 has a slice but no slice forward: rule 4.
    assert snap.forward("BTC", NOV29) == pytest.approx(carry(69000.0, years(NOW, NOV29)), 1e-14)
    # ETH has no rate: only r_USD carries.
    june = NOW + timedelta(days=200)
    expected = 2500.0 * math.exp(0.05 * years(NOW, june))
    assert snap.forward("ETH", june) == pytest.approx(expected, rel=1e-14)


def test_expiry_at_or_before_the_timestamp_gives_the_index() -> None:
    snap = market(marks={"BTC-27DEC24": {"price": 70500.0}})
    assert snap.forward("BTC", NOW) == 69000.0
    assert snap.forward("BTC", NOW - timedelta(days=3)) == 69000.0


def test_no_forward_error_says_what_to_add() -> None:
    snap = market(forwards=False)
    with pytest.raises(MarketDataError) as err:
        snap.forward("SOL", DEC27)
    message = str(err.value)
    assert "no forward for SOL expiry 2024-12-27T08:00:00Z" in message
    for hint in ("forwards.SOL", "a futures mark", "a surface forward", "index.SOL"):
        assert hint in message


def test_expiry_forms_are_equivalent_and_vectorised() -> None:
    snap = market()
    by_text = snap.forward("btc", "2024-12-27")
    assert by_text == snap.forward("BTC", DEC27) == snap.forward("BTC", date(2024, 12, 27))
    assert snap.forward("BTC", "2024-12-27T08:00:00Z") == by_text
    vector = snap.forward_prices("BTC", [DEC27, NOV29, MAR28])
    assert vector.shape == (3,)
    assert list(vector) == [snap.forward("BTC", e) for e in (DEC27, NOV29, MAR28)]


def test_iv_mark_on_a_future_is_rejected() -> None:
    with pytest.raises(InputError, match="only valid for options") as err:
        market(marks={"BTC-27DEC24": {"iv": 0.5}})
    assert err.value.field == "marks.BTC-27DEC24.iv"


@pytest.fixture
def venue_parser(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stand in for pmargin.instruments.parse_symbol: knows the contracts of CONTRACTS."""

    def parse(symbol: str) -> Instrument:
        if symbol not in CONTRACTS:
            raise InputError("symbol", symbol, "is not a known test symbol")
        return CONTRACTS[symbol]

    parser: Callable[[], Callable[[str], Instrument]] = lambda: parse  # noqa: E731
    futures_module._parse_venue_symbol.cache_clear()
    monkeypatch.setattr(futures_module, "_venue_parser", parser)
    yield
    futures_module._parse_venue_symbol.cache_clear()


@pytest.mark.usefixtures("venue_parser")
def test_venue_symbols_are_recognised_without_explicit_instruments() -> None:
    data = base()
    del data["forwards"]
    data["marks"]["BTC_USDC-27DEC24"] = {"price": 70600.0}
    snap = market_from_dict(data)
    assert snap.forward("BTC", DEC27) == pytest.approx(70600.0 * 0.9998, rel=1e-15)


def test_explicit_instruments_describe_symbols_parsing_cannot() -> None:
    data = base()
    del data["forwards"]
    data["marks"]["BTC_USDC-27DEC24"] = {"price": 70600.0}
    assert market_from_dict(data, instruments=CONTRACTS).forward("BTC", DEC27) == pytest.approx(
        70600.0 * 0.9998, rel=1e-15
    )


@pytest.mark.skipif(
    getattr(pmargin.instruments, "parse_symbol", None) is None,
    reason="pmargin.instruments.parse_symbol is not available yet",
)
def test_real_deribit_future_symbol_gives_the_forward() -> None:
    futures_module._venue_parser.cache_clear()
    futures_module._parse_venue_symbol.cache_clear()
    data = base()
    del data["forwards"]
    data["marks"]["BTC-27DEC24"] = {"price": 70500.0}
    assert market_from_dict(data).forward("BTC", DEC27) == 70500.0


def test_forward_at_is_forward_for_a_parsed_expiry() -> None:
    """forward_at (an expiry already parsed, as instruments hold it) == forward, every rule."""
    from pmargin.engine import example_path
    from pmargin.market import load_market
    from pmargin.timeutil import parse_expiry

    market = load_market(example_path("example_market.json"))
    expiries = {e for by_expiry in market.forwards.values() for e in by_expiry}
    expiries |= {s.expiry for surface in market.surfaces.values() for s in surface.slices}
    expiries |= {parse_expiry("2027-06-25"), market.timestamp}
    for code in market.index:
        for when in sorted(expiries):
            assert market.forward_at(code, when) == market.forward(code.lower(), when)
