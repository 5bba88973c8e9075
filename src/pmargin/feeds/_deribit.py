"""Deribit's public WebSocket (JSON-RPC 2.0, ``wss://www.deribit.com/ws/api/v2``).

Channels read (``public/subscribe``), and what each row becomes:

================================  ==============================  ==========================
channel                           row fields read                 tick
================================  ==============================  ==========================
``deribit_price_index.btc_usd``   ``price``, ``timestamp``        index of ``BTC`` (USD)
``markprice.options.btc_usd``     ``instrument_name``, ``iv``,    iv of the option (decimal
                                  ``timestamp``                   as sent: 0.55 = 55 %)
``ticker.{instrument}.100ms``     ``instrument_name``,            mark of a future or
(and ``incremental_ticker.*``)    ``mark_price``, ``timestamp``;  perpetual (USD for
                                  options: ``mark_iv``            inverse, USDC linear);
                                                                  an option's ``mark_iv`` is
                                                                  in percent: / 100
================================  ==============================  ==========================

Index names: ``btc_usd`` and ``eth_usd``; other coins' ``{coin}_usdc``. Options settle in the
coin on ``markprice.options.{coin}_usd`` and in USDC on ``{coin}_usdc``. After connecting the
feed asks for heartbeats (``public/set_heartbeat``, every 10 s) and answers each
``test_request`` with ``public/test``, as Deribit requires to keep the connection.
"""

from __future__ import annotations

import itertools
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

__all__ = ["DERIBIT_URL", "DeribitProtocol"]

DERIBIT_URL = "wss://www.deribit.com/ws/api/v2"
"""Deribit's production WebSocket endpoint (JSON-RPC over WebSocket)."""

HEARTBEAT_SECONDS = 10
"""The heartbeat interval asked of Deribit (its minimum)."""

_USD_INDEXES = ("BTC", "ETH")
_INDEX = "deribit_price_index"
_OPTIONS = "markprice.options"
_TICKERS = ("ticker", "incremental_ticker")
_FUTURES_INTERVAL = "100ms"


class DeribitProtocol(VenueProtocol):
    """Deribit's channels and frames (see the module docstring); ``url``: as the base's."""

    name = "deribit"
    default_url = DERIBIT_URL
    main_indexes = _USD_INDEXES

    def __init__(self, url: str | None = None) -> None:
        super().__init__(url)
        self._ids = itertools.count(1)

    def channels(self, universe: Universe) -> list[str]:
        """Return the index, option mark and futures ticker channels of the universe."""
        found = {f"{_INDEX}.{_index_name(u, 'USD')}" for u in universe.underlyings}
        for option in universe.options():
            quote = "USD" if option.inverse else option.quote
            found.add(f"{_OPTIONS}.{_index_name(option.underlying, quote)}")
        for future in universe.futures():
            found.add(f"ticker.{future.symbol}.{_FUTURES_INTERVAL}")
        return sorted(found)

    def open_frames(self) -> list[str]:
        """Ask for heartbeats (``public/set_heartbeat``)."""
        return [self._request("public/set_heartbeat", {"interval": HEARTBEAT_SECONDS})]

    def subscribe_frames(self, channels: list[str]) -> list[str]:
        """One ``public/subscribe`` request for every channel."""
        return [self._request("public/subscribe", {"channels": channels})] if channels else []

    def parse(self, frame: str) -> Message:
        """Read one frame: a subscription notification, a heartbeat, a reply or an error."""
        try:
            document = load_frame(frame)
        except BadFrameError as exc:
            return Message("malformed", detail=str(exc))
        method = document.get("method")
        params = document.get("params")
        if method == "heartbeat":
            kind = params.get("type") if isinstance(params, Mapping) else None
            reply = self._request("public/test", {}) if kind == "test_request" else None
            return Message("heartbeat", reply=reply)
        if method == "subscription":
            return self._notification(params)
        if "error" in document:
            error = document["error"]
            detail = (
                f"{error.get('code')}: {error.get('message')}"
                if isinstance(error, Mapping)
                else repr(error)
            )
            return Message("venue_error", detail=detail)
        if "result" in document and "id" in document:
            return Message("ack", detail=json.dumps(document["result"])[:200])
        return Message("unknown", detail=f"method {method!r}")

    def _notification(self, params: Any) -> Message:
        if not isinstance(params, Mapping):
            return Message("malformed", detail="subscription without params")
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel:
            return Message("malformed", detail=f"channel is {channel!r}")
        data = params.get("data")
        head = channel.split(".")[0]
        if head == _INDEX:
            code = channel.split(".", 1)[1].split("_")[0].upper() if "." in channel else ""
            return read_rows(data, channel, lambda row: _index_tick(row, code))
        if channel.startswith(f"{_OPTIONS}."):
            return read_rows(data, channel, _option_tick)
        if head in _TICKERS:
            return read_rows(data, channel, _ticker_tick)
        return Message("unknown", channel=channel, detail=f"channel {channel!r}")

    def _request(self, method: str, params: Mapping[str, Any]) -> str:
        return json.dumps(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        )


def _index_name(underlying: str, quote: str) -> str:
    """Deribit's index of an underlying: ``btc_usd``, ``eth_usd``, ``sol_usdc``."""
    if quote == "USD" and underlying not in _USD_INDEXES:
        quote = "USDC"
    return f"{underlying.lower()}_{quote.lower()}"


def _index_tick(row: Mapping[str, Any], code: str) -> VenueTick:
    if not code:
        raise BadFrameError("index channel without an index name")
    return VenueTick("index", code, number(row, "price"), epoch_ms(row, "timestamp"))


def _option_tick(row: Mapping[str, Any]) -> VenueTick:
    symbol = text_field(row, "instrument_name")
    return VenueTick("iv", symbol, number(row, "iv"), epoch_ms(row, "timestamp"))


def _ticker_tick(row: Mapping[str, Any]) -> VenueTick | None:
    symbol = text_field(row, "instrument_name")
    stamp = epoch_ms(row, "timestamp")
    if "mark_iv" in row:  # an option's ticker: mark IV in percent
        return VenueTick("iv", symbol, number(row, "mark_iv") / 100.0, stamp)
    if "mark_price" not in row:  # an incremental update that left the mark alone
        return None
    return VenueTick("mark", symbol, number(row, "mark_price"), stamp)
