"""A feed's bookkeeping between the venue and the service: order, batches, gaps, staleness.

Rules (docs/feeds.md):

* **Out of order.** Each stream (``index:BTC``, ``mark:BTC-PERPETUAL``, ``iv:<option>``)
  keeps the newest venue time it has seen; a tick older than that is dropped and counted.
  A tick with the same time replaces the pending one.
* **Batches.** Between two posts only the newest tick of each stream is kept (conflation):
  the service re-margins on every tick it applies, and only the latest price matters. A batch
  is sorted by venue time (index before marks before vols at one time). The service refuses a
  tick older than the last it applied, so a tick older than the newest already posted (another
  stream ran ahead across a batch boundary) is posted at that newest time and counted as
  ``late``; every other tick carries the venue's own time. At most 1,000 ticks per request.
* **Gaps.** Two consecutive index ticks of an underlying more than ``gap_seconds`` apart in
  venue time are a gap (the venue skipped updates); so are the heartbeat gaps and reconnects
  the connection loop reports.
* **Stale.** An underlying with no tick for ``stale_seconds`` of local time is stale: logged
  once when it goes stale and once when it comes back, and listed on the status line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pmargin.feeds._types import Message, VenueTick
from pmargin.feeds._universe import Universe

__all__ = ["MAX_TICKS_PER_REQUEST", "FeedState", "FeedStats"]

MAX_TICKS_PER_REQUEST = 1000
"""The service's limit of ticks in one ``POST /v1/market/ticks``."""

LOG = logging.getLogger("pmargin.feeds")

_FIELD_ORDER = {"index": 0, "mark": 1, "iv": 2}
_LOG_FIRST = 10
_LOG_EVERY = 100


@dataclass
class FeedStats:
    """Counters of a feed since it started (the status line and the final report).

    Attributes
    ----------
    frames
        Text frames received from the venue.
    ticks
        Prices read from data frames (before the universe filter).
    followed
        Of those, the ones for followed underlyings and instruments.
    posted, batches
        Ticks posted to the service, and the requests that carried them.
    out_of_order
        Ticks dropped for a venue time older than their stream's newest.
    late
        Ticks posted at the newest posted time instead of their own (see the module).
    malformed
        Frames and rows that could not be read (skipped, logged).
    unknown
        Frames of a channel or kind this feed does not read.
    venue_errors, notices
        Error replies and notices from the venue.
    heartbeats
        Heartbeats and pongs.
    gaps
        Venue-time gaps of an index, and heartbeat gaps (silence past the limit).
    reconnects
        Connections lost or closed and opened again.
    refused
        Batches the service refused (4xx); their ticks are not applied.
    undelivered
        Batches not delivered after retries (network errors, 5xx).
    stale
        Underlyings stale now.
    paused
        Underlyings whose liquidations the service reports paused (its last answer).
    """

    frames: int = 0
    ticks: int = 0
    followed: int = 0
    posted: int = 0
    batches: int = 0
    out_of_order: int = 0
    late: int = 0
    malformed: int = 0
    unknown: int = 0
    venue_errors: int = 0
    notices: int = 0
    heartbeats: int = 0
    gaps: int = 0
    reconnects: int = 0
    refused: int = 0
    undelivered: int = 0
    stale: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the counters as a JSON object."""
        return asdict(self)

    def line(self, venue: str) -> str:
        """One status line: traffic, problems, stale and paused underlyings."""
        return (
            f"feed {venue}: frames {self.frames}, ticks {self.followed} followed, "
            f"{self.posted} posted in {self.batches} batches; out-of-order {self.out_of_order}, "
            f"late {self.late}, malformed {self.malformed}, unknown {self.unknown}, "
            f"venue errors {self.venue_errors}, gaps {self.gaps}, "
            f"reconnects {self.reconnects}, refused {self.refused}, "
            f"undelivered {self.undelivered}; stale: {','.join(self.stale) or 'none'}; "
            f"paused by the service: {','.join(self.paused) or 'none'}"
        )


class FeedState:
    """Order, conflation, gaps and staleness of one feed (see the module docstring).

    Parameters
    ----------
    universe
        What is followed.
    stale_seconds
        Local seconds without a tick after which an underlying is stale.
    gap_seconds
        Venue seconds between two index ticks of an underlying that count as a gap.
    clock
        Local monotonic time in seconds (``time.monotonic``; a fake one in tests).
    """

    def __init__(
        self,
        universe: Universe,
        *,
        stale_seconds: float = 30.0,
        gap_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = FeedStats()
        self.stale_seconds = stale_seconds
        self.gap_ms = gap_seconds * 1000.0
        self.clock = clock
        self.universe = universe
        self._newest: dict[str, int] = {}
        self._pending: dict[str, VenueTick] = {}
        self._posted_ms = 0
        self._seen: dict[str, float] = {}
        self._stale_since: dict[str, float] = {}
        self.set_universe(universe)

    def set_universe(self, universe: Universe) -> None:
        """Follow ``universe`` from now (new underlyings start their stale clock now)."""
        now = self.clock()
        self.universe = universe
        self._seen = {u: self._seen.get(u, now) for u in universe.underlyings}
        self._stale_since = {u: s for u, s in self._stale_since.items() if u in self._seen}
        self._pending = {k: t for k, t in self._pending.items() if universe.wants(t)}

    def receive(self, message: Message) -> None:
        """Count a frame and keep its followed, in-order ticks for the next batch."""
        stats = self.stats
        stats.frames += 1
        if message.kind != "data":
            self._count(message)
            return
        if message.bad_rows:
            stats.malformed += message.bad_rows
            self._log_count("malformed", stats.malformed, message)
        now = self.clock()
        for tick in message.ticks:
            stats.ticks += 1
            if not self.universe.wants(tick):
                continue
            stats.followed += 1
            key = tick.key
            newest = self._newest.get(key)
            if newest is not None and tick.timestamp_ms < newest:
                stats.out_of_order += 1
                if _should_log(stats.out_of_order):
                    LOG.warning(
                        "out of order: %s at %d ms is older than %d ms, dropped (%d so far)",
                        key,
                        tick.timestamp_ms,
                        newest,
                        stats.out_of_order,
                    )
                continue
            if (
                tick.field == "index"
                and newest is not None
                and tick.timestamp_ms - newest > self.gap_ms
            ):
                stats.gaps += 1
                LOG.warning(
                    "gap: %s jumped %.1f s in venue time", key, (tick.timestamp_ms - newest) / 1e3
                )
            self._newest[key] = tick.timestamp_ms
            self._pending[key] = tick
            underlying = self.universe.underlying_of(tick)
            self._seen[underlying] = now
            since = self._stale_since.pop(underlying, None)
            if since is not None:
                LOG.info("fresh: %s again after %.1f s stale", underlying, now - since)
        stats.stale = sorted(self._stale_since)

    def take_batches(self, limit: int = MAX_TICKS_PER_REQUEST) -> list[list[dict[str, Any]]]:
        """Return the pending ticks as service requests' tick lists and clear them.

        Sorted by venue time; a tick older than the newest already posted is posted at that
        time (``late``). Each list holds at most ``limit`` ticks.
        """
        pending = sorted(
            self._pending.values(),
            key=lambda t: (t.timestamp_ms, _FIELD_ORDER[t.field], t.target),
        )
        self._pending = {}
        ticks = []
        for tick in pending:
            if tick.timestamp_ms < self._posted_ms:
                self.stats.late += 1
            self._posted_ms = max(self._posted_ms, tick.timestamp_ms)
            ticks.append(tick.to_service(self._posted_ms))
        return [ticks[i : i + limit] for i in range(0, len(ticks), limit)]

    def check_stale(self) -> list[str]:
        """Mark underlyings without a tick for ``stale_seconds`` stale; return the new ones."""
        now = self.clock()
        new = [
            u
            for u, seen in sorted(self._seen.items())
            if u not in self._stale_since and now - seen > self.stale_seconds
        ]
        for underlying in new:
            self._stale_since[underlying] = now
            LOG.warning("stale: no %s tick for %.1f s", underlying, now - self._seen[underlying])
        self.stats.stale = sorted(self._stale_since)
        return new

    def _count(self, message: Message) -> None:
        stats = self.stats
        if message.kind == "malformed":
            stats.malformed += max(message.bad_rows, 1)
            self._log_count("malformed", stats.malformed, message)
        elif message.kind == "unknown":
            stats.unknown += 1
            self._log_count("unknown", stats.unknown, message)
        elif message.kind == "venue_error":
            stats.venue_errors += 1
            LOG.warning("venue error: %s", message.detail)
        elif message.kind == "notice":
            stats.notices += 1
            LOG.warning("venue notice: %s", message.detail)
        elif message.kind == "heartbeat":
            stats.heartbeats += 1

    @staticmethod
    def _log_count(what: str, count: int, message: Message) -> None:
        if _should_log(count):
            where = f" on {message.channel}" if message.channel else ""
            LOG.warning("%s frame%s: %s (%d so far)", what, where, message.detail, count)


def _should_log(count: int) -> bool:
    """Log the first few of a kind, then every hundredth."""
    return count <= _LOG_FIRST or count % _LOG_EVERY == 0
