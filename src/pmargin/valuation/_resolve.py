"""Resolve instruments against a market snapshot into aligned pricing inputs.

This is the "resolved form" between contract terms and the array pricers: for each instrument
the underlying price it is valued off (in its quote currency), the strike, time to expiry, the
volatility and the discount rate, as float64 arrays of shape ``(n_instruments,)``.

Which underlying price
----------------------
* options and dated futures: the forward of the expiry (``MarketSnapshot.forward``), except
  that a future's own mark price wins when the market gives one;
* perpetuals: the perpetual's mark price, else the index;
* spot: the asset's USD price.
Prices in USD are converted to the instrument's quote currency with the quote's USD price
(USDC and USDT prices come from the snapshot).

Which volatility (options)
--------------------------
The mark's ``iv`` if given; else the implied vol of the mark's ``price`` (in premium currency
per unit of underlying; coin for inverse options, multiplied by the forward to get the quote
value, as Deribit does); else the underlying's SVI surface at the option's strike and expiry.
An option with none of these is a :class:`~pmargin.errors.MarketDataError`.

Discounting: an option's value is discounted at the rate of its settlement currency (the quote
for linear, the coin for inverse), default 0 as Deribit marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pmargin._typing import BoolArray, FloatArray, IntArray
from pmargin.errors import InputError, MarketDataError
from pmargin.instruments import Instrument, Kind
from pmargin.market import MarketSnapshot
from pmargin.pricing import IVStatus, describe_iv_status, implied_vol
from pmargin.valuation._terms import InstrumentTerms

__all__ = ["ResolvedInstruments", "VolSource", "resolve_instruments"]

_READ_TERMS = InstrumentTerms.of(())
"""Default of :attr:`ResolvedInstruments.terms`: read them from the instruments."""


class VolSource:
    """Where an option's volatility came from (values of ``ResolvedInstruments.vol_source``)."""

    NONE = ""
    MARK_IV = "mark_iv"
    MARK_PRICE = "mark_price"
    SURFACE = "surface"


@dataclass(frozen=True, slots=True)
class ResolvedInstruments:
    """Instrument terms and market inputs as aligned arrays, each of shape ``(n,)``.

    Attributes
    ----------
    instruments
        The instruments, in input order.
    is_option, is_call, is_inverse
        Boolean masks.
    underlying_price
        Forward (options, futures), mark (perpetuals) or price (spot) of one unit of the
        underlying, in the quote currency.
    strike
        Strike in the quote currency; NaN for non-options.
    time
        ACT/365 years from the snapshot to expiry; NaN for perpetuals and spot.
    vol
        Annualised implied volatility (decimal); NaN for non-options.
    rate
        Continuously compounded discount rate of the settlement currency (decimal per year).
    quote_usd
        USD per unit of quote currency.
    settlement_usd
        USD per unit of settlement currency (the coin's spot price for inverse contracts).
    vol_source
        One :class:`VolSource` value per instrument.
    terms
        The instruments' terms as arrays (:class:`~pmargin.valuation.InstrumentTerms`;
        keyword-only): read from ``instruments`` when not given, carried along by
        :meth:`take` and :meth:`concat`. Give them only for these same instruments.

    Raises
    ------
    InputError
        Field ``terms``: terms of another number of instruments.
    """

    instruments: tuple[Instrument, ...]
    is_option: BoolArray
    is_call: BoolArray
    is_inverse: BoolArray
    underlying_price: FloatArray
    strike: FloatArray
    time: FloatArray
    vol: FloatArray
    rate: FloatArray
    quote_usd: FloatArray
    settlement_usd: FloatArray
    vol_source: tuple[str, ...]
    terms: InstrumentTerms = field(default=_READ_TERMS, kw_only=True, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Read the instruments' terms when they are not given."""
        if self.terms is _READ_TERMS:
            object.__setattr__(self, "terms", InstrumentTerms.of(self.instruments))
        elif len(self.terms) != len(self.instruments):
            raise InputError(
                "terms",
                len(self.terms),
                f"must be the terms of the {len(self.instruments)} instruments",
            )

    def __len__(self) -> int:
        return len(self.instruments)

    @property
    def underlying_usd(self) -> FloatArray:
        """USD price of one unit of each underlying, shape ``(n,)``.

        ``underlying_price * quote_usd``: the USD notional of one base unit, the price that
        :meth:`pmargin.instruments.Instrument.usd_notional` multiplies ``|base units|`` by.
        """
        usd: FloatArray = self.underlying_price * self.quote_usd
        return usd

    def take(self, columns: Sequence[int] | npt.NDArray[np.int64]) -> ResolvedInstruments:
        """Select the instruments at ``columns`` (in that order) without new look-ups."""
        index = np.asarray(columns, dtype=np.int64).reshape(-1)
        arrays = {name: getattr(self, name)[index] for name in _ARRAY_FIELDS}
        at = index.tolist()
        return ResolvedInstruments(
            instruments=tuple(map(self.instruments.__getitem__, at)),
            vol_source=tuple(map(self.vol_source.__getitem__, at)),
            terms=self.terms.take(index),
            **arrays,
        )

    def concat(self, other: ResolvedInstruments) -> ResolvedInstruments:
        """Append ``other``'s instruments to these."""
        arrays = {
            name: np.concatenate([getattr(self, name), getattr(other, name)])
            for name in _ARRAY_FIELDS
        }
        return ResolvedInstruments(
            instruments=self.instruments + other.instruments,
            vol_source=self.vol_source + other.vol_source,
            terms=self.terms.concat(other.terms),
            **arrays,
        )


_ARRAY_FIELDS = (
    "is_option",
    "is_call",
    "is_inverse",
    "underlying_price",
    "strike",
    "time",
    "vol",
    "rate",
    "quote_usd",
    "settlement_usd",
)


def resolve_instruments(
    instruments: Sequence[Instrument], market: MarketSnapshot
) -> ResolvedInstruments:
    """Look up every market input the pricers need, vectorising the vol work.

    Raises
    ------
    InputError
        For an option or future that has expired at the snapshot time.
    MarketDataError
        For missing market data, naming the instrument and what to add.
    """
    n = len(instruments)
    underlying_price = np.empty(n)
    strike = np.full(n, np.nan)
    time = np.full(n, np.nan)
    rate = np.zeros(n)
    quote_usd = np.empty(n)
    settlement_usd = np.empty(n)
    vol = np.full(n, np.nan)
    source = [VolSource.NONE] * n
    mark_price = np.full(n, np.nan)
    for i, instrument in enumerate(instruments):
        quote_usd[i] = market.usd_price(instrument.quote)
        settlement_usd[i] = market.usd_price(instrument.settlement_currency)
        if instrument.expiry is not None:
            time[i] = market.year_fraction(instrument.expiry)
            if time[i] <= 0.0:
                raise InputError(
                    f"instrument {instrument.symbol!r}.expiry",
                    instrument.expiry.isoformat(),
                    f"has expired at the market timestamp {market.timestamp.isoformat()}",
                )
        underlying_price[i] = _underlying_price(instrument, market) / quote_usd[i]
        if instrument.is_option:
            assert instrument.strike is not None
            strike[i] = instrument.strike
            rate[i] = market.rate(instrument.settlement_currency)
            mark = market.mark(instrument.symbol)
            if mark is not None and mark.iv is not None:
                vol[i], source[i] = mark.iv, VolSource.MARK_IV
            elif mark is not None and mark.price is not None:
                mark_price[i], source[i] = mark.price, VolSource.MARK_PRICE
            else:
                source[i] = VolSource.SURFACE
    is_option = np.array([i.is_option for i in instruments], dtype=bool)
    is_call = np.array([i.is_option and i.is_call for i in instruments], dtype=bool)
    is_inverse = np.array([i.is_inverse for i in instruments], dtype=bool)
    vols_from_mark_prices(
        instruments,
        np.flatnonzero([s == VolSource.MARK_PRICE for s in source]),
        mark_price,
        underlying_price,
        strike,
        time,
        is_call,
        is_inverse,
        rate,
        vol,
    )
    by_underlying: dict[str, list[int]] = {}
    for i, s in enumerate(source):
        if s == VolSource.SURFACE:
            by_underlying.setdefault(instruments[i].underlying, []).append(i)
    for underlying, members in by_underlying.items():
        at = np.asarray(members)
        vols_from_surface(instruments, at, underlying, market, underlying_price, strike, time, vol)
    return ResolvedInstruments(
        instruments=tuple(instruments),
        is_option=is_option,
        is_call=is_call,
        is_inverse=is_inverse,
        underlying_price=underlying_price,
        strike=strike,
        time=time,
        vol=vol,
        rate=rate,
        quote_usd=quote_usd,
        settlement_usd=settlement_usd,
        vol_source=tuple(source),
    )


def _underlying_price(instrument: Instrument, market: MarketSnapshot) -> float:
    """USD price of one unit of the underlying that ``instrument`` is valued off."""
    if instrument.kind is Kind.SPOT:
        return market.usd_price(instrument.underlying)
    if instrument.is_futures_style:
        mark = market.mark(instrument.symbol)
        if mark is not None:
            if mark.price is None or mark.price <= 0.0:
                raise MarketDataError(
                    f"marks[{instrument.symbol!r}]: a {instrument.kind.value} needs a mark 'price'"
                    f" > 0 (quote currency per unit), got {mark.to_dict()}"
                )
            return mark.price * market.usd_price(instrument.quote)
        if instrument.kind is Kind.PERPETUAL:
            return market.index_price(instrument.underlying)
    assert instrument.expiry is not None
    return market.forward(instrument.underlying, instrument.expiry)


def vols_from_mark_prices(
    instruments: Sequence[Instrument],
    idx: IntArray,
    mark_price: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    is_call: BoolArray,
    is_inverse: BoolArray,
    rate: FloatArray,
    vol: FloatArray,
) -> None:
    """Invert the mark prices of options ``idx`` to implied vols in one vectorised solve.

    ``idx`` (int, shape ``(k,)``, ascending): the options whose vol comes from their mark
    price; the other arrays have shape ``(n,)``; fills ``vol[idx]`` in place.

    Raises
    ------
    MarketDataError
        A mark price without an implied vol, naming the first such option.
    """
    if idx.size == 0:
        return
    quote_value = np.where(is_inverse[idx], mark_price[idx] * forward[idx], mark_price[idx])
    result = implied_vol(quote_value, forward[idx], strike[idx], time[idx], is_call[idx], rate[idx])
    for j, i in enumerate(idx.tolist()):
        status = IVStatus(int(result.status[j]))
        if status not in (IVStatus.OK, IVStatus.AT_INTRINSIC):
            raise MarketDataError(
                f"marks[{instruments[i].symbol!r}].price: {float(mark_price[i])!r} has no implied "
                f"volatility: {describe_iv_status(status)}"
            )
    vol[idx] = result.vol


def vols_from_surface(
    instruments: Sequence[Instrument],
    idx: IntArray,
    underlying: str,
    market: MarketSnapshot,
    forward: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    vol: FloatArray,
) -> None:
    """Read the vols of options ``idx`` of ``underlying`` from its surface, in one call.

    ``idx`` (int, shape ``(k,)``, ascending): the options of ``underlying`` without a mark;
    the other arrays have shape ``(n,)``; fills ``vol[idx]`` in place.

    Raises
    ------
    MarketDataError
        The market has no surface for ``underlying``, naming the first option and what to add.
    """
    if not market.has_surface(underlying):
        symbol = instruments[int(idx[0])].symbol
        raise MarketDataError(
            f"{symbol}: no mark (price or iv) and no volatility surface for {underlying}; "
            f"add marks[{symbol!r}] or surfaces.{underlying}"
        )
    vol[idx] = market.surface(underlying).implied_vol(strike[idx], forward[idx], time[idx])
