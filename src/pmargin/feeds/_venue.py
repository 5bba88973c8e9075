"""The contract of a venue module, and the frame-reading rules both venues share.

A venue module says where to connect, which channels follow a :class:`~pmargin.feeds.
Universe`, what to send after connecting and to subscribe, what keeps a quiet line alive, and
how to read one text frame into a :class:`~pmargin.feeds.Message`. Reading never raises: a
frame that is not JSON, or not the shape the venue documents, is a ``"malformed"`` message;
a data frame with some unreadable rows keeps the readable ones and counts the others.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

from pmargin.feeds._types import Message, VenueTick
from pmargin.feeds._universe import Universe

__all__ = [
    "BadFrameError",
    "VenueProtocol",
    "epoch_ms",
    "load_frame",
    "number",
    "read_rows",
    "text",
]

_EPOCH_MS_RANGE = (1e11, 1e14)
"""Epoch milliseconds between 1973 and 5138: anything else is not a venue's event time."""


class BadFrameError(Exception):
    """A frame or row that is not the documented shape (the reason is the message)."""


class VenueProtocol(ABC):
    """One venue's public WebSocket: endpoint, channels, frames and how to read them.

    Parameters
    ----------
    url
        The endpoint to connect to (None: the venue's production one, :attr:`default_url`;
        a testnet or a local replay server otherwise).

    Attributes
    ----------
    name
        The venue (``"deribit"``, ``"okx"``), as the symbols' venue.
    default_url
        The venue's production endpoint.
    keepalive
        Text to send when the line has been quiet (None: the venue's own heartbeats).
    main_indexes
        Underlyings whose index the venue always publishes.
    """

    name: str
    default_url: str
    keepalive: str | None = None
    main_indexes: tuple[str, ...] = ("BTC", "ETH")

    def __init__(self, url: str | None = None) -> None:
        self.url = self.default_url if url is None else url

    @abstractmethod
    def channels(self, universe: Universe) -> list[str]:
        """Return the channels that carry the universe's prices, sorted."""

    def open_frames(self) -> list[str]:
        """Return the frames to send once connected, before subscribing."""
        return []

    @abstractmethod
    def subscribe_frames(self, channels: list[str]) -> list[str]:
        """Return the frames that subscribe to ``channels``."""

    @abstractmethod
    def parse(self, frame: str) -> Message:
        """Read one text frame (never raises; see the module docstring)."""


def load_frame(frame: str) -> Mapping[str, Any]:
    """Parse a frame as a JSON object.

    Raises
    ------
    BadFrameError
        Not JSON, or JSON that is not an object.
    """
    try:
        document = json.loads(frame)
    except ValueError:
        raise BadFrameError(f"not JSON: {frame[:60]!r}") from None
    if not isinstance(document, dict):
        raise BadFrameError(f"not a JSON object: {type(document).__name__}")
    return document


def text(row: Mapping[str, Any], name: str) -> str:
    """Return a non-empty string field of a row (:class:`BadFrameError` otherwise)."""
    value = row.get(name)
    if not isinstance(value, str) or not value:
        raise BadFrameError(f"{name} is {value!r}, not a non-empty string")
    return value


def number(row: Mapping[str, Any], name: str) -> float:
    """Return a number field of a row, given as a JSON number or numeric text (venues use both).

    NaN and infinities are kept: a garbled price is the circuit breakers' to judge.

    Raises
    ------
    BadFrameError
        Missing, empty, a boolean, or text that is not a number.
    """
    value = row.get(name)
    if isinstance(value, bool) or value is None or value == "":
        raise BadFrameError(f"{name} is {value!r}, not a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise BadFrameError(f"{name} is {value!r}, not a number")


def epoch_ms(row: Mapping[str, Any], name: str) -> int:
    """Return an event time in epoch milliseconds (a JSON integer or integer text).

    Raises
    ------
    BadFrameError
        Missing, not a whole number, or outside 1973 to 5138.
    """
    value = number(row, name)
    if not math.isfinite(value) or value != int(value):
        raise BadFrameError(f"{name} is {row.get(name)!r}, not epoch milliseconds")
    if not _EPOCH_MS_RANGE[0] <= value < _EPOCH_MS_RANGE[1]:
        raise BadFrameError(f"{name} is {row.get(name)!r}, not epoch milliseconds")
    return int(value)


def read_rows(
    data: Any, channel: str, read: Callable[[Mapping[str, Any]], VenueTick | None]
) -> Message:
    """Read a data frame's rows (one object or a list of them) into one message.

    ``read`` returns a row's tick (None: a row without a price, e.g. an incremental update
    that changed something else) or raises :class:`BadFrameError`; bad rows are skipped and
    counted, and a frame whose every row is bad is ``"malformed"``.
    """
    rows = data if isinstance(data, list) else [data]
    ticks: list[VenueTick] = []
    bad = 0
    detail = ""
    for row in rows:
        try:
            if not isinstance(row, Mapping):
                raise BadFrameError(f"row is {type(row).__name__}, not an object")
            tick = read(row)
        except BadFrameError as exc:
            bad += 1
            detail = detail or str(exc)
            continue
        if tick is not None:
            ticks.append(tick)
    if rows and bad == len(rows):
        return Message("malformed", channel=channel, detail=detail, bad_rows=bad)
    return Message("data", tuple(ticks), channel=channel, detail=detail, bad_rows=bad)
