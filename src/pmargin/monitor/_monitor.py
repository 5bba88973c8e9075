"""The real-time health monitor: every account's equity, IM, MM and status, kept current.

What an update recomputes
-------------------------
The book's columns are cached in blocks, one per code (each underlying held, and each balance
asset). A block depends on its code and on the quote and settlement currencies of its
instruments. An accepted update changes a set of codes; only the blocks depending on them are
touched:

1. their instruments are resolved and valued again at the new market (the other blocks'
   resolved instruments, values and margin are reused as cached), by the block's
   :class:`~pmargin.valuation.InstrumentResolver`: one market look-up per currency, expiry and
   forward, bit for bit :func:`~pmargin.valuation.resolve_instruments`;
2. the block is rebased (:meth:`~pmargin.book.BookArrangement.rebased`, recycling its
   quantity data: only the futures entries are written) with its options valued again only
   when their inputs moved (:func:`~pmargin.valuation.value_instruments` of the last tick's),
   and its USD position value per account is :class:`~pmargin.collateral.KeptPositionsUsd`'s
   (the options and spot held, summed per settlement currency while their values per unit
   stay, at the currencies' USD prices, plus the unrealised P&L); account equity is the USD
   balances plus the sum of the blocks' values, so the changed blocks replace their part;
3. margin: for a model whose risk units are per underlying (:mod:`pmargin.monitor._scope`),
   the model runs on the block's sub-book (its columns and its coin's balance) and the block's
   units replace their cached contribution to each account's IM and MM; for any other model
   the whole book is margined again;
   the block's sub-book holds only the accounts with something in it (a position in its
   columns or a balance of its asset): an account holding nothing there has no position value
   and, for a model whose start check passed, no margin there at any price (see
   :attr:`Monitor.margined_rows`);
4. statuses are compared with the previous ones and a :class:`StatusChange` is emitted for
   each account whose status changed.

Which accounts a block margins
------------------------------
At start each block is margined on every account. When the accounts holding nothing in it
were charged exactly 0 IM and MM there, and the accounts holding something, margined apart,
get what they got among all (rtol 1e-9), later updates value and margin the block on those
accounts alone; the others keep 0 (they hold no position value and no balance of its asset
there, so a price can move none of their numbers in it). Otherwise every account is margined.
Every figure the monitor reports is the full recompute's to rounding, screened or not.

The valuation time (the market's timestamp, which sets times to expiry) stays fixed between
updates; :meth:`Monitor.roll_to` moves it and recomputes everything. Update timestamps are
event times, used by the circuit breakers and stamped on events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from pmargin._typing import FloatArray, Int8Array, IntArray
from pmargin.book import BookArrangement
from pmargin.collateral import KeptPositionsUsd, balances_usd
from pmargin.errors import InputError, MarketDataError
from pmargin.health import AccountHealth, HealthStatus, MarginSnapshot, assess
from pmargin.instruments import Instrument, parse_symbol
from pmargin.margin import MarginModel, MarginResult
from pmargin.market import Mark, MarketSnapshot, RawSVI, SurfaceSlice, VolSurface
from pmargin.monitor._book import (
    STATUS_ORDER,
    FullState,
    full_recompute,
    status_codes,
)
from pmargin.monitor._breakers import CircuitBreakers, PendingTick, UnderlyingTick
from pmargin.monitor._config import BreakerConfig, load_breaker_config
from pmargin.monitor._events import BreakerReason, MonitorEvent, StatusChange
from pmargin.monitor._scope import Scope, Totals, totals_plan, unit_scope
from pmargin.monitor._update import MarketUpdate, MarkTick
from pmargin.timeutil import format_timestamp, parse_timestamp, year_fraction
from pmargin.valuation import InstrumentResolver, ResolvedInstruments, value_instruments

__all__ = ["Monitor"]

_SCOPE_RTOL = 1e-9


@dataclass(slots=True)
class _Block:
    """The cached state of one code's columns.

    ``resolver`` resolves the block's columns (``columns``, book order) at a new market and
    ``resolved`` holds them at the market in force. The block is valued and margined on
    ``start``: the rows ``rows`` that hold something in the block (a position in its columns
    or a balance of its asset; ``None``: every row) and the columns ``held`` of ``resolved``
    they hold (``None``: every column); ``book`` is ``start`` rebased to the market in force.
    The per-account arrays have shape ``(n_accounts,)``: 0 outside ``rows``. ``totals``
    margins ``book`` (:func:`~pmargin.monitor.totals_plan` of ``start``: the model's set-up
    for these accounts and columns, kept across ticks; ``None`` until first used);
    ``positions`` values ``book``'s positions likewise (:class:`~pmargin.collateral.
    KeptPositionsUsd` of ``start``).
    """

    code: str
    columns: IntArray
    depends_on: frozenset[str]
    resolver: InstrumentResolver
    resolved: ResolvedInstruments
    rows: IntArray | None
    held: IntArray | None
    start: BookArrangement
    book: BookArrangement
    positions_usd: FloatArray
    initial_margin: FloatArray
    maintenance_margin: FloatArray
    totals: Totals | None = None
    positions: KeptPositionsUsd | None = None


class Monitor:
    """Keeps every account's health current over a stream of market updates.

    Parameters
    ----------
    model
        The margin model (``get_model(name)``).
    book
        The accounts, arranged (:func:`pmargin.book.arrange`) at the start market,
        ``book.market`` (its timestamp is the valuation time); positions are held as
        :mod:`pmargin.monitor._book` describes. A book to start at another market is rebased
        first (:meth:`~pmargin.book.BookArrangement.rebased`).
    breakers
        Circuit-breaker limits: a :class:`BreakerConfig`, a TOML file merged over the shipped
        ``circuit_breakers.toml``, or ``None`` for the shipped defaults.
    scope
        ``"underlying"`` or ``"account"`` when already known for this model and these
        instruments (:meth:`with_book` passes its own); ``None`` decides it: per underlying
        where the model's units are per underlying and add up to its whole-book margin.

    Raises
    ------
    InputError, MarketDataError
        From valuing or margining the start book.

    Examples
    --------
    >>> book = arrange(portfolio, market)  # doctest: +SKIP
    >>> monitor = Monitor(get_model("deribit"), book)  # doctest: +SKIP
    >>> tick = MarketUpdate("2025-11-13T00:00:01Z", index={"BTC": 99_000.0})  # doctest: +SKIP
    >>> events = monitor.apply(tick)  # doctest: +SKIP
    >>> monitor.paused_underlyings  # doctest: +SKIP
    frozenset()
    """

    def __init__(
        self,
        model: MarginModel,
        book: BookArrangement,
        *,
        breakers: BreakerConfig | str | Path | None = None,
        scope: Scope | None = None,
    ) -> None:
        market = book.market
        self._start = book
        self._model = model
        self._market = market
        self._now = market.timestamp
        config = breakers if isinstance(breakers, BreakerConfig) else load_breaker_config(breakers)
        self._symbols = {i.symbol: i for i in book.instruments}
        codes = np.asarray([i.underlying for i in book.instruments], dtype=object)
        self._column_code = codes
        underlyings = tuple(dict.fromkeys(codes.tolist()))
        self._breakers = CircuitBreakers(config, market.timestamp, market.index, underlyings)
        self._scope: Scope = unit_scope(model) if scope is None else scope
        self._blocks: dict[str, _Block] = {}
        for code in dict.fromkeys([*underlyings, *book.assets]):
            self._blocks[code] = self._new_block(code)
        self._cash = book.take_columns(np.zeros(0, dtype=np.int64), book.assets)
        """Every account's balances alone (no instruments): rebased to value them."""
        self._equity = np.zeros(book.shape[0])
        self._im = np.zeros(book.shape[0])
        self._mm = np.zeros(book.shape[0])
        self.last_recomputed: tuple[str, ...] = tuple(self._blocks)
        """Codes whose blocks the last update recomputed (``("*",)`` for the whole book)."""
        self._result: MarginResult | None = None
        at_market = {code: block.resolved for code, block in self._blocks.items()}
        self._refresh(tuple(self._blocks), market, at_market)  # nothing is resolved again
        if scope is None and self._scope == "underlying" and not self._units_add_up():
            self._scope = "account"
            self._refresh(tuple(self._blocks), market)
        if self._scope == "underlying":
            for block in self._blocks.values():
                self._screen(block)
        self._codes: Int8Array = status_codes(self._equity, self._im, self._mm)

    # ------------------------------------------------------------------ read access

    @property
    def market(self) -> MarketSnapshot:
        """The market in force: the last good prices (quarantined ticks are not in it)."""
        return self._market

    @property
    def now(self) -> datetime:
        """Event time of the last update (UTC)."""
        return self._now

    @property
    def book(self) -> BookArrangement:
        """The book as arranged at the start market (its ``market``; :attr:`market` is now)."""
        return self._start

    @property
    def model(self) -> MarginModel:
        """The margin model."""
        return self._model

    @property
    def scope(self) -> Scope:
        """``"underlying"`` (per-underlying re-margining) or ``"account"`` (whole book)."""
        return self._scope

    @property
    def account_ids(self) -> tuple[str, ...]:
        """Row order of every per-account array."""
        return self._start.account_ids

    @property
    def equity(self) -> FloatArray:
        """Shape ``(n_accounts,)``: mark-to-market equity, USD (a copy)."""
        return self._equity.copy()

    @property
    def initial_margin(self) -> FloatArray:
        """Shape ``(n_accounts,)``: IM, USD (a copy)."""
        return self._im.copy()

    @property
    def maintenance_margin(self) -> FloatArray:
        """Shape ``(n_accounts,)``: MM, USD (a copy)."""
        return self._mm.copy()

    @property
    def status(self) -> tuple[HealthStatus, ...]:
        """Each account's status, in row order."""
        return tuple(STATUS_ORDER[int(c)] for c in self._codes)

    def status_of(self, account_id: str) -> HealthStatus:
        """Status of one account; an unknown id is an :class:`InputError`."""
        return STATUS_ORDER[int(self._codes[self._row(account_id)])]

    def health(self) -> AccountHealth:
        """Every account's health (:func:`pmargin.health.assess` of the current numbers)."""
        return assess(self._equity, self._im, self._mm)

    def snapshot(self, account_id: str) -> MarginSnapshot:
        """One account's equity, IM and MM now (USD); an unknown id is an :class:`InputError`."""
        row = self._row(account_id)
        return MarginSnapshot(
            float(self._equity[row]), float(self._im[row]), float(self._mm[row]), account_id
        )

    @property
    def margined_rows(self) -> dict[str, int]:
        """Code -> how many accounts its block is valued and margined on at each update.

        The accounts holding a position in the block's columns or a balance of its asset,
        when the start check allowed screening the others out (see the module docstring);
        else every account. A whole-book (``"account"`` scope) model margins every account.
        """
        n = self._start.shape[0]
        return {c: n if b.rows is None else int(b.rows.size) for c, b in self._blocks.items()}

    def block_book(self, code: str) -> BookArrangement:
        """Return the book the block of ``code`` is valued and margined on, at the market now.

        Its columns are the block's instruments held by its accounts, its rows the accounts of
        :attr:`margined_rows` (in book order), its assets ``(code,)`` when a balance column.

        Raises
        ------
        InputError
            Field ``code``: no block of that code (neither an underlying held nor an asset).
        """
        block = self._blocks.get(code)
        if block is None:
            raise InputError(
                "code", code, f"is not one of the monitor's blocks {tuple(self._blocks)}"
            )
        return block.book

    @property
    def paused_underlyings(self) -> frozenset[str]:
        """Underlyings whose liquidations are paused by a circuit breaker."""
        return self._breakers.paused_underlyings

    @property
    def breaker_config(self) -> BreakerConfig:
        """The circuit-breaker limits in force."""
        return self._breakers.config

    def with_book(self, book: BookArrangement) -> Monitor:
        """Return a monitor of ``book`` (new positions, e.g. after liquidations) at this market.

        The feed state carries over: paused underlyings, jump references, clean-tick counts and
        the event clock, so a book change never resets a circuit breaker. So does the margin
        scope (same model, same instruments: not checked again). A ``book`` already at this
        market (``book.market is self.market``, e.g. the liquidation engine's book after an
        episode) is not resolved again; any other is rebased to it
        (:meth:`~pmargin.book.BookArrangement.rebased`).
        """
        if book.market is not self.market:
            book = book.rebased(self.market)
        new = Monitor(self.model, book, breakers=self.breaker_config, scope=self._scope)
        new._breakers = self._breakers
        new._now = self._now
        return new

    def full_recompute(self) -> FullState:
        """Recompute everything from scratch at the current market (the reference path)."""
        return full_recompute(self._model, self._start.rebased(self._market))

    def state(self) -> FullState:
        """Every account's health now, from what the monitor holds (:meth:`full_recompute`'s twin).

        The book is the rebased whole book assembled from the blocks' instruments as they were
        resolved at the current market (nothing is resolved again); the margin is the model's
        last whole-book run for an account-scoped model (current: every update re-margins the
        whole book), else the model run once on that book; equity is the monitor's.
        Equals :meth:`full_recompute` to rounding.
        """
        book = self._whole_book()
        margin = self._result
        if self._scope != "account" or margin is None:
            margin = self._model.compute(book)
        return FullState(
            book=book,
            margin=margin,
            equity=self._equity.copy(),
            initial_margin=margin.initial_margin,
            maintenance_margin=margin.maintenance_margin,
            status=assess(self._equity, margin.initial_margin, margin.maintenance_margin).status,
        )

    # ------------------------------------------------------------------ updates

    def apply(self, update: MarketUpdate) -> list[MonitorEvent]:
        """Consume one feed update; return the events it caused, in order.

        Pause events come first (staleness, then each underlying's tick), then resumes, then
        status changes.

        Raises
        ------
        InputError
            For an update older than the last one, a mark on an unknown symbol, a vol shift
            on an underlying without a surface, or a surface with an expired slice; nothing
            is changed then. Bad numbers are never errors: they trip the breakers.
        """
        if not isinstance(update, MarketUpdate):
            raise InputError("update", type(update).__name__, "must be a MarketUpdate")
        now = update.timestamp
        if now < self._now:
            raise InputError(
                "update.timestamp",
                format_timestamp(now),
                f"is before the last update {format_timestamp(self._now)}",
            )
        ticks = self._ticks(update)
        self._now = now
        breakers = self._breakers
        events: list[MonitorEvent] = list(breakers.check_stale(now))
        accepted: dict[str, PendingTick] = {}
        for code, tick in ticks.items():
            in_force = self._market.index.get(code)
            ok, trips = breakers.screen(tick, now, in_force, self._quote_usd)
            events.extend(trips)
            if ok:
                accepted[code] = PendingTick(
                    tick.index, {s: m for s, (_, m) in tick.marks.items()}, tick.surface
                )
        resumed = []
        for code in breakers.due(now):
            pending, event = breakers.resume(code, now)
            accepted[code] = pending
            resumed.append(event)
        self._commit(accepted, events)
        events.extend(e for e in resumed if e.underlying in accepted)
        events.extend(self._status_events())
        return events

    def check_feeds(self, now: datetime | str) -> list[MonitorEvent]:
        """Run the staleness and resume rules at ``now`` without new prices (a heartbeat)."""
        return self.apply(MarketUpdate(parse_timestamp(now, "now")))

    def roll_to(self, timestamp: datetime | str) -> list[MonitorEvent]:
        """Move the valuation time to ``timestamp`` and recompute every account.

        Raises
        ------
        InputError
            When a held option or future has expired by ``timestamp``.
        """
        when = parse_timestamp(timestamp, "timestamp")
        market = self._market.replace(timestamp=when)
        self._market = market
        self._now = max(self._now, when)
        self._refresh(tuple(self._blocks), market)
        return list(self._status_events())

    # ------------------------------------------------------------------ internals

    def _row(self, account_id: str) -> int:
        return self._start.row(account_id)

    def _quote_usd(self, instrument: Instrument) -> float:
        return self._market.usd_price(instrument.quote)

    def _instrument(self, symbol: str) -> Instrument:
        found = self._symbols.get(symbol) or self._market.instruments.get(symbol)
        if found is not None:
            return found
        try:
            return parse_symbol(symbol)
        except InputError as exc:
            raise InputError(f"update.marks.{symbol}", symbol, exc.reason) from None

    def _ticks(self, update: MarketUpdate) -> dict[str, UnderlyingTick]:
        """Split an update by underlying, surfaces re-anchored and vol shifts applied."""
        ticks: dict[str, UnderlyingTick] = {}

        def tick(code: str) -> UnderlyingTick:
            return ticks.setdefault(code, UnderlyingTick(code))

        for code, price in update.index.items():
            tick(code).index = price
        for symbol, mark in update.marks.items():
            instrument = self._instrument(symbol)
            tick(instrument.underlying).marks[symbol] = (instrument, mark)
        asof = self._market.timestamp
        for code, surface in update.surfaces.items():
            tick(code).surface = VolSurface(code, surface.slices, asof)
        for code, shift in update.vol_shift.items():
            t = tick(code)
            t.vol_shift = shift
            base = t.surface or self._surface_in_force(code)
            if base is None:
                raise InputError(
                    f"update.vol_shift.{code}", shift, f"has no {code} surface to shift"
                )
            if math.isfinite(shift):
                t.surface = _shifted(base, shift)
                if t.surface is None:
                    t.vol_shift = math.nan
        return ticks

    def _surface_in_force(self, code: str) -> VolSurface | None:
        pending = self._breakers.pending(code)
        if pending is not None and pending.surface is not None:
            return pending.surface
        return self._market.surfaces.get(code)

    def _commit(self, accepted: dict[str, PendingTick], events: list[MonitorEvent]) -> None:
        """Apply the accepted ticks; a tick the valuation cannot price trips its breaker."""
        market = self._market
        affected: tuple[str, ...] = ()
        while accepted:
            market = _with_ticks(self._market, accepted)
            changed = set(accepted)
            affected = tuple(c for c, b in self._blocks.items() if b.depends_on & changed)
            failed: dict[str, str] = {}
            resolved: dict[str, ResolvedInstruments] = {}
            for code in affected:
                block = self._blocks[code]
                try:
                    resolved[code] = block.resolver.resolve(market)
                except (MarketDataError, InputError) as exc:
                    for culprit in sorted(block.depends_on & changed):
                        failed.setdefault(culprit, str(exc))
            if not failed:
                self._market = market
                self._refresh(affected, market, resolved)
                return
            for code, reason in failed.items():
                del accepted[code]
                self._breakers.discard_pending(code, self._now)
                events.append(
                    self._breakers.trip(
                        code, self._now, BreakerReason.UNPRICEABLE, f"update.{code}",
                        math.nan, math.nan, math.nan, f"{code} tick cannot be valued: {reason}",
                    )
                )  # fmt: skip
        self.last_recomputed = ()

    def _new_block(self, code: str) -> _Block:
        columns = np.flatnonzero(self._column_code == code).astype(np.int64)
        assets = (code,) if code in self._start.assets else ()
        start = self._start.take_columns(columns, assets)
        terms = start.resolved.terms
        depends = {code, *terms.quote.tolist(), *terms.settlement_currency.tolist()}
        n = self._start.shape[0]
        resolver = InstrumentResolver(start.instruments, terms)
        return _Block(
            code,
            columns,
            frozenset(depends),
            resolver,
            start.resolved,
            None,
            None,
            start,
            start,
            np.zeros(n),
            np.zeros(n),
            np.zeros(n),
        )

    def _screen(self, block: _Block) -> None:
        """Margin ``block`` on the rows holding something in it from now on, when exact.

        A row with no position in the block's columns and no balance of its asset has no
        position value there; the model is run on the other rows alone when, at the start
        market, it charged such rows exactly nothing and the other rows margined apart get
        what they got among all rows (rtol 1e-9): a model whose rows do not interact.
        """
        start = block.start
        n = start.shape[0]
        quantity = start.quantity
        holds = np.diff(quantity.indptr) > 0
        if start.assets:
            holds |= np.any(start.balance_matrix != 0.0, axis=1)
        rows = np.flatnonzero(holds).astype(np.int64)
        if rows.size == n or rows.size == 0:
            return
        idle = ~holds
        if np.any(block.initial_margin[idle] != 0.0) or np.any(
            block.maintenance_margin[idle] != 0.0
        ):
            return
        sub = start.take_accounts(rows)
        held = np.unique(quantity.indices).astype(np.int64)
        margin = self._model.compute(sub)
        if not (
            np.allclose(margin.initial_margin, block.initial_margin[rows], rtol=_SCOPE_RTOL)
            and np.allclose(
                margin.maintenance_margin, block.maintenance_margin[rows], rtol=_SCOPE_RTOL
            )
        ):
            return
        block.rows = rows
        block.positions_usd = block.positions_usd.copy()  # its own: written in place by rows
        block.initial_margin = block.initial_margin.copy()
        block.maintenance_margin = block.maintenance_margin.copy()
        block.held = None if held.size == len(block.resolved) else held
        block.start = sub
        block.book = sub
        block.totals = None  # other accounts: a new set-up
        block.positions = None

    def _refresh(
        self,
        codes: tuple[str, ...],
        market: MarketSnapshot,
        resolved: Mapping[str, ResolvedInstruments] | None = None,
    ) -> None:
        """Recompute the blocks of ``codes`` at ``market`` and the account totals."""
        self._market = market
        n = self._start.shape[0]
        for code in codes:
            block = self._blocks[code]
            found = None if resolved is None else resolved.get(code)
            if found is None:
                found = block.resolver.resolve(market)
            block.resolved = found
            taken = found if block.held is None else found.take(block.held)
            last = block.book  # the same columns at the market before
            valuation = value_instruments(taken, previous=(last.resolved, last.valuation))
            block.book = block.start.rebased(market, taken, valuation=valuation, recycle=True)
            rows = block.rows
            if block.positions is None:
                block.positions = KeptPositionsUsd(block.start)
            values = block.positions(block.book)
            if rows is None:
                block.positions_usd = values
            else:  # the block's own arrays, 0 outside its rows (see _screen)
                block.positions_usd[rows] = values
            if self._scope == "underlying":
                if block.totals is None:
                    block.totals = totals_plan(self._model, block.start)
                im, mm = block.totals(block.book)
                if rows is None:
                    block.initial_margin, block.maintenance_margin = im, mm
                else:
                    block.initial_margin[rows] = im
                    block.maintenance_margin[rows] = mm
        equity = balances_usd(self._cash, market)  # balances alone: no rebase
        for block in self._blocks.values():
            np.add(equity, block.positions_usd, out=equity)  # a fresh array: added in place
        self._equity = equity
        if self._scope == "underlying":
            # 0 + the first block's, as x + 0.0 (the same bits), then the others in order
            blocks = list(self._blocks.values())
            first = blocks[0] if blocks else None
            im = np.zeros(n) if first is None else np.add(first.initial_margin, 0.0)
            mm = np.zeros(n) if first is None else np.add(first.maintenance_margin, 0.0)
            for block in blocks[1:]:
                im += block.initial_margin
                mm += block.maintenance_margin
            self._im, self._mm = im, mm
            self.last_recomputed = codes
        elif codes:
            margin = self._model.compute(self._whole_book())
            self._im, self._mm = margin.initial_margin, margin.maintenance_margin
            self._result = margin
            self.last_recomputed = ("*",)

    def _whole_book(self) -> BookArrangement:
        """Return the rebased whole book, assembled from the blocks' resolved instruments."""
        blocks = [b for b in self._blocks.values() if b.columns.size]
        if not blocks:
            return self._start.rebased(self._market)  # no instruments: nothing to resolve
        resolved = blocks[0].resolved
        for block in blocks[1:]:
            resolved = resolved.concat(block.resolved)
        order = np.concatenate([b.columns for b in blocks])
        return self._start.rebased(self._market, resolved.take(np.argsort(order)))

    def _units_add_up(self) -> bool:
        """Return True when the blocks' margins add up to the model's whole-book totals."""
        whole = self._model.compute(self._whole_book())
        if any(u.underlying == "*" for u in whole.risk_units):
            return False
        return bool(
            np.allclose(self._im, whole.initial_margin, rtol=_SCOPE_RTOL, atol=1e-9)
            and np.allclose(self._mm, whole.maintenance_margin, rtol=_SCOPE_RTOL, atol=1e-9)
        )

    def _status_events(self) -> list[StatusChange]:
        codes = status_codes(self._equity, self._im, self._mm)
        rows = np.flatnonzero(codes != self._codes)
        old = self._codes
        self._codes = codes
        if rows.size == 0:
            return []
        paused = self._breakers.paused_underlyings
        quantity = self._start.quantity
        events = []
        for row in rows.tolist():
            held = self._column_code[
                quantity.indices[quantity.indptr[row] : quantity.indptr[row + 1]]
            ]
            events.append(
                StatusChange(
                    timestamp=self._now,
                    account_id=self._start.account_ids[row],
                    row=row,
                    old=STATUS_ORDER[int(old[row])],
                    new=STATUS_ORDER[int(codes[row])],
                    equity=float(self._equity[row]),
                    initial_margin=float(self._im[row]),
                    maintenance_margin=float(self._mm[row]),
                    paused_underlyings=frozenset(held.tolist()) & paused,
                )
            )
        return events


def _with_ticks(market: MarketSnapshot, ticks: Mapping[str, PendingTick]) -> MarketSnapshot:
    """``market`` with the ticks' index prices, marks and surfaces merged in."""
    index = {c: t.index for c, t in ticks.items() if t.index is not None}
    marks = {s: _mark(m) for t in ticks.values() for s, m in t.marks.items()}
    surfaces = {c: t.surface for c, t in ticks.items() if t.surface is not None}
    return market.with_updates(index=index, marks=marks, surfaces=surfaces)


def _mark(tick: MarkTick) -> Mark:
    return Mark(price=tick.price, iv=tick.iv)


def _shifted(surface: VolSurface, shift: float) -> VolSurface | None:
    """``surface`` with each slice's at-the-money vol moved by ``shift`` (``None`` if invalid).

    Each slice's SVI ``a`` moves by ``((v + shift)**2 - v**2) * T``, ``v`` its vol at
    ``k = 0`` and ``T`` its ACT/365 years: the whole smile moves by the same total variance.
    """
    pieces = []
    for piece in surface.slices:
        t = year_fraction(surface.asof, piece.expiry)
        w0 = float(piece.svi.total_variance(0.0))
        vol = math.sqrt(max(w0, 0.0) / t)
        if vol + shift <= 0.0:
            return None
        svi = piece.svi
        a = svi.a + ((vol + shift) ** 2 - vol**2) * t
        try:
            moved = RawSVI(a, svi.b, svi.rho, svi.m, svi.sigma)
        except InputError:
            return None
        pieces.append(SurfaceSlice(piece.expiry, moved, piece.forward))
    return VolSurface(surface.underlying, pieces, surface.asof)
