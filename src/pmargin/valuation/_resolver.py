"""Resolve the same instruments again and again, at one market after another, fast.

:func:`~pmargin.valuation.resolve_instruments` asks the market about every instrument in turn
(its quote's price, its expiry's year fraction and forward, its mark): one Python pass over the
instruments per call, ~30 us each. A monitor re-resolves the same few thousand instruments on
every tick of their underlying, where almost every answer is shared: a forward per
(underlying, expiry), a price per currency, a year fraction per expiry.
:class:`InstrumentResolver` reads the instruments once, groups them by those keys, and on each
:meth:`~InstrumentResolver.resolve` asks the market once per key and spreads the answers with
array indexing; the marks are read from the market's marks when it has fewer of them than
there are instruments. Vols come from the same vectorised surface and mark-price calls as the
reference, on the same options.

Between markets (a monitor's ticks) a resolver keeps what the same inputs would give again:
the times to expiry (per timestamp), the column groupings of a pattern of marks, each
surface's reading at its options' times (:meth:`~pmargin.market.VolSurface.at_times`, per
surface object) with the vols of the last forwards, and the last implied vols of the options
marked by price with their inputs. A tick that leaves an expiry's forward where it was (an
explicit forward, say) neither reads the surface nor solves an implied vol again.

The result equals ``resolve_instruments(instruments, market)`` bit for bit for any market
(:meth:`~InstrumentResolver.resolve_reference` is that call, the twin the tests compare
against). When the market cannot resolve an instrument (an expired expiry, a missing price,
surface or mark, a mark price without an implied vol) the reference runs and raises its own
error, naming the first instrument at fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import numpy as np

from pmargin._typing import FloatArray, IntArray
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument, Kind
from pmargin.market import Mark, MarketSnapshot, SurfaceAtTimes, VolSurface
from pmargin.timeutil import parse_expiry
from pmargin.valuation._resolve import (
    ResolvedInstruments,
    VolSource,
    resolve_instruments,
    vols_from_mark_prices,
)
from pmargin.valuation._terms import InstrumentTerms

__all__ = ["InstrumentResolver"]

_SOURCES = np.array(
    [VolSource.NONE, VolSource.MARK_IV, VolSource.MARK_PRICE, VolSource.SURFACE], dtype=object
)
"""Vol sources by code (0 none, 1 mark iv, 2 mark price, 3 surface)."""


_K = TypeVar("_K")


class _UnresolvableError(Exception):
    """The fast path met something the reference reports (it runs and raises)."""


def _groups(keys: Sequence[_K]) -> tuple[list[_K], IntArray]:
    """Distinct ``keys`` in order of first appearance and each key's group, shape ``(n,)``."""
    where: dict[_K, int] = {}
    group = np.fromiter((where.setdefault(k, len(where)) for k in keys), np.int64, len(keys))
    return list(where), group


def _parsed(expiry: datetime | None) -> datetime | None:
    """``expiry`` as :meth:`MarketSnapshot.forward` parses it; ``None`` if none or refused."""
    if expiry is None:
        return None
    try:
        return parse_expiry(expiry, "expiry")
    except InputError:
        return None


class InstrumentResolver:
    """Resolves fixed instruments at any market, asking it once per shared key.

    Parameters
    ----------
    instruments
        The instruments, in column order (``n`` of them).
    terms
        Their :class:`~pmargin.valuation.InstrumentTerms` when already held (e.g.
        ``book.resolved.terms``), else read here; carried onto every result.

    Examples
    --------
    >>> resolver = InstrumentResolver(book.instruments, book.resolved.terms)  # doctest: +SKIP
    >>> resolved = resolver.resolve(market)  # resolve_instruments(..., market)  # doctest: +SKIP
    """

    def __init__(
        self, instruments: Sequence[Instrument], terms: InstrumentTerms | None = None
    ) -> None:
        items = tuple(instruments)
        self._instruments = items
        self._terms = InstrumentTerms.of(items) if terms is None else terms
        n = len(items)
        self._n = n
        columns: dict[str, list[int]] = {}
        for j, inst in enumerate(items):
            columns.setdefault(inst.symbol, []).append(j)
        self._columns = columns
        """Symbol -> its columns (one, unless the same instrument is given twice)."""
        self._is_option = np.array([i.is_option for i in items], dtype=bool)
        self._is_call = np.array([i.is_option and i.is_call for i in items], dtype=bool)
        self._is_inverse = np.array([i.is_inverse for i in items], dtype=bool)
        self._strike = np.array(
            [i.strike if i.strike is not None else np.nan for i in items], dtype=np.float64
        ).reshape(n)
        self._quotes, self._quote_group = _groups([i.quote for i in items])
        self._settles, self._settle_group = _groups([i.settlement_currency for i in items])
        self._underlyings, self._underlying_group = _groups([i.underlying for i in items])
        dated = [j for j, i in enumerate(items) if i.expiry is not None]
        self._dated = np.asarray(dated, dtype=np.int64)
        expiries, self._expiry_group = _groups([items[j].expiry for j in dated])
        self._expiries: list[datetime] = [e for e in expiries if e is not None]
        self._spot = np.flatnonzero([i.kind is Kind.SPOT for i in items]).astype(np.int64)
        self._futures = [j for j, i in enumerate(items) if i.is_futures_style]
        self._perpetual = {j for j in self._futures if items[j].kind is Kind.PERPETUAL}
        self._options = np.flatnonzero(self._is_option).astype(np.int64)
        self._option_settle_group = self._settle_group[self._options]
        """Shape ``(n_options,)``: each option's settlement currency group (its rate's)."""
        self._option_source = np.zeros(n, dtype=np.int64)
        self._option_source[self._options] = 3
        """Shape ``(n,)``: every option's vol off its surface (code 3) until a mark says else."""
        self._pairs, self._pair_group = _groups([(i.underlying, i.expiry) for i in items])
        self._pair_expiry = [_parsed(expiry) for _, expiry in self._pairs]
        """Each pair's expiry as the market parses it (``None``: none, or refused)."""
        self._memo = _Memo()

    def __len__(self) -> int:
        return self._n

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """The instruments resolved, in column order."""
        return self._instruments

    def resolve(self, market: MarketSnapshot) -> ResolvedInstruments:
        """Resolve the instruments at ``market``: ``resolve_instruments(instruments, market)``.

        Returns
        -------
        ResolvedInstruments
            Arrays of shape ``(n,)``, equal bit for bit to the reference's; ``terms`` shared.

        Raises
        ------
        InputError, MarketDataError
            As :func:`~pmargin.valuation.resolve_instruments` (which runs to raise them).
        """
        try:
            return self._resolve(market)
        except (_UnresolvableError, InputError, MarketDataError):
            return self.resolve_reference(market)

    def resolve_reference(self, market: MarketSnapshot) -> ResolvedInstruments:
        """:func:`~pmargin.valuation.resolve_instruments` of these instruments (the twin)."""
        resolved = resolve_instruments(self._instruments, market)
        return resolved

    # ------------------------------------------------------------------ internals

    def _resolve(self, market: MarketSnapshot) -> ResolvedInstruments:
        n = self._n
        memo = self._memo
        quote_price = np.array([market.usd_price(c) for c in self._quotes], dtype=np.float64)
        quote_usd = quote_price.take(self._quote_group) if n else np.empty(0)
        settlement_usd = (
            np.array([market.usd_price(c) for c in self._settles]).take(self._settle_group)
            if n
            else np.empty(0)
        )
        time = self._time(market).copy()
        marks = self._marks(market)
        usd = np.empty(n)
        by_forward = np.ones(n, dtype=bool)
        if self._spot.size:
            spot = self._spot
            codes = self._underlying_group[spot]
            prices = {int(g): market.usd_price(self._underlyings[g]) for g in set(codes)}
            usd[spot] = [prices[int(g)] for g in codes]
            by_forward[spot] = False
        for j in self._futures:
            mark = marks.get(j)
            if mark is not None:
                if mark.price is None or mark.price <= 0.0:
                    raise _UnresolvableError
                usd[j] = mark.price * quote_price[self._quote_group[j]]
            elif j in self._perpetual:
                usd[j] = market.index_price(self._instruments[j].underlying)
            else:
                continue
            by_forward[j] = False
        key = by_forward.tobytes()
        found = memo.by_forward.get(key)
        if found is None:
            need = np.flatnonzero(by_forward)
            groups = self._pair_group[need]
            found = memo.by_forward[key] = (need, groups, np.unique(groups).tolist())
        need, groups, wanted = found
        if need.size:
            forward = np.zeros(len(self._pairs))
            for g in wanted:
                underlying, expiry = self._pairs[g]
                if expiry is None:  # spot or perpetual: never priced off a forward
                    raise _UnresolvableError
                when = self._pair_expiry[g]
                if when is None:  # an expiry the market refuses: its own error
                    forward[g] = market.forward(underlying, expiry)
                else:
                    forward[g] = market.forward_at(underlying.upper(), when)
            usd[need] = forward[groups]
        underlying_price = usd / quote_usd
        return self._with_vols(market, marks, underlying_price, quote_usd, settlement_usd, time)

    def _time(self, market: MarketSnapshot) -> FloatArray:
        """Shape ``(n,)``: years to each expiry (NaN undated), kept for the market's timestamp."""
        memo = self._memo
        if memo.time is None or memo.timestamp != market.timestamp:
            time = np.full(self._n, np.nan)
            if self._expiries:
                years = np.array(
                    [market.year_fraction(e) for e in self._expiries], dtype=np.float64
                )
                if np.any(years <= 0.0):
                    raise _UnresolvableError
                time[self._dated] = years[self._expiry_group]
            time.setflags(write=False)
            memo.reset(market.timestamp, time)
        assert memo.time is not None
        return memo.time

    def _marks(self, market: MarketSnapshot) -> dict[int, Mark]:
        """Column -> its mark, for the columns the market marks."""
        columns = self._columns
        if len(market.marks) <= len(columns):
            found = ((columns.get(s, ()), m) for s, m in market.marks.items())
            return {j: m for at, m in found for j in at}
        get = market.marks.get
        pairs = ((j, get(inst.symbol)) for j, inst in enumerate(self._instruments))
        return {j: m for j, m in pairs if m is not None}

    def _with_vols(
        self,
        market: MarketSnapshot,
        marks: dict[int, Mark],
        underlying_price: FloatArray,
        quote_usd: FloatArray,
        settlement_usd: FloatArray,
        time: FloatArray,
    ) -> ResolvedInstruments:
        """Return the resolved instruments: the options' rates and vols added."""
        n = self._n
        options = self._options
        rate = np.zeros(n)
        vol = np.full(n, np.nan)
        source = self._option_source.copy()
        mark_price = np.full(n, np.nan)
        if options.size:
            rates = np.array([market.rate(c) for c in self._settles], dtype=np.float64)
            rate[options] = rates.take(self._option_settle_group)
            for j, mark in marks.items():
                if not self._is_option[j]:
                    continue
                if mark.iv is not None:
                    vol[j], source[j] = mark.iv, 1
                elif mark.price is not None:
                    mark_price[j], source[j] = mark.price, 2
            sources = self._sources(source)
            self._vols_from_mark_prices(
                sources.mark_price, mark_price, underlying_price, time, rate, vol
            )
            for g, members in sources.on_surface:
                underlying = self._underlyings[g]
                if not market.has_surface(underlying):
                    raise _UnresolvableError
                surface = market.surface(underlying)
                vol[members] = self._surface_vols(g, surface, members, underlying_price[members])
        else:
            sources = self._sources(source)
        return ResolvedInstruments(
            instruments=self._instruments,
            is_option=self._is_option.copy(),
            is_call=self._is_call.copy(),
            is_inverse=self._is_inverse.copy(),
            underlying_price=underlying_price,
            strike=self._strike.copy(),
            time=time,
            vol=vol,
            rate=rate,
            quote_usd=quote_usd,
            settlement_usd=settlement_usd,
            vol_source=sources.vol_source,
            terms=self._terms,
        )

    def _sources(self, source: IntArray) -> _Sources:
        """Where each column's vol comes from, by code: the groups derived once per pattern."""
        key = source.tobytes()
        found = self._memo.sources.get(key)
        if found is None:
            on_surface = np.flatnonzero(source == 3)
            groups = self._underlying_group[on_surface]
            found = _Sources(
                vol_source=tuple(_SOURCES[source].tolist()),
                mark_price=np.flatnonzero(source == 2),
                on_surface=tuple((g, on_surface[groups == g]) for g in np.unique(groups).tolist()),
            )
            self._memo.sources[key] = found
        return found

    def _surface_vols(
        self, group: int, surface: VolSurface, members: IntArray, forward: FloatArray
    ) -> FloatArray:
        """Vols of the options ``members`` of one underlying off ``surface``, shape ``(k,)``.

        The surface is read at the options' times once (kept while the surface object and the
        options are the same); the vols are worked out again only when a forward moved.
        """
        memo = self._memo
        kept = memo.grids.get(group)
        if kept is None or kept[0] is not surface or kept[1] is not members:
            grid = surface.at_times(self._memo_time()[members])
            vols = grid.implied_vol(self._strike[members], forward)
            memo.grids[group] = (surface, members, grid, forward, vols)
            return vols
        if np.array_equal(kept[3], forward):
            return kept[4]
        vols = kept[2].implied_vol(self._strike[members], forward)
        memo.grids[group] = (surface, members, kept[2], forward, vols)
        return vols

    def _memo_time(self) -> FloatArray:
        time = self._memo.time
        assert time is not None
        return time

    def _vols_from_mark_prices(
        self,
        idx: IntArray,
        mark_price: FloatArray,
        forward: FloatArray,
        time: FloatArray,
        rate: FloatArray,
        vol: FloatArray,
    ) -> None:
        """Fill ``vol[idx]`` from the options' mark prices (``vols_from_mark_prices``).

        The solve runs again only when an input (mark price, forward, time, rate) moved since
        the last one; else its vols are reused (the same inputs give the same vols).
        """
        if idx.size == 0:
            return
        inputs = np.stack([mark_price[idx], forward[idx], time[idx], rate[idx]])
        last = self._memo.implied
        if last is not None and np.array_equal(last[1], idx) and np.array_equal(last[0], inputs):
            vol[idx] = last[2]
            return
        vols_from_mark_prices(
            self._instruments,
            idx,
            mark_price,
            forward,
            self._strike,
            time,
            self._is_call,
            self._is_inverse,
            rate,
            vol,
        )
        self._memo.implied = (inputs, idx, vol[idx].copy())


@dataclass(frozen=True, slots=True)
class _Sources:
    """The columns by vol source for one pattern of marks (see ``_SOURCES``)."""

    vol_source: tuple[str, ...]
    mark_price: IntArray
    on_surface: tuple[tuple[int, IntArray], ...]
    """Per underlying group: its options read off the surface."""


class _Memo:
    """What a resolver keeps from one market to the next (all of it for one timestamp).

    Keys are the inputs' patterns (which columns are priced off a forward, which vols come
    from where) and the surface objects themselves: a new pattern or surface is worked out
    afresh, so a kept answer is only ever the answer the same inputs give.
    """

    __slots__ = ("by_forward", "grids", "implied", "sources", "time", "timestamp")

    def __init__(self) -> None:
        self.timestamp: datetime | None = None
        self.time: FloatArray | None = None
        self.by_forward: dict[bytes, tuple[IntArray, IntArray, list[int]]] = {}
        self.sources: dict[bytes, _Sources] = {}
        self.grids: dict[
            int, tuple[VolSurface, IntArray, SurfaceAtTimes, FloatArray, FloatArray]
        ] = {}
        """Underlying group -> the surface, the options read off it, its reading at their times
        (kept while the surface object and those options are the same), the last forwards and
        the vols they gave."""
        self.implied: tuple[FloatArray, IntArray, FloatArray] | None = None

    def reset(self, timestamp: datetime, time: FloatArray) -> None:
        """Start over at ``timestamp`` (times to expiry ``time``): every time-bound answer goes."""
        self.timestamp = timestamp
        self.time = time
        self.grids.clear()
        self.implied = None
