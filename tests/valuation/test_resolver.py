"""The fast resolver equals ``resolve_instruments`` bit for bit, errors included.

:class:`InstrumentResolver` asks the market once per shared key (currency, expiry, forward
pair) and spreads the answers by indexing; its twin is ``resolve_instruments``. Every array,
the vol sources and any error (type and text) must be exactly the reference's, on markets that
move prices, add or drop marks (iv, price, futures), roll the timestamp and lose data.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta

import numpy as np
import pytest

from pmargin.book import arrange, example_portfolio
from pmargin.engine import example_path
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument, Kind, parse_symbol
from pmargin.market import Mark, MarketSnapshot, load_market
from pmargin.valuation import (
    InstrumentResolver,
    ResolvedInstruments,
    resolve_instruments,
    value_instruments,
)


@pytest.fixture(scope="module")
def market() -> MarketSnapshot:
    return load_market(example_path("example_market.json"))


@pytest.fixture(scope="module")
def instruments(market: MarketSnapshot) -> tuple[Instrument, ...]:
    book = arrange(example_portfolio(market, 80, seed=5, linear_share=0.3), market)
    extra = (
        Instrument("BTC/USDT", Kind.SPOT, "BTC", quote="USDT"),
        Instrument("ETH/USD", Kind.SPOT, "ETH"),
        parse_symbol("BTC_USDC-PERPETUAL"),
        parse_symbol("ETH-12DEC25"),  # a dated future without a mark: priced off the forward
    )
    return book.instruments + extra


def _assert_same(fast: ResolvedInstruments, reference: ResolvedInstruments) -> None:
    assert fast.instruments == reference.instruments
    arrays = [
        f.name for f in fields(reference) if isinstance(getattr(reference, f.name), np.ndarray)
    ]
    assert len(arrays) == 10
    for name in arrays:
        a, b = getattr(fast, name), getattr(reference, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
    assert fast.vol_source == reference.vol_source


def _markets(market: MarketSnapshot, seed: int) -> list[MarketSnapshot]:
    rng = np.random.default_rng(seed)
    moved = market.moved({"BTC": float(rng.uniform(-0.1, 0.1)), "ETH": 0.03}, vol_beta=0.5)
    futures = {
        s: Mark(price=m.price * float(rng.uniform(0.99, 1.01)))
        for s, m in market.marks.items()
        if m.price is not None and s.count("-") <= 1
    }
    options = {
        "BTC-26DEC25-100000-C": Mark(iv=float(rng.uniform(0.3, 0.7))),
        "ETH-26DEC25-3000-P": Mark(price=float(rng.uniform(0.01, 0.03))),
        "ETH-12DEC25": Mark(price=3400.0),
    }
    return [
        market,
        market.with_updates(index={"BTC": market.index["BTC"] * float(rng.uniform(0.9, 1.1))}),
        market.with_updates(marks={**futures, **options}),
        market.replace(marks={}),
        market.replace(timestamp=market.timestamp + timedelta(hours=int(rng.integers(1, 20)))),
        market.with_updates(prices={"USDC": 0.999, "USDT": 1.001}, rates={"BTC": 0.01}),
        moved,
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resolve_equals_the_reference(
    market: MarketSnapshot, instruments: tuple[Instrument, ...], seed: int
) -> None:
    resolver = InstrumentResolver(instruments)
    for at in _markets(market, seed):
        fast = resolver.resolve(at)
        _assert_same(fast, resolver.resolve_reference(at))
        _assert_same(fast, resolve_instruments(instruments, at))


def test_terms_are_carried_and_subsets_resolve_alike(
    market: MarketSnapshot, instruments: tuple[Instrument, ...]
) -> None:
    whole = resolve_instruments(instruments, market)
    columns = np.arange(0, len(instruments), 3)
    part = whole.take(columns)
    resolver = InstrumentResolver(part.instruments, part.terms)
    fast = resolver.resolve(market)
    assert fast.terms is part.terms
    assert len(resolver) == columns.size
    _assert_same(fast, part)
    empty = InstrumentResolver(())
    _assert_same(empty.resolve(market), resolve_instruments((), market))


def _error(call: object) -> tuple[type, str]:
    assert callable(call)
    try:
        call()
    except (InputError, MarketDataError) as exc:
        return type(exc), str(exc)
    raise AssertionError("no error")


def test_errors_are_the_reference_errors(
    market: MarketSnapshot, instruments: tuple[Instrument, ...]
) -> None:
    resolver = InstrumentResolver(instruments)
    option = next(i.symbol for i in instruments if i.is_option and i.is_inverse)
    first = min(i.expiry for i in instruments if i.expiry is not None)
    assert isinstance(first, datetime)
    broken = [
        market.replace(timestamp=first + timedelta(hours=1)),  # an expired option
        market.replace(marks={}, surfaces={}),  # no vol for the options
        market.replace(prices={}),  # no USDC price
        market.with_updates(marks={option: Mark(price=5.0)}),  # above any vol
    ]
    for at in broken:
        expected = _error(lambda at=at: resolve_instruments(instruments, at))
        assert _error(lambda at=at: resolver.resolve(at)) == expected


def test_a_resolver_kept_over_a_stream_of_ticks(
    market: MarketSnapshot, instruments: tuple[Instrument, ...]
) -> None:
    """What the resolver keeps between markets (times, surface readings, implied vols) never
    leaks into a market whose inputs moved: ticks that move the index, futures and option
    marks, swap a mark's kind, replace a surface, fail, and roll the clock, one resolver."""
    rng = np.random.default_rng(7)
    resolver = InstrumentResolver(instruments)
    priced = next(s for s, m in market.marks.items() if m.price is not None and s.count("-") == 3)
    at = market
    for k in range(40):
        step = k % 8
        if step == 0:
            at = at.with_updates(index={"BTC": at.index["BTC"] * float(rng.uniform(0.98, 1.02))})
        elif step == 1:
            at = at.with_updates(
                marks={
                    s: Mark(price=m.price * float(rng.uniform(0.99, 1.01)))
                    for s, m in at.marks.items()
                    if m.price is not None and s.count("-") == 1
                }
            )
        elif step == 2:
            at = at.with_updates(marks={priced: Mark(price=float(rng.uniform(0.005, 0.02)))})
        elif step == 3:
            at = at.with_updates(marks={priced: Mark(iv=float(rng.uniform(0.3, 0.8)))})
        elif step == 4:
            at = at.moved({"BTC": float(rng.uniform(-0.05, 0.05))}, vol_beta=1.0)
        elif step == 5:
            surface = at.surface("BTC")
            at = at.with_updates(
                surfaces={"BTC": type(surface)("BTC", surface.slices, at.timestamp)}
            )
        elif step == 6:
            broken = at.replace(marks={}, surfaces={})
            assert _error(lambda b=broken: resolver.resolve(b)) == _error(
                lambda b=broken: resolve_instruments(instruments, b)
            )
        else:
            at = at.replace(timestamp=at.timestamp + timedelta(minutes=int(rng.integers(0, 90))))
        _assert_same(resolver.resolve(at), resolve_instruments(instruments, at))


def test_valuation_with_the_previous_tick_is_bit_for_bit(
    market: MarketSnapshot, instruments: tuple[Instrument, ...]
) -> None:
    """value_instruments(previous=...) reuses the options' numbers only when their inputs are
    the same, and is value_instruments afresh bit for bit either way."""
    resolver = InstrumentResolver(instruments)
    last = resolver.resolve(market)
    last_value = value_instruments(last)
    rng = np.random.default_rng(3)
    markets = [
        market.with_updates(index={"BTC": market.index["BTC"] * 1.01}),  # options unmoved
        market.with_updates(marks={"BTC-26DEC25-100000-C": Mark(iv=0.5)}),  # one vol moves
        market.moved({"ETH": float(rng.uniform(-0.05, 0.05))}),  # ETH forwards move
        market.with_updates(prices={"USDC": 0.998}),  # a quote's USD price
        market.replace(timestamp=market.timestamp + timedelta(hours=3)),  # every time
    ]
    for at in markets:
        now = resolver.resolve(at)
        mine = value_instruments(now, previous=(last, last_value))
        fresh = value_instruments(now)
        for name in ("price", "price_usd", "delta", "gamma", "vega", "theta", "delta_coin"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(fresh, name), strict=True)
        last, last_value = now, mine
