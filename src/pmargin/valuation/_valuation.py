"""Mark values and Greeks per unit of underlying, for resolved instruments.

Units (each array has shape ``(n_instruments,)``)
--------------------------------------------------
``price``
    Options: mark value in the premium currency per unit of underlying (coin for inverse
    options: the quote value divided by the expiry's forward, Deribit's convention; quote
    currency for linear options). Futures and perpetuals: mark price in the quote currency.
    Spot: price in the quote currency.
``price_usd``
    ``price`` in USD: the premium currency's USD price times ``price`` (the coin's spot price for
    inverse options, so the USD value of the coin premium held today).
``delta``
    d(value in USD) / d(USD price of the underlying) per unit of underlying: Black-76 forward
    delta (discounted) for options, 1 for futures, perpetuals and spot.
``gamma``
    d(delta) / d(USD price of the underlying), per USD. Zero for delta-one instruments.
``vega``
    d(value in USD) / d(vol) per 1.00 of vol (divide by 100 for per vol point).
``theta``
    d(value in USD) / d(calendar time) per year with the forward held fixed (divide by 365 for
    per day).
``delta_coin``
    Inverse instruments only (NaN otherwise): the delta of the coin-denominated value expressed
    in coins, ``F * d(value_coin)/dF``. For an inverse option this is the Black delta minus the
    option's coin price; for an inverse future or perpetual at its mark it is 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pmargin._typing import FloatArray
from pmargin.pricing import black76
from pmargin.valuation._resolve import ResolvedInstruments

__all__ = ["Valuation", "value_instruments"]


@dataclass(frozen=True, slots=True)
class Valuation:
    """Per-unit mark values and raw Greeks; see the module docstring for units."""

    price: FloatArray
    price_usd: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    delta_coin: FloatArray


def value_instruments(
    resolved: ResolvedInstruments,
    *,
    previous: tuple[ResolvedInstruments, Valuation] | None = None,
) -> Valuation:
    """Value every resolved instrument: one vectorised Black-76 call for all options.

    Parameters
    ----------
    resolved
        The instruments at the market, arrays of shape ``(n,)``.
    previous
        The same instruments, in the same order, resolved at an earlier market, with their
        valuation (a monitor's last tick). When every option input is the same there
        (forward, strike, time, vol, rate, call or put, inverse, quote's USD price), the
        options' values and Greeks are taken from it: the numbers Black-76 gives again. Else,
        or for other instruments, the previous one plays no part.

    Returns
    -------
    Valuation
        Arrays of shape ``(n,)``, units as the module docstring says; bit for bit the same
        with or without ``previous``.
    """
    n = len(resolved)
    opt = resolved.is_option
    price = resolved.underlying_price.copy()
    delta = np.ones(n)
    gamma = np.zeros(n)
    vega = np.zeros(n)
    theta = np.zeros(n)
    forward = resolved.underlying_price
    if opt.any():
        kept = previous is not None and _same_options(resolved, previous[0])
        if kept:
            assert previous is not None
            old = previous[1]
            price[opt] = old.price[opt]
            delta[opt] = old.delta[opt]
            gamma[opt] = old.gamma[opt]
            vega[opt] = old.vega[opt]
            theta[opt] = old.theta[opt]
        else:
            greeks = black76(
                forward[opt],
                resolved.strike[opt],
                resolved.time[opt],
                resolved.vol[opt],
                resolved.is_call[opt],
                resolved.rate[opt],
            )
            quote_usd = resolved.quote_usd[opt]
            inverse = resolved.is_inverse[opt]
            price[opt] = np.where(inverse, greeks.value / forward[opt], greeks.value)
            delta[opt] = greeks.delta
            gamma[opt] = greeks.gamma / quote_usd
            vega[opt] = greeks.vega * quote_usd
            theta[opt] = greeks.theta * quote_usd
    price_usd = np.where(opt, price * resolved.settlement_usd, price * resolved.quote_usd)
    delta_coin = np.where(resolved.is_inverse, np.where(opt, delta - price, 1.0), np.nan)
    return Valuation(
        price=price,
        price_usd=price_usd,
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta,
        delta_coin=delta_coin,
    )


def _same_options(resolved: ResolvedInstruments, other: ResolvedInstruments) -> bool:
    """Return True when ``other`` holds the same options with every pricing input equal."""
    if len(other) != len(resolved) or not np.array_equal(other.is_option, resolved.is_option):
        return False
    opt = np.flatnonzero(resolved.is_option)
    inputs = ("underlying_price", "strike", "time", "vol", "rate", "quote_usd")
    flags = ("is_call", "is_inverse")
    return all(
        np.array_equal(getattr(resolved, name)[opt], getattr(other, name)[opt])
        for name in (*inputs, *flags)
    )
