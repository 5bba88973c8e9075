"""Price-feed circuit breakers: screen each underlying's tick, pause and resume liquidations.

Behaviour (see docs/monitor.md for the venue practice behind it)
------------------------------------------------------------------
A tick that trips a breaker is QUARANTINED, not applied: the last good prices of its
underlying stay in force for health, and liquidations on that underlying are paused. While
paused, every tick of the underlying is held as well; its valid, in-band parts are kept as the
pending prices. The underlying resumes once ``resume.clean_updates`` clean ticks have arrived
since its last trip and ``resume.cooldown_seconds`` have passed; the pending prices are then
applied in one step. A clean tick while paused is one with valid numbers, marks inside the band
and an index within the jump limit of the indexes received since the last trip, so a real move
confirmed by the feed is accepted after the cool-down and a one-tick spike is not.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pmargin.instruments import Instrument
from pmargin.market import VolSurface
from pmargin.monitor._config import BreakerConfig
from pmargin.monitor._events import (
    BreakerReason,
    LiquidationPause,
    LiquidationResume,
)
from pmargin.monitor._update import MarkTick

__all__ = ["CircuitBreakers", "PendingTick", "UnderlyingTick"]

_NAN = math.nan


@dataclass(slots=True)
class UnderlyingTick:
    """The part of one update that concerns one underlying.

    Attributes
    ----------
    underlying
        The underlying code.
    index
        USD index price, or ``None``.
    marks
        ``symbol -> (instrument, raw mark)`` of instruments on the underlying.
    surface
        New surface (a replacement, or the surface in force moved by a vol shift), or ``None``.
    vol_shift
        The raw vol shift (decimal), or ``None``; NaN when the shift could not be applied.
    """

    underlying: str
    index: float | None = None
    marks: dict[str, tuple[Instrument, MarkTick]] = field(default_factory=dict)
    surface: VolSurface | None = None
    vol_shift: float | None = None

    @property
    def has_price(self) -> bool:
        """True when the tick carries an index or a mark price."""
        return self.index is not None or any(m.price is not None for _, m in self.marks.values())


@dataclass(slots=True)
class PendingTick:
    """The valid prices of one underlying held while it is paused (latest value per field)."""

    index: float | None = None
    marks: dict[str, MarkTick] = field(default_factory=dict)
    surface: VolSurface | None = None

    def merge(self, other: PendingTick) -> None:
        """Overwrite with ``other``'s fields."""
        if other.index is not None:
            self.index = other.index
        self.marks.update(other.marks)
        if other.surface is not None:
            self.surface = other.surface


class _Window:
    """The jump window's ``(time, index)`` references, oldest first, with their low and high.

    A deque of the references and two monotonic deques (the references that can still be the
    lowest, resp. highest, once the older ones leave): :attr:`low` and :attr:`high` cost
    nothing however many references the interval holds (a feed ticking ten times a second
    keeps 3,000 in 300 s), where ``min``/``max`` over the window cost a pass each tick.
    """

    __slots__ = ("_highs", "_items", "_lows")

    def __init__(self, items: Iterable[tuple[datetime, float]] = ()) -> None:
        self._items: deque[tuple[datetime, float]] = deque()
        self._lows: deque[tuple[datetime, float]] = deque()
        self._highs: deque[tuple[datetime, float]] = deque()
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, k: int) -> tuple[datetime, float]:
        return self._items[k]

    @property
    def low(self) -> float:
        """The lowest index in the window (not empty)."""
        return self._lows[0][1]

    @property
    def high(self) -> float:
        """The highest index in the window (not empty)."""
        return self._highs[0][1]

    def append(self, item: tuple[datetime, float]) -> None:
        """Add the newest reference."""
        price = item[1]
        self._items.append(item)
        lows, highs = self._lows, self._highs
        while lows and lows[-1][1] > price:
            lows.pop()
        lows.append(item)
        while highs and highs[-1][1] < price:
            highs.pop()
        highs.append(item)

    def popleft(self) -> tuple[datetime, float]:
        """Drop and return the oldest reference."""
        item = self._items.popleft()
        if self._lows[0] is item:
            self._lows.popleft()
        if self._highs[0] is item:
            self._highs.popleft()
        return item

    def pop(self) -> tuple[datetime, float]:
        """Drop and return the newest reference (rare: the low and high are found again)."""
        item = self._items.pop()
        items = list(self._items)
        self.clear()
        for kept in items:
            self.append(kept)
        return item

    def clear(self) -> None:
        """Drop every reference."""
        self._items.clear()
        self._lows.clear()
        self._highs.clear()

    def copy(self) -> _Window:
        """Return a window of the same references."""
        return _Window(self._items)


@dataclass(slots=True)
class _State:
    """Breaker state of one underlying."""

    last_tick: datetime
    accepted: _Window = field(default_factory=_Window)
    received: _Window = field(default_factory=_Window)
    paused: bool = False
    stale_flagged: bool = False
    reasons: list[BreakerReason] = field(default_factory=list)
    clean: int = 0
    last_trip: datetime | None = None
    pending: PendingTick = field(default_factory=PendingTick)


class CircuitBreakers:
    """Per-underlying breaker state for the monitor.

    Parameters
    ----------
    config
        The limits (:func:`~pmargin.monitor.load_breaker_config`).
    start
        Event time of the start market: every feed counts as fresh then.
    index
        ``underlying -> USD index`` in force at the start (the first accepted references).
    underlyings
        The underlyings watched for staleness (those the book holds).
    """

    def __init__(
        self,
        config: BreakerConfig,
        start: datetime,
        index: Mapping[str, float],
        underlyings: Iterable[str],
    ) -> None:
        self.config = config
        self._watched = tuple(dict.fromkeys(underlyings))
        self._states: dict[str, _State] = {}
        for code in self._watched:
            self._state(code, start)
        for code, price in index.items():
            self._state(code, start).accepted.append((start, price))

    def _state(self, code: str, now: datetime) -> _State:
        state = self._states.get(code)
        if state is None:
            state = self._states[code] = _State(last_tick=now)
        return state

    @property
    def paused_underlyings(self) -> frozenset[str]:
        """Underlyings whose liquidations are paused."""
        return frozenset(code for code, s in self._states.items() if s.paused)

    def is_paused(self, underlying: str) -> bool:
        """Return True when liquidations on ``underlying`` are paused."""
        state = self._states.get(underlying)
        return state is not None and state.paused

    def pending(self, underlying: str) -> PendingTick | None:
        """Return the prices held for a paused underlying (``None`` when it is not paused)."""
        state = self._states.get(underlying)
        return state.pending if state is not None and state.paused else None

    # ------------------------------------------------------------------ staleness

    def check_stale(self, now: datetime) -> list[LiquidationPause]:
        """Trip the stale-feed breaker of each watched underlying silent for too long."""
        if not self.config.stale_enabled:
            return []
        events = []
        for code in self._watched:
            state = self._states[code]
            age = (now - state.last_tick).total_seconds()
            if age > self.config.max_age_s and not state.stale_flagged:
                state.stale_flagged = True
                events.append(
                    self.trip(
                        code, now, BreakerReason.STALE_FEED, f"feed.{code}", age, 0.0,
                        self.config.max_age_s,
                        f"no valid {code} price for {age:g} s "
                        f"(max age {self.config.max_age_s:g} s)",
                    )
                )  # fmt: skip
        return events

    # ------------------------------------------------------------------ screening

    def screen(
        self,
        tick: UnderlyingTick,
        now: datetime,
        index_in_force: float | None,
        quote_usd: Callable[[Instrument], float],
    ) -> tuple[bool, list[LiquidationPause]]:
        """Screen one underlying's tick.

        Parameters
        ----------
        tick
            The tick.
        now
            Its event time.
        index_in_force
            The underlying's USD index the monitor's market holds (``None`` if none).
        quote_usd
            USD price of an instrument's quote currency (for the mark band).

        Returns
        -------
        accept, trips
            ``accept``: apply the tick now (the underlying is not paused and nothing tripped).
            ``trips``: one pause event per breaker that tripped.
        """
        code = tick.underlying
        state = self._state(code, now)
        cfg = self.config
        trips: list[tuple[BreakerReason, str, float, float, float, str]] = []
        valid = PendingTick(surface=tick.surface)
        index = tick.index
        if index is not None:
            if math.isfinite(index) and index > 0.0:
                valid.index = index
            else:
                trips.append(
                    (BreakerReason.INVALID_PRICE, f"update.index.{code}", index, _NAN, _NAN,
                     f"{code} index {index!r} is not a finite price > 0")
                )  # fmt: skip
        reference = valid.index
        if reference is None and state.paused:
            reference = state.pending.index
        if reference is None:
            reference = index_in_force
        for symbol, (instrument, mark) in tick.marks.items():
            problem = self._mark_problem(symbol, instrument, mark, reference, quote_usd)
            if problem is None:
                valid.marks[symbol] = mark
            else:
                trips.append(problem)
        if tick.vol_shift is not None and not math.isfinite(tick.vol_shift):
            valid.surface = None
            trips.append(
                (BreakerReason.INVALID_VOL, f"update.vol_shift.{code}", tick.vol_shift, _NAN,
                 _NAN, f"{code} vol shift {tick.vol_shift!r} cannot be applied")
            )  # fmt: skip
        jumped = False
        if valid.index is not None and cfg.index_jump_enabled:
            window = state.received if state.paused else state.accepted
            _prune(window, now, cfg.jump_interval_s)
            move, ref = _largest_move(valid.index, window)
            if abs(move) > cfg.index_jump:
                jumped = True
                trips.append(
                    (BreakerReason.INDEX_JUMP, f"update.index.{code}", move, ref, cfg.index_jump,
                     f"{code} index {valid.index:g} moved {move:+.2%} from {ref:g} within "
                     f"{cfg.jump_interval_s:g} s (limit {cfg.index_jump:.2%})")
                )  # fmt: skip
        if tick.has_price and (valid.index is not None or valid.marks):
            state.last_tick = now
            state.stale_flagged = False
        events = [self.trip(code, now, *t) for t in trips]
        if events:
            state.pending.merge(valid)
            if valid.index is not None:
                if jumped:
                    state.received.clear()
                state.received.append((now, valid.index))
            return False, events
        if state.paused:
            state.pending.merge(valid)
            if valid.index is not None:
                state.received.append((now, valid.index))
            if tick.has_price or tick.surface is not None:
                state.clean += 1
            return False, []
        if valid.index is not None:
            state.accepted.append((now, valid.index))
        return True, []

    def _mark_problem(
        self,
        symbol: str,
        instrument: Instrument,
        mark: MarkTick,
        index: float | None,
        quote_usd: Callable[[Instrument], float],
    ) -> tuple[BreakerReason, str, float, float, float, str] | None:
        """Return a bad mark's trip: ``(reason, field, observed, reference, limit, detail)``."""
        where = f"update.marks.{symbol}"
        delta_one = instrument.is_futures_style
        if mark.iv is not None:
            iv = mark.iv
            if not (math.isfinite(iv) and 0.0 < iv <= self.config.max_iv):
                return (
                    BreakerReason.INVALID_VOL, f"{where}.iv", iv, _NAN, self.config.max_iv,
                    f"{symbol} iv {iv!r} is outside (0, {self.config.max_iv:g}]",
                )  # fmt: skip
            return None
        price = mark.price
        assert price is not None
        if not math.isfinite(price) or price < 0.0 or (delta_one and price == 0.0):
            floor = "> 0" if delta_one else ">= 0"
            return (
                BreakerReason.INVALID_PRICE, f"{where}.price", price, _NAN, _NAN,
                f"{symbol} mark {price!r} is not a finite price {floor}",
            )  # fmt: skip
        if delta_one and self.config.mark_band_enabled and index is not None:
            deviation = price * quote_usd(instrument) / index - 1.0
            if abs(deviation) > self.config.mark_band:
                return (
                    BreakerReason.MARK_BAND, f"{where}.price", price, index, self.config.mark_band,
                    f"{symbol} mark {price:g} is {deviation:+.2%} from the {instrument.underlying}"
                    f" index {index:g} (band {self.config.mark_band:.2%})",
                )  # fmt: skip
        return None

    # ------------------------------------------------------------------ pause and resume

    def trip(
        self,
        underlying: str,
        now: datetime,
        reason: BreakerReason,
        field: str,
        observed: float,
        reference: float,
        limit: float,
        detail: str,
    ) -> LiquidationPause:
        """Pause ``underlying`` (or keep it paused), restart its resume count, say so."""
        state = self._state(underlying, now)
        if not state.paused:
            state.paused = True
            state.reasons = []
            state.pending = PendingTick()
            state.received.clear()
        state.reasons.append(reason)
        state.clean = 0
        state.last_trip = now
        return LiquidationPause(
            now, underlying, reason, field, float(observed), float(reference), float(limit), detail
        )

    def discard_pending(self, underlying: str, now: datetime) -> None:
        """Drop the prices of ``underlying`` received at ``now`` (they could not be valued)."""
        state = self._states.get(underlying)
        if state is not None:
            state.pending = PendingTick()
            while len(state.accepted) > 1 and state.accepted[-1][0] == now:
                state.accepted.pop()

    def due(self, now: datetime) -> list[str]:
        """Paused underlyings whose resume rule is met at ``now``."""
        cfg = self.config
        ready = []
        for code, state in self._states.items():
            if not state.paused or state.last_trip is None:
                continue
            waited = (now - state.last_trip).total_seconds()
            if state.clean >= cfg.resume_clean_updates and waited >= cfg.cooldown_s:
                ready.append(code)
        return ready

    def resume(self, underlying: str, now: datetime) -> tuple[PendingTick, LiquidationResume]:
        """Lift the pause: return the held prices to apply and the resume event."""
        state = self._states[underlying]
        assert state.last_trip is not None
        event = LiquidationResume(
            now,
            underlying,
            state.clean,
            (now - state.last_trip).total_seconds(),
            tuple(dict.fromkeys(state.reasons)),
        )
        pending = state.pending
        state.accepted = state.received.copy()
        state.paused, state.reasons, state.clean, state.last_trip = False, [], 0, None
        state.pending, state.received = PendingTick(), _Window()
        return pending, event


def _prune(window: _Window, now: datetime, interval_s: float) -> None:
    """Drop references older than the interval, keeping the latest one at least."""
    while len(window) > 1 and (now - window[0][0]).total_seconds() > interval_s:
        window.popleft()


def _largest_move(price: float, window: _Window) -> tuple[float, float]:
    """Return the move of ``price`` from the window's farthest reference, and that reference."""
    if not window:
        return 0.0, _NAN
    low, high = window.low, window.high
    down, up = price / high - 1.0, price / low - 1.0
    return (up, low) if abs(up) >= abs(down) else (down, high)
