"""Circuit breakers: each trips on a hand-built bad tick, pauses only its underlying, resumes."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from _fixtures import T0, market, portfolio

from pmargin.book import arrange
from pmargin.errors import InputError
from pmargin.margin import get_model
from pmargin.monitor import (
    BreakerConfig,
    BreakerReason,
    LiquidationPause,
    LiquidationResume,
    MarketUpdate,
    Monitor,
    load_breaker_config,
)
from pmargin.timeutil import parse_timestamp

START = parse_timestamp(T0)
BTC0, ETH0 = 95_000.0, 3_400.0
CONFIG = replace(
    load_breaker_config(),
    mark_band=0.10,
    index_jump=0.15,
    jump_interval_s=300.0,
    max_age_s=60.0,
    resume_clean_updates=3,
    cooldown_s=30.0,
)


@pytest.fixture(scope="module")
def book():
    return arrange(portfolio(5, 15), market())


def _monitor(book, config: BreakerConfig = CONFIG) -> Monitor:
    return Monitor(get_model("deribit"), book, breakers=config)


def at(seconds: float, **fields) -> MarketUpdate:
    return MarketUpdate(START + timedelta(seconds=seconds), **fields)


def _pauses(events) -> list[LiquidationPause]:
    return [e for e in events if isinstance(e, LiquidationPause)]


def test_shipped_defaults():
    config = load_breaker_config()
    assert (config.mark_band, config.index_jump, config.jump_interval_s) == (0.10, 0.15, 300.0)
    assert (config.max_age_s, config.resume_clean_updates, config.cooldown_s) == (60.0, 3, 60.0)


def test_mark_outside_band_pauses_only_its_underlying(book):
    monitor = _monitor(book)
    before = monitor.equity
    events = monitor.apply(at(1, marks={"BTC-PERPETUAL": {"price": BTC0 * 1.20}},
                              index={"ETH": ETH0 * 1.01}))  # fmt: skip
    (pause,) = _pauses(events)
    assert (pause.underlying, pause.reason) == ("BTC", BreakerReason.MARK_BAND)
    assert pause.field == "update.marks.BTC-PERPETUAL.price"
    assert (pause.observed, pause.reference, pause.limit) == (BTC0 * 1.20, BTC0, 0.10)
    assert "+20.00%" in pause.detail
    assert monitor.paused_underlyings == frozenset({"BTC"})
    # the bad mark is quarantined: the last good BTC perpetual mark stays in force
    assert monitor.market.marks["BTC-PERPETUAL"].price == 95_200.0
    # ETH's clean tick is applied
    assert monitor.market.index["ETH"] == pytest.approx(ETH0 * 1.01)
    assert monitor.last_recomputed == ("ETH",)
    assert not (monitor.equity == before).all()


def test_index_jump_beyond_limit_pauses(book):
    monitor = _monitor(book)
    events = monitor.apply(at(10, index={"BTC": BTC0 * 1.30}))
    (pause,) = _pauses(events)
    assert (pause.reason, pause.underlying) == (BreakerReason.INDEX_JUMP, "BTC")
    assert pause.observed == pytest.approx(0.30)
    assert (pause.reference, pause.limit) == (BTC0, 0.15)
    assert monitor.market.index["BTC"] == BTC0
    assert monitor.paused_underlyings == frozenset({"BTC"})


def test_moves_within_the_limit_over_the_interval_do_not_trip(book):
    monitor = _monitor(book)
    for k, move in enumerate((1.05, 1.10, 1.14), start=1):
        assert _pauses(monitor.apply(at(k, index={"BTC": BTC0 * move}))) == []
    # 1.20 / 1.00 - 1 = 20% within 300 s of the start price: trips
    (pause,) = _pauses(monitor.apply(at(4, index={"BTC": BTC0 * 1.20})))
    assert pause.reason is BreakerReason.INDEX_JUMP
    assert pause.reference == BTC0
    # once the start price is older than the interval, the same level is compared with 1.14
    monitor = _monitor(book)
    for k, move in enumerate((1.05, 1.10, 1.14), start=1):
        monitor.apply(at(100 * k, index={"BTC": BTC0 * move}, marks={}))
    assert _pauses(monitor.apply(at(310, index={"BTC": BTC0 * 1.20}))) == []


def test_stale_feed_pauses_after_max_age(book):
    monitor = _monitor(book)
    events = monitor.apply(at(30, index={"BTC": BTC0}))
    assert _pauses(events) == []
    events = monitor.apply(at(61, index={"BTC": BTC0 * 1.001}))
    (pause,) = _pauses(events)
    assert (pause.underlying, pause.reason) == ("ETH", BreakerReason.STALE_FEED)
    assert (pause.observed, pause.limit) == (61.0, 60.0)
    assert monitor.paused_underlyings == frozenset({"ETH"})
    assert _pauses(monitor.apply(at(62, index={"BTC": BTC0}))) == []  # said once


def test_nan_and_non_positive_prices_pause(book):
    monitor = _monitor(book)
    (pause,) = _pauses(monitor.apply(at(1, index={"BTC": math.nan})))
    assert (pause.reason, pause.field) == (BreakerReason.INVALID_PRICE, "update.index.BTC")
    assert math.isnan(pause.observed)
    (pause,) = _pauses(monitor.apply(at(2, marks={"ETH-PERPETUAL": {"price": -1.0}})))
    assert (pause.reason, pause.underlying) == (BreakerReason.INVALID_PRICE, "ETH")
    monitor = _monitor(book)
    (pause,) = _pauses(monitor.apply(at(1, index={"ETH": 0.0})))
    assert pause.reason is BreakerReason.INVALID_PRICE
    (pause,) = _pauses(monitor.apply(at(2, marks={"BTC-27DEC24-90000-P": {"iv": math.inf}})))
    assert pause.reason is BreakerReason.INVALID_VOL
    assert monitor.paused_underlyings == frozenset({"BTC", "ETH"})
    assert monitor.market.index == market().index


def test_paused_underlying_resumes_after_clean_updates_and_cooldown(book):
    monitor = _monitor(book)
    monitor.apply(at(0, index={"BTC": math.nan}))
    # three clean ticks, but the cool-down (30 s) is not over
    for k in (1, 2, 3):
        events = monitor.apply(at(k, index={"BTC": BTC0 * (1 + k / 1000)}))
        assert not any(isinstance(e, LiquidationResume) for e in events)
        assert monitor.market.index["BTC"] == BTC0  # held while paused
    events = monitor.apply(at(31, index={"BTC": BTC0 * 1.004}))
    (resume,) = [e for e in events if isinstance(e, LiquidationResume)]
    assert (resume.underlying, resume.clean_updates, resume.paused_seconds) == ("BTC", 4, 31.0)
    assert resume.reasons == (BreakerReason.INVALID_PRICE,)
    assert monitor.paused_underlyings == frozenset()
    assert monitor.market.index["BTC"] == pytest.approx(BTC0 * 1.004)


def test_a_new_trip_restarts_the_count(book):
    monitor = _monitor(book)
    monitor.apply(at(0, index={"BTC": math.nan}))
    monitor.apply(at(40, index={"BTC": BTC0}))
    monitor.apply(at(41, index={"BTC": BTC0}))
    monitor.apply(at(42, marks={"BTC-PERPETUAL": {"price": BTC0 * 2}}))  # trips again
    monitor.apply(at(43, index={"BTC": BTC0}))
    assert monitor.paused_underlyings == frozenset({"BTC"})


def test_confirmed_jump_is_applied_on_resume(book):
    monitor = _monitor(book)
    monitor.apply(at(0, index={"BTC": BTC0 * 0.70}))  # -30%: quarantined
    for k in (10, 20, 30):  # the feed confirms the new level
        monitor.apply(at(k, index={"BTC": BTC0 * 0.70}))
    assert monitor.paused_underlyings == frozenset()
    assert monitor.market.index["BTC"] == pytest.approx(BTC0 * 0.70)


def test_one_tick_spike_is_never_applied(book):
    monitor = _monitor(book)
    monitor.apply(at(0, index={"BTC": BTC0 * 1.30}))
    events = monitor.apply(at(1, index={"BTC": BTC0}))  # back: a jump from the spike
    assert _pauses(events)[0].reason is BreakerReason.INDEX_JUMP
    for k in (2, 3, 40):
        monitor.apply(at(k, index={"BTC": BTC0}))
    assert monitor.paused_underlyings == frozenset()
    assert monitor.market.index["BTC"] == BTC0


def test_unpriceable_option_price_pauses(book):
    monitor = _monitor(book)
    # a call worth 1.5 coin per coin of underlying (more than the forward) has no implied vol
    events = monitor.apply(at(1, marks={"BTC-29NOV24-95000-C": {"price": 1.5}}))
    (pause,) = _pauses(events)
    assert (pause.reason, pause.underlying) == (BreakerReason.UNPRICEABLE, "BTC")
    assert monitor.paused_underlyings == frozenset({"BTC"})
    assert monitor.market.marks["BTC-29NOV24-95000-C"] == market().marks["BTC-29NOV24-95000-C"]


def test_bad_input_is_an_input_error_naming_the_field(book):
    monitor = _monitor(book)
    with pytest.raises(InputError, match=r"update\.index\.BTC"):
        MarketUpdate(START, index={"BTC": "95000"})
    with pytest.raises(InputError, match=r"update\.marks\.BTC-PERPETUAL"):
        MarketUpdate(START, marks={"BTC-PERPETUAL": {"price": 1.0, "iv": 0.5}})
    with pytest.raises(InputError, match=r"update\.marks\.BTC-PERPETUAL\.size"):
        MarketUpdate(START, marks={"BTC-PERPETUAL": {"size": 1.0}})
    with pytest.raises(InputError, match=r"update\.timestamp"):
        MarketUpdate("yesterday")
    monitor.apply(at(5))
    with pytest.raises(InputError, match=r"update\.timestamp"):
        monitor.apply(at(4, index={"BTC": BTC0}))
    with pytest.raises(InputError, match=r"update\.marks\.NOT-A-SYMBOL"):
        monitor.apply(at(6, marks={"NOT-A-SYMBOL": {"price": 1.0}}))
    with pytest.raises(InputError, match=r"update\.vol_shift\.ETH"):
        monitor.apply(at(6, vol_shift={"ETH": 0.05}))


def test_config_file_is_validated(tmp_path):
    own = tmp_path / "breakers.toml"
    own.write_text("[mark_band]\nmax_deviation = 0.05\n")
    assert load_breaker_config(own).mark_band == 0.05
    own.write_text("[mark_band]\nmax_deviation = -0.05\n")
    with pytest.raises(InputError, match=r"breakers\.toml: mark_band\.max_deviation"):
        load_breaker_config(own)
    own.write_text("[resume]\nclean_updatez = 3\n")
    with pytest.raises(InputError, match=r"resume\.clean_updatez"):
        load_breaker_config(own)
    own.write_text("[stale]\nenabled = 1\n")
    with pytest.raises(InputError, match=r"stale\.enabled"):
        load_breaker_config(own)


def test_disabled_breakers_apply_the_tick(book):
    config = replace(CONFIG, mark_band_enabled=False, index_jump_enabled=False)
    monitor = _monitor(book, config)
    events = monitor.apply(at(1, index={"BTC": BTC0 * 1.3},
                              marks={"BTC-PERPETUAL": {"price": BTC0 * 1.0}}))  # fmt: skip
    assert _pauses(events) == []
    assert monitor.market.index["BTC"] == BTC0 * 1.3


def test_a_new_book_keeps_the_feed_state(book):
    monitor = _monitor(book)
    monitor.apply(at(1, index={"BTC": math.nan}))
    assert monitor.paused_underlyings == frozenset({"BTC"})
    smaller = arrange(portfolio(3, 15), market())
    moved = monitor.with_book(smaller)
    assert moved.paused_underlyings == frozenset({"BTC"})
    assert moved.now == monitor.now
    assert moved.account_ids == smaller.account_ids
    fresh = _monitor(smaller)
    assert list(moved.equity) == pytest.approx(list(fresh.equity), rel=1e-12)


def test_the_jump_window_low_and_high_are_min_and_max_of_its_references() -> None:
    """The window's monotonic low/high equal min/max over a plain list, whatever is done."""
    import random

    from pmargin.monitor._breakers import _Window

    rng = random.Random(17)
    start = parse_timestamp(T0)
    window, plain = _Window(), []
    for k in range(3_000):
        op = rng.random()
        if op < 0.6 or not plain:
            item = (
                start + timedelta(seconds=k),
                float(rng.choice([99.0, 100.0, 101.0, rng.uniform(90, 110)])),
            )
            window.append(item)
            plain.append(item)
        elif op < 0.9:
            assert window.popleft() == plain.pop(0)
        elif op < 0.97:
            assert window.pop() == plain.pop()
        elif op < 0.99:
            window = window.copy()
        else:
            window.clear()
            plain.clear()
        assert len(window) == len(plain)
        if plain:
            assert (window.low, window.high) == (min(p for _, p in plain), max(p for _, p in plain))
            assert (window[0], window[-1]) == (plain[0], plain[-1])
