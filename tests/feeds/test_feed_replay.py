"""A feed end to end: recorded venue streams replayed on loopback into the real service app.

Each test serves a recorded stream (``fixtures/*.jsonl``, see ``_feed_replay.py``) from a
local WebSocket server, runs :func:`pmargin.feeds.run_feed` against it, posting to the real
app in process (httpx's ASGI transport), and checks the service's market after the replay:
the newest index, marks and vols of what the service holds, nothing else, with the
disconnect (reconnect and re-subscribe), out-of-order, malformed and unknown frames counted.
Every stream ends with a round trip (Deribit ``test_request`` -> ``public/test``, OKX
``ping`` -> ``pong``), so the replay is over exactly when the feed has read every frame.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from _feed_replay import ReplayServer, read_stream
from _feed_service import Service

from pmargin.errors import InputError
from pmargin.feeds import FeedConfig, FeedStats, run_feed

REPLAY_TIMEOUT = 20.0
"""Seconds a replay may take before the test fails (each takes well under one)."""


async def _replay(
    service: Service, venue: str, stream: str, **options: Any
) -> tuple[FeedStats, ReplayServer]:
    async with ReplayServer(read_stream(stream)) as server:
        config = FeedConfig(
            venue=venue,
            to="http://service.test",
            key=options.pop("key", service.feed_key),
            url=server.url,
            interval=0.02,
            backoff_base=0.02,
            backoff_cap=0.1,
            keepalive_seconds=0.2,
            silence_seconds=5.0,
            seed=7,
            **options,
        )
        stop = asyncio.Event()
        transport = httpx.ASGITransport(app=service.app)
        feed = asyncio.create_task(run_feed(config, transport=transport, stop=stop))
        over = asyncio.create_task(server.done.wait())
        await asyncio.wait([feed, over], timeout=REPLAY_TIMEOUT, return_when="FIRST_COMPLETED")
        if feed.done():  # stopped early: its error, or a failure
            over.cancel()
            feed.result()
            pytest.fail("the feed stopped before the stream was over")
        assert over.done(), "the replay did not finish in time"
        stop.set()
        stats = await feed
    return stats, server


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def _subscriptions(frames: list[str], method: str) -> list[list[str]]:
    found = [json.loads(f) for f in frames if f.startswith("{")]
    return [sorted(d["params"]["channels"]) for d in found if d.get("method") == method]


def _assert_newest(market: dict[str, Any], marks: dict[str, Any], absent: str) -> None:
    """Both streams end with BTC at 101,800.25 and ETH at 3,420.75; then the marks given."""
    assert market["index"]["BTC"] == 101800.25
    assert market["index"]["ETH"] == 3420.75
    assert {symbol: market["marks"][symbol] for symbol in marks} == marks
    assert absent not in market["marks"]


def test_deribit_replay_sets_the_service_market(deribit_service: Service) -> None:
    stats, server = run(_replay(deribit_service, "deribit", "deribit_replay"))
    _assert_newest(
        deribit_service.market(),
        {
            "BTC-PERPETUAL": {"price": 101805.5},
            "BTC-26DEC25-90000-P": {"iv": 0.4955},  # the newest row of its stream
            "BTC-28NOV25-95000-P": {"iv": 0.5123},  # was a mark price: now the venue's IV
            "BTC-26DEC25-115000-C": {"iv": 0.4501},  # its later row had no iv: skipped
            "ETH-26DEC25-3500-C": {"iv": 0.7655},
        },
        absent="BTC-26DEC25-200000-C",  # the service does not hold it
    )
    # The disconnect: a second connection, which asked for heartbeats and re-subscribed.
    assert len(server.received) == 2
    first, second = (_subscriptions(frames, "public/subscribe") for frames in server.received)
    assert first == second
    assert len(first) == 1
    assert {
        "deribit_price_index.btc_usd",
        "deribit_price_index.eth_usd",
        "markprice.options.btc_usd",
        "markprice.options.btc_usdc",
        "markprice.options.eth_usd",
        "ticker.BTC-PERPETUAL.100ms",
        "ticker.ETH-27MAR26.100ms",
    } <= set(first[0])
    assert all('"public/set_heartbeat"' in f[0] for f in server.received)
    assert stats.reconnects == 1
    assert stats.out_of_order == 1  # BTC at T0+500 after T0+1000
    assert stats.malformed == 3  # cut JSON, a price "n/a", a row with iv null
    assert stats.unknown == 1  # a book channel
    assert stats.heartbeats == 2  # a heartbeat and the final test_request
    assert (stats.refused, stats.undelivered, stats.venue_errors, stats.gaps) == (0, 0, 0, 0)
    assert stats.paused == []
    assert stats.posted >= 7  # every stream of the final market, at least once
    assert stats.batches >= 1
    assert deribit_service.events("breaker") == []


def test_deribit_garbled_and_stale_prices_reach_the_breakers(deribit_service: Service) -> None:
    """A negative index trips the invalid-price breaker; ETH silent for 62 s, the stale one."""
    stats, _ = run(_replay(deribit_service, "deribit", "deribit_breakers"))
    reasons = {
        e["data"]["underlying"]: e["data"]["reason"]
        for e in deribit_service.events("breaker")
        if e["data"]["event"] == "liquidation_pause"
    }
    assert reasons == {"BTC": "invalid_price", "ETH": "stale_feed"}
    assert stats.paused == ["BTC", "ETH"]
    assert stats.gaps == 1  # BTC's index jumped 62 s in venue time
    assert deribit_service.market()["index"]["BTC"] > 0.0  # the bad price was never applied


def test_okx_replay_sets_the_service_market(okx_service: Service) -> None:
    stats, server = run(_replay(okx_service, "okx", "okx_replay"))
    _assert_newest(
        okx_service.market(),
        {
            "BTC-USD-SWAP": {"price": 101805.5},
            "BTC-USD-251226": {"price": 102090.4},
            "BTC-USD-251226-90000-P": {"iv": 0.4955},
        },
        absent="BTC-USD-251226-200000-C",
    )
    assert len(server.received) == 2
    subscribed = [
        [json.loads(f) for f in frames if f.startswith('{"op"')] for frames in server.received
    ]
    assert subscribed[0] == subscribed[1]
    assert len(subscribed[0]) == 1
    args = {
        (a["channel"], a.get("instId") or a.get("instFamily")) for a in subscribed[0][0]["args"]
    }
    assert args == {
        ("index-tickers", "BTC-USD"),
        ("index-tickers", "ETH-USD"),
        ("mark-price", "BTC-USD-SWAP"),
        ("mark-price", "BTC-USD-251226"),
        ("mark-price", "ETH-USD-SWAP"),
        ("opt-summary", "BTC-USD"),
    }
    assert "ping" in server.received[1]
    assert stats.reconnects == 1
    assert stats.out_of_order == 1
    assert stats.malformed == 3  # data not a list, ts "yesterday", an HTML page
    assert stats.unknown == 1  # the tickers channel
    assert stats.venue_errors == 1
    assert stats.notices == 1
    assert stats.heartbeats >= 1  # pong
    assert (stats.refused, stats.undelivered, stats.paused) == (0, 0, [])


def test_without_get_market_the_feed_follows_what_it_is_told(bare_service: Service) -> None:
    before = bare_service.market()
    stats, _ = run(
        _replay(
            bare_service,
            "deribit",
            "deribit_replay",
            underlyings=("BTC",),
            instruments=("BTC-PERPETUAL",),
        )
    )
    market = bare_service.market()
    assert market["index"]["BTC"] == 101800.25
    assert market["marks"]["BTC-PERPETUAL"] == {"price": 101805.5}
    assert market["index"]["ETH"] == before["index"]["ETH"]  # not followed
    assert market["marks"]["BTC-26DEC25-90000-P"] == before["marks"]["BTC-26DEC25-90000-P"]
    assert stats.refused == 0


def test_without_get_market_or_underlying_the_feed_stops(bare_service: Service) -> None:
    with pytest.raises(InputError) as caught:
        run(_replay(bare_service, "deribit", "deribit_replay"))
    assert caught.value.field == "--underlying"


def test_a_refused_key_stops_the_feed(deribit_service: Service) -> None:
    with pytest.raises(InputError) as caught:
        run(_replay(deribit_service, "deribit", "deribit_replay", key="pmk_nobody_secret"))
    assert caught.value.field == "--key"
