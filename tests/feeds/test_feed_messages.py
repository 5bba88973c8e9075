"""Venue frames into ticks, what a feed follows, its ordering and staleness rules, back-off.

Frames are written from the venues' documented shapes with our own values. Reading a frame
never raises: the recorded streams and random text and JSON are read to a message.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import pytest
from _feed_replay import T0, read_stream, sent_ticks
from hypothesis import given
from hypothesis import strategies as st

from pmargin.engine import EXAMPLE_MARKET, example_path
from pmargin.errors import InputError
from pmargin.feeds import (
    DeribitProtocol,
    FeedState,
    Message,
    OkxProtocol,
    Universe,
    VenueTick,
    backoff_delay,
    universe_for,
)

MARKET: dict[str, Any] = json.loads(example_path(EXAMPLE_MARKET).read_text())


def _deribit(channel: str, data: Any) -> str:
    params = {"channel": channel, "data": data}
    return json.dumps({"jsonrpc": "2.0", "method": "subscription", "params": params})


def _okx(channel: str, arg: dict[str, str], rows: Any) -> str:
    return json.dumps({"arg": {"channel": channel, **arg}, "data": rows})


# --- Deribit -----------------------------------------------------------------------------


def test_deribit_index_options_and_ticker_rows() -> None:
    venue = DeribitProtocol()
    index = venue.parse(
        _deribit(
            "deribit_price_index.eth_usd",
            {"timestamp": T0, "price": 3415.25, "index_name": "eth_usd"},
        )
    )
    assert index == Message(
        "data", (VenueTick("index", "ETH", 3415.25, T0),), "deribit_price_index.eth_usd"
    )
    rows = [
        {"timestamp": T0, "mark_price": 0.0301, "iv": 0.4912, "instrument_name": "BTC-X-P"},
        {"timestamp": T0 + 1, "mark_price": 0.02, "iv": 0.61, "instrument_name": "BTC-Y-C"},
    ]
    options = venue.parse(_deribit("markprice.options.btc_usd", rows))
    assert options.ticks == (
        VenueTick("iv", "BTC-X-P", 0.4912, T0),  # decimal, as sent
        VenueTick("iv", "BTC-Y-C", 0.61, T0 + 1),
    )
    future = {"timestamp": T0, "instrument_name": "BTC-PERPETUAL", "mark_price": 101702.5}
    assert venue.parse(_deribit("ticker.BTC-PERPETUAL.100ms", future)).ticks == (
        VenueTick("mark", "BTC-PERPETUAL", 101702.5, T0),
    )
    option = {"timestamp": T0, "instrument_name": "BTC-X-P", "mark_price": 0.03, "mark_iv": 55.3}
    (tick,) = venue.parse(_deribit("ticker.BTC-X-P.100ms", option)).ticks
    assert tick.field == "iv"
    assert tick.value == pytest.approx(0.553, rel=1e-15)  # percent -> decimal
    change = {"type": "change", "timestamp": T0, "instrument_name": "BTC-PERPETUAL"}
    assert venue.parse(_deribit("incremental_ticker.BTC-PERPETUAL", change)) == Message(
        "data", (), "incremental_ticker.BTC-PERPETUAL"
    )


def test_deribit_heartbeats_replies_errors_and_bad_frames() -> None:
    venue = DeribitProtocol()
    probe = venue.parse(
        '{"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}'
    )
    assert probe.kind == "heartbeat"
    assert probe.reply is not None
    assert json.loads(probe.reply)["method"] == "public/test"
    beat = venue.parse('{"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "heartbeat"}}')
    assert (beat.kind, beat.reply) == ("heartbeat", None)
    assert venue.parse('{"jsonrpc": "2.0", "id": 2, "result": ["a"]}').kind == "ack"
    error = venue.parse('{"jsonrpc": "2.0", "id": 2, "error": {"code": 11050, "message": "bad"}}')
    assert (error.kind, error.detail) == ("venue_error", "11050: bad")
    assert venue.parse(_deribit("trades.BTC-PERPETUAL.raw", [])).kind == "unknown"
    assert venue.parse("[1, 2]").kind == "malformed"
    assert venue.parse("{oops").kind == "malformed"
    stale = {"timestamp": "yesterday", "price": 1.0, "index_name": "btc_usd"}
    assert venue.parse(_deribit("deribit_price_index.btc_usd", stale)).kind == "malformed"
    rows = [
        {"timestamp": T0, "iv": 0.5, "instrument_name": "BTC-X-P"},
        {"timestamp": T0, "iv": True, "instrument_name": "BTC-Y-P"},
        "not a row",
    ]
    mixed = venue.parse(_deribit("markprice.options.btc_usd", rows))
    assert (mixed.kind, len(mixed.ticks), mixed.bad_rows) == ("data", 1, 2)


def test_deribit_channels_and_frames() -> None:
    universe = universe_for(
        "deribit",
        MARKET,
        underlyings=("BTC",),
        instruments=(),
    )
    venue = DeribitProtocol()
    channels = venue.channels(universe)
    assert channels[:3] == [
        "deribit_price_index.btc_usd",
        "markprice.options.btc_usd",
        "markprice.options.btc_usdc",
    ]
    assert "ticker.BTC-PERPETUAL.100ms" in channels
    assert "ticker.BTC_USDC-PERPETUAL.100ms" in channels
    assert not any("eth" in c.lower() for c in channels)
    (opening,) = venue.open_frames()
    assert json.loads(opening)["params"] == {"interval": 10}
    (subscribe,) = venue.subscribe_frames(channels)
    assert json.loads(subscribe)["params"]["channels"] == channels
    assert venue.subscribe_frames([]) == []


# --- OKX ---------------------------------------------------------------------------------


def test_okx_index_marks_and_option_vols() -> None:
    venue = OkxProtocol()
    row = {"instId": "BTC-USD", "idxPx": "101700.5", "ts": str(T0)}
    assert venue.parse(_okx("index-tickers", {"instId": "BTC-USD"}, [row])).ticks == (
        VenueTick("index", "BTC", 101700.5, T0),
    )
    usdt = {"instId": "BTC-USDT", "idxPx": "101690.1", "ts": str(T0)}
    assert venue.parse(_okx("index-tickers", {"instId": "BTC-USDT"}, [usdt])).kind == "malformed"
    mark = {"instType": "SWAP", "instId": "BTC-USD-SWAP", "markPx": "101702.1", "ts": str(T0)}
    assert venue.parse(_okx("mark-price", {"instId": "BTC-USD-SWAP"}, [mark])).ticks == (
        VenueTick("mark", "BTC-USD-SWAP", 101702.1, T0),
    )
    vol = {"instId": "BTC-USD-251226-90000-P", "markVol": "0.4921", "ts": str(T0)}
    assert venue.parse(_okx("opt-summary", {"instFamily": "BTC-USD"}, [vol])).ticks == (
        VenueTick("iv", "BTC-USD-251226-90000-P", 0.4921, T0),
    )
    empty = vol | {"markVol": ""}
    assert venue.parse(_okx("opt-summary", {"instFamily": "BTC-USD"}, [empty])).kind == (
        "malformed"
    )


def test_okx_events_pong_and_unknown() -> None:
    venue = OkxProtocol()
    assert venue.parse("pong").kind == "heartbeat"
    ack = '{"event": "subscribe", "arg": {"channel": "index-tickers", "instId": "BTC-USD"}}'
    assert venue.parse(ack).kind == "ack"
    error = venue.parse('{"event": "error", "code": "60012", "msg": "Invalid request"}')
    assert (error.kind, error.detail) == ("venue_error", "60012: Invalid request")
    assert venue.parse('{"event": "notice", "code": "64008", "msg": "soon"}').kind == "notice"
    assert venue.parse('{"event": "login", "code": "0"}').kind == "unknown"
    assert venue.parse(_okx("trades", {"instId": "BTC-USD-SWAP"}, [])).kind == "unknown"
    assert venue.parse('{"data": []}').kind == "malformed"
    assert venue.parse(_okx("mark-price", {"instId": "X"}, {"markPx": "1"})).kind == "malformed"


def test_okx_channels_and_frame() -> None:
    universe = Universe(frozenset({"BTC"}))
    universe = universe_for("okx", None, underlyings=("BTC",), instruments=("BTC-USD-SWAP",))
    venue = OkxProtocol()
    channels = venue.channels(universe)
    assert channels == ["index-tickers:BTC-USD", "mark-price:BTC-USD-SWAP"]
    (frame,) = venue.subscribe_frames(channels)
    assert json.loads(frame) == {
        "op": "subscribe",
        "args": [
            {"channel": "index-tickers", "instId": "BTC-USD"},
            {"channel": "mark-price", "instId": "BTC-USD-SWAP"},
        ],
    }
    assert venue.keepalive == "ping"


# --- never crash -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("venue", "stream"),
    [
        (DeribitProtocol(), "deribit_replay"),
        (DeribitProtocol(), "deribit_breakers"),
        (OkxProtocol(), "okx_replay"),
    ],
)
def test_every_recorded_frame_reads(venue: Any, stream: str) -> None:
    kinds = {venue.parse(json.dumps(frame)).kind for frame in sent_ticks(read_stream(stream))}
    assert "data" in kinds
    assert kinds <= {"data", "ack", "heartbeat", "venue_error", "notice", "unknown", "malformed"}


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_SHAPES = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["subscription", "heartbeat", "x"]),
        "params": st.fixed_dictionaries(
            {
                "channel": st.sampled_from(
                    ["deribit_price_index.btc_usd", "markprice.options.btc_usd", "ticker.X.100ms"]
                ),
                "data": _JSON,
            }
        ),
    }
) | st.fixed_dictionaries(
    {
        "arg": st.fixed_dictionaries(
            {"channel": st.sampled_from(["index-tickers", "mark-price", "opt-summary"])}
        ),
        "data": _JSON,
    }
)


@given(frame=st.text(max_size=40) | _JSON.map(json.dumps) | _SHAPES.map(json.dumps))
def test_no_frame_raises(frame: str) -> None:
    for venue in (DeribitProtocol(), OkxProtocol()):
        message = venue.parse(frame)
        assert all(isinstance(t.timestamp_ms, int) for t in message.ticks)


# --- what a feed follows ------------------------------------------------------------------


def test_universe_from_the_service_market() -> None:
    universe = universe_for("deribit", MARKET)
    assert universe.underlyings == {"BTC", "ETH"}  # SPX: no Deribit index, no Deribit symbol
    assert "BTC-PERPETUAL" in universe.instruments
    assert not universe.instruments["BTC-PERPETUAL"].option
    assert universe.instruments["BTC-26DEC25-90000-P"].option
    assert universe.instruments["BTC_USDC-30JAN26-100000-P"].quote == "USDC"
    assert universe.source == "service"
    okx = universe_for("okx", MARKET | {"marks": MARKET["marks"] | {"BTC-USD-SWAP": {}}})
    assert set(okx.instruments) == {"BTC-USD-SWAP"}
    assert okx.skipped["BTC-PERPETUAL"] == "a deribit symbol"
    narrowed = universe_for("deribit", MARKET, underlyings=("eth",))
    assert narrowed.underlyings == {"ETH"}
    assert {f.underlying for f in narrowed.instruments.values()} == {"ETH"}
    assert narrowed.wants(VenueTick("index", "ETH", 1.0, T0))
    assert not narrowed.wants(VenueTick("index", "BTC", 1.0, T0))
    assert not narrowed.wants(VenueTick("mark", "ETH-26DEC25-3500-C", 1.0, T0))  # iv only


def test_universe_refusals() -> None:
    with pytest.raises(InputError, match="--underlying"):
        universe_for("deribit", None)
    with pytest.raises(InputError) as caught:
        universe_for("deribit", MARKET, instruments=("BTC-USD-SWAP",))
    assert caught.value.field == "--instrument"
    with pytest.raises(InputError):
        universe_for("deribit", None, underlyings=("BTC",), instruments=("NOT A SYMBOL",))
    bare = universe_for("deribit", None, underlyings=("BTC",))
    assert (bare.underlyings, dict(bare.instruments), bare.source) == (
        {"BTC"},
        {},
        "command line",
    )


# --- order, batches, gaps, staleness ------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _state(clock: _Clock | None = None) -> FeedState:
    universe = universe_for(
        "deribit", None, underlyings=("BTC", "ETH"), instruments=("BTC-PERPETUAL",)
    )
    return FeedState(universe, stale_seconds=5.0, gap_seconds=10.0, clock=clock or _Clock())


def _data(*ticks: VenueTick) -> Message:
    return Message("data", ticks)


def test_out_of_order_ticks_are_dropped_and_batches_conflate() -> None:
    state = _state()
    state.receive(_data(VenueTick("index", "BTC", 101.0, T0 + 1000)))
    state.receive(_data(VenueTick("index", "BTC", 99.0, T0 + 500)))  # older: dropped
    state.receive(_data(VenueTick("index", "BTC", 102.0, T0 + 1000)))  # same time: replaces
    state.receive(_data(VenueTick("mark", "BTC-PERPETUAL", 103.0, T0 + 900)))
    state.receive(_data(VenueTick("index", "SOL", 150.0, T0)))  # not followed
    assert state.stats.out_of_order == 1
    assert (state.stats.ticks, state.stats.followed) == (5, 4)
    (batch,) = state.take_batches()
    assert batch == [
        {"instrument": "BTC-PERPETUAL", "mark": 103.0, "timestamp": T0 + 900},
        {"underlying": "BTC", "index": 102.0, "timestamp": T0 + 1000},
    ]
    assert state.take_batches() == []


def test_a_tick_behind_the_posted_time_is_posted_late() -> None:
    state = _state()
    state.receive(_data(VenueTick("index", "BTC", 101.0, T0 + 1000)))
    assert state.take_batches()[0][0]["timestamp"] == T0 + 1000
    state.receive(_data(VenueTick("index", "ETH", 3400.0, T0 + 800)))  # its own stream: new
    state.receive(_data(VenueTick("index", "BTC", 101.5, T0 + 1200)))
    (batch,) = state.take_batches()
    assert [t["timestamp"] for t in batch] == [T0 + 1000, T0 + 1200]  # ETH raised to 1000
    assert state.stats.late == 1


def test_batches_split_at_the_request_limit() -> None:
    state = _state()
    for i in range(5):
        state.receive(_data(VenueTick("index", "BTC", 100.0 + i, T0 + i)))
        state.receive(_data(VenueTick("index", "ETH", 10.0 + i, T0 + i)))
    state.receive(_data(VenueTick("mark", "BTC-PERPETUAL", 100.0, T0 + 9)))
    assert [len(b) for b in state.take_batches(limit=2)] == [2, 1]


def test_index_gaps_in_venue_time_are_counted() -> None:
    state = _state()
    state.receive(_data(VenueTick("index", "BTC", 100.0, T0)))
    state.receive(_data(VenueTick("index", "BTC", 100.0, T0 + 10_000)))  # exactly the limit
    state.receive(_data(VenueTick("index", "BTC", 100.0, T0 + 20_001)))
    state.receive(_data(VenueTick("mark", "BTC-PERPETUAL", 100.0, T0)))
    state.receive(_data(VenueTick("mark", "BTC-PERPETUAL", 100.0, T0 + 60_000)))  # marks: no
    assert state.stats.gaps == 1


def test_stale_underlyings_are_reported_once_and_recover(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pmargin.feeds")
    clock = _Clock()
    state = _state(clock)
    clock.now += 4.0
    state.receive(_data(VenueTick("index", "BTC", 100.0, T0)))
    assert state.check_stale() == []
    clock.now += 2.0  # ETH silent for 6 s > 5 s; BTC for 2 s
    assert state.check_stale() == ["ETH"]
    assert state.check_stale() == []  # reported once
    assert state.stats.stale == ["ETH"]
    clock.now += 4.0
    assert state.check_stale() == ["BTC"]
    state.receive(_data(VenueTick("mark", "BTC-PERPETUAL", 100.0, T0 + 1)))  # BTC again
    assert state.stats.stale == ["ETH"]
    assert "stale: no ETH tick for 6.0 s" in caplog.text
    assert "fresh: BTC again after 0.0 s stale" in caplog.text
    assert "stale: ETH" in state.stats.line("deribit")


def test_other_frames_are_counted() -> None:
    state = _state()
    for kind in ("malformed", "unknown", "venue_error", "notice", "heartbeat", "ack"):
        state.receive(Message(kind))  # type: ignore[arg-type]
    state.receive(Message("data", (), bad_rows=2))
    stats = state.stats
    assert (stats.frames, stats.malformed, stats.unknown) == (7, 3, 1)
    assert (stats.venue_errors, stats.notices, stats.heartbeats) == (1, 1, 1)


# --- back-off ------------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(a, 0.5, 30.0, rng) for a in range(12)]
    for attempt, delay in enumerate(delays):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 30.0
    assert delays[6:] != [delays[6]] * 6  # jittered, not one fixed value
    again = random.Random(3)
    assert delays == [backoff_delay(a, 0.5, 30.0, again) for a in range(12)]  # seeded
    assert backoff_delay(10_000, 0.5, 30.0, rng) <= 30.0
