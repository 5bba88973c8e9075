"""What a venue message becomes: ticks in the service's units, and what else it was.

A venue module (:mod:`pmargin.feeds._deribit`, :mod:`pmargin.feeds._okx`) turns one text
frame into one :class:`Message`; the connection loop (:mod:`pmargin.feeds._loop`) acts on its
kind. A :class:`VenueTick` is already in the units of ``POST /v1/market/ticks``: index in USD,
mark in the instrument's price currency, implied vol as an annualised decimal; its time is the
venue's, in epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Message", "MessageKind", "TickField", "VenueTick"]

TickField = Literal["index", "mark", "iv"]
"""What a tick sets: an underlying's index (USD), an instrument's mark price or implied vol."""

MessageKind = Literal["data", "heartbeat", "ack", "venue_error", "notice", "unknown", "malformed"]
"""What a frame was: data (ticks, possibly none after filtering), a heartbeat or pong, a
subscription acknowledgement, an error reply of the venue, a venue notice (e.g. a coming
restart), a channel this feed does not read, or a frame it cannot read."""


@dataclass(frozen=True, slots=True)
class VenueTick:
    """One price from a venue, in the service's units.

    Attributes
    ----------
    field
        ``"index"`` (``target`` is an underlying code, value USD), ``"mark"`` (``target`` an
        instrument symbol, value in its price currency: USD for inverse futures, the quote for
        linear ones) or ``"iv"`` (``target`` an option symbol, value an annualised decimal:
        0.55 is 55 %).
    target
        The underlying code or the instrument symbol (the venue's own, which pmargin parses).
    value
        The number as the venue sent it, converted to the unit above; never range-checked
        here (a zero or negative price reaches the service's circuit breakers).
    timestamp_ms
        The venue's event time, Unix epoch milliseconds.
    """

    field: TickField
    target: str
    value: float
    timestamp_ms: int

    @property
    def key(self) -> str:
        """The stream this tick belongs to (``"index:BTC"``, ``"iv:BTC-27DEC24-60000-C"``)."""
        return f"{self.field}:{self.target}"

    def to_service(self, timestamp_ms: int | None = None) -> dict[str, Any]:
        """Return the tick as ``POST /v1/market/ticks`` takes it.

        Parameters
        ----------
        timestamp_ms
            The time to post (epoch ms); the venue's own when omitted.
        """
        stamp = self.timestamp_ms if timestamp_ms is None else timestamp_ms
        if self.field == "index":
            return {"underlying": self.target, "index": self.value, "timestamp": stamp}
        return {"instrument": self.target, self.field: self.value, "timestamp": stamp}


@dataclass(frozen=True, slots=True)
class Message:
    """One venue frame, read.

    Attributes
    ----------
    kind
        What the frame was (:data:`MessageKind`).
    ticks
        Its prices (kind ``"data"`` only).
    channel
        The venue's channel name, where the frame names one.
    reply
        A text frame to send back at once (Deribit's answer to a heartbeat ``test_request``).
    detail
        Why a frame (or its first bad row) is malformed, the venue's error or notice text.
    bad_rows
        Rows of a data frame that could not be read and were skipped (the others are kept).
    """

    kind: MessageKind
    ticks: tuple[VenueTick, ...] = ()
    channel: str | None = None
    reply: str | None = None
    detail: str = ""
    bad_rows: int = 0
