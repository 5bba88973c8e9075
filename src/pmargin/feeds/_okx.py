"""OKX's public WebSocket (v5, ``wss://ws.okx.com:8443/ws/v5/public``).

Channels read (``{"op": "subscribe", "args": [...]}``), and what each row becomes:

===================================  ===============================  ========================
channel (argument)                   row fields read                  tick
===================================  ===============================  ========================
``index-tickers`` (``instId``        ``instId``, ``idxPx``, ``ts``    index of ``BTC`` (USD)
``BTC-USD``)
``mark-price`` (``instId``           ``instId``, ``markPx``, ``ts``   mark of the swap or
``BTC-USD-SWAP``, a future)                                           future (USD inverse,
                                                                      USDT/USDC linear)
``opt-summary`` (``instFamily``      ``instId``, ``markVol``, ``ts``  iv of the option
``BTC-USD``)                                                          (decimal, as sent)
===================================  ===============================  ========================

Numbers and times arrive as text (``"0.4312"``, ``"1597026383085"``). OKX closes a connection
that has been silent for 30 s: the feed sends the text ``ping`` when the line is quiet and
OKX answers ``pong``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pmargin.feeds._types import Message, VenueTick
from pmargin.feeds._universe import Universe
from pmargin.feeds._venue import (
    BadFrameError,
    VenueProtocol,
    epoch_ms,
    load_frame,
    number,
    read_rows,
)
from pmargin.feeds._venue import text as text_field

__all__ = ["OKX_URL", "OkxProtocol"]

OKX_URL = "wss://ws.okx.com:8443/ws/v5/public"
"""OKX's production public WebSocket endpoint."""

_INDEX = "index-tickers"
_MARK = "mark-price"
_OPTIONS = "opt-summary"
_ARG_FIELD = {_INDEX: "instId", _MARK: "instId", _OPTIONS: "instFamily"}
_ACK_EVENTS = ("subscribe", "unsubscribe", "channel-conn-count")


class OkxProtocol(VenueProtocol):
    """OKX's channels and frames (see the module docstring); ``url``: as the base's."""

    name = "okx"
    default_url = OKX_URL
    keepalive = "ping"

    def channels(self, universe: Universe) -> list[str]:
        """Return ``channel:argument`` for every index, mark and option family followed."""
        found = {f"{_INDEX}:{u}-USD" for u in universe.underlyings}
        found.update(f"{_MARK}:{f.symbol}" for f in universe.futures())
        found.update(f"{_OPTIONS}:{o.underlying}-{o.quote}" for o in universe.options())
        return sorted(found)

    def subscribe_frames(self, channels: list[str]) -> list[str]:
        """One ``subscribe`` operation with an argument per channel."""
        args = []
        for channel in channels:
            name, _, value = channel.partition(":")
            args.append({"channel": name, _ARG_FIELD[name]: value})
        return [json.dumps({"op": "subscribe", "args": args})] if args else []

    def parse(self, frame: str) -> Message:
        """Read one frame: a push, an event (subscribe, error, notice) or ``pong``."""
        if frame == "pong":
            return Message("heartbeat")
        try:
            document = load_frame(frame)
        except BadFrameError as exc:
            return Message("malformed", detail=str(exc))
        event = document.get("event")
        if event is not None:
            return _event(event, document)
        arg = document.get("arg")
        if not isinstance(arg, Mapping) or not isinstance(arg.get("channel"), str):
            return Message("malformed", detail="a push without arg.channel")
        channel = str(arg["channel"])
        data = document.get("data")
        if not isinstance(data, list):
            return Message("malformed", channel=channel, detail="data is not a list")
        if channel == _INDEX:
            return read_rows(data, channel, _index_tick)
        if channel == _MARK:
            return read_rows(data, channel, _mark_tick)
        if channel == _OPTIONS:
            return read_rows(data, channel, _option_tick)
        return Message("unknown", channel=channel, detail=f"channel {channel!r}")


def _event(event: Any, document: Mapping[str, Any]) -> Message:
    detail = f"{document.get('code', '')}: {document.get('msg', '')}".strip(": ")
    if event in _ACK_EVENTS:
        return Message("ack", detail=json.dumps(document.get("arg"))[:200])
    if event == "error":
        return Message("venue_error", detail=detail)
    if event == "notice":
        return Message("notice", detail=detail)
    return Message("unknown", detail=f"event {event!r}")


def _index_tick(row: Mapping[str, Any]) -> VenueTick:
    inst = text_field(row, "instId")
    base, _, quote = inst.partition("-")
    if quote != "USD" or not base:
        raise BadFrameError(f"instId {inst!r} is not a USD index (BTC-USD)")
    return VenueTick("index", base, number(row, "idxPx"), epoch_ms(row, "ts"))


def _mark_tick(row: Mapping[str, Any]) -> VenueTick:
    symbol = text_field(row, "instId")
    return VenueTick("mark", symbol, number(row, "markPx"), epoch_ms(row, "ts"))


def _option_tick(row: Mapping[str, Any]) -> VenueTick:
    symbol = text_field(row, "instId")
    return VenueTick("iv", symbol, number(row, "markVol"), epoch_ms(row, "ts"))
