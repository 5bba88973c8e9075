"""The connection loop: the venue's WebSocket in, batches of ticks to the service out.

:func:`run_feed` runs three tasks until stopped (``stop``, ``duration`` or Ctrl-C):

* **connection**: connect, send the venue's opening frames and one subscription for every
  channel of the universe, read frames (answering heartbeats, sending the keep-alive when the
  line is quiet), and on any loss reconnect after an exponential back-off with jitter
  (:func:`backoff_delay`), re-subscribing from scratch. Silence past ``silence_seconds`` is a
  heartbeat gap: counted, logged, and the connection is dropped and opened again. The
  back-off restarts from its base once a connection delivers data.
* **poster**: every ``interval`` seconds, the pending ticks go to the service in batches
  (:class:`~pmargin.feeds.FeedState`, :class:`~pmargin.feeds.ServiceClient`).
* **watch**: staleness checks, a status line every ``status_seconds``, and every
  ``refresh_seconds`` the service is asked again what it holds; new channels are subscribed
  on the live connection.

On the way out the pending ticks are posted and the last status line is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pmargin.errors import InputError
from pmargin.feeds._deribit import DeribitProtocol
from pmargin.feeds._okx import OkxProtocol
from pmargin.feeds._service import ServiceClient
from pmargin.feeds._state import FeedState, FeedStats
from pmargin.feeds._universe import Universe, universe_for
from pmargin.feeds._venue import VenueProtocol

if TYPE_CHECKING:
    import httpx
    from websockets.asyncio.client import ClientConnection

__all__ = ["FEED_VENUES", "FeedConfig", "backoff_delay", "run_feed", "venue_protocol"]

LOG = logging.getLogger("pmargin.feeds")

FEED_VENUES = ("deribit", "okx")
"""Venues ``pmargin feed`` reads."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """How a feed runs (``pmargin feed``'s options).

    Attributes
    ----------
    venue
        ``"deribit"`` or ``"okx"``.
    to
        The service's base URL (``http://127.0.0.1:8000``).
    key
        An API key with the feed (or admin) role.
    url
        The venue's WebSocket endpoint (None: the production one).
    underlyings, instruments
        ``--underlying`` codes (narrow the service's) and ``--instrument`` symbols (added).
    interval
        Seconds between posts (ticks in between are conflated: newest per stream).
    stale_seconds
        Local seconds without a tick after which an underlying is reported stale.
    gap_seconds
        Venue seconds between two index ticks of an underlying that count as a gap.
    silence_seconds
        Seconds without any frame after which the connection is dropped (a heartbeat gap).
    keepalive_seconds
        Quiet seconds after which the venue's keep-alive is sent (OKX ``ping``).
    backoff_base, backoff_cap
        First reconnect delay and the largest (seconds), before jitter.
    refresh_seconds
        Seconds between asking the service again what it holds.
    status_seconds
        Seconds between status lines.
    duration
        Stop after this many seconds (None: run until stopped).
    seed
        Seed of the back-off jitter (None: random).
    """

    venue: str
    to: str
    key: str
    url: str | None = None
    underlyings: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    interval: float = 1.0
    stale_seconds: float = 30.0
    gap_seconds: float = 10.0
    silence_seconds: float = 30.0
    keepalive_seconds: float = 20.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    refresh_seconds: float = 60.0
    status_seconds: float = 10.0
    duration: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        """Check the venue and that every duration is positive."""
        if self.venue not in FEED_VENUES:
            raise InputError("venue", self.venue, f"is not one of {', '.join(FEED_VENUES)}")
        for name in (
            "interval",
            "stale_seconds",
            "gap_seconds",
            "silence_seconds",
            "keepalive_seconds",
            "backoff_base",
            "backoff_cap",
            "refresh_seconds",
            "status_seconds",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise InputError(f"--{name.replace('_', '-')}", value, "must be > 0 seconds")
        if self.duration is not None and not self.duration > 0:
            raise InputError("--duration", self.duration, "must be > 0 seconds")


def venue_protocol(venue: str, url: str | None = None) -> VenueProtocol:
    """Return the venue module's protocol, connecting to ``url`` (default: production).

    Raises
    ------
    InputError
        An unknown venue.
    """
    protocols: dict[str, type[VenueProtocol]] = {"deribit": DeribitProtocol, "okx": OkxProtocol}
    if venue in protocols:
        return protocols[venue](url)
    raise InputError("venue", venue, f"is not one of {', '.join(FEED_VENUES)}")


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait before reconnect number ``attempt`` (0 first).

    Exponential, capped, with "equal jitter": half of ``min(cap, base * 2**attempt)`` plus a
    uniform draw over the other half, so reconnecting clients spread out but never retry at
    once.
    """
    ceiling = min(cap, base * 2.0 ** min(attempt, 62))
    return ceiling / 2.0 + rng.uniform(0.0, ceiling / 2.0)


async def run_feed(
    config: FeedConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FeedStats:
    """Feed the service from the venue until stopped; return the counters.

    Parameters
    ----------
    config
        The feed's settings.
    transport
        The HTTP transport to the service (None: the network; tests pass the app's ASGI
        transport).
    stop
        Set it to stop (also stopped by ``config.duration``).
    clock
        Local monotonic seconds (staleness).

    Returns
    -------
    FeedStats
        The counters at the end.

    Raises
    ------
    InputError
        The service refuses the key, is unreachable at start, or holds nothing this venue
        publishes and no ``--underlying`` was given.
    """
    import httpx

    protocol = venue_protocol(config.venue, config.url)
    stop = stop or asyncio.Event()
    async with httpx.AsyncClient(base_url=config.to, transport=transport, timeout=30.0) as http:
        service = ServiceClient(http, config.key, venue=protocol.name)
        universe = await _universe(service, protocol, config)
        LOG.info("feed %s: following %s", protocol.name, universe.describe())
        if universe.skipped:
            LOG.info("not followed: %d of the service's symbols", len(universe.skipped))
        state = FeedState(
            universe,
            stale_seconds=config.stale_seconds,
            gap_seconds=config.gap_seconds,
            clock=clock,
        )
        runner = _Runner(protocol, config, state, service, random.Random(config.seed))
        jobs: list[Coroutine[Any, Any, None]] = [runner.connection(stop), runner.watch(stop)]
        if config.duration is not None:
            jobs.append(_stop_after(stop, config.duration))
        tasks = [asyncio.create_task(job) for job in jobs]
        # The poster is never cancelled: a post cut short would lose its batch. On stop it
        # finishes the batch in hand and returns; then what is still pending is posted.
        poster = asyncio.create_task(runner.poster(stop))
        waiter = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                [*tasks, poster, waiter], return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                error = None if task is waiter else task.exception()
                if error is not None:
                    raise error
        finally:
            stop.set()
            for task in [*tasks, waiter]:
                task.cancel()
            await asyncio.gather(*tasks, waiter, return_exceptions=True)
            await asyncio.gather(poster, return_exceptions=True)
        if poster.exception() is not None:
            raise poster.exception()  # type: ignore[misc]
        await runner.flush()
        LOG.info("%s", state.stats.line(protocol.name))
        return state.stats


async def _stop_after(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(seconds)
    stop.set()


async def _universe(
    service: ServiceClient, protocol: VenueProtocol, config: FeedConfig
) -> Universe:
    market = await service.market()
    universe = universe_for(
        protocol.name,
        market,
        underlyings=config.underlyings,
        instruments=config.instruments,
        main_indexes=protocol.main_indexes,
    )
    if not universe.underlyings:
        held = ", ".join(sorted((market or {}).get("index") or {})) or "none"
        raise InputError(
            "--to",
            config.to,
            f"holds no underlying {protocol.name} publishes (market index: {held}); "
            "name one with --underlying",
        )
    return universe


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when ``stop`` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


class _Runner:
    """The three tasks of :func:`run_feed` over one state, service and venue."""

    def __init__(
        self,
        protocol: VenueProtocol,
        config: FeedConfig,
        state: FeedState,
        service: ServiceClient,
        rng: random.Random,
    ) -> None:
        self.protocol = protocol
        self.config = config
        self.state = state
        self.service = service
        self.rng = rng
        self.ws: ClientConnection | None = None
        self.subscribed: set[str] = set()
        self.attempt = 0
        self._posting = asyncio.Lock()

    async def connection(self, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import WebSocketException

        first = True
        while not stop.is_set():
            if not first:
                self.state.stats.reconnects += 1
                delay = backoff_delay(
                    self.attempt, self.config.backoff_base, self.config.backoff_cap, self.rng
                )
                self.attempt += 1
                LOG.warning(
                    "reconnect %d to %s in %.2f s",
                    self.state.stats.reconnects,
                    self.protocol.url,
                    delay,
                )
                if await _wait(stop, delay):
                    return
            first = False
            try:
                async with connect(
                    self.protocol.url, open_timeout=10.0, max_size=1 << 24
                ) as websocket:
                    self.ws = websocket
                    LOG.info("connected to %s", self.protocol.url)
                    for frame in self.protocol.open_frames():
                        await websocket.send(frame)
                    channels = self.protocol.channels(self.state.universe)
                    for frame in self.protocol.subscribe_frames(channels):
                        await websocket.send(frame)
                    self.subscribed = set(channels)
                    LOG.info("subscribed to %d channels", len(channels))
                    await self._read(websocket)
            except (OSError, TimeoutError, WebSocketException) as exc:
                LOG.warning("connection to %s lost: %s", self.protocol.url, exc or type(exc))
            finally:
                self.ws = None

    async def _read(self, websocket: ClientConnection) -> None:
        """Read frames until the connection closes or stays silent too long."""
        config = self.config
        keepalive = self.protocol.keepalive
        quiet = min(config.keepalive_seconds, config.silence_seconds)
        while True:
            try:
                if keepalive is None:
                    frame = await asyncio.wait_for(websocket.recv(), config.silence_seconds)
                else:
                    try:
                        frame = await asyncio.wait_for(websocket.recv(), quiet)
                    except TimeoutError:
                        await websocket.send(keepalive)
                        rest = max(config.silence_seconds - quiet, 0.05)
                        frame = await asyncio.wait_for(websocket.recv(), rest)
            except TimeoutError:
                self.state.stats.gaps += 1
                LOG.warning(
                    "heartbeat gap: nothing from %s for %.1f s, reconnecting",
                    self.protocol.name,
                    config.silence_seconds,
                )
                return
            if isinstance(frame, bytes):
                frame = frame.decode("utf-8", errors="replace")
            message = self.protocol.parse(frame)
            if message.reply is not None:
                await websocket.send(message.reply)
            self.state.receive(message)
            if message.kind == "data":
                self.attempt = 0

    async def poster(self, stop: asyncio.Event) -> None:
        while not await _wait(stop, self.config.interval):
            await self.flush()

    async def flush(self) -> None:
        """Post every pending tick (one request per 1,000)."""
        async with self._posting:
            stats = self.state.stats
            for ticks in self.state.take_batches():
                result = await self.service.post(ticks)
                if result.outcome == "applied":
                    stats.posted += len(ticks)
                    stats.batches += 1
                    paused = sorted(result.answer.get("paused") or [])
                    if paused != stats.paused:
                        LOG.warning(
                            "the service pauses liquidations on: %s", ", ".join(paused) or "none"
                        )
                    stats.paused = paused
                elif result.outcome == "refused":
                    stats.refused += 1
                else:
                    stats.undelivered += 1
                    LOG.warning("a batch of %d ticks was not delivered", len(ticks))

    async def watch(self, stop: asyncio.Event) -> None:
        config = self.config
        step = min(1.0, config.stale_seconds / 4.0, config.status_seconds)
        clock = self.state.clock
        next_status = clock() + config.status_seconds
        next_refresh = clock() + config.refresh_seconds
        while not await _wait(stop, step):
            self.state.check_stale()
            now = clock()
            if now >= next_status:
                next_status = now + config.status_seconds
                LOG.info("%s", self.state.stats.line(self.protocol.name))
            if now >= next_refresh:
                next_refresh = now + config.refresh_seconds
                await self._refresh()

    async def _refresh(self) -> None:
        """Ask the service again what it holds; subscribe to new channels at once."""
        try:
            universe = await _universe(self.service, self.protocol, self.config)
        except InputError as exc:
            if exc.field == "--key":
                raise
            LOG.warning("could not refresh what the service holds: %s", exc.reason)
            return
        if universe == self.state.universe:
            return
        LOG.info("now following %s", universe.describe())
        self.state.set_universe(universe)
        new = sorted(set(self.protocol.channels(universe)) - self.subscribed)
        if new and self.ws is not None:
            for frame in self.protocol.subscribe_frames(new):
                await self.ws.send(frame)
            self.subscribed.update(new)
