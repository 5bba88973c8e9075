"""A market snapshot built from a venue's option chain: index, forwards, marks, SVI surfaces.

The venue readers (:mod:`pmargin.io._chain_deribit`, ``_chain_okx``) turn saved
replies into :class:`ChainQuote` rows; :func:`market_from_chain` builds the market file
document from them by these rules (``docs/market.md``, "Market from a venue's chain"):

* **timestamp**: the latest row timestamp (rows fetched one by one span a few minutes);
* **index** per underlying: the median of the rows' index prices, else of their estimated
  delivery prices;
* **forward** per expiry: the median of the rows' underlying (forward) prices of that expiry,
  the rule when rows fetched at different instants disagree;
* **futures marks**: where an expiry's underlying is a listed future (not a synthetic
  ``SYN.`` forward), that future is marked at the expiry's forward;
* **option marks** (``marks=True``): each option with a positive mark price is marked at it
  (coin per coin for inverse options); zero marks are left out, the surface prices them;
* **surfaces**: :func:`~pmargin.market.fit_svi` on the out-of-the-money options of every
  expiry (calls at or above the forward, puts below), their mark implied vols (inverted from
  the mark price where the venue gave none) converted to the snapshot's time to expiry so that
  each quote's total variance ``iv**2 x T_row`` is kept, weighted by one over the half bid-ask
  spread in implied vol; expiries with fewer than 5 such quotes get no slice.

:func:`reprice_chain` is the check: every option repriced from the snapshot's surfaces and
forwards (Black-76, not its mark) against the venue's bid and ask.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np

from pmargin._typing import FloatArray
from pmargin._validation import abbreviate
from pmargin.errors import InputError
from pmargin.instruments import Instrument, Kind, Right, Settlement, parse_symbol
from pmargin.market import MarketSnapshot, SmileQuotes, SviFit, fit_svi, market_from_dict
from pmargin.pricing import black76_value, implied_vol
from pmargin.timeutil import format_timestamp, year_fraction

__all__ = [
    "ChainMarket",
    "ChainQuote",
    "RepriceReport",
    "market_from_chain",
    "reprice_chain",
]

_MIN_SLICE_QUOTES = 5
_MIN_HALF_SPREAD = 0.0025
"""Smallest half bid-ask spread a quote's fit weight assumes (0.25 vol points)."""
_NO_SPREAD = 0.25
"""Half spread assumed for a quote without both a bid and an ask (25 vol points)."""


@dataclass(frozen=True, slots=True)
class ChainQuote:
    """One option of a venue's chain, in the venue's units.

    Attributes
    ----------
    instrument
        The parsed option (symbol, underlying, expiry, strike, right, settlement).
    timestamp
        When the venue produced the row (UTC).
    mark
        Mark price in the premium currency per unit of underlying (coin for inverse
        options), ``>= 0``.
    bid, ask
        Best bid and ask in the same unit; NaN when there is none.
    mark_iv
        Mark implied vol, annualised decimal; NaN when the venue gave none.
    forward
        The venue's underlying (forward) price of the expiry, USD; NaN when not given.
    index
        The venue's index price, USD; NaN when not given.
    delivery
        Estimated delivery price, USD; NaN when not given.
    future
        Symbol of the listed future the forward comes from, or ``None`` (synthetic forward).
    """

    instrument: Instrument
    timestamp: datetime
    mark: float
    bid: float = math.nan
    ask: float = math.nan
    mark_iv: float = math.nan
    forward: float = math.nan
    index: float = math.nan
    delivery: float = math.nan
    future: str | None = None


@dataclass(frozen=True, slots=True)
class ChainMarket:
    """A market built from a chain: the market file document, its snapshot and the SVI fits.

    Attributes
    ----------
    document
        The market file mapping (``market_to_dict`` form, ready for ``json.dump``).
    snapshot
        The validated :class:`~pmargin.market.MarketSnapshot` of ``document``.
    fits
        The SVI fit of each underlying (errors and arbitrage checks).
    skipped
        Expiries left without a surface slice and why, one line each.
    """

    document: dict[str, Any]
    snapshot: MarketSnapshot
    fits: dict[str, SviFit]
    skipped: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RepriceReport:
    """Every option repriced from a snapshot's surfaces against the venue's bid and ask.

    Attributes
    ----------
    symbols
        Option symbols, shape ``(n,)``.
    model
        Model price from the surface (premium currency per unit), shape ``(n,)``.
    bid, ask
        Venue bid and ask, NaN where none, shape ``(n,)``.
    outside
        How far the model price is outside ``[bid, ask]`` (0 inside; a missing bid counts as
        0, a missing ask as no upper bound), premium currency, shape ``(n,)``.
    """

    symbols: tuple[str, ...]
    model: FloatArray
    bid: FloatArray
    ask: FloatArray
    outside: FloatArray

    @property
    def n_outside(self) -> int:
        """Options priced outside their bid-ask."""
        return int(np.count_nonzero(self.outside > 0.0))

    @property
    def worst(self) -> tuple[str, float]:
        """The option furthest outside its bid-ask and by how much (0 when all are inside)."""
        at = int(np.argmax(self.outside))
        return self.symbols[at], float(self.outside[at])


def market_from_chain(
    quotes: Sequence[ChainQuote],
    *,
    marks: bool = True,
    method: Literal["raw", "ssvi"] = "raw",
    index: dict[str, float] | None = None,
) -> ChainMarket:
    """Build a market snapshot from a venue's option chain (rules in the module docstring).

    Parameters
    ----------
    quotes
        The chain's options (any underlyings and expiries).
    marks
        Whether to put the options' positive mark prices in ``marks``.
    method
        SVI fitting method of :func:`~pmargin.market.fit_svi`.
    index
        Index prices (USD) that override the rows' (for venues whose option rows carry none).

    Returns
    -------
    ChainMarket
        Document, snapshot, fits and the expiries left without a slice.

    Raises
    ------
    InputError
        For an empty chain, an underlying with no index or an expiry with no forward.
    """
    if not quotes:
        raise InputError("chain", 0, "holds no options")
    asof = max(q.timestamp for q in quotes)
    by_underlying: dict[str, list[ChainQuote]] = defaultdict(list)
    for q in quotes:
        by_underlying[q.instrument.underlying].append(q)
    document: dict[str, Any] = {
        "timestamp": format_timestamp(asof),
        "index": {},
        "marks": {},
        "forwards": {},
        "surfaces": {},
    }
    fits: dict[str, SviFit] = {}
    skipped: list[str] = []
    for underlying, rows in sorted(by_underlying.items()):
        document["index"][underlying] = _index(underlying, rows, index)
        forwards = _forwards(underlying, rows)
        document["forwards"][underlying] = {format_timestamp(e): f for e, f in forwards.items()}
        for expiry, rows_e in _by_expiry(rows).items():
            future = next((q.future for q in rows_e if q.future), None)
            if future is not None:
                document["marks"][future] = {"price": forwards[expiry]}
        if marks:
            for q in sorted(rows, key=lambda q: q.instrument.symbol):
                if q.mark > 0.0:
                    document["marks"][q.instrument.symbol] = {"price": q.mark}
        smiles = {}
        for expiry, rows_e in _by_expiry(rows).items():
            smile = _smile(rows_e, forwards[expiry], asof, expiry)
            if smile is None:
                skipped.append(
                    f"{underlying} {format_timestamp(expiry)}: fewer than {_MIN_SLICE_QUOTES} "
                    "out-of-the-money quotes with a positive mark"
                )
            else:
                smiles[expiry] = smile
        if smiles:
            fit = fit_svi(smiles, underlying=underlying, forwards=forwards, method=method)
            fits[underlying] = fit
            document["surfaces"][underlying] = [
                {"expiry": format_timestamp(s.expiry), "forward": s.forward, "svi": s.svi.to_dict()}
                for s in fit.slices
            ]
    document["marks"] = dict(sorted(document["marks"].items()))
    snapshot = market_from_dict(document)
    return ChainMarket(document, snapshot, fits, tuple(skipped))


def reprice_chain(snapshot: MarketSnapshot, quotes: Sequence[ChainQuote]) -> RepriceReport:
    """Reprice every option from the snapshot's surfaces and forwards; compare with bid-ask.

    The model price is undiscounted Black-76 (Deribit marks with ``r = 0``) at the snapshot's
    forward and surface vol for the option's strike and expiry, divided by the forward for
    inverse options (coin per coin).

    Returns
    -------
    RepriceReport
        Model prices and how far each is outside the venue's bid-ask.
    """
    rows = [q for q in quotes if q.instrument.expiry is not None]
    symbols = tuple(q.instrument.symbol for q in rows)
    model = np.empty(len(rows))
    for i, q in enumerate(rows):
        inst = q.instrument
        assert inst.expiry is not None
        assert inst.strike is not None
        t = snapshot.year_fraction(inst.expiry)
        forward = snapshot.forward(inst.underlying, inst.expiry)
        vol = float(snapshot.surface_vols(inst.underlying, inst.strike, forward, t))
        usd = float(black76_value(forward, inst.strike, t, vol, inst.right is Right.CALL))
        model[i] = usd / forward if inst.settlement is Settlement.INVERSE else usd
    bid = np.array([q.bid for q in rows])
    ask = np.array([q.ask for q in rows])
    low = np.where(np.isfinite(bid) & (bid > 0.0), bid, 0.0)
    high = np.where(np.isfinite(ask) & (ask > 0.0), ask, np.inf)
    outside = np.maximum(np.maximum(low - model, model - high), 0.0)
    return RepriceReport(symbols, model, bid, ask, outside)


def _index(underlying: str, rows: Sequence[ChainQuote], given: dict[str, float] | None) -> float:
    """Index of one underlying: ``given``, else median index price, else median delivery."""
    if given and underlying in given:
        return float(given[underlying])
    for values in ([q.index for q in rows], [q.delivery for q in rows]):
        finite = [v for v in values if math.isfinite(v) and v > 0.0]
        if finite:
            return float(np.median(finite))
    raise InputError(
        f"index.{underlying}", None, "is not in the chain: give the venue's index price reply"
    )


def _by_expiry(rows: Sequence[ChainQuote]) -> dict[datetime, list[ChainQuote]]:
    """Rows grouped by expiry, expiries ascending."""
    groups: dict[datetime, list[ChainQuote]] = defaultdict(list)
    for q in rows:
        assert q.instrument.expiry is not None
        groups[q.instrument.expiry].append(q)
    return dict(sorted(groups.items()))


def _forwards(underlying: str, rows: Sequence[ChainQuote]) -> dict[datetime, float]:
    """Median underlying price per expiry (USD)."""
    result = {}
    for expiry, rows_e in _by_expiry(rows).items():
        finite = [q.forward for q in rows_e if math.isfinite(q.forward) and q.forward > 0.0]
        if not finite:
            raise InputError(
                f"forwards.{underlying}.{format_timestamp(expiry)}",
                None,
                "no row of this expiry gives an underlying (forward) price",
            )
        result[expiry] = float(np.median(finite))
    return result


def _smile(
    rows: Sequence[ChainQuote], forward: float, asof: datetime, expiry: datetime
) -> SmileQuotes | None:
    """Out-of-the-money implied vols of one expiry at the snapshot's time to expiry.

    Each quote's weight is one over its half bid-ask spread in implied vol (floored at
    :data:`_MIN_HALF_SPREAD`); a quote without both a bid and an ask weighs as one with a
    :data:`_NO_SPREAD` half spread.
    """
    t = year_fraction(asof, expiry)
    if t <= 0.0:
        return None
    k, vols, weights = [], [], []
    for q in rows:
        inst = q.instrument
        if inst.kind is not Kind.OPTION or inst.strike is None or not q.mark > 0.0:
            continue
        is_call = inst.right is Right.CALL
        if is_call != (inst.strike >= forward):
            continue
        t_row = year_fraction(q.timestamp, expiry)
        if t_row <= 0.0:
            continue
        scale = forward if inst.settlement is Settlement.INVERSE else 1.0
        iv = q.mark_iv if math.isfinite(q.mark_iv) and q.mark_iv > 0.0 else math.nan
        prices = np.array([q.mark if math.isnan(iv) else math.nan, q.bid, q.ask]) * scale
        solved = implied_vol(np.nan_to_num(prices), forward, inst.strike, t_row, is_call).vol
        solved = np.where(np.isfinite(prices) & (prices > 0.0), solved, np.nan)
        if math.isnan(iv):
            iv = float(solved[0])
        if not (math.isfinite(iv) and iv > 0.0):
            continue
        half = 0.5 * float(solved[2] - solved[1])
        half = half if math.isfinite(half) else _NO_SPREAD
        k.append(math.log(inst.strike / forward))
        vols.append(math.sqrt(iv * iv * t_row / t))
        weights.append(1.0 / max(half, _MIN_HALF_SPREAD))
    if len(k) < _MIN_SLICE_QUOTES:
        return None
    order = np.argsort(k)
    return SmileQuotes(
        t,
        np.asarray(k)[order],
        np.asarray(vols)[order],
        np.asarray(weights)[order],
    )


def option_instrument(symbol: str, field: str) -> Instrument | None:
    """Parse a venue symbol: the option, ``None`` for a non-option, an error if unknown."""
    instrument = parse_symbol(symbol)
    if instrument.kind is not Kind.OPTION:
        return None
    if instrument.expiry is None or instrument.strike is None:
        raise InputError(field, symbol, "is an option without an expiry or strike")
    return instrument


def venue_number(value: Any, field: str) -> float:
    """Return a venue's number (a JSON number, or text as OKX and CSV cells send it) as a float.

    Returns NaN for an absent or empty value (``None``, ``""``).

    Raises
    ------
    InputError
        Naming ``field``: a boolean, text that is not a number, or a non-finite number.
    """
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise InputError(field, value, "must be a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(field, abbreviate(value), "must be a number") from None
    if not math.isfinite(number):
        raise InputError(field, value, "must be a finite number")
    return number
