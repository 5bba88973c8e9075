"""What the monitor emits: status changes, liquidation pauses and resumes.

Every event is a frozen record with the update's timestamp and the numbers behind it, so an
episode can be audited and replayed (``to_dict`` gives its JSON object).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pmargin.health import HealthStatus, MarginSnapshot
from pmargin.timeutil import format_timestamp

__all__ = ["BreakerReason", "LiquidationPause", "LiquidationResume", "MonitorEvent", "StatusChange"]


class BreakerReason(StrEnum):
    """Why a circuit breaker paused liquidations on an underlying."""

    INVALID_PRICE = "invalid_price"
    """A NaN, infinite, negative or zero price (index or delta-one mark; NaN/negative option)."""
    INVALID_VOL = "invalid_vol"
    """An iv outside ``(0, max_iv]`` or NaN, or a vol shift that is not finite or valid."""
    MARK_BAND = "mark_band"
    """A futures or perpetual mark outside the band around the index."""
    INDEX_JUMP = "index_jump"
    """The index moved more than the limit within the interval."""
    STALE_FEED = "stale_feed"
    """No valid price tick for longer than the maximum age."""
    UNPRICEABLE = "unpriceable"
    """The tick's prices cannot value the underlying's instruments (e.g. below intrinsic)."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """An account's status changed on an update.

    Attributes
    ----------
    timestamp
        The update's event time (UTC).
    account_id, row
        The account and its row in the book.
    old, new
        Status before and after.
    equity, initial_margin, maintenance_margin
        After the update, USD.
    paused_underlyings
        Underlyings of the account's positions whose liquidations are paused (the liquidation
        engine must not close positions on them).
    """

    timestamp: datetime
    account_id: str
    row: int
    old: HealthStatus
    new: HealthStatus
    equity: float
    initial_margin: float
    maintenance_margin: float
    paused_underlyings: frozenset[str] = frozenset()

    @property
    def snapshot(self) -> MarginSnapshot:
        """The account after the update as a :class:`~pmargin.health.MarginSnapshot`."""
        return MarginSnapshot(
            self.equity, self.initial_margin, self.maintenance_margin, self.account_id
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON object."""
        return {
            "event": "status_change",
            "timestamp": format_timestamp(self.timestamp),
            "account": self.account_id,
            "old": self.old.value,
            "new": self.new.value,
            "equity": self.equity,
            "initial_margin": self.initial_margin,
            "maintenance_margin": self.maintenance_margin,
            "paused_underlyings": sorted(self.paused_underlyings),
        }


@dataclass(frozen=True, slots=True)
class LiquidationPause:
    """A circuit breaker tripped: liquidations on ``underlying`` are paused.

    Attributes
    ----------
    timestamp
        Event time of the tick (or of the staleness check).
    underlying
        The paused underlying.
    reason
        Which breaker.
    field
        The update field at fault (``update.index.BTC``, ``update.marks.BTC-PERPETUAL.price``;
        ``feed.BTC`` for staleness).
    observed
        The offending number (price, vol, move, or age in seconds).
    reference
        What it was compared with (index, previous index, last tick time as age 0), NaN where
        none.
    limit
        The configured limit (band, move, max age, max iv), NaN where none.
    detail
        One line saying what happened, with the numbers.
    """

    timestamp: datetime
    underlying: str
    reason: BreakerReason
    field: str
    observed: float
    reference: float
    limit: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON object (NaN numbers as ``None``)."""
        return {
            "event": "liquidation_pause",
            "timestamp": format_timestamp(self.timestamp),
            "underlying": self.underlying,
            "reason": self.reason.value,
            "field": self.field,
            "observed": _json_number(self.observed),
            "reference": _json_number(self.reference),
            "limit": _json_number(self.limit),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class LiquidationResume:
    """Liquidations on ``underlying`` resume; its held prices were applied.

    Attributes
    ----------
    timestamp
        Event time of the update that met the rule.
    underlying
        The resumed underlying.
    clean_updates
        Clean ticks since the last trip.
    paused_seconds
        Seconds since the last trip.
    reasons
        Every reason that tripped during the pause.
    """

    timestamp: datetime
    underlying: str
    clean_updates: int
    paused_seconds: float
    reasons: tuple[BreakerReason, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a JSON object."""
        return {
            "event": "liquidation_resume",
            "timestamp": format_timestamp(self.timestamp),
            "underlying": self.underlying,
            "clean_updates": self.clean_updates,
            "paused_seconds": self.paused_seconds,
            "reasons": [r.value for r in self.reasons],
        }


MonitorEvent = StatusChange | LiquidationPause | LiquidationResume
"""Any monitor event."""


def _json_number(value: float) -> float | None:
    return None if value != value else value
