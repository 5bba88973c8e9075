"""One immutable market snapshot: index and asset prices, rates, marks, forwards, vol surfaces.

Units and conventions
---------------------
* ``index[u]``, ``forwards[u][expiry]`` and slice forwards: USD per 1 unit of the underlying.
* ``prices[asset]``: USD per 1 unit of an asset (collateral coins, stablecoins). ``"USD"`` is
  always 1; a coin's price defaults to its index; USDC and USDT are never assumed to be 1.
* ``rates[ccy]``: continuously compounded decimals per year (0.05), 0 for a currency not listed.
* ``marks[symbol]``: a :class:`~pmargin.market.Mark` (price in premium currency, or iv).
* Times: ACT/365 years from ``timestamp`` (:func:`pmargin.timeutil.year_fraction`).

The snapshot only holds forwards and surface slices for expiries after its timestamp; moving
the timestamp with :meth:`MarketSnapshot.replace` drops those that have expired.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from pmargin._validation import check_currency
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument
from pmargin.market._checks import (
    abbreviate,
    check_price,
    check_rate,
    format_expiry,
)
from pmargin.market._futures import FuturesIndex, index_futures
from pmargin.market._mark import Mark
from pmargin.market._moved import MarkKind, check_moves, moved_market
from pmargin.market._surface import VolSurface
from pmargin.timeutil import format_timestamp, parse_expiry, parse_timestamp
from pmargin.timeutil import year_fraction as _year_fraction

__all__ = ["REPORTING_CURRENCY", "MarketSnapshot"]

REPORTING_CURRENCY = "USD"
"""The currency every USD price is in; its price is 1 by definition."""

_V = TypeVar("_V")

_Check = Callable[[object, str], float]

ExpiryLike = datetime | date | str
"""An expiry: aware or naive (UTC) datetime, a date (08:00 UTC) or ISO-8601 text."""


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """An immutable, validated market snapshot at one instant.

    Parameters
    ----------
    timestamp
        The snapshot instant (aware UTC; ISO text, naive datetimes and epoch ms are converted).
    index
        ``underlying -> USD index price`` of one unit.
    prices
        ``asset -> USD price`` of one unit (stablecoins, collateral). ``"USD"``, if given,
        must be 1.
    rates
        ``currency -> continuously compounded rate per year`` (decimal).
    marks
        ``symbol -> Mark``.
    forwards
        ``underlying -> {expiry -> USD forward price}``, expiries after ``timestamp``.
    surfaces
        ``underlying -> VolSurface`` anchored at ``timestamp``.
    instruments
        ``symbol -> Instrument`` for mark symbols that venue symbol parsing does not cover
        (explicit specs); only used to recognise dated futures among the marks. Not part of
        the market file.

    Raises
    ------
    InputError
        Naming the field path (``index.BTC``, ``forwards.ETH.2024-12-27``, ...) of the first
        invalid value.
    """

    timestamp: datetime
    index: Mapping[str, float] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)
    rates: Mapping[str, float] = field(default_factory=dict)
    marks: Mapping[str, Mark] = field(default_factory=dict)
    forwards: Mapping[str, Mapping[datetime, float]] = field(default_factory=dict)
    surfaces: Mapping[str, VolSurface] = field(default_factory=dict)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    _futures: FuturesIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate every section, freeze the mappings and index the futures marks."""
        timestamp = parse_timestamp(self.timestamp, "timestamp")
        object.__setattr__(self, "timestamp", timestamp)
        index = _code_map(self.index, "index", check_price)
        if REPORTING_CURRENCY in index:
            raise InputError(
                f"index.{REPORTING_CURRENCY}",
                index[REPORTING_CURRENCY],
                "is not an underlying: USD is the reporting currency, always 1",
            )
        prices = _code_map(self.prices, "prices", check_price)
        usd = prices.get(REPORTING_CURRENCY)
        if usd is not None and usd != 1.0:
            raise InputError(
                f"prices.{REPORTING_CURRENCY}", usd, "must be 1 (USD is the reporting currency)"
            )
        object.__setattr__(self, "index", _frozen(index))
        object.__setattr__(self, "prices", _frozen(prices))
        object.__setattr__(self, "rates", _frozen(_code_map(self.rates, "rates", check_rate)))
        object.__setattr__(self, "marks", _frozen(_marks(self.marks)))
        object.__setattr__(self, "forwards", _frozen(_forwards(self.forwards, timestamp)))
        object.__setattr__(self, "surfaces", _frozen(_surfaces(self.surfaces, timestamp)))
        object.__setattr__(self, "instruments", _frozen(_instruments(self.instruments)))
        object.__setattr__(self, "_futures", index_futures(self.marks, self.instruments))

    def __repr__(self) -> str:
        """Summarise the snapshot on one line (the full content is in the fields)."""
        return (
            f"MarketSnapshot(timestamp={format_timestamp(self.timestamp)!r}, "
            f"index={sorted(self.index)}, prices={sorted(self.prices)}, "
            f"rates={sorted(self.rates)}, marks={len(self.marks)}, "
            f"forwards={ {u: len(f) for u, f in sorted(self.forwards.items())} }, "
            f"surfaces={sorted(self.surfaces)})"
        )

    # ------------------------------------------------------------------ prices and rates

    def usd_price(self, asset: str) -> float:
        """USD price of one unit of ``asset``.

        ``"USD"`` is 1; otherwise ``prices[asset]``, else ``index[asset]``.

        Raises
        ------
        MarketDataError
            When neither is given (stablecoins are never assumed to be worth 1 USD).
        """
        code = asset.upper()
        if code == REPORTING_CURRENCY:
            return 1.0
        price = self.prices.get(code, self.index.get(code))
        if price is None:
            raise MarketDataError(
                f"no USD price for {code}: add prices.{code} (USD per 1 {code}) or "
                f"index.{code}; only USD is assumed to be worth 1"
            )
        return price

    def index_price(self, underlying: str) -> float:
        """USD index price of one unit of ``underlying``.

        Raises
        ------
        MarketDataError
            When ``index`` has no entry for it.
        """
        code = underlying.upper()
        price = self.index.get(code)
        if price is None:
            raise MarketDataError(f"no index price for {code}: add index.{code} (USD per 1 {code})")
        return price

    def rate(self, currency: str) -> float:
        """Continuously compounded rate per year of ``currency``; 0.0 when not listed."""
        return self.rates.get(currency.upper(), 0.0)

    def mark(self, symbol: str) -> Mark | None:
        """Return the mark of ``symbol`` (exact symbol), or ``None``."""
        return self.marks.get(symbol)

    # ------------------------------------------------------------------ time

    def year_fraction(self, expiry: ExpiryLike) -> float:
        """ACT/365 years from the snapshot timestamp to ``expiry`` (negative once expired)."""
        return _year_fraction(self.timestamp, parse_expiry(expiry, "expiry"))

    # ------------------------------------------------------------------ forwards

    def forward(self, underlying: str, expiry: ExpiryLike) -> float:
        """USD forward price of one unit of ``underlying`` for ``expiry``.

        Resolution order:

        1. ``forwards[underlying][expiry]``;
        2. the price mark of a dated future on that underlying and expiry (USD-quoted first,
           then by symbol), converted to USD with its quote currency's price (USDC, USDT);
        3. the ``forward`` of the surface slice of that expiry;
        4. ``index[underlying] * exp((rate(USD) - rate(underlying)) * T)``, ``T`` in ACT/365
           years.

        For an expiry at or before the timestamp the forward is the index.

        Raises
        ------
        MarketDataError
            When none of the four is available, saying what to add; or when a USDC/USDT
            future is found but its quote currency has no price.
        """
        return self.forward_at(underlying.upper(), parse_expiry(expiry, "expiry"))

    def forward_at(self, code: str, when: datetime) -> float:
        """:meth:`forward` of an underlying code (upper case) and an expiry already parsed.

        ``when`` is an aware UTC datetime (an instrument's ``expiry``): nothing is parsed or
        checked again, for callers that ask for the same expiries tick after tick.

        Raises
        ------
        MarketDataError
            As :meth:`forward`.
        """
        t = _year_fraction(self.timestamp, when)
        if t > 0.0:
            explicit = self.forwards.get(code, {}).get(when)
            if explicit is not None:
                return explicit
            futures = self._futures.get((code, when))
            if futures:
                symbol, quote = futures[0]
                price = self.marks[symbol].price
                assert price is not None
                return price * self.usd_price(quote)
            surface = self.surfaces.get(code)
            piece = None if surface is None else surface.slice_at(when)
            if piece is not None and piece.forward is not None:
                return piece.forward
        spot = self.index.get(code)
        if spot is None:
            raise MarketDataError(
                f"no forward for {code} expiry {format_timestamp(when)}: add forwards.{code}, "
                f"a futures mark, a surface forward, or index.{code}"
            )
        if t <= 0.0:
            return spot
        return spot * math.exp((self.rate(REPORTING_CURRENCY) - self.rate(code)) * t)

    def forward_prices(
        self, underlying: str, expiries: Sequence[ExpiryLike]
    ) -> npt.NDArray[np.float64]:
        """:meth:`forward` for each of ``expiries``; float64 array of shape ``(n_expiries,)``."""
        return np.array([self.forward(underlying, e) for e in expiries], dtype=np.float64)

    # ------------------------------------------------------------------ volatility

    def has_surface(self, underlying: str) -> bool:
        """Return True when a volatility surface is given for ``underlying``."""
        return underlying.upper() in self.surfaces

    def surface(self, underlying: str) -> VolSurface:
        """Return the volatility surface of ``underlying``.

        Raises
        ------
        MarketDataError
            When the snapshot has none.
        """
        code = underlying.upper()
        found = self.surfaces.get(code)
        if found is None:
            raise MarketDataError(
                f"no volatility surface for {code}: add surfaces.{code} or mark its options "
                "with an iv or a price"
            )
        return found

    def surface_vols(
        self,
        underlying: str,
        strikes: npt.ArrayLike,
        forwards: npt.ArrayLike,
        times: npt.ArrayLike,
    ) -> npt.NDArray[np.float64]:
        """Implied vols from the surface of ``underlying``, vectorised.

        Parameters
        ----------
        underlying
            Underlying code.
        strikes, forwards
            Strikes and forwards of each point, in the same currency; broadcast together.
        times
            ACT/365 years from the snapshot timestamp, ``>= 0``.

        Returns
        -------
        ndarray
            Annualised decimal vols, float64 of the broadcast shape.
        """
        return self.surface(underlying).implied_vol(strikes, forwards, times)

    def moved(
        self,
        moves: Mapping[str, float],
        vol_beta: float = 0.0,
        option_vols: Mapping[str, tuple[str, float]] | None = None,
        kinds: tuple[MarkKind, ...] | None = None,
    ) -> MarketSnapshot:
        """Return the snapshot after relative moves of underlyings' prices.

        Every USD price of underlying ``u`` times ``1 + moves[u]``; options sticky strike
        unless ``vol_beta``; see :func:`pmargin.market.moved_market` for the rule and the
        parameters (``option_vols``: options whose vol stays put per strike, ``kinds``: the
        marks classified once by :func:`pmargin.market.mark_kinds`).

        Raises
        ------
        InputError
            Field ``moves.<underlying>``: a move not finite or ``<= -1``.
        """
        return moved_market(self, check_moves(moves), vol_beta, option_vols or {}, kinds)

    # ------------------------------------------------------------------ new snapshots

    def replace(
        self,
        *,
        timestamp: datetime | None = None,
        index: Mapping[str, float] | None = None,
        prices: Mapping[str, float] | None = None,
        rates: Mapping[str, float] | None = None,
        marks: Mapping[str, Mark] | None = None,
        forwards: Mapping[str, Mapping[datetime, float]] | None = None,
        surfaces: Mapping[str, VolSurface] | None = None,
        instruments: Mapping[str, Instrument] | None = None,
    ) -> MarketSnapshot:
        """Return a new snapshot with whole sections replaced (``None`` keeps a section).

        A new ``timestamp`` rolls the snapshot in time: forwards expiring by then are dropped
        and every surface is re-anchored with :meth:`VolSurface.rolled_to` (same SVI
        parameters, expired slices dropped, a surface with no slice left removed).
        """
        when = self.timestamp if timestamp is None else parse_timestamp(timestamp, "timestamp")
        new_forwards = self.forwards if forwards is None else forwards
        new_surfaces = self.surfaces if surfaces is None else surfaces
        if when != self.timestamp:
            new_forwards = {
                code: {e: p for e, p in by_expiry.items() if parse_expiry(e) > when}
                for code, by_expiry in new_forwards.items()
            }
            rolled = {code: s.rolled_to(when) for code, s in new_surfaces.items()}
            new_surfaces = {code: s for code, s in rolled.items() if s is not None}
        return MarketSnapshot(
            timestamp=when,
            index=self.index if index is None else index,
            prices=self.prices if prices is None else prices,
            rates=self.rates if rates is None else rates,
            marks=self.marks if marks is None else marks,
            forwards=new_forwards,
            surfaces=new_surfaces,
            instruments=self.instruments if instruments is None else instruments,
        )

    def with_updates(
        self,
        *,
        index: Mapping[str, float] | None = None,
        prices: Mapping[str, float] | None = None,
        rates: Mapping[str, float] | None = None,
        marks: Mapping[str, Mark] | None = None,
        forwards: Mapping[str, Mapping[datetime, float]] | None = None,
        surfaces: Mapping[str, VolSurface] | None = None,
    ) -> MarketSnapshot:
        """Return a new snapshot with entries added or overwritten, key by key.

        ``forwards`` merge per underlying and expiry; the other sections per key (a surface
        replaces the whole surface of its underlying). Nothing is removed: use
        :meth:`replace` for that.

        Only the entries given are validated (this snapshot's own were when it was made) and
        the futures marks are indexed again only when a mark is added or changes between price
        and iv: a feed tick costs its own entries, not the whole market. The result, and the
        error raised for an invalid entry, are :meth:`with_updates_reference`'s (the twin that
        merges and validates the whole snapshot again). Given ``forwards``, the twin runs.

        Raises
        ------
        InputError
            Naming the field path of the first invalid entry given, as the constructor does.
        """
        if forwards:
            return self.with_updates_reference(
                index=index,
                prices=prices,
                rates=rates,
                marks=marks,
                forwards=forwards,
                surfaces=surfaces,
            )
        new_index = _merged_checked(self.index, index, "index", check_price)
        if index and REPORTING_CURRENCY in new_index:
            raise InputError(
                f"index.{REPORTING_CURRENCY}",
                new_index[REPORTING_CURRENCY],
                "is not an underlying: USD is the reporting currency, always 1",
            )
        new_prices = _merged_checked(self.prices, prices, "prices", check_price)
        usd = new_prices.get(REPORTING_CURRENCY)
        if prices and usd is not None and usd != 1.0:
            raise InputError(
                f"prices.{REPORTING_CURRENCY}", usd, "must be 1 (USD is the reporting currency)"
            )
        new_rates = _merged_checked(self.rates, rates, "rates", check_rate)
        new_marks: Mapping[str, Mark] = self.marks
        futures = self._futures
        if marks:
            merged = {**self.marks, **marks}
            _marks({s: merged[s] for s in merged if s in marks})
            new_marks = MappingProxyType(merged)
            if not _same_kinds(self.marks, marks):
                futures = index_futures(new_marks, self.instruments)
        new_surfaces: Mapping[str, VolSurface] = self.surfaces
        if surfaces:
            merged_surfaces = _merged(self.surfaces, surfaces)
            fresh = {k.upper() if isinstance(k, str) else k for k in surfaces}
            _surfaces({k: v for k, v in merged_surfaces.items() if k in fresh}, self.timestamp)
            new_surfaces = MappingProxyType(merged_surfaces)
        snapshot: MarketSnapshot = object.__new__(MarketSnapshot)
        fields = {
            "timestamp": self.timestamp,
            "index": new_index,
            "prices": new_prices,
            "rates": new_rates,
            "marks": new_marks,
            "forwards": self.forwards,
            "surfaces": new_surfaces,
            "instruments": self.instruments,
            "_futures": futures,
        }
        for name, value in fields.items():
            object.__setattr__(snapshot, name, value)
        return snapshot

    def with_updates_reference(
        self,
        *,
        index: Mapping[str, float] | None = None,
        prices: Mapping[str, float] | None = None,
        rates: Mapping[str, float] | None = None,
        marks: Mapping[str, Mark] | None = None,
        forwards: Mapping[str, Mapping[datetime, float]] | None = None,
        surfaces: Mapping[str, VolSurface] | None = None,
    ) -> MarketSnapshot:
        """:meth:`with_updates` by merging and validating the whole snapshot again (the twin)."""
        merged_forwards: dict[str, dict[datetime, float]] = {
            code: dict(by_expiry) for code, by_expiry in self.forwards.items()
        }
        for code, by_expiry in (forwards or {}).items():
            target = merged_forwards.setdefault(check_currency(code, "forwards"), {})
            for expiry, price in by_expiry.items():
                target[parse_expiry(expiry, f"forwards.{code}")] = price
        return self.replace(
            index=_merged(self.index, index),
            prices=_merged(self.prices, prices),
            rates=_merged(self.rates, rates),
            marks={**self.marks, **(marks or {})},
            forwards=merged_forwards,
            surfaces=_merged(self.surfaces, surfaces),
        )


def _frozen(mapping: Mapping[str, _V]) -> Mapping[str, _V]:
    """Return a read-only view of a fresh copy of ``mapping``."""
    return MappingProxyType(dict(mapping))


def _merged(base: Mapping[str, _V], update: Mapping[str, _V] | None) -> dict[str, _V]:
    """Return ``base`` updated by ``update``, currency keys normalised to upper case."""
    merged = dict(base)
    for key, value in (update or {}).items():
        merged[key.upper() if isinstance(key, str) else key] = value
    return merged


def _merged_checked(
    base: Mapping[str, float], update: Mapping[str, float] | None, name: str, check: _Check
) -> Mapping[str, float]:
    """Return ``base`` (validated) updated by ``update``, only its entries validated, frozen.

    The entries are checked in the merged order, as :func:`_code_map` checks the whole
    section, so the first invalid one is the error the constructor gives.
    """
    if not update:
        return base
    merged = _merged(base, update)
    fresh = {key.upper() if isinstance(key, str) else key for key in update}
    result: dict[str, float] = {}
    for key, raw in merged.items():
        code = check_currency(key, name)
        result[code] = check(raw, f"{name}.{code}") if key in fresh else raw
    return MappingProxyType(result)


def _same_kinds(marks: Mapping[str, Mark], update: Mapping[str, Mark]) -> bool:
    """Return True when each mark of ``update`` replaces one of ``marks`` of the same kind.

    Then the futures index of the merged marks is that of ``marks``: it depends on which
    symbols are marked by a price, never on the prices.
    """
    for symbol, mark in update.items():
        old = marks.get(symbol)
        if (
            old is None
            or not isinstance(mark, Mark)
            or (old.price is None) != (mark.price is None)
            or (old.iv is None) != (mark.iv is None)
        ):
            return False
    return True


def _section(value: object, name: str, what: str) -> Mapping[object, object]:
    """``value`` as a mapping, or an error naming the section."""
    if not isinstance(value, Mapping):
        raise InputError(name, abbreviate(value), f"must be a mapping of {what}")
    return value


def _code_map(value: object, name: str, check: _Check) -> dict[str, float]:
    """Validate a ``{currency code: number}`` section with upper-cased, unique codes."""
    result: dict[str, float] = {}
    for key, raw in _section(value, name, "currency code -> number").items():
        code = check_currency(key, name)
        if code in result:
            raise InputError(f"{name}.{key}", raw, f"duplicates {name}.{code} (codes ignore case)")
        result[code] = check(raw, f"{name}.{code}")
    return result


def _marks(value: object) -> dict[str, Mark]:
    """Validate the ``{symbol: Mark}`` section."""
    result: dict[str, Mark] = {}
    for symbol, mark in _section(value, "marks", "symbol -> mark").items():
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError("marks", abbreviate(symbol), "keys must be instrument symbols")
        if not isinstance(mark, Mark):
            raise InputError(f"marks.{symbol}", abbreviate(mark), "must be a Mark (price or iv)")
        result[symbol] = mark
    return result


def _forwards(value: object, timestamp: datetime) -> dict[str, Mapping[datetime, float]]:
    """Validate ``{underlying: {expiry: USD forward}}`` with expiries after ``timestamp``."""
    result: dict[str, Mapping[datetime, float]] = {}
    for key, by_expiry in _section(value, "forwards", "underlying -> {expiry -> price}").items():
        code = check_currency(key, "forwards")
        if code in result:
            raise InputError(f"forwards.{key}", key, f"duplicates forwards.{code}")
        where = f"forwards.{code}"
        curve: dict[datetime, float] = {}
        for raw_expiry, price in _section(by_expiry, where, "expiry -> price").items():
            expiry = parse_expiry(raw_expiry, f"{where}.{raw_expiry}")
            path = f"{where}.{format_expiry(expiry)}"
            if expiry in curve:
                raise InputError(where, raw_expiry, f"duplicates the expiry {path}")
            if expiry <= timestamp:
                raise InputError(
                    path,
                    raw_expiry if isinstance(raw_expiry, str) else format_expiry(expiry),
                    f"must be after the market timestamp {format_timestamp(timestamp)}",
                )
            curve[expiry] = check_price(price, path)
        result[code] = MappingProxyType(curve)
    return result


def _surfaces(value: object, timestamp: datetime) -> dict[str, VolSurface]:
    """Validate ``{underlying: VolSurface}``: matching underlying, anchored at ``timestamp``."""
    result: dict[str, VolSurface] = {}
    for key, surface in _section(value, "surfaces", "underlying -> VolSurface").items():
        code = check_currency(key, "surfaces")
        if not isinstance(surface, VolSurface):
            raise InputError(f"surfaces.{code}", abbreviate(surface), "must be a VolSurface")
        if surface.underlying != code:
            raise InputError(
                f"surfaces.{code}.underlying", surface.underlying, f"must match its key {code!r}"
            )
        if surface.asof != timestamp:
            raise InputError(
                f"surfaces.{code}.asof",
                format_timestamp(surface.asof),
                f"must equal the market timestamp {format_timestamp(timestamp)} "
                "(use VolSurface.rolled_to to re-anchor)",
            )
        if code in result:
            raise InputError(f"surfaces.{key}", key, f"duplicates surfaces.{code}")
        result[code] = surface
    return result


def _instruments(value: object) -> dict[str, Instrument]:
    """Validate ``{symbol: Instrument}`` with each key equal to its instrument's symbol."""
    result: dict[str, Instrument] = {}
    for symbol, contract in _section(value, "instruments", "symbol -> Instrument").items():
        if not isinstance(contract, Instrument):
            raise InputError(f"instruments.{symbol}", abbreviate(contract), "must be an Instrument")
        if contract.symbol != symbol:
            raise InputError(
                f"instruments.{symbol}.symbol", contract.symbol, f"must match its key {symbol!r}"
            )
        result[contract.symbol] = contract
    return result
